"""The CLI's whole ``fit`` (test after fit included) and ``predict`` under 2-process DDP (CPU, gloo) end cleanly."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .test_cli import CNN_LSTM, write_config
from .test_predictions import new_audio

pytestmark = pytest.mark.ddp


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m ser_lightning ...`` in ``tmp_path`` (DDP starts its second process by re-running this command line)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "ser_lightning", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_two_process_fit_tests_prints_writes_results_and_predicts(small_corpus, tmp_path):
    config = write_config(tmp_path / "ddp.yaml", small_corpus, CNN_LSTM, epochs=1)
    ddp = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    fit = run_cli(tmp_path, "fit", "--config", str(config), *ddp)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "Test results of" in fit.stdout and "Connection closed" not in fit.stderr
    results = json.loads((tmp_path / "logs" / "e2e" / "version_0" / "results.json").read_text())
    assert results["groups"]["all"]["n"] == 48 and results["data"]["splits"]["test"]["target:synthetic/ur"]["speakers"] == 3
    assert results["data"]["effective_batch"] == {"batch_size": 8, "accumulate_grad_batches": 1, "processes": 2, "utterances": 16}

    new_audio(tmp_path / "new", small_corpus)
    ckpt = tmp_path / "checkpoints" / "e2e" / "last.ckpt"
    predict = run_cli(tmp_path, "predict", "--ckpt_path", str(ckpt), "--data", "ser_lightning.data.AudioFiles", "--data.files", "new", *ddp)
    assert predict.returncode == 0, predict.stderr[-3000:]
    written = sorted((tmp_path / "logs").rglob("predictions.csv"))
    assert len(written) == 1
    rows = list(csv.DictReader(written[0].open()))
    assert len(rows) == 3 and len({row["path"] for row in rows}) == 3  # every file once, gathered from both ranks

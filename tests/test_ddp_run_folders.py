"""Under DDP, every process of one run uses the one folder its first process reserved (default folders, 2 CPU processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .test_cli import CNN_LSTM, PROJECT, write_config

pytestmark = pytest.mark.ddp


def test_both_processes_of_a_ddp_fit_write_into_the_version_rank_zero_reserved(small_corpus, tmp_path):
    config = write_config(tmp_path / "ddp.yaml", small_corpus, CNN_LSTM, epochs=1)
    raw = yaml.safe_load(config.read_text())
    del raw["checkpoint"]  # default folders: checkpoints/e2e/<version> beside logs/e2e/<version>
    config.write_text(yaml.safe_dump(raw))
    (tmp_path / "logs" / "e2e" / "version_0").mkdir(parents=True)  # an earlier run: this one must take version_1
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    ddp = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu", "--test_after_fit", "false"]
    fit = subprocess.run(
        [sys.executable, "-m", "ser_lightning", "fit", "--config", str(config), *ddp],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "logs" / "e2e").iterdir()) == ["version_0", "version_1"]
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "e2e").iterdir()) == ["version_1"]
    assert (tmp_path / "checkpoints" / "e2e" / "version_1" / "last.ckpt").is_file()
    assert len(list((tmp_path / "logs" / "e2e" / "version_1").glob("events.out.tfevents.*"))) == 1
    assert not list(Path(tmp_path).glob("lightning_logs"))

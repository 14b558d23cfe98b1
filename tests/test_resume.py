"""A run killed mid-epoch and resumed with --ckpt_path last ends exactly where the uninterrupted run ends (CPU, fixed seed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ser_lightning.cli import main

from .test_cli import CNN_LSTM, PROJECT, write_config

# 24 training utterances in batches of 8: 3 steps an epoch; last.ckpt every 2 steps; the kill at step 5 (mid-epoch 1)
# leaves the checkpoint of step 4, one batch into epoch 1.
EVERY, KILL_AT = 2, 5


def config(small_corpus: Path, tmp_path: Path, name: str, **trainer) -> Path:
    path = write_config(tmp_path / f"{name}.yaml", small_corpus, CNN_LSTM, epochs=3)
    raw = yaml.safe_load(path.read_text())
    raw["trainer"] |= {
        "logger": {"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": "logs", "name": name, "version": "run"}},
        **trainer,
    }
    raw["checkpoint"] = {"dirpath": f"checkpoints/{name}"}
    raw["last_checkpoint"] = {"every_n_train_steps": EVERY}
    # randomness in every place that draws it: noise augmentation (audiomentations), dropout in the CNN and the head
    raw["data"]["init_args"]["train_augment"] = [
        {"class_path": "audiomentations.AddGaussianSNR", "init_args": {"min_snr_db": 5.0, "max_snr_db": 30.0, "p": 0.5}}
    ]
    raw["model"]["dropout"] = 0.3
    path.write_text(yaml.safe_dump(raw))
    return path


def final_state(tmp_path: Path, name: str) -> tuple[dict, dict]:
    results = json.loads((tmp_path / "logs" / name / "run" / "results.json").read_text())
    return results["metrics"] | {"groups": results["groups"]}, torch.load(tmp_path / "checkpoints" / name / "last.ckpt", weights_only=True)[
        "state_dict"
    ]


@pytest.fixture
def one_thread():
    """Every run of the comparison on one intra-op thread, as the killed subprocess runs (OMP_NUM_THREADS=1).

    Float sums split over another number of threads round differently, and Adam turns the noise-level
    gradients of a conv bias before batch norm into visible weight differences: bit-exactness holds for
    the same thread count, which is what a resumed job on the same machine has.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow  # three fits, one killed in a subprocess
def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_runs_numbers(small_corpus, tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    main(["fit", "--config", str(config(small_corpus, tmp_path, "whole"))])

    killed = config(
        small_corpus, tmp_path, "killed", callbacks=[{"class_path": "tests.fault_injection.SignalAtStep", "init_args": {"step": KILL_AT}}]
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "ser_lightning", "fit", "--config", str(killed)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == -9, run.stderr[-2000:]
    assert torch.load(tmp_path / "checkpoints" / "killed" / "last.ckpt", weights_only=True)["global_step"] == 4  # mid-epoch 1

    resumed = main(["fit", "--config", str(config(small_corpus, tmp_path, "killed")), "--ckpt_path", "last"])
    assert resumed.trainer.global_step == 9
    metrics, state = final_state(tmp_path, "whole")
    resumed_metrics, resumed_state = final_state(tmp_path, "killed")
    assert resumed_metrics == metrics
    for key, value in state.items():
        assert torch.equal(value, resumed_state[key]), key

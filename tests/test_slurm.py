"""SLURM pre-emption through Lightning's own SLURM environment: SIGUSR1 saves an hpc checkpoint and requeues the job
(a stand-in scontrol records the call), the job is killed, and the requeued job resumes in its own folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from .test_cli import CNN_LSTM, PROJECT, write_config


def slurm_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    scontrol.chmod(0o755)
    slurm = {
        "SLURM_JOB_ID": "4242",
        "SLURM_NTASKS": "1",
        "SLURM_NTASKS_PER_NODE": "1",
        "SLURM_JOB_NAME": "ser",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_NNODES": "1",
    }
    return {**os.environ, **slurm, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(PROJECT), "OMP_NUM_THREADS": "1"}


@pytest.mark.slow  # a CLI fit in a subprocess, signalled and requeued
def test_sigusr1_saves_requeues_and_the_requeued_job_resumes(small_corpus, tmp_path):
    path = write_config(tmp_path / "config.yaml", small_corpus, CNN_LSTM, epochs=3)
    raw = yaml.safe_load(path.read_text())
    del raw["checkpoint"]  # default folders: the job id names the run, so the requeued job finds its own checkpoints
    raw["trainer"]["callbacks"] = [
        {"class_path": "tests.fault_injection.SignalAtStep", "init_args": {"step": 4, "signal_name": "SIGUSR1", "kill_after": True}}
    ]
    path.write_text(yaml.safe_dump(raw))
    command = [sys.executable, "-m", "ser_lightning", "fit", "--config", str(path), "--test_after_fit", "false"]
    env = slurm_env(tmp_path)

    first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    folder = tmp_path / "checkpoints" / "e2e" / "slurm-4242"
    assert first.returncode == -9, first.stderr[-2000:]
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]
    assert torch.load(folder / "hpc_ckpt_1.ckpt", weights_only=True)["global_step"] == 4

    raw["trainer"]["callbacks"] = []
    path.write_text(yaml.safe_dump(raw))
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)  # the same command, as SLURM reruns it
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"Resuming from {Path('checkpoints') / 'e2e' / 'slurm-4242' / 'hpc_ckpt_1.ckpt'}" in second.stdout + second.stderr
    assert torch.load(folder / "last.ckpt", weights_only=True)["global_step"] == 9  # 3 epochs of 3 steps, not 4 + 9
    assert sorted(p.name for p in (tmp_path / "logs" / "e2e").iterdir()) == ["slurm-4242"]  # one run, continued

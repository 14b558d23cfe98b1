"""Sweeps end to end on a generated corpus with a tiny CNN-LSTM (1 epoch): runs, failures, skips, SLURM through submitit."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import submitit
import yaml

from ser_lightning.experiments.__main__ import main as experiments_main
from ser_lightning.experiments.runs import RunFolder
from ser_lightning.experiments.study import run, status
from ser_lightning.experiments.sweep import load_sweep

from ..test_cli import CNN_LSTM, write_config


def sweep_file(tmp_path: Path, corpus: Path, grid: dict, launcher: dict, **extra) -> Path:
    write_config(tmp_path / "tiny.yaml", corpus, CNN_LSTM, epochs=1)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "output": "out", "configs": ["tiny.yaml"], "grid": grid, "launcher": launcher, **extra}))
    return path


def test_a_failed_run_is_reported_and_the_others_finish_then_finished_runs_are_skipped(small_corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = {"variant": {"broken": {"data.init_args.val_speakers": 5}, "a": {"seed_everything": 0}, "b": {"seed_everything": 1}}}
    sweep = load_sweep(sweep_file(tmp_path, small_corpus, grid, {"cluster": "debug"}, report={"replicates": ["variant"]}))
    lines: list[str] = []
    outcomes, outputs = run(sweep, report=lines.append)

    assert {name: o["state"] for name, o in outcomes.items()} == {"variant=broken": "failed", "variant=a": "done", "variant=b": "done"}
    failed = outcomes["variant=broken"]
    assert "val_speakers" in failed["error"] or "speakers" in failed["error"]
    log = Path(failed["log"])
    assert log == tmp_path / "out" / "runs" / "variant=broken" / "run.log" and "Traceback" in log.read_text()
    assert any("variant=broken: FAILED" in line for line in lines) and any(str(log) in line for line in lines)
    assert {n: s.state for n, s in status(sweep, report=lines.append).items()} == {
        "variant=broken": "failed",
        "variant=a": "done",
        "variant=b": "done",
    }

    done = RunFolder(tmp_path / "out" / "runs" / "variant=a")
    results = json.loads(done.results.read_text())
    assert results["study"]["train"] == "en+de+it" and results["groups"]["target"]["n"] == 24
    assert "--checkpoint.dirpath" in done.read("run")["args"] and (done.root / "checkpoints" / "last.ckpt").is_file()
    assert outputs.runs == 2 and outputs.csv.is_file() and [p.name for p in outputs.plots] == ["heatmap.png", "recall.png", "confusion.png"]
    table = outputs.markdown.read_text()
    assert "| en+de+it |" in table and table.count("(2) |") == 6  # mean ± std over the 2 finished variants, 6 groups

    stamps = {name: (tmp_path / "out" / "runs" / name / "done.json").stat().st_mtime_ns for name in ("variant=a", "variant=b")}
    outcomes, _ = run(sweep, report=lines.append)
    assert list(outcomes) == ["variant=broken"]  # only the failed run was tried again
    assert stamps == {name: (tmp_path / "out" / "runs" / name / "done.json").stat().st_mtime_ns for name in stamps}
    assert experiments_main(["status", str(tmp_path / "sweep.yaml")]) == 1  # a failed run: non-zero exit


def test_config_errors_stop_the_sweep_before_any_run(small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sweep_file(tmp_path, small_corpus, {"model.head_hiden": [8, 16]}, {"cluster": "debug"})
    assert experiments_main(["run", str(tmp_path / "sweep.yaml")]) == 1
    assert "head_hiden" in capsys.readouterr().err
    assert not (tmp_path / "out" / "runs").exists()


def test_an_option_the_datamodule_refuses_stops_the_sweep_before_any_run(small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    grid = {"variant": {"cover": {"data.init_args.adaptation_speakers": "cover"}, "plain": {"seed_everything": 0}}}  # cover without k
    sweep_file(tmp_path, small_corpus, grid, {"cluster": "debug"})
    assert experiments_main(["run", str(tmp_path / "sweep.yaml")]) == 1
    err = capsys.readouterr().err
    assert "variant=cover: error: CrossLingualDataModule: adaptation_speakers: cover needs" in err and "variant=plain" not in err
    assert not (tmp_path / "out" / "runs").exists()


@pytest.mark.slow  # sweep runs through submitit's local executor, in subprocesses
def test_the_slurm_path_runs_through_submitits_local_executor(small_corpus, tmp_path, monkeypatch):
    """Same code as on a cluster (one job array, submission markers, waiting), executed by submitit's local executor."""
    monkeypatch.chdir(tmp_path)
    real = submitit.AutoExecutor
    clusters = []

    def local_executor(folder, cluster):
        clusters.append(cluster)
        return real(folder=folder, cluster="local")

    monkeypatch.setattr(submitit, "AutoExecutor", local_executor)
    launcher = {"cluster": "slurm", "wait": True, "max_parallel": 2, "timeout_min": 10, "slurm_partition": "gpu"}
    sweep = load_sweep(sweep_file(tmp_path, small_corpus, {"seed_everything": [0, 1]}, launcher))
    outcomes, outputs = run(sweep, report=lambda line: None)
    assert clusters == ["slurm"]
    assert [o["state"] for o in outcomes.values()] == ["done", "done"] and outputs.runs == 2
    for name in outcomes:
        folder = RunFolder(tmp_path / "out" / "runs" / name)
        assert folder.read("submitted")["job_id"] and folder.read("started")["pid"] != os.getpid()  # ran in a job of its own
        assert folder.state().state == "done"


def test_slurm_submission_carries_the_sweeps_resources(small_corpus, tmp_path, monkeypatch):
    """Through submitit's real SLURM executor, with `sbatch` and `srun` stand-ins that record the job script."""
    monkeypatch.chdir(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, body in {
        "srun": "exit 0",
        "sbatch": f'for last; do :; done\ncp "$last" {tmp_path}/submitted.sh\necho "Submitted batch job 4242"',
    }.items():
        (bin_dir / tool).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / tool).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    launcher = {"cluster": "slurm", "max_parallel": 2, "timeout_min": 30, "gpus_per_node": 1, "cpus_per_task": 4, "slurm_partition": "gpu"}
    sweep = load_sweep(sweep_file(tmp_path, small_corpus, {"seed_everything": [0, 1, 2]}, launcher))
    outcomes, _ = run(sweep, report=lambda line: None)
    assert outcomes == {}  # SLURM default: submit and return
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=30", "#SBATCH --gpus-per-node=1", "#SBATCH --cpus-per-task=4", "#SBATCH --array=0-2%2"):
        assert line in script
    found = status(sweep, report=lambda line: None)
    assert [s.state for s in found.values()] == ["queued"] * 3
    assert sorted(RunFolder(tmp_path / "out" / "runs" / name).read("submitted")["job_id"] for name in found) == ["4242_0", "4242_1", "4242_2"]


def test_a_requeued_job_is_queued_not_failed_and_its_resubmission_finishes_the_run(small_corpus, tmp_path, monkeypatch):
    """submitit's time-out handler calls ``checkpoint`` and exits the job with SystemExit: the run waits, it did not fail."""
    import ser_lightning.cli
    from ser_lightning.experiments.grid import expand
    from ser_lightning.experiments.job import RunJob

    monkeypatch.chdir(tmp_path)
    sweep = load_sweep(sweep_file(tmp_path, small_corpus, {"seed_everything": [0]}, {"cluster": "debug"}))
    spec = expand(sweep, cwd=tmp_path)[0].as_dict()
    real_main = ser_lightning.cli.main
    job = RunJob()

    def preempted(args):
        job.checkpoint(spec)  # what submitit's signal handler does first
        raise SystemExit(-1)  # ... then it exits the job

    monkeypatch.setattr(ser_lightning.cli, "main", preempted)
    try:
        job(spec)
    except SystemExit:
        pass
    else:
        raise AssertionError("the pre-empted job must end with submitit's exit")
    folder = RunFolder(spec["folder"])
    assert folder.state().state == "queued" and "requeued" in folder.state().detail
    assert not folder.marker("failed").is_file()

    monkeypatch.setattr(ser_lightning.cli, "main", real_main)
    outcome = RunJob()(spec)  # the resubmitted job
    assert outcome["state"] == "done" and folder.state().state == "done" and not folder.marker("requeued").is_file()


HOLDER = "import sys; from ser_lightning.fileio import try_lock; held = try_lock(sys.argv[1]); print(held is not None, flush=True); sys.stdin.read()"


def test_a_run_whose_lock_another_process_holds_is_skipped_as_running_and_never_started(small_corpus, tmp_path, monkeypatch):
    import ser_lightning.cli
    from ser_lightning.experiments.grid import expand
    from ser_lightning.experiments.job import RunJob
    from ser_lightning.experiments.launch import execute
    from ser_lightning.experiments.sweep import Launcher

    monkeypatch.chdir(tmp_path)
    specs = expand(load_sweep(sweep_file(tmp_path, small_corpus, {"seed_everything": [0, 1]}, {"cluster": "debug"})), cwd=tmp_path)
    started: list[str] = []

    def fake_main(args):  # stands in for a fit: records who ran, writes the results a finished run has
        folder = RunFolder(next(spec.folder for spec in specs if spec.args == args))
        started.append(folder.root.name)
        folder.results.parent.mkdir(parents=True, exist_ok=True)
        folder.results.write_text("{}")

    monkeypatch.setattr(ser_lightning.cli, "main", fake_main)
    busy = RunFolder(specs[1].folder)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(busy.lock_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "True"  # another process runs seed_everything=1 now
        lines: list[str] = []
        outcomes = execute(specs, Launcher(cluster="debug"), tmp_path / "submitit", "t", report=lines.append)
        assert [o["name"] for o in outcomes] == [specs[0].name] and started == [specs[0].name]
        assert any(line.startswith(f"{specs[1].name}: skipped: another process is running it") for line in lines)
        assert not busy.marker("started").is_file() and not busy.log.exists() and not busy.marker("run").exists()

        outcome = RunJob()(specs[1].as_dict())  # a job that got past the check before the other process took the lock
        assert outcome["state"] == "running" and "another process is running it" in outcome["skipped"] and started == [specs[0].name]
        assert not busy.marker("started").is_file() and not busy.marker("failed").is_file()
    finally:
        holder.communicate("")  # the other process ends: its lock goes with it
    assert RunJob()(specs[1].as_dict())["state"] == "done" and started == [specs[0].name, specs[1].name]
    outcome = RunJob()(specs[1].as_dict())  # a duplicate job that starts after the run finished runs nothing again
    assert outcome == {"name": specs[1].name, "log": str(busy.log), "state": "done", "skipped": "another process finished it meanwhile"}
    assert started == [specs[0].name, specs[1].name]


@pytest.mark.slow
def test_two_sweep_processes_at_once_run_every_run_once(small_corpus, tmp_path):
    sweep_file(tmp_path, small_corpus, {"seed_everything": [0, 1]}, {"cluster": "debug"})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "ser_lightning.experiments", "run", "sweep.yaml"]
    sweeps = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    printed = [sweep.communicate(timeout=1200)[0] for sweep in sweeps]
    assert [sweep.returncode for sweep in sweeps] == [0, 0], printed
    for name in ("seed_everything=0", "seed_everything=1"):
        folder = RunFolder(tmp_path / "out" / "runs" / name)
        assert folder.state().state == "done"
        assert folder.log.read_text().count(": python -m ser_lightning fit") == 1  # started once, by one process
        events = list(folder.log_dir.rglob("events.out.tfevents.*"))  # events.out.tfevents.<time>.<host>.<pid>.<n>: fit's, then test's
        assert events and len({event.name.split(".")[-2] for event in events}) == 1  # all written by one process

"""Checkpoints as a user on a shared cluster meets them: own folders per run, resume from the newest readable file,
truncated files named, atomic saves, and the label space checked against the checkpoint."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fsspec.implementations.local
import pytest
import torch
import yaml

from ser_lightning.cli import main

from .test_cli import CNN_LSTM, PROJECT, write_config

QUICK = ["--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1", "--test_after_fit", "false"]


@pytest.fixture
def config(small_corpus, tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path / "config.yaml", small_corpus, CNN_LSTM, epochs=1)
    raw = yaml.safe_load(path.read_text())
    del raw["checkpoint"]  # the default: every run its own folder
    path.write_text(yaml.safe_dump(raw))
    return path


def fit(config: Path, *args: str):
    return main(["fit", "--config", str(config), *QUICK, *args])


def error_of(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_every_run_has_its_own_folder_and_last_resumes_the_newest_run(config, tmp_path):
    fit(config)
    fit(config)
    runs = tmp_path / "checkpoints" / "e2e"
    assert sorted(p.name for p in runs.iterdir()) == ["version_0", "version_1"]
    assert all((runs / v / "last.ckpt").is_file() for v in ("version_0", "version_1"))
    for checkpoint in runs.rglob("*.ckpt"):  # last and best alike: hyper-parameters are plain data (hpc: tests/test_slurm.py)
        assert torch.load(checkpoint, weights_only=True)["hyper_parameters"]["label_names"] == ["angry", "happy", "neutral", "sad"]
    assert sorted(p.name for p in (tmp_path / "logs" / "e2e").iterdir()) == ["version_0", "version_1"]
    cli = fit(config, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert Path(cli.trainer.ckpt_path).resolve() == runs / "version_1" / "last.ckpt" and cli.trainer.current_epoch == 2
    assert torch.load(runs / "version_1" / "last.ckpt", weights_only=True)["epoch"] == 1
    assert sorted(p.name for p in runs.iterdir()) == ["version_0", "version_1"]  # continued, not a third run
    assert cli.trainer.log_dir == str(Path("logs") / "e2e" / "version_1")


def test_a_first_run_asked_to_resume_starts_fresh_with_a_message(config, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    for ckpt in ("last", "hpc"):
        cli = fit(config, "--ckpt_path", ckpt)
        assert cli.trainer.ckpt_path is None and cli.trainer.global_step > 0
    assert "no checkpoint to resume" in caplog.text


@pytest.mark.filterwarnings("ignore:The dirpath has changed")  # the spare copy was written in another folder
def test_a_truncated_last_checkpoint_is_named_and_the_newest_readable_one_resumes(config, tmp_path, capsys):
    fit(config)
    folder = tmp_path / "checkpoints" / "e2e" / "version_0"
    last = folder / "last.ckpt"
    (best,) = folder.glob("best-*.ckpt")
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a copy cut short, or a full disk
    older = folder / "last-v1.ckpt"  # an older full checkpoint of the same run (e.g. written by a second ModelCheckpoint)
    fit(config, "--checkpoint.dirpath", str(tmp_path / "spare"))
    older.write_bytes((tmp_path / "spare" / "last.ckpt").read_bytes())
    os.utime(older, (1, 1))  # older than the broken last.ckpt
    with pytest.warns(UserWarning, match=f"{last.name} cannot be used .*PytorchStreamReader.*Resuming from .*{older.name} instead"):
        cli = fit(config, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert Path(cli.trainer.ckpt_path).resolve() == older
    older.unlink()
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    message = error_of(capsys, "fit", "--config", str(config), *QUICK, "--ckpt_path", "last")  # the best file holds weights only
    best = max(folder.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime_ns)  # the resumed run saved its own best
    assert f"{best.name}: it holds the weights only" in message and f"--model.init_from {best.relative_to(tmp_path)}" in message
    assert "optimizer_states" not in torch.load(best, weights_only=True) and "optimizer_states" in torch.load(
        tmp_path / "spare" / "last.ckpt", weights_only=True
    )
    last.write_bytes(b"")  # an explicit broken file is an error that names it and the good one beside it
    message = error_of(capsys, "test", "--config", str(config), "--ckpt_path", str(last))
    assert f"Checkpoint {last} cannot be loaded" in message and "The newest readable checkpoint beside it is" in message


def test_a_run_never_writes_into_another_runs_checkpoint_folder(config, tmp_path, capsys):
    fit(config, "--checkpoint.dirpath", "shared")
    message = error_of(capsys, "fit", "--config", str(config), *QUICK, "--checkpoint.dirpath", "shared")
    assert "shared already holds checkpoints of an earlier run (best-" in message and "--ckpt_path last" in message
    assert fit(config, "--checkpoint.dirpath", "shared", "--trainer.max_epochs", "2", "--ckpt_path", "last").trainer.current_epoch == 2


def test_a_crash_while_saving_leaves_the_previous_last_checkpoint_whole(config, tmp_path, monkeypatch):
    fit(config)
    last = tmp_path / "checkpoints" / "e2e" / "version_0" / "last.ckpt"
    before = last.read_bytes()
    real_write = fsspec.implementations.local.LocalFileOpener.write

    def full_disk(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsspec.implementations.local.LocalFileOpener, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        fit(config, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert last.read_bytes() == before and torch.load(last, weights_only=True)["epoch"] == 0
    assert not list(last.parent.glob("*.tmp*")) and len(list(last.parent.iterdir())) == 2  # no half-written leftovers


def test_test_and_predict_refuse_a_label_space_that_differs_from_the_checkpoint(config, tmp_path, capsys):
    fit(config)
    last = tmp_path / "checkpoints" / "e2e" / "version_0" / "last.ckpt"
    for names, kind in ((["happy", "angry", "neutral", "sad"], "the same classes in another order"), (["angry", "happy", "sad"], "other classes")):
        message = error_of(capsys, "test", "--config", str(config), "--ckpt_path", str(last), "--data.init_args.label_names", str(names))
        assert "trained on ['angry', 'happy', 'neutral', 'sad']" in message and kind in message and "--data.init_args.label_names" in message


def test_a_failed_run_leaves_no_empty_folders(config, tmp_path, capsys):
    raw = yaml.safe_load(config.read_text())
    raw["data"]["init_args"]["sources"] = [{"class_path": "ser_lightning.data.ManifestCorpus", "init_args": {"root": str(tmp_path / "nowhere")}}]
    config.write_text(yaml.safe_dump(raw))
    message = error_of(capsys, "fit", "--config", str(config), *QUICK)
    assert "nowhere does not exist" in message
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").rglob("*"))
    assert not (tmp_path / "logs").exists() or not any(p.is_file() for p in (tmp_path / "logs").rglob("*"))


def test_last_resumes_only_a_run_of_the_same_experiment(config, tmp_path, caplog):
    fit(config)
    fit(config, "--model.lr_head", "0.003")
    runs = tmp_path / "checkpoints" / "e2e"
    cli = fit(config, "--trainer.max_epochs", "2", "--ckpt_path", "last")  # the newest run has another lr: the older one matches
    assert Path(cli.trainer.ckpt_path).resolve() == runs / "version_0" / "last.ckpt" and cli.trainer.current_epoch == 2
    with pytest.warns(UserWarning, match=r"the newest run .*version_0 was trained with another config \(data.init_args.batch_size: 8 -> 4\)"):
        cli = fit(config, "--data.init_args.batch_size", "4", "--ckpt_path", "last")
    assert cli.trainer.ckpt_path is None and Path(cli.trainer.log_dir).name == "version_2"  # a fresh run, not a re-test of another
    cli = fit(config, "--trainer.max_epochs", "3", "--data.init_args.num_workers", "1", "--model.lr_head", "0.003", "--ckpt_path", "last")
    assert Path(cli.trainer.ckpt_path).resolve() == runs / "version_1" / "last.ckpt"  # workers and epochs may change
    cli = fit(config, "--trainer.max_epochs", "4", "--data.init_args.audio_cache_mb", "0", "--model.lr_head", "0.003", "--ckpt_path", "last")
    assert Path(cli.trainer.ckpt_path).resolve() == runs / "version_1" / "last.ckpt"  # so may the audio cache's size


def test_last_in_a_fixed_folder_refuses_another_experiment(config, tmp_path, capsys):
    fit(config, "--checkpoint.dirpath", "fixed")
    message = error_of(
        capsys, "fit", "--config", str(config), *QUICK, "--checkpoint.dirpath", "fixed", "--model.dropout", "0.5", "--ckpt_path", "last"
    )
    assert "trained with another config (model.dropout: 0.1 -> 0.5)" in message and "--ckpt_path fixed" in message


@pytest.mark.slow  # two CLI fits in subprocesses
def test_two_fits_started_together_take_their_own_versions(config, tmp_path):
    """Both start at once with the same logger name: each reserves its own version_N (an exclusive mkdir)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "ser_lightning", "fit", "--config", str(config), *QUICK]
    runs = [
        subprocess.Popen([*command, "--model.head_hidden", str(hidden)], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        for hidden in (8, 16)
    ]
    for run in runs:
        assert run.wait(timeout=900) == 0, run.stderr.read()[-3000:]
    versions = ["version_0", "version_1"]
    assert sorted(p.name for p in (tmp_path / "logs" / "e2e").iterdir()) == versions
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "e2e").iterdir()) == versions
    hidden = set()
    for version in versions:
        logs = tmp_path / "logs" / "e2e" / version
        assert len(list(logs.glob("events.out.tfevents.*"))) == 1, sorted(p.name for p in logs.iterdir())
        configured = yaml.safe_load((logs / "config.yaml").read_text())["model"]["head_hidden"]
        trained = torch.load(tmp_path / "checkpoints" / "e2e" / version / "last.ckpt", weights_only=True)["hyper_parameters"]["head_hidden"]
        assert configured == trained  # each folder holds one run's config and that run's checkpoint
        hidden.add(trained)
    assert hidden == {8, 16}


def test_a_second_run_with_the_same_fixed_version_refuses_and_last_resumes_it(config, tmp_path, capsys):
    fixed = ["--trainer.logger.init_args.version", "fixed"]
    fit(config, *fixed)
    last = tmp_path / "checkpoints" / "e2e" / "fixed" / "last.ckpt"
    before = last.read_bytes()
    (message,) = [
        line for line in error_of(capsys, "fit", "--config", str(config), *QUICK, *fixed, "--seed_everything", "1").splitlines() if "error" in line
    ]
    assert f"error: {Path('checkpoints') / 'e2e' / 'fixed'} already holds checkpoints of an earlier run (" in message
    assert "resume that run with --ckpt_path last" in message and "start a new one with another --trainer.logger.init_args.version" in message
    assert last.read_bytes() == before and len(list((tmp_path / "logs" / "e2e" / "fixed").glob("events.out.tfevents.*"))) == 1

    cli = fit(config, *fixed, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert Path(cli.trainer.ckpt_path).resolve() == last and cli.trainer.current_epoch == 2

    shutil.rmtree(last.parent)  # logs without checkpoints (say, a run stopped before its first checkpoint): still another run's
    message = error_of(capsys, "fit", "--config", str(config), *QUICK, *fixed)
    assert f"{Path('logs') / 'e2e' / 'fixed'} already holds the logs of an earlier run" in message and "another --trainer.logger" in message


def test_an_unwritable_checkpoint_or_log_folder_is_named_before_any_data_is_read(config, tmp_path, capsys):
    raw = yaml.safe_load(config.read_text())
    raw["data"]["init_args"]["sources"] = [{"class_path": "ser_lightning.data.ManifestCorpus", "init_args": {"root": str(tmp_path / "nowhere")}}]
    config.write_text(yaml.safe_dump(raw))  # reading the data would fail: the folder check must come first
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be: unwritable even for root")
    message = error_of(capsys, "fit", "--config", str(config), *QUICK, "--checkpoint.dirpath", str(blocker / "ckpts"))
    assert f"The run folder {blocker / 'ckpts'} cannot be written ({blocker} is a file, not a folder): give --checkpoint.dirpath" in message
    message = error_of(capsys, "fit", "--config", str(config), *QUICK, "--trainer.logger.init_args.save_dir", str(blocker / "logs"))
    assert f"{blocker} is a file, not a folder): give --trainer.logger.init_args.save_dir a folder" in message and "nowhere" not in message
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "logs").exists()  # nothing reserved is left behind


def test_a_read_only_checkpoint_folder_is_named_before_any_data_is_read(config, tmp_path, capsys):
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    if os.access(locked, os.W_OK):  # root writes anyway: the file-for-a-folder test above holds for everyone
        pytest.skip("permissions do not stop this user (root)")
    raw = yaml.safe_load(config.read_text())
    raw["data"]["init_args"]["sources"] = [{"class_path": "ser_lightning.data.ManifestCorpus", "init_args": {"root": str(tmp_path / "nowhere")}}]
    config.write_text(yaml.safe_dump(raw))
    message = error_of(capsys, "fit", "--config", str(config), *QUICK, "--checkpoint.dirpath", str(locked / "ckpts"))
    assert f"The run folder {locked / 'ckpts'} cannot be written (Permission denied" in message and "nowhere" not in message

"""Checkpoints as a user on a shared cluster meets them: own folders per run, resume from the newest readable file,
truncated files named, atomic saves, and the label space checked against the checkpoint."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import fsspec.implementations.local
import pytest
import torch
import yaml

from ser_lightning.cli import main

from .test_cli import CNN_LSTM, write_config

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


def test_last_in_a_fixed_folder_refuses_another_experiment(config, tmp_path, capsys):
    fit(config, "--checkpoint.dirpath", "fixed")
    message = error_of(
        capsys, "fit", "--config", str(config), *QUICK, "--checkpoint.dirpath", "fixed", "--model.dropout", "0.5", "--ckpt_path", "last"
    )
    assert "trained with another config (model.dropout: 0.1 -> 0.5)" in message and "--ckpt_path fixed" in message

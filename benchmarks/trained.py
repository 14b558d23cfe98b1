"""Small trained models for the benchmarks: a demo corpus, a CNN-LSTM or a Whisper probe fitted through the CLI, and the
utterances of the speakers it never saw (the test split: one held-out speaker of each source language and all of Urdu).

    fit_demo(folder, "cnnlstm", epochs=6) -> Trained(checkpoint, held_out utterances, label names)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from ser_lightning.data.demo import SynthesisSpec, synthesize_corpus
from ser_lightning.data.manifest import Utterance, read_manifest, write_manifest

CONFIGS = Path(__file__).resolve().parent.parent / "ser_lightning" / "configs"
PROBES = {"tiny.en": CONFIGS / "backbones" / "whisper_tiny_en_probe.yaml", "base": CONFIGS / "backbones" / "whisper_base_probe.yaml"}
SPEC = {"speakers_per_language": 4, "sentences_per_language": 6, "seed": 0}  # 384 utterances: 144 train, 168 held out
CNN_LSTM = {"class_path": "ser_lightning.models.CNNLSTM", "init_args": {"n_mels": 64, "channels": [16, 32], "lstm_hidden": 64}}


@dataclass(frozen=True)
class Trained:
    """A fitted model's checkpoint, the utterances of its held-out speakers, and its classes."""

    checkpoint: str
    held_out: list[Utterance]
    label_names: list[str]


def demo_config(path: Path, corpus: Path, spec: dict, epochs: int, augment: bool = False) -> Path:
    """The demo task (train en/de/it, validate and test one held-out speaker each, test all of Urdu) on ``corpus``."""
    corpus_args = {"root": str(corpus), **{key: spec[key] for key in ("speakers_per_language", "sentences_per_language")}}
    source = {"class_path": "ser_lightning.data.SyntheticCorpus", "init_args": {**corpus_args, "languages": ["en", "de", "it"]}}
    target = {"class_path": "ser_lightning.data.SyntheticCorpus", "init_args": {**corpus_args, "languages": ["ur"]}}
    config = {
        "seed_everything": 0,
        "trainer": {"max_epochs": epochs, "accelerator": "cpu", "devices": 1, "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"backbone": CNN_LSTM, "head_hidden": 64, "dropout": 0.1, "lr_backbone": 1e-3, "lr_head": 1e-3, "warmup": 0.05},
        "data": {
            "class_path": "ser_lightning.data.CrossLingualDataModule",
            "init_args": {"sources": [source], "targets": [target], "batch_size": 16, "val_speakers": 1, "test_speakers": 1},
        },
        "test_after_fit": False,
    }
    if augment:  # the demo's: white noise at 5-30 dB SNR on half the training utterances (a probe's cached features are of clean audio)
        noise = {"class_path": "audiomentations.AddGaussianSNR", "init_args": {"min_snr_db": 5.0, "max_snr_db": 30.0, "p": 0.5}}
        config["data"]["init_args"]["train_augment"] = [noise]
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def fit_demo(folder: Path, model: str = "cnnlstm", epochs: int = 6, spec: dict | None = None) -> Trained:
    """Fit ``model`` (``cnnlstm``, or a Whisper probe: ``tiny.en``, ``base``) on a demo corpus under ``folder``; a fit
    of the same model, epochs and corpus already recorded there (``<model>.json``) is reused."""
    from ser_lightning.cli import main

    spec = {**SPEC, **(spec or {})}
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / f"{model}.json"
    if record.is_file():
        done = json.loads(record.read_text(encoding="utf-8"))
        if done["epochs"] == epochs and done["spec"] == spec and Path(done["checkpoint"]).is_file():
            return Trained(done["checkpoint"], read_manifest(done["held_out"]), done["label_names"])
    corpus = folder / "corpus"
    if not (corpus / "manifest.jsonl").is_file():
        synthesize_corpus(corpus, SynthesisSpec(**spec))
    config = demo_config(folder / f"{model}.yaml", corpus, spec, epochs, augment=model == "cnnlstm")
    probe = ["--config", str(PROBES[model])] if model in PROBES else []
    if model not in PROBES and model != "cnnlstm":
        raise ValueError(f"model must be cnnlstm, {' or '.join(PROBES)}; got {model!r}.")
    os.environ.setdefault("SER_LIGHTNING_CACHE", str(folder / "cache"))
    args = [
        "fit",
        "--config",
        str(config),
        *probe,
        "--trainer.logger.init_args.save_dir",
        str(folder / "logs"),
        "--trainer.logger.init_args.name",
        model,
        "--checkpoint.dirpath",
        str(folder / "checkpoints" / model),
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        cli = main(args)
    trained = Trained(cli.trainer.checkpoint_callback.best_model_path, list(cli.datamodule.split.test), list(cli.model.label_names))
    held_out = write_manifest(trained.held_out, folder / f"{model}_held_out.jsonl")
    done = {"epochs": epochs, "spec": spec, "checkpoint": trained.checkpoint, "held_out": str(held_out), "label_names": trained.label_names}
    record.write_text(json.dumps(done), encoding="utf-8")
    return trained


def from_run(config: Path, checkpoint: str, workdir: Path) -> Trained:
    """A model fitted earlier by the CLI: its checkpoint and the held-out utterances of its run's split, rebuilt from the
    run's ``config.yaml`` (relative paths in it are taken from ``workdir``, where that run was started)."""
    from jsonargparse import ArgumentParser
    from lightning.pytorch import LightningDataModule

    saved = yaml.safe_load(config.read_text(encoding="utf-8"))
    init = saved["data"].setdefault("init_args", {})
    if init.get("seed") is None and isinstance(saved.get("seed_everything"), int):  # the data seed followed seed_everything
        init["seed"] = saved["seed_everything"]
    parser = ArgumentParser()
    parser.add_subclass_arguments(LightningDataModule, "data")
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        data = parser.instantiate_classes(parser.parse_object({"data": saved["data"]})).data
        data.setup("test")
    finally:
        os.chdir(previous)
    held_out = [u.with_(path=str((workdir / u.path).resolve())) for u in data.split.test]
    return Trained(str(checkpoint), held_out, list(data.label_names))


def emobox_fold(checkpoint: str, corpus: str, root: Path, test_list: Path) -> Trained:
    """A model fitted on an EmoBox fold (e.g. a Whisper probe of the public-copies runs) and that fold's test utterances
    (real speech of speakers it never saw), read with this package's parser of ``corpus`` (``emodb``, ...) under ``root``."""
    import torch

    from ser_lightning.data.corpora.registry import get_corpus

    names = {Path(json.loads(line)["wav"]).name for line in test_list.read_text(encoding="utf-8").splitlines() if line.strip()}
    held_out = [u for u in get_corpus(corpus)(str(root)).parse() if Path(u.path).name in names]
    hparams = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)["hyper_parameters"]
    if len(held_out) != len(names):
        raise ValueError(f"{test_list} names {len(names)} files; {len(held_out)} of them are under {root}.")
    return Trained(checkpoint, held_out, list(hparams["label_names"]))

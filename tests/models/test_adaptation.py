"""Adaptation through the Trainer: noisy evaluation per SNR, two-stage init_from, domain-adversarial training."""

from __future__ import annotations

import json
import random
from pathlib import Path

import lightning as L
import pytest
import torch

from ser_lightning.data import CrossLingualDataModule, ManifestCorpus, SyntheticCorpus
from ser_lightning.models import CNNLSTM, EmotionRecognizer

from ..conftest import SMALL_SPEC

CORPUS = {k: SMALL_SPEC[k] for k in ("speakers_per_language", "sentences_per_language")}


def datamodule(root, **kwargs) -> CrossLingualDataModule:
    return CrossLingualDataModule(
        sources=[SyntheticCorpus(str(root), languages=["en", "de", "it"], **CORPUS)],
        targets=[SyntheticCorpus(str(root), languages=["ur"], **CORPUS)],
        batch_size=8,
        **kwargs,
    )


def model(num_classes: int = 4, label_names=("angry", "happy", "neutral", "sad"), **kwargs) -> EmotionRecognizer:
    return EmotionRecognizer(
        CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8), num_classes=num_classes, label_names=list(label_names), head_hidden=8, **kwargs
    )


def trainer(tmp_path: Path | None = None, **kwargs) -> L.Trainer:
    defaults = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    return L.Trainer(default_root_dir=tmp_path, **{**defaults, **kwargs})


def test_noisy_evaluation_reports_every_group_at_every_snr_deterministically(small_corpus):
    torch.manual_seed(0)
    net = model()
    results = []
    for workers in (0, 2, 0):
        dm = datamodule(small_corpus, test_snrs=[None, 10, 0], num_workers=workers)
        trainer().test(net, datamodule=dm, verbose=False)
        results.append(net.test_results)
    assert results[0] == results[1] == results[2]  # the same noise per utterance and SNR, whatever the workers
    keys = set(results[0])
    assert {"all", "target", "ur", "snr10", "target/snr10", "ur/snr0", "source/snr0"} <= keys
    assert results[0]["snr10"]["n"] == results[0]["all"]["n"] == 48
    test = dm.datasets["test"]
    clean, noisy = test[0], test[len(test.utterances) * 2]  # the same utterance at 0 dB
    assert clean["meta"]["path"] == noisy["meta"]["path"] and (clean["meta"]["snr"], noisy["meta"]["snr"]) == ("clean", "0")
    assert not torch.equal(clean["wave"], noisy["wave"])


def test_noisy_metrics_are_logged_per_snr(small_corpus):
    dm = datamodule(small_corpus, test_snrs=[None, 5])
    t = trainer()
    t.test(model(), datamodule=dm, verbose=False)
    assert {"test/ua", "test/ua/target", "test/ua/snr5", "test/ua/target/snr5", "test/wa/ur/snr5"} <= set(t.callback_metrics)


def fit_source_model(small_corpus, tmp_path) -> Path:
    torch.manual_seed(0)
    source = model()
    t = trainer(tmp_path, max_steps=2, limit_val_batches=0)
    t.fit(source, datamodule=datamodule(small_corpus))
    path = tmp_path / "source.ckpt"
    t.save_checkpoint(path)
    return path


def test_a_second_stage_starts_from_the_weights_only(small_corpus, tmp_path, caplog):
    path = fit_source_model(small_corpus, tmp_path)
    source = torch.load(path, weights_only=True)
    stage_two = model(init_from=str(path), lr_head=0.0, lr_backbone=0.0, warmup=0)
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    t.fit(stage_two, datamodule=datamodule(small_corpus, adaptation_speakers=1, shots_per_class=1, source_replay=0.0))
    assert t.global_step == 1  # a fresh loop: the source run's step count and optimizer state are not restored
    assert t.optimizers[0].state[next(iter(stage_two.head.parameters()))]["step"] == 1
    for key, value in source["state_dict"].items():
        if not key.startswith("loss_fn") and "num_batches_tracked" not in key and "running_" not in key:
            assert torch.equal(stage_two.state_dict()[key], value), key  # learning rate 0: the weights are the source's


def test_another_class_set_reinitialises_the_classifier_and_another_order_reorders_it(small_corpus, tmp_path, caplog):
    path = fit_source_model(small_corpus, tmp_path)
    source = torch.load(path, weights_only=True)["state_dict"]
    reordered = model(label_names=("sad", "neutral", "happy", "angry"), init_from=str(path))
    reordered.setup("fit")
    assert torch.equal(reordered.head[-1].weight, source["head.4.weight"].flip(0))
    binary = model(num_classes=2, label_names=("negative", "positive"), init_from=str(path))
    before = binary.head[-1].weight.clone()
    with caplog.at_level("INFO"):
        binary.setup("fit")
    assert torch.equal(binary.head[-1].weight, before) and torch.equal(binary.head[1].weight, source["head.1.weight"])
    assert "classifier re-initialised" in caplog.text
    with pytest.raises(FileNotFoundError, match="init_from: no checkpoint"):
        model(init_from=str(tmp_path / "missing.ckpt")).setup("fit")


def manifest_with_shuffled_target_labels(root: Path, out: Path, shuffle: bool) -> Path:
    records = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
    target = [r for r in records if r["language"] == "ur"]
    if shuffle:
        labels = [r["label"] for r in target]
        random.Random(1).shuffle(labels)
        for record, label in zip(target, labels):
            record["label"] = label
    out.mkdir()
    with (out / "manifest.jsonl").open("w") as handle:
        for record in records:
            handle.write(json.dumps({**record, "path": str(root / record["path"])}) + "\n")
    return out


def test_the_adversarial_branch_never_reads_target_labels(small_corpus, tmp_path):
    states, unlabelled_labels = [], set()
    for shuffle in (False, True):
        root = manifest_with_shuffled_target_labels(small_corpus, tmp_path / f"m{shuffle}", shuffle)
        dm = CrossLingualDataModule(
            [ManifestCorpus(str(root), languages=["en", "de", "it"], audio_root=str(small_corpus))],
            [ManifestCorpus(str(root), languages=["ur"], audio_root=str(small_corpus))],
            batch_size=8, adaptation_speakers=1, unlabelled_target=True,
        )  # fmt: skip
        torch.manual_seed(0)
        net = model(domain_adversarial=1.0)
        t = trainer(tmp_path, max_steps=3, limit_val_batches=0, log_every_n_steps=1)
        t.fit(net, datamodule=dm)
        states.append(net.state_dict())
        unlabelled_labels |= {label for batch in dm.train_dataloader()["unlabelled"] for label in batch["labels"].tolist()}
        assert "train/domain_loss" in t.callback_metrics
    assert unlabelled_labels == {-1}
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), key  # target labels shuffled: training is bit-identical


def test_adversarial_training_without_unlabelled_target_audio_is_refused(small_corpus, tmp_path):
    with pytest.raises(ValueError, match="set the DataModule's unlabelled_target: true"):
        trainer(tmp_path, max_steps=1, limit_val_batches=0).fit(model(domain_adversarial=0.5), datamodule=datamodule(small_corpus))


def test_init_from_a_checkpoint_that_weights_only_loading_refuses_is_one_named_error(tmp_path):
    """A pickled object (not plain tensors and data) or a truncated file: refused with the file named, no unpickling."""
    from ser_lightning.checkpoints import CheckpointError
    from ser_lightning.models.transfer import load_initial_weights

    unsafe = tmp_path / "unsafe.ckpt"
    torch.save({"state_dict": {}, "callback": random.Random(0)}, unsafe)  # an arbitrary object: weights_only refuses it
    truncated = tmp_path / "truncated.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    for path in (unsafe, truncated):
        with pytest.raises(CheckpointError, match=rf"init_from: {path} cannot be loaded"):
            load_initial_weights(model(), str(path), ("angry", "happy", "neutral", "sad"), classifier="head.2")

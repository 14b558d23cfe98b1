"""Frozen probe, epochs x seeds: the feature cache versus recomputing the backbone, and versus its floor.

A frozen random wav2vec2 of benchmark size (4 layers, width 256; its forward pass dominates a probe
step, as a real backbone's does) under ``EmotionRecognizer``'s head, trained ``epochs`` epochs for each of
``seeds`` seeds on generated WAVs (no validation, so both paths read the same training set):

- recomputed: every step runs the backbone (today's path without the cache);
- cached: ``FeatureCache(enabled=True)``, one folder shared by all seeds: the first fit fills it, the
  others only read it (``store: frames``, float32, so any pooling works);
- floor: one backbone pass over the training set in eval mode, batched by duration (what the cache must
  compute at least once).

Goals (issue 16): cached at least 10x faster than recomputed, and the cached total (fill included)
within 1.3x of the floor.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from corpus import datamodule, write_manifest, write_wavs
from report import Figure, figure

from ser_lightning.data.dataset import collate_utterances
from ser_lightning.features import FeatureCache
from ser_lightning.models import EmotionRecognizer, HFBackbone
from tests.models.tiny import TINY_WAV2VEC2

SPEEDUP_GOAL, FLOOR_GOAL = 10.0, 1.3
BENCH_WAV2VEC2 = TINY_WAV2VEC2 | {
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "conv_dim": [128, 128, 128],
}


def probe(seed: int, labels: list[str]) -> EmotionRecognizer:
    """The frozen backbone (the same weights every call) under a head seeded by ``seed``."""
    torch.manual_seed(0)
    backbone = HFBackbone(None, pretrained=False, config=BENCH_WAV2VEC2, finetune="frozen")
    torch.manual_seed(seed)
    return EmotionRecognizer(backbone, num_classes=len(labels), label_names=labels, lr_head=1e-3, warmup=0).train()


def fits(manifest: Path, labels: list[str], epochs: int, seeds: int, cache: FeatureCache | None) -> list[float]:
    """Wall seconds of each of ``seeds`` probe fits of ``epochs`` epochs (model and DataModule set-up included)."""
    times = []
    for seed in range(seeds):
        start = time.perf_counter()
        L.seed_everything(seed, verbose=False)
        trainer = L.Trainer(
            accelerator="cpu", max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0, callbacks=[cache] if cache else [],
        )  # fmt: skip
        trainer.fit(probe(seed, labels), datamodule=datamodule(manifest, batch_size=8))
        times.append(time.perf_counter() - start)
    return times


def floor(manifest: Path, labels: list[str]) -> float:
    """Wall seconds of one eval-mode backbone pass over the training set in duration-sorted batches of 16."""
    dm = datamodule(manifest, batch_size=16)
    dm.setup("fit")
    train = dm.datasets["train"]
    backbone = probe(0, labels).backbone.eval()
    order = sorted(range(len(train)), key=lambda i: train.durations[i])
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(order), 16):
            batch = collate_utterances([train[j] for j in order[i : i + 16]])
            backbone(batch["waves"], batch["lengths"])
    return time.perf_counter() - start


def figures(quick: bool = False) -> list[Figure]:
    epochs, seeds, files = (2, 2, 24) if quick else (10, 5, 36)
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        paths = write_wavs(Path(tmp) / "wav", rng.uniform(1.0, 4.0, files).tolist(), [16000])
        manifest = write_manifest(paths, Path(tmp) / "manifest.jsonl")
        dm = datamodule(manifest, batch_size=8)
        dm.setup("fit")
        labels = dm.label_names
        train_files = len(dm.datasets["train"])
        cache = FeatureCache(enabled=True, folder=str(Path(tmp) / "features"))
        cached_fits = fits(manifest, labels, epochs, seeds, cache)
        recomputed = sum(fits(manifest, labels, epochs, seeds, None))
        one_pass = floor(manifest, labels)
    cached = sum(cached_fits)
    speedup, over_floor, filling = recomputed / cached, cached / one_pass, cached_fits[0] / one_pass
    later = cached_fits[1:]
    sizes = (
        f"frozen random wav2vec2 (4 layers, width 256), {train_files} training clips of 1-4 s at 16 kHz, batch 8, "
        f"{epochs} epochs x {seeds} seeds, no validation"
    )
    return [
        figure(
            "feature cache: recomputed / cached probe",
            speedup,
            "x",
            f">= {SPEEDUP_GOAL:g}x",
            speedup >= SPEEDUP_GOAL,
            f"recomputed {recomputed:.1f} s, cached {cached:.1f} s (the first fit fills the cache); {sizes}",
        ),
        figure(
            "feature cache: cached total / one backbone pass",
            over_floor,
            "x",
            f"<= {FLOOR_GOAL:g}x",
            over_floor <= FLOOR_GOAL,
            f"one eval-mode pass over the training set {one_pass:.1f} s (batches of 16 by duration); cached {epochs * seeds} epochs {cached:.1f} s: "
            f"the first fit (fills the cache, then trains) {cached_fits[0]:.1f} s, each later fit {sum(later) / max(1, len(later)):.2f} s "
            f"({epochs} epochs of head steps and Trainer start-up, no backbone)",
        ),
        figure(
            "feature cache: filling fit / one backbone pass",
            filling,
            "x",
            detail="the cache's own cost: extraction (every layer kept), writing the store, its first epochs; later fits add only head training",
        ),
    ]

"""Training-step overhead: ``EmotionRecognizer`` in Lightning's ``Trainer`` with our DataModule, versus a plain PyTorch loop.

Three paths train the same tiny random wav2vec2 model (same seed, so the same weights and dropout
draws) for the same steps on the same batches, with the same AdamW groups and warm-up/cosine schedule:

- plain: a hand-written loop (forward, cross-entropy, backward, ``step``, ``zero_grad``, scheduler step)
  over the batches held in memory (collated once from the DataModule's own loader): the floor;
- lightning: ``Trainer.fit`` of ``EmotionRecognizer`` over the same in-memory batches;
- lightning + datamodule: ``Trainer.fit`` with our ``SERDataModule`` reading the WAV files (0 workers).

The Trainer does only what the plain loop does: no progress bar, checkpointing, logger, model summary,
sanity check or validation. ``EmotionRecognizer.training_step`` is unchanged, so its train metrics and
``self.log`` calls are part of what is measured. Each step is timed from the start of one
training batch to the start of the next (the same point in every path: after its batch is fetched,
before the forward), after a few warm-up steps. Paths are interleaved per round, in rotating order;
each batch's median over rounds is summed, so a burst of machine load in one round does not decide
the ratio. The losses of every path must be identical.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from corpus import datamodule, write_manifest, write_wavs
from report import Figure, figure, judged, spread
from torch.utils.data import DataLoader
from transformers import get_cosine_schedule_with_warmup

from ser_lightning.models import EmotionRecognizer, HFBackbone
from tests.models.tiny import TINY_WAV2VEC2

GOAL = 1.05
BATCH = 8
SEED = 0


class StepClock(L.Callback):
    """Wall time at the start of every training batch, and its loss."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.losses: list[float] = []

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        self.starts.append(time.perf_counter())

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.losses.append(float(outputs["loss"]))


def step_times(starts: list[float], warmup: int) -> list[float]:
    """Seconds from the start of each step after ``warmup`` to the start of the next."""
    return [b - a for a, b in zip(starts[warmup:], starts[warmup + 1 :])]


def robust_total(runs: list[list[float]]) -> float:
    """The sum over steps of each step's median over runs (the runs took the same batches in the same order)."""
    return sum(statistics.median(times) for times in zip(*runs))


def bare_trainer(steps: int, clock: L.Callback, **options: Any) -> L.Trainer:
    """A CPU Trainer doing what a plain loop does: no progress bar, checkpoints, logger, summary, sanity check or validation."""
    return L.Trainer(
        accelerator="cpu", devices=1, max_steps=steps, max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, callbacks=[clock], **options,
    )  # fmt: skip


def tiny_model(label_names: list[str]) -> EmotionRecognizer:
    """EmotionRecognizer on the tests' tiny random wav2vec2 (2 layers, width 32), seeded: every call gives the same weights."""
    torch.manual_seed(SEED)
    return EmotionRecognizer(HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2), num_classes=len(label_names), label_names=label_names)


def seed_draws() -> None:
    """Seed the generators training draws from: dropout (torch) and SpecAugment masks (numpy)."""
    torch.manual_seed(SEED)
    np.random.seed(SEED)


def plain_optimizer(model: EmotionRecognizer, steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """The AdamW groups and warm-up/cosine schedule of ``EmotionRecognizer.configure_optimizers``, written out."""
    hp = model.hparams
    head = [p for m in (model.pooling, model.head) for p in m.parameters() if p.requires_grad]
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    groups = [{"params": head, "lr": hp.lr_head}, {"params": backbone, "lr": hp.lr_backbone}]
    optimizer = torch.optim.AdamW(groups, weight_decay=hp.weight_decay)
    return optimizer, get_cosine_schedule_with_warmup(optimizer, int(hp.warmup * steps), steps)


def run_plain(batches: list[dict[str, Any]], label_names: list[str], warmup: int) -> tuple[list[float], list[float]]:
    """Step times and losses of the plain loop (timed at the same points as ``StepClock``)."""
    model = tiny_model(label_names)
    seed_draws()
    model.train()
    optimizer, scheduler = plain_optimizer(model, len(batches))
    starts, losses = [], []
    for batch in DataLoader(batches, batch_size=None):  # a DataLoader, as in Lightning: its iterator draws one base seed
        starts.append(time.perf_counter())
        loss = model.loss_fn(model(batch["waves"], batch["lengths"]).float(), batch["labels"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        losses.append(loss.detach().item())
    return step_times(starts, warmup), losses


def run_lightning(data: Any, steps: int, label_names: list[str], warmup: int) -> tuple[list[float], list[float], float]:
    """Step times, losses and the whole ``fit`` wall time of EmotionRecognizer on ``data`` (a DataLoader or DataModule)."""
    model = tiny_model(label_names)
    clock = StepClock()
    trainer = bare_trainer(steps, clock)
    seed_draws()
    start = time.perf_counter()
    if isinstance(data, L.LightningDataModule):
        trainer.fit(model, datamodule=data)
    else:
        trainer.fit(model, train_dataloaders=data)
    return step_times(clock.starts, warmup), clock.losses, time.perf_counter() - start


def figures(quick: bool = False) -> list[Figure]:
    steps, warmup, rounds = (8, 2, 1) if quick else (30, 4, 5)
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(SEED)
        files = int(steps * BATCH / 0.6) + BATCH  # 4 of 6 speakers train: a little over one epoch of batches
        paths = write_wavs(Path(tmp) / "wav", rng.uniform(1.0, 2.0, files).tolist(), [16000])
        dm = datamodule(write_manifest(paths, Path(tmp) / "manifest.jsonl"), BATCH)
        dm.setup("fit")
        batches = [batch for batch, _ in zip(dm.train_dataloader(), range(steps))]  # epoch 0, as Trainer.fit sees it
        label_names = dm.label_names
        runs: dict[str, list[list[float]]] = {"plain": [], "lightning": [], "lightning + datamodule": []}
        losses: dict[str, list[float]] = {}
        fit_walls: list[float] = []
        for r in range(rounds):
            for name in list(runs)[r % 3 :] + list(runs)[: r % 3]:
                if name == "plain":
                    times, losses[name] = run_plain(batches, label_names, warmup)
                else:
                    data = DataLoader(batches, batch_size=None) if name == "lightning" else dm
                    times, losses[name], wall = run_lightning(data, steps, label_names, warmup)
                    if data is dm:
                        fit_walls.append(wall)
                runs[name].append(times)
    per_step = {name: robust_total(times) / len(times[0]) for name, times in runs.items()}
    loss_diff = max(abs(a - b) for name in losses for a, b in zip(losses[name], losses["plain"]))
    same_losses = loss_diff <= 1e-5 and all(len(v) == steps for v in losses.values())

    def timing(name: str) -> str:
        return f"{per_step[name] * 1000:.1f} ms/step (per-round means {spread([1000 * statistics.fmean(t) for t in runs[name]])} ms)"

    sizes = (
        f"tiny random wav2vec2 (2 layers, width 32), batch {BATCH} of 1-2 s clips at 16 kHz, {steps} steps "
        f"({warmup} warm-up), {rounds} interleaved rounds"
    )
    off = "Trainer without progress bar, checkpointing, logger, model summary, sanity check, validation; fp32, no gradient clipping"
    common = (
        f"{sizes}; {off}; plain loop over in-memory batches {timing('plain')}; losses "
        f"{'identical' if same_losses else 'DIFFERENT'} (max difference {loss_diff:.2g})"
    )
    ratio = per_step["lightning + datamodule"] / per_step["plain"]
    per_round = [sum(ours) / sum(plain) for ours, plain in zip(runs["lightning + datamodule"], runs["plain"])]
    return [
        judged(
            "training-step overhead: Lightning + DataModule / plain loop",
            per_round,
            "x",
            f"<= {GOAL}x and identical losses",
            lambda value: value <= GOAL and same_losses,
            f"per-round ratios of the summed step times; over all rounds (each step's median) {ratio:.3f}; "
            f"EmotionRecognizer in Trainer.fit with SERDataModule reading the WAVs (0 workers): {timing('lightning + datamodule')}, "
            f"whole fit() {spread(fit_walls)} s; {common}",
        ),
        figure(
            "of which Trainer + EmotionRecognizer / plain loop",
            per_step["lightning"] / per_step["plain"],
            "x",
            detail=(
                f"the same Trainer.fit over the plain loop's in-memory batches: {timing('lightning')}; the rest of the "
                f"ratio above is the DataModule (decoding files); {sizes}"
            ),
        ),
    ]

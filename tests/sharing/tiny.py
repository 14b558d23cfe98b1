"""Tiny checkpoints as the CLI writes them (random weights, a calibrated temperature) and their exports, made in seconds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from ser_lightning.sharing.export import export_checkpoint
from ser_lightning.sharing.pretrained import build_recognizer

from ..models.tiny import TINY_WAV2VEC2

LABELS = ["angry", "happy", "neutral", "sad"]
CNN_LSTM_HPARAMS: dict[str, Any] = {
    "backbone": {"class_path": "ser_lightning.models.CNNLSTM", "init_args": {"n_mels": 16, "channels": [4, 8], "lstm_hidden": 8}},
    "num_classes": 4,
    "label_names": LABELS,
    "pooling": {"class_path": "ser_lightning.models.MeanPooling", "init_args": {"layer": -1}},
    "head_hidden": 8,
}
WAV2VEC2_HPARAMS: dict[str, Any] = {
    "backbone": {
        "class_path": "ser_lightning.models.HFBackbone",
        "init_args": {"name_or_path": None, "pretrained": False, "config": TINY_WAV2VEC2, "finetune": "frozen"},
    },
    "num_classes": 4,
    "label_names": LABELS,
    "pooling": {"class_path": "ser_lightning.models.WeightedLayerPooling"},
    "head_hidden": 0,
}


def tiny_checkpoint(path: Path, hparams: dict[str, Any] = CNN_LSTM_HPARAMS, temperature: float = 1.7, seed: int = 0) -> Path:
    """A weights-only checkpoint (as a best checkpoint of the CLI) of an untrained model with ``temperature``."""
    torch.manual_seed(seed)
    model = build_recognizer(hparams).eval()
    model.temperature.fill_(temperature)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": copy.deepcopy(hparams), "pytorch-lightning_version": "2.6.0"}, path)
    return path


def tiny_export(folder: Path, hparams: dict[str, Any] = CNN_LSTM_HPARAMS, **export: Any) -> Path:
    """``python -m ser_lightning export`` of :func:`tiny_checkpoint` into ``folder`` (the checkpoint beside it)."""
    ckpt = tiny_checkpoint(folder.parent / f"{folder.name}.ckpt", hparams)
    return export_checkpoint(ckpt, folder, **export)


def waves(seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Three zero-padded clips of 1.5 s or less at 16 kHz and their lengths."""
    generator = torch.Generator().manual_seed(seed)
    batch = 0.1 * torch.randn(3, 24000, generator=generator)
    lengths = torch.tensor([24000, 20000, 9000])
    for row, length in enumerate(lengths):
        batch[row, length:] = 0
    return batch, lengths

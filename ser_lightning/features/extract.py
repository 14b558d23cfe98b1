"""Running a frozen backbone over utterances once, into a feature store."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..data.audio import AudioError
from ..data.batching import collate_utterances
from ..data.dataset import UtteranceDataset
from .store import ChunkWriter, Layout, StoreDtype


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Run ``module`` (every sub-module) in eval mode, then give each sub-module its mode back."""
    modes = [(sub, sub.training) for sub in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for sub, training in modes:
            sub.training = training


def feature_shape(
    backbone: nn.Module, sample_rate: int, device: torch.device, context: Callable[[], AbstractContextManager] = nullcontext
) -> tuple[float, int, int]:
    """(frames per second, layers, width) of a backbone's output, from one second of silence."""
    samples = max(sample_rate, int(getattr(backbone, "min_samples", 0)))
    with eval_mode(backbone), torch.inference_mode(), context():
        hidden, frames = backbone(torch.zeros(1, samples, device=device), torch.tensor([samples], device=device))
    return float(frames[0]) * sample_rate / samples, len(hidden), int(hidden[0].shape[-1])


def estimate_bytes(durations: Sequence[float], frame_rate: float, layers: int, width: int, layout: Layout, dtype: StoreDtype) -> int:
    """Bytes that ``durations`` (seconds) take in a store: frames (or 1 pooled row) x layers x width x bytes."""
    rows = len(durations) if layout == "pooled" else sum(max(1, math.ceil(d * frame_rate)) for d in durations)
    return rows * layers * width * np.dtype(dtype).itemsize


def _rng_devices(device: torch.device) -> list[int]:
    """The CUDA devices whose random state the extraction must leave as it found it (DataLoaders draw a seed)."""
    return [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []


class _Items(Dataset):
    """The chosen items of a dataset, in order."""

    def __init__(self, source: UtteranceDataset, indices: Sequence[int]) -> None:
        self.source = copy.copy(source)
        self.source.audio = None  # each wave is read once here, then served as features: keeping it would only hold memory
        self.indices = list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> dict:
        index = self.indices[position]
        item = self.source[index]
        if item is None:  # on_bad_audio: skip, and the file broke after setup checked it
            path = self.source.utterances[index % len(self.source.utterances)].path
            raise AudioError(
                f"{path} no longer loads (it changed after setup checked it), so its features cannot be cached; fix or remove it and run again."
            )
        return item


def extract_features(
    backbone: nn.Module,
    dataset: UtteranceDataset,
    items: Sequence[tuple[int, str]],
    writer: ChunkWriter,
    layout: Layout,
    device: torch.device,
    context: Callable[[], AbstractContextManager] = nullcontext,
    batch_size: int = 16,
    num_workers: int = 0,
) -> None:
    """Write the features of ``items`` ((index in ``dataset``, cache key) pairs) with ``writer``.

    Utterances are batched by duration (little padding) and run in eval mode under ``context()`` (the
    trainer's precision, e.g. autocast); only real frames are kept: all of them (``frames``) or their mean per layer
    (``pooled``, one row).
    """
    durations = dataset.durations
    order = sorted(range(len(items)), key=lambda i: durations[items[i][0]])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    loader = DataLoader(_Items(dataset, [index for index, _ in items]), batch_sampler=batches, collate_fn=collate_utterances, num_workers=num_workers)
    with eval_mode(backbone), torch.inference_mode(), torch.random.fork_rng(devices=_rng_devices(device)):
        for positions, batch in zip(batches, loader):
            with context():
                hidden, frame_lengths = backbone(batch["waves"].to(device), batch["lengths"].to(device))
            stacked = torch.stack([state.float() for state in hidden], dim=2)  # [B, T', L, D]
            for row, position in enumerate(positions):
                rows = stacked[row, : int(frame_lengths[row])]
                if layout == "pooled":
                    rows = rows.mean(0, keepdim=True)
                writer.add(items[position][1], rows.cpu().numpy())

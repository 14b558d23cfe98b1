"""Length-aware batching: batches of utterances with similar durations, and the collate that pads them."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import BatchSampler, Sampler


class EpochShuffleSampler(Sampler[int]):
    """A random permutation of ``range(size)`` drawn from ``seed + epoch``.

    Lightning calls ``set_epoch`` at the start of every epoch (also after a resume), so a resumed run
    continues the data order of an uninterrupted one instead of replaying the first epoch.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())


class DurationBatchSampler(BatchSampler):
    """Batches of ``batch_size`` indices drawn from ``sampler`` and grouped by duration.

    The indices of each window of ``batch_size * window_batches`` consecutive draws are sorted by
    duration and cut into batches, whose order is then shuffled (``shuffle=True``). With a random
    ``sampler`` every epoch sees new batches with little padding. Under DDP, Lightning re-creates this
    sampler with a ``DistributedSampler`` in place of ``sampler`` (it subclasses ``BatchSampler`` and
    takes ``sampler`` as an argument), so every rank groups its own shard and all ranks get the same
    number of batches.
    """

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        durations: Sequence[float],
        batch_size: int,
        drop_last: bool = False,
        shuffle: bool = True,
        window_batches: int = 100,
        seed: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        super().__init__(sampler, batch_size, drop_last)
        self.durations = durations
        self.shuffle = shuffle
        self.window_batches = window_batches
        self.seed = seed
        self._iteration = 0

    def _epoch(self) -> int:
        return getattr(self.sampler, "epoch", self._iteration)

    def __iter__(self) -> Iterator[list[int]]:
        indices = list(self.sampler)
        window = self.batch_size * self.window_batches
        batches: list[list[int]] = []
        for start in range(0, len(indices), window):
            chunk = sorted(indices[start : start + window], key=lambda i: self.durations[i])
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self._epoch())
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        self._iteration += 1
        yield from batches


def collate_utterances(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pad waves to the longest in the batch.

    Returns ``waves`` [B, T] (zero-padded), ``lengths`` [B] (samples), ``labels`` [B] and ``meta``:
    a dict of lists (path, speaker, language, corpus, role) in batch order.
    """
    lengths = torch.tensor([item["wave"].shape[-1] for item in items], dtype=torch.long)
    waves = torch.zeros(len(items), int(lengths.max()), dtype=torch.float32)
    for row, item in enumerate(items):
        waves[row, : lengths[row]] = item["wave"]
    labels = torch.tensor([item["label"] for item in items], dtype=torch.long)
    meta = {key: [item["meta"][key] for item in items] for key in items[0]["meta"]}
    return {"waves": waves, "lengths": lengths, "labels": labels, "meta": meta}


def padding_ratio(batches: Sequence[Sequence[int]], durations: Sequence[float]) -> float:
    """Fraction of padded samples over all batches (0 = no padding)."""
    total = padded = 0.0
    for batch in batches:
        longest = max(durations[i] for i in batch)
        total += longest * len(batch)
        padded += sum(longest - durations[i] for i in batch)
    return padded / total if total else 0.0

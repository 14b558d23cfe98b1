"""Training batches that a resumed run continues exactly: each index carries its epoch, and an epoch can start mid-way."""

from __future__ import annotations

import itertools
from typing import Any, Iterator

from .batching import DurationBatchSampler


class ResumableBatches(DurationBatchSampler):
    """A :class:`DurationBatchSampler` whose batches hold ``(epoch, index)`` items, and that can begin an epoch at a batch.

    The epoch lets the dataset draw each item's crop and augmentation from (seed, epoch, index) alone
    (see :class:`~ser_lightning.data.dataset.UtteranceDataset`). ``start=(epoch, batch)`` makes the first
    iteration yield that epoch from that batch on (a run resumed mid-epoch from a checkpoint); later
    iterations are whole epochs. Lightning re-creates it per rank under DDP with the same arguments.

    Args:
        *args: the arguments of :class:`DurationBatchSampler`.
        start: (epoch, batches already done) for the first iteration; null starts at the sampler's epoch.
        **kwargs: the keyword arguments of :class:`DurationBatchSampler`.
    """

    def __init__(self, *args: Any, start: tuple[int, int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start = start

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        skip = 0
        if self.start is not None:
            epoch, skip = self.start
            self.start = None
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(epoch)  # with workers, Lightning may iterate before it sets the resumed epoch
        epoch = int(getattr(self.sampler, "epoch", 0))
        for batch in itertools.islice(super().__iter__(), skip, None):
            yield [(epoch, index) for index in batch]

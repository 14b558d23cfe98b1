"""Training batches that a resumed run continues exactly: each index carries its epoch and its batch's place in the epoch,
and an epoch can start mid-way."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from torch.utils.data import Sampler

from .batching import DurationBatchSampler


class ResumableBatches(DurationBatchSampler):
    """A :class:`DurationBatchSampler` whose batches hold ``(epoch, index, batch)`` items, and that can begin an epoch at a batch.

    The epoch lets the dataset draw each item's crop and augmentation from (seed, epoch, index) alone
    (see :class:`~ser_lightning.data.dataset.UtteranceDataset`); ``batch``, the batch's number in its epoch, travels
    with the batch (``meta["train_position"]``), so the DataModule saves the place of the last batch trained, whatever
    the loader prefetched (workers, Lightning's fetcher). ``start=(epoch, batch)`` makes the first
    iteration yield that epoch from that batch on (a run resumed mid-epoch from a checkpoint); later
    iterations are whole epochs. Lightning re-creates it per rank under DDP with the same arguments.

    Args:
        sampler: indices to batch (Lightning swaps in a ``DistributedSampler`` under DDP).
        durations: seconds of each dataset item.
        batch_size: most utterances per batch.
        drop_last: drop a last, smaller batch.
        start: (epoch, batches already done) for the first iteration; null starts at the sampler's epoch.
        **kwargs: the other keyword arguments of :class:`DurationBatchSampler`.
    """

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        durations: Sequence[float],
        batch_size: int,
        drop_last: bool = False,
        *,
        start: tuple[int, int] | None = None,
        **kwargs: Any,
    ) -> None:
        # `sampler` is named in the signature: under DDP, Lightning re-creates the batch sampler around its DistributedSampler
        super().__init__(sampler, durations, batch_size, drop_last, **kwargs)
        self.start = start

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        # with workers, Lightning may iterate the resumed epoch before it sets the sampler's epoch: `start` names it
        epoch, skip = self.start if self.start is not None else (self._epoch(), 0)
        self.start = None
        self._iteration += 1
        for number, batch in enumerate(self.epoch_batches(epoch)[skip:], start=skip):
            yield [(epoch, index, number) for index in batch]

"""A stand-in for an UtteranceDataset whose items name cached backbone features instead of loading audio."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from ..data.dataset import UtteranceDataset, item_meta
from .keys import utterance_keys

FEATURE_KEYS = "feature_keys"


class CachedFeatureDataset(Dataset):
    """The items of ``source`` without their audio: each names its cache key, label and metadata.

    :meth:`collate` makes batches ``{"feature_keys", "labels", "meta"}``; :class:`FeatureCache` adds the
    ``features`` [B, T', L, D] and their frame ``lengths`` in the main process just before each step, once
    it has filled the cache with the model's final weights (DataLoader workers may start before that).
    Length, durations, labels and metadata are the source's, so the batches are the same as without the
    cache. Every other attribute (``utterances``, ``roles``, ``snrs``, ...) is the source's.

    Args:
        source: the dataset to stand in for; it must not crop or augment at random.
    """

    def __init__(self, source: UtteranceDataset) -> None:
        self.source = source
        self.keys = utterance_keys(source)

    def __getattr__(self, name: str) -> Any:
        if name == "source":  # not set yet (unpickling in a worker): no recursion
            raise AttributeError(name)
        return getattr(self.source, name)

    def __len__(self) -> int:
        return len(self.source)

    @property
    def durations(self) -> list[float]:
        return self.source.durations

    def __getitem__(self, index: int | tuple[int, int, int]) -> dict[str, Any]:
        # The label and metadata of UtteranceDataset.__getitem__, without reading the file (training batches index
        # with (epoch, index, batch); the epoch only seeds crops and augmentation, which a cached split has none of).
        position = (index[0], index[2]) if isinstance(index, tuple) and len(index) > 2 else None
        index = index[1] if isinstance(index, tuple) else index
        source = self.source
        snr = source.snrs[index // len(source.utterances)]
        utt = source.utterances[index % len(source.utterances)]
        meta = item_meta(utt, snr, tagged=len(source.snrs) > 1)
        if position is not None:
            meta["train_position"] = position
        label = source.label_index[utt.label] if source.labelled else -1
        return {"key": self.keys[index], "label": label, "meta": meta}

    @staticmethod
    def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """``feature_keys`` (list), ``labels`` [B] and ``meta`` (a dict of lists) in batch order."""
        labels = torch.tensor([item["label"] for item in items], dtype=torch.long)
        meta = {key: [item["meta"][key] for item in items] for key in items[0]["meta"]}
        return {FEATURE_KEYS: [item["key"] for item in items], "labels": labels, "meta": meta}

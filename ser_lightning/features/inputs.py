"""Precomputed features as a DataModule's inputs (lhotse's ``PrecomputedFeatures`` beside ``AudioSamples``).

A :class:`CachedInputs` is what a DataModule reads instead of audio for the splits it can serve from a frozen
backbone's cache: :meth:`wrap` makes a split's stand-in dataset (items name cache keys, no audio is read) and
:meth:`attach` gives a batch its ``features`` and frame ``lengths`` in the main process, just before the batch goes to
the model (the DataModule's ``on_before_batch_transfer``), so no DataLoader worker ever holds the memory-mapped store.
The store itself is set by whoever fills it (:class:`~ser_lightning.features.FeatureCache`, once the model's weights
are final); the DataModule never needs to know how.
"""

from __future__ import annotations

from typing import Any

from .dataset import FEATURE_KEYS, CachedFeatureDataset
from .store import FeatureStore


def why_uncached(dataset: Any) -> str | None:
    """Why a split must be read from audio (random crops or augmentation), or None when it can be cached."""
    if not hasattr(dataset, "utterances") or not hasattr(dataset, "snrs"):
        return f"it is a {type(dataset).__name__}, not an UtteranceDataset"
    if getattr(dataset, "augment", None) is not None:
        return "train_augment changes its audio at random on every read"
    if getattr(dataset, "max_samples", None):
        return "max_train_seconds crops it at random on every read"
    return None


class CachedInputs:
    """Cached backbone features as inputs: stand-in datasets, and the features of each batch from :attr:`store`."""

    def __init__(self) -> None:
        self.store: FeatureStore | None = None  # set when the cache is filled

    def why_not(self, dataset: Any) -> str | None:
        """Why ``dataset`` cannot be served from the cache (see :func:`why_uncached`), or None."""
        return why_uncached(dataset)

    def wrap(self, dataset: Any) -> CachedFeatureDataset:
        """The stand-in for ``dataset``: the same items, labels and metadata, naming cache keys instead of audio."""
        return CachedFeatureDataset(dataset)

    def attach(self, batch: Any) -> Any:
        """``batch`` (or each sub-batch of a dict of them) with ``features`` [B, T', L, D] and frame ``lengths`` [B] where
        it names cache keys; other batches pass unchanged."""
        if not isinstance(batch, dict):
            return batch
        if FEATURE_KEYS not in batch:
            return {key: self.attach(value) for key, value in batch.items()} if any(isinstance(v, dict) for v in batch.values()) else batch
        if self.store is None:
            raise RuntimeError(
                "A batch names cached features before the feature cache was filled (FeatureCache fills it as training, "
                "validation, testing or prediction starts)."
            )
        features, lengths = self.store.gather(batch[FEATURE_KEYS])
        return {**batch, "features": features, "lengths": lengths}

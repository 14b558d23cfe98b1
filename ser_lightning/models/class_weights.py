"""Per-class loss weights for imbalanced training sets (``class_weights: auto``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def inverse_frequency_weights(counts: Sequence[int], label_names: Sequence[str]) -> torch.Tensor:
    """Per-class loss weights ``N / (C * n_c)`` (1 for every class when balanced); a class with no example is an error."""
    counts_t = torch.tensor(list(counts), dtype=torch.float32)
    if len(counts_t) != len(label_names):
        raise ValueError(f"Got {len(counts_t)} class counts for {len(label_names)} classes.")
    empty = [name for name, count in zip(label_names, counts) if count == 0]
    if empty:
        raise ValueError(f"class_weights: auto: classes {empty} have no training utterance; drop them from the label space or give weights by hand.")
    return counts_t.sum() / (len(counts_t) * counts_t)

"""Evaluating clips longer than a backbone's input window: every part of the clip is heard, not only its start.

Whisper's encoder takes a fixed window (30 s, or a trimmed one such as 8 s, which would cut ~10% of IEMOCAP's
utterances). In evaluation a longer clip is cut into windows that cover it (the last one ends at the clip's end),
each is encoded, and the class probabilities are averaged, as ``predict`` does for long files.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def window_starts(length: int, window: int) -> list[int]:
    """Sample offsets of windows of ``window`` samples covering ``length`` samples (one window when it fits)."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, window))
    return starts if starts[-1] + window >= length else starts + [length - window]


def windowed_logits(
    logits_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], waves: torch.Tensor, lengths: torch.Tensor, window: int
) -> torch.Tensor:
    """Log of the window-averaged class probabilities [B, C] (usable as logits) for clips that may exceed ``window``."""
    pieces, owners, sizes = [], [], []
    for row, length in enumerate(lengths.tolist()):
        for start in window_starts(int(length), window):
            size = min(window, int(length) - start)
            pieces.append(waves[row, start : start + size])
            owners.append(row)
            sizes.append(size)
    batch = waves.new_zeros(len(pieces), max(sizes))
    for i, piece in enumerate(pieces):
        batch[i, : len(piece)] = piece
    probabilities = logits_of(batch, torch.tensor(sizes, device=lengths.device)).float().softmax(-1)
    owner = torch.tensor(owners, device=probabilities.device)
    summed = torch.zeros(len(lengths), probabilities.shape[1], device=probabilities.device).index_add_(0, owner, probabilities)
    counts = torch.bincount(owner, minlength=len(lengths)).clamp(min=1).unsqueeze(1)
    return (summed / counts).clamp(min=1e-12).log()

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


def _windows(waves: torch.Tensor, lengths: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The windows of every clip as one zero-padded batch, their lengths and the row each belongs to."""
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
    return batch, torch.tensor(sizes, device=lengths.device), torch.tensor(owners, device=waves.device)


def _mean_per_clip(values: torch.Tensor, owner: torch.Tensor, clips: int) -> torch.Tensor:
    summed = torch.zeros(clips, values.shape[1], device=values.device).index_add_(0, owner, values)
    return summed / torch.bincount(owner, minlength=clips).clamp(min=1).unsqueeze(1)


def windowed_probabilities(
    logits_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    waves: torch.Tensor,
    lengths: torch.Tensor,
    window: int,
    temperature: torch.Tensor | float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The rule for clips longer than ``window``, wherever they are evaluated: the mean over the clip's windows of the
    calibrated probabilities ``softmax(logits / T)`` [B, C], and of the plain softmax [B, C] (T = 1). ``predict``'s
    per-file probabilities are the same mean over the windows it cuts."""
    batch, sizes, owner = _windows(waves, lengths, window)
    logits = logits_of(batch, sizes).float()
    calibrated = _mean_per_clip((logits / temperature).softmax(-1), owner, len(lengths))
    plain = _mean_per_clip(logits.softmax(-1), owner, len(lengths))
    return calibrated, plain


def windowed_logits(
    logits_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], waves: torch.Tensor, lengths: torch.Tensor, window: int
) -> torch.Tensor:
    """Log of the window-averaged plain probabilities [B, C], usable as logits (the validation loss and the temperature
    fit see a long clip as one utterance)."""
    _, plain = windowed_probabilities(logits_of, waves, lengths, window)
    return plain.clamp(min=1e-12).log()

"""Pooling heads: ``(hidden_states, frame_lengths) -> [B, D]``; padding never leaks into a pooled vector."""

from __future__ import annotations

import torch
from torch import nn

from .backbones import sample_mask


class Pooling(nn.Module):
    """Turns a backbone's frame-level hidden states into one vector per utterance."""


class MeanPooling(Pooling):
    """Masked mean over the real frames of one layer (``layer=-1``: the last)."""

    def __init__(self, layer: int = -1) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, hidden_states: list[torch.Tensor], frame_lengths: torch.Tensor) -> torch.Tensor:
        states = hidden_states[self.layer]
        mask = sample_mask(frame_lengths, states.shape[1]).unsqueeze(-1)
        return states.masked_fill(~mask, 0.0).sum(1) / mask.sum(1).clamp_min(1).to(states.dtype)

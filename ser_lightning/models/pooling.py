"""Pooling heads: ``(hidden_states, frame_lengths) -> [B, D]``; padding never leaks into a pooled vector.

A head learns the backbone's shape in :meth:`Pooling.build` (called by the LightningModule), so
configs never repeat a backbone's layer count or width.
"""

from __future__ import annotations

import torch
from torch import nn

from .masking import sample_mask


def masked_mean(states: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
    """Mean over the real frames of [B, T, D] states."""
    mask = sample_mask(frame_lengths, states.shape[1]).unsqueeze(-1)
    return states.masked_fill(~mask, 0.0).sum(1) / mask.sum(1).clamp_min(1).to(states.dtype)


def check_layer(layer: int, num_layers: int) -> None:
    """Raise unless ``layer`` indexes one of the backbone's ``num_layers`` hidden states."""
    if not -num_layers <= layer < num_layers:
        raise ValueError(f"layer={layer} does not exist: the backbone returns {num_layers} hidden states.")


class Pooling(nn.Module):
    """Turns a backbone's frame-level hidden states into one vector per utterance."""

    def build(self, num_layers: int, hidden_size: int) -> int:
        """Create what depends on the backbone; return the size of the pooled vector."""
        return hidden_size


class MeanPooling(Pooling):
    """Masked mean over the real frames of one layer.

    Args:
        layer: which hidden state to pool: -1 is the last layer, 0 the input to the first transformer layer.
    """

    def __init__(self, layer: int = -1) -> None:
        super().__init__()
        self.layer = layer

    def build(self, num_layers: int, hidden_size: int) -> int:
        check_layer(self.layer, num_layers)
        return hidden_size

    def forward(self, hidden_states: list[torch.Tensor], frame_lengths: torch.Tensor) -> torch.Tensor:
        return masked_mean(hidden_states[self.layer], frame_lengths)


class WeightedLayerPooling(Pooling):
    """A learned softmax-weighted sum of all hidden states (SUPERB's featurizer), then the masked mean.

    The usual head on a frozen backbone: which layers carry emotion differs between models. It has no
    options: one weight per hidden state is learned, starting from a uniform mix.
    """

    def build(self, num_layers: int, hidden_size: int) -> int:
        self.layer_weights = nn.Parameter(torch.zeros(num_layers))
        return hidden_size

    def layer_mix(self, hidden_states: list[torch.Tensor]) -> torch.Tensor:
        """The weighted sum of the hidden states, [B, T, D]."""
        if len(hidden_states) != len(self.layer_weights):
            raise ValueError(f"Got {len(hidden_states)} hidden states for {len(self.layer_weights)} layer weights.")
        weights = self.layer_weights.softmax(0).to(hidden_states[0].dtype)
        return torch.einsum("l,lbtd->btd", weights, torch.stack(hidden_states))

    def forward(self, hidden_states: list[torch.Tensor], frame_lengths: torch.Tensor) -> torch.Tensor:
        return masked_mean(self.layer_mix(hidden_states), frame_lengths)


class AttentiveStatisticsPooling(Pooling):
    """Attention-weighted mean and standard deviation over real frames of one layer (x-vector/ECAPA style).

    Returns ``2 * hidden_size`` features; padded frames get zero attention.

    Args:
        layer: which hidden state to pool (-1: the last).
        attention_hidden: width of the attention scorer's hidden layer.
    """

    def __init__(self, layer: int = -1, attention_hidden: int = 128) -> None:
        super().__init__()
        self.layer = layer
        self.attention_hidden = attention_hidden

    def build(self, num_layers: int, hidden_size: int) -> int:
        check_layer(self.layer, num_layers)
        self.attention = nn.Sequential(nn.Linear(hidden_size, self.attention_hidden), nn.Tanh(), nn.Linear(self.attention_hidden, 1))
        return 2 * hidden_size

    def forward(self, hidden_states: list[torch.Tensor], frame_lengths: torch.Tensor) -> torch.Tensor:
        states = hidden_states[self.layer]
        mask = sample_mask(frame_lengths, states.shape[1]).unsqueeze(-1)
        scores = self.attention(states).float().masked_fill(~mask, float("-inf"))
        weights = scores.softmax(1).to(states.dtype)
        states = states.masked_fill(~mask, 0.0)
        mean = (weights * states).sum(1)
        var = (weights * (states - mean.unsqueeze(1)) ** 2).sum(1)
        return torch.cat([mean, var.clamp_min(1e-6).sqrt()], dim=-1)

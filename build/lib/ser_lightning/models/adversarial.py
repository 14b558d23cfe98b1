"""Domain-adversarial training (Ganin & Lempitsky 2015; for SER across languages, Latif et al. 2019).

A domain classifier learns to tell source from target utterances by their pooled vectors, behind a
gradient-reversal layer that pushes the encoder towards vectors it cannot tell apart. The target side
is unlabelled audio: no target label is ever read.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, coefficient: float) -> torch.Tensor:  # noqa: D102
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        return -ctx.coefficient * grad, None


def reverse_gradient(x: torch.Tensor, coefficient: float = 1.0) -> torch.Tensor:
    """Identity forward; the gradient is multiplied by ``-coefficient`` on the way back."""
    return _ReverseGradient.apply(x, coefficient)


def ganin_coefficient(progress: float) -> float:
    """Ganin's schedule ``2 / (1 + exp(-10 p)) - 1``: 0 at the start of training, close to 1 by its end."""
    return 2.0 / (1.0 + math.exp(-10.0 * min(max(progress, 0.0), 1.0))) - 1.0


class DomainClassifier(nn.Module):
    """Source (0) versus target (1) from a pooled vector, behind a gradient-reversal layer.

    Args:
        width: size of the pooled vector.
        hidden: width of the classifier's hidden layer.
    """

    def __init__(self, width: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, pooled: torch.Tensor, coefficient: float) -> torch.Tensor:
        return self.net(reverse_gradient(pooled, coefficient))

"""Padding masks and masked statistics, shared by backbones, the baseline and pooling heads."""

from __future__ import annotations

import torch


def sample_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Boolean [B, max_len] mask, True on real (non-padded) positions."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_standardize(x: torch.Tensor, mask: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    """Zero mean, unit variance per item over ``dims``, counting only positions where ``mask`` is True.

    ``mask`` broadcasts to ``x``; masked positions come out as zero, so padding never enters the statistics.
    """
    mask = mask.expand_as(x)
    count = mask.sum(dims, keepdim=True).clamp_min(1)
    mean = x.masked_fill(~mask, 0.0).sum(dims, keepdim=True) / count
    var = (x - mean).masked_fill(~mask, 0.0).pow(2).sum(dims, keepdim=True) / count
    return ((x - mean) / torch.sqrt(var + eps)).masked_fill(~mask, 0.0)


def normalize_waves(waves: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Zero mean, unit variance per utterance over its real samples; padding stays zero.

    This is what Hugging Face's ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does, computed on the
    batch so that padding never enters the statistics.
    """
    return masked_standardize(waves, sample_mask(lengths, waves.shape[-1]), dims=(-1,), eps=eps)

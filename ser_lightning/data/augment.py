"""Noise: a training augmentation pipeline from audiomentations, and deterministic noise for evaluation at fixed SNRs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from audiomentations import Compose
from audiomentations.core.transforms_interface import BaseWaveformTransform

from .audio import load_audio

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def compose_augmentations(transforms: Sequence[BaseWaveformTransform] | None) -> Compose | None:
    """One pipeline applying each transform in order, each with its own probability ``p`` (None when empty).

    The transforms draw from Python's and numpy's global random state, which Lightning seeds per
    dataloader worker and rank (``seed_everything(workers=True)``, as the CLI does).
    """
    return Compose(list(transforms), p=1.0) if transforms else None


def add_noise(wave: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """``wave`` plus ``noise`` scaled so that their power ratio is ``snr_db`` dB (a silent wave is returned as is)."""
    signal_power = wave.pow(2).mean()
    noise_power = noise.pow(2).mean()
    if signal_power == 0 or noise_power == 0:
        return wave
    scale = torch.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return wave + scale * noise


@lru_cache(maxsize=16)
def _noise_file(path: str, sample_rate: int) -> torch.Tensor:
    return load_audio(path, sample_rate)


class EvaluationNoise:
    """Noise for testing at a fixed SNR that is a function of (utterance, SNR, seed) alone.

    The same utterance at the same SNR gets the same noise on every run, with any number of workers or
    ranks. White Gaussian noise, or a seeded choice of file and offset from ``noise_dir`` (kept apart from
    any training noise, so evaluation noise is never trained on).

    Args:
        sample_rate: the rate of the waves it is added to, in Hz.
        noise_dir: a folder of noise recordings (searched recursively for WAV/FLAC/OGG/MP3); null for white noise.
        seed: changes every noise draw at once.
    """

    def __init__(self, sample_rate: int, noise_dir: str | None = None, seed: int = 0) -> None:
        self.sample_rate = sample_rate
        self.seed = seed
        self.files: list[str] = []
        if noise_dir is not None:
            folder = Path(noise_dir)
            if not folder.is_dir():
                raise ValueError(f"test_noise_dir {folder} is not a folder; give a folder of noise recordings, or null for white noise.")
            self.files = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))
            if not self.files:
                raise ValueError(f"test_noise_dir {folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")

    def generator(self, key: str, snr_db: float) -> np.random.Generator:
        """The random stream of one utterance at one SNR."""
        digest = hashlib.sha256(f"{self.seed}|{key}|{snr_db:g}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def noise(self, key: str, snr_db: float, length: int) -> torch.Tensor:
        """``length`` samples of this utterance's noise (before scaling)."""
        rng = self.generator(key, snr_db)
        if not self.files:
            return torch.from_numpy(rng.standard_normal(length).astype(np.float32))
        recording = _noise_file(self.files[int(rng.integers(len(self.files)))], self.sample_rate)
        repeats = -(-length // recording.shape[-1]) + 1
        looped = recording.repeat(repeats)
        start = int(rng.integers(recording.shape[-1]))
        return looped[start : start + length]

    def __call__(self, wave: torch.Tensor, key: str, snr_db: float) -> torch.Tensor:
        return add_noise(wave, self.noise(key, snr_db, wave.shape[-1]), snr_db)

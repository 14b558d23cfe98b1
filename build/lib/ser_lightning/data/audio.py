"""Audio I/O: read with soundfile, downmix to mono, resample with torchaudio, crop; clear errors on bad files."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio


class AudioError(RuntimeError):
    """An audio file that is missing, unreadable or empty; the message names the file."""


def probe(path: str | Path) -> tuple[float, int]:
    """Duration in seconds and sample rate from the file header (cheap: the samples are not read)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"Audio file {path} does not exist; fix the corpus root or regenerate the manifest.")
    try:
        info = sf.info(str(path))
    except Exception as error:  # soundfile raises several types for corrupt or foreign files
        raise AudioError(f"Audio file {path} cannot be read ({error}); re-export it as WAV/FLAC or remove it from the manifest.") from None
    if info.frames == 0:
        raise AudioError(f"Audio file {path} is empty (0 samples); remove it from the corpus.")
    return info.frames / info.samplerate, info.samplerate



@lru_cache(maxsize=None)
def _resampler(orig_rate: int, new_rate: int) -> torchaudio.transforms.Resample:
    return torchaudio.transforms.Resample(orig_rate, new_rate)


def resample(wave: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample with torchaudio, reusing the sinc kernel per rate pair (``functional.resample`` rebuilds it every call)."""
    return wave if orig_rate == new_rate else _resampler(orig_rate, new_rate)(wave)


def load_audio(path: str | Path, sample_rate: int) -> torch.Tensor:
    """Load a file as a mono float32 waveform at ``sample_rate``; raises :class:`AudioError` naming the file."""
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:
        if not Path(path).is_file():
            raise AudioError(f"Audio file {path} does not exist; fix the corpus root or regenerate the manifest.") from None
        raise AudioError(f"Audio file {path} cannot be read ({error}); re-export it as WAV/FLAC or remove it from the manifest.") from None
    if data.shape[0] == 0:
        raise AudioError(f"Audio file {path} is empty (0 samples); remove it from the corpus.")
    return resample(torch.from_numpy(np.ascontiguousarray(data.mean(axis=1))), file_rate, sample_rate)


def random_crop(wave: torch.Tensor, max_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random window of at most ``max_samples`` (the whole wave when it is shorter)."""
    excess = wave.shape[-1] - max_samples
    if excess <= 0:
        return wave
    start = int(torch.randint(0, excess + 1, (1,), generator=generator))
    return wave[..., start : start + max_samples]

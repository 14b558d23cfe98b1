"""Audio I/O: fast WAV header probes, read with soundfile, downmix to mono, resample (torchaudio; soxr for awkward rate pairs), crop; clear errors."""

from __future__ import annotations

import math
import os
import struct
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch
import torchaudio


class AudioError(RuntimeError):
    """An audio file that is missing, unreadable or empty; the message names the file."""


class BadSamplesError(AudioError):
    """An audio file that decodes but whose samples cannot be trained on (NaN/Inf, unscaled floats, silence, ...)."""


MAX_PEAK = 2.0  # float samples beyond +-2 (6 dB over full scale) were stored unscaled, not merely clipped
SILENT_PEAK = 1e-4  # -80 dBFS: nothing but (near) digital silence
CANCELLING = 0.01  # the mono mix keeps under 1% (-20 dB) of the channels' power: phase-inverted stereo


def sample_fault(data: np.ndarray) -> str | None:
    """Why decoded samples ([frames, channels], float32) cannot be trained on, or None when they can.

    Odd but sound audio (any bit depth, rate, channel count, clipping) is not a fault: it is normalised.
    """
    finite = np.isfinite(data)
    if not finite.all():
        return f"{int(data.size - finite.sum())} NaN or infinite samples"
    peak = float(np.abs(data).max()) if data.size else 0.0
    if peak > MAX_PEAK:
        return f"samples reach {peak:.4g}, far outside [-1, 1] (float samples stored without scaling?)"
    if peak < SILENT_PEAK:
        return "silent (peak below -80 dBFS)"
    if data.shape[1] > 1:
        channel_power = float(np.mean(data.astype(np.float64) ** 2))
        mix_power = float(np.mean(data.mean(axis=1, dtype=np.float64) ** 2))
        if mix_power < CANCELLING * channel_power:
            return "its channels cancel when mixed to mono (one is phase-inverted); keep one channel or fix the file"
    return None


_WAV_FORMATS = (1, 3, 0xFFFE)  # PCM, IEEE float, extensible


def wav_header(path: str | Path) -> tuple[int, int] | None:
    """(frames, sample rate) from a plain RIFF/WAVE header, or None to let soundfile decide.

    About 5x faster than ``soundfile.info`` (benchmarks/parse_speed.py). Only uncompressed WAV with a
    complete ``data`` chunk is answered here; anything else (RF64, ADPCM, a streamed or truncated file)
    returns None.
    """
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            return None
        size = os.fstat(handle.fileno()).st_size
        rate = block = 0
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk, length = struct.unpack("<4sI", handle.read(8))
            if chunk == b"fmt ":
                fmt = handle.read(16)
                if len(fmt) < 16:
                    return None
                tag, channels, rate, _, block, _ = struct.unpack("<HHIIHH", fmt)
                if tag not in _WAV_FORMATS or not (channels and rate and block):
                    return None
            elif chunk == b"data":
                if not rate or length == 0 or position + 8 + length > size:
                    return None
                return length // block, rate
            position += 8 + length + (length & 1)
    return None


def probe(path: str | Path) -> tuple[float, int]:
    """Duration in seconds and sample rate from the file header (cheap: the samples are not read)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"Audio file {path} does not exist; fix the corpus root or regenerate the manifest.")
    try:
        header = wav_header(path) if path.suffix.lower() == ".wav" else None
    except OSError:
        header = None  # soundfile gives the error message below
    if header is None:
        try:
            info = sf.info(str(path))
        except Exception as error:  # soundfile raises several types for corrupt or foreign files
            raise AudioError(f"Audio file {path} cannot be read ({error}); re-export it as WAV/FLAC or remove it from the manifest.") from None
        header = info.frames, info.samplerate
    frames, rate = header
    if frames == 0:
        raise AudioError(f"Audio file {path} is empty (0 samples); remove it from the corpus.")
    return frames / rate, rate


@cache
def _resampler(orig_rate: int, new_rate: int) -> torchaudio.transforms.Resample:
    return torchaudio.transforms.Resample(orig_rate, new_rate)


# torchaudio's kernel has (new / gcd) x (orig / gcd) taps: 24,414 -> 16,000 Hz (TESS) would take 8,000 x 12,207 (25 s to build, 400 MB)
MAX_KERNEL_RATIO = 1000


def resample(wave: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample a 1-D wave with torchaudio, reusing the sinc kernel per rate pair (``functional.resample`` rebuilds it every call).

    Rate pairs without a small common ratio (TESS's 24,414 Hz) go through soxr instead, whose
    polyphase filter handles any ratio in milliseconds.
    """
    if orig_rate == new_rate:
        return wave
    divisor = math.gcd(orig_rate, new_rate)
    if max(orig_rate, new_rate) // divisor <= MAX_KERNEL_RATIO:
        return _resampler(orig_rate, new_rate)(wave)
    return torch.from_numpy(soxr.resample(wave.numpy(), orig_rate, new_rate, quality="HQ"))


def decode(path: str | Path) -> tuple[np.ndarray, int]:
    """Samples [frames, channels] as float32 at the file's own rate; raises :class:`AudioError` naming the file
    when it is missing, unreadable, empty, or its samples are faulty (:func:`sample_fault`)."""
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:
        if not Path(path).is_file():
            raise AudioError(f"Audio file {path} does not exist; fix the corpus root or regenerate the manifest.") from None
        raise AudioError(f"Audio file {path} cannot be read ({error}); re-export it as WAV/FLAC or remove it from the manifest.") from None
    if data.shape[0] == 0:
        raise AudioError(f"Audio file {path} is empty (0 samples); remove it from the corpus.")
    fault = sample_fault(data)
    if fault:
        raise BadSamplesError(f"Audio file {path}: {fault}; fix or remove it (or set the DataModule's on_bad_audio: skip).")
    return data, file_rate


def load_audio(path: str | Path, sample_rate: int) -> torch.Tensor:
    """Load a file as a mono float32 waveform at ``sample_rate``; raises :class:`AudioError` naming the file."""
    data, file_rate = decode(path)
    return resample(torch.from_numpy(np.ascontiguousarray(data.mean(axis=1))), file_rate, sample_rate)


def random_crop(wave: torch.Tensor, max_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random window of at most ``max_samples`` (the whole wave when it is shorter)."""
    excess = wave.shape[-1] - max_samples
    if excess <= 0:
        return wave
    start = int(torch.randint(0, excess + 1, (1,), generator=generator))
    return wave[..., start : start + max_samples]

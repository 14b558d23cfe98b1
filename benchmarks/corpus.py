"""Generated corpora for the benchmarks: noise WAVs of given lengths and rates, a JSONL manifest, a DataModule over it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from ser_lightning.data import ManifestCorpus, SERDataModule
from ser_lightning.data.labels import CATEGORICAL4

SPEAKERS = 6  # one validation and one test speaker are held out; four train


def write_wavs(folder: Path, durations: Sequence[float], rates: Sequence[int], seed: int = 0) -> list[Path]:
    """One 16-bit mono WAV of low-level noise per duration (rates cycle through ``rates``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    noise = (0.1 * rng.standard_normal(int(max(durations) * max(rates)) + 1)).astype(np.float32)
    paths = []
    for i, seconds in enumerate(durations):
        rate = rates[i % len(rates)]
        frames = max(1, int(seconds * rate))
        start = int(rng.integers(0, len(noise) - frames + 1))
        path = folder / f"utt{i:06d}.wav"
        sf.write(path, noise[start : start + frames], rate, subtype="PCM_16")
        paths.append(path)
    return paths


def write_manifest(paths: Sequence[Path], manifest: Path, speakers: int = SPEAKERS) -> Path:
    """A JSONL manifest of ``paths``: labels cycle through the four classes, speakers through ``speakers`` (one language)."""
    labels = CATEGORICAL4
    with manifest.open("w", encoding="utf-8") as handle:
        for i, path in enumerate(paths):
            record = {"path": str(path), "label": labels[i % len(labels)], "speaker": f"s{i % speakers}", "language": "en", "corpus": "bench"}
            handle.write(json.dumps(record) + "\n")
    return manifest


def datamodule(manifest: Path, batch_size: int, num_workers: int = 0, sample_rate: int = 16000, audio_cache_mb: float = 1024.0) -> SERDataModule:
    """Our DataModule over a generated manifest: one validation and one test speaker, length-grouped batches."""
    corpus = ManifestCorpus(str(manifest), allow_outside_root=True)
    return SERDataModule(
        corpora=[corpus],
        batch_size=batch_size,
        num_workers=num_workers,
        sample_rate=sample_rate,
        val_speakers=1,
        test_speakers=1,
        audio_cache_mb=audio_cache_mb,
    )

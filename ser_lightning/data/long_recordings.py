"""Long recordings with known segments, for tests and benchmarks: labelled utterances in a row, with silences and
background noise between them; and how well a segmentation and its predictions recover them.

Each utterance is trimmed to its speech (its own leading and trailing silence would blur the truth), placed after a
pause drawn from ``pause_seconds``, and the whole recording gets pink background noise at ``snr_db`` below the speech's
level. The truth is written beside the recordings (``segments.csv``: recording, start, end, label, source). Nothing
here is committed audio: it is made from whatever corpus the caller gives (the demo corpus in the tests).
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .audio import load_audio
from .manifest import Utterance

Span = tuple[float, float]
FRAME_SECONDS = 0.01


@dataclass(frozen=True)
class Segment:
    """One utterance inside a long recording: start and end of its speech in seconds, its label and source file."""

    start: float
    end: float
    label: str
    source: str


@dataclass(frozen=True)
class LongRecording:
    """A written long recording and the segments of speech it holds, in time order."""

    path: str
    duration: float
    segments: tuple[Segment, ...]


def speech_extent(wave: np.ndarray, rate: int, floor_db: float = -35.0) -> tuple[int, int]:
    """First and last sample (exclusive) of the 10 ms frames whose level is within ``floor_db`` of the loudest frame."""
    size = max(1, int(rate * FRAME_SECONDS))
    frames = len(wave) // size
    if frames == 0:
        return 0, len(wave)
    levels = np.sqrt(np.mean(wave[: frames * size].reshape(frames, size) ** 2, axis=1))
    loud = np.flatnonzero(levels >= levels.max() * 10 ** (floor_db / 20))
    return int(loud[0] * size), int(min(len(wave), (loud[-1] + 1) * size))


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of unit RMS whose power falls as 1/f (no DC)."""
    bins = length // 2 + 1
    spectrum = (rng.standard_normal(bins) + 1j * rng.standard_normal(bins)) / np.sqrt(np.maximum(np.arange(bins), 1))
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, length)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def make_long_recordings(
    utterances: Sequence[Utterance],
    out_dir: str | Path,
    recordings: int = 1,
    per_recording: int = 20,
    pause_seconds: tuple[float, float] = (0.8, 2.5),
    snr_db: float | None = 20.0,
    seed: int = 0,
    sample_rate: int = 16000,
) -> list[LongRecording]:
    """Write ``recordings`` WAVs of ``per_recording`` utterances each (drawn without repeats within a recording) to
    ``out_dir`` (``long_000.wav``, ...) and ``segments.csv`` with the truth; returns the recordings.

    ``pause_seconds``: the range of the pause before each utterance (and after the last). ``snr_db``: speech level
    (RMS over the segments) over the background noise's; None leaves digital silence between utterances.
    """
    if not utterances:
        raise ValueError("make_long_recordings needs at least one utterance.")
    if not 0 <= pause_seconds[0] <= pause_seconds[1]:
        raise ValueError(f"pause_seconds must be (low, high) with 0 <= low <= high, got {pause_seconds}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    made = []
    for number in range(recordings):
        chosen = rng.choice(len(utterances), size=min(per_recording, len(utterances)), replace=False)
        made.append(_write_recording([utterances[i] for i in chosen], out / f"long_{number:03d}.wav", pause_seconds, snr_db, rng, sample_rate))
    with (out / "segments.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["recording", "start", "end", "label", "source"])
        for recording in made:
            writer.writerows([recording.path, f"{s.start:.4f}", f"{s.end:.4f}", s.label, s.source] for s in recording.segments)
    return made


def _write_recording(
    chosen: Sequence[Utterance], path: Path, pause_seconds: tuple[float, float], snr_db: float | None, rng: np.random.Generator, rate: int
) -> LongRecording:
    pieces, segments, cursor = [], [], 0
    for utterance in chosen:
        wave = load_audio(utterance.path, rate).numpy().astype(np.float64)
        first, last = speech_extent(wave, rate)
        pause = int(round(rng.uniform(*pause_seconds) * rate))
        pieces += [np.zeros(pause), wave[first:last]]
        segments.append(Segment((cursor + pause) / rate, (cursor + pause + last - first) / rate, utterance.label, utterance.path))
        cursor += pause + last - first
    pieces.append(np.zeros(int(round(rng.uniform(*pause_seconds) * rate))))
    audio = np.concatenate(pieces)
    if snr_db is not None:
        speech = np.concatenate([audio[int(s.start * rate) : int(s.end * rate)] for s in segments])
        level = float(np.sqrt(np.mean(speech**2)))
        audio = audio + pink_noise(len(audio), rng) * level * 10 ** (-snr_db / 20)
    peak = float(np.abs(audio).max())
    sf.write(path, (audio * (0.9 / peak if peak > 0.9 else 1.0)).astype(np.float32), rate, subtype="PCM_16")
    return LongRecording(str(path), len(audio) / rate, tuple(segments))


def overlap(a: Span, b: Span) -> float:
    """Seconds that two spans share."""
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


@dataclass(frozen=True)
class BoundaryErrors:
    """How a segmentation matches the true segments: for each true segment, the found segment that overlaps it most,
    and its start and end offsets (found - true, seconds; negative: early); true segments no found one overlaps; found
    segments that overlap no true one."""

    start_offsets: tuple[float, ...]
    end_offsets: tuple[float, ...]
    missed: int
    extra: int
    truth: int
    found: int

    @property
    def median_start(self) -> float:
        """Median absolute start offset in seconds (NaN when nothing matched)."""
        return statistics.median(abs(x) for x in self.start_offsets) if self.start_offsets else math.nan

    @property
    def median_end(self) -> float:
        """Median absolute end offset in seconds (NaN when nothing matched)."""
        return statistics.median(abs(x) for x in self.end_offsets) if self.end_offsets else math.nan

    def __add__(self, other: BoundaryErrors) -> BoundaryErrors:
        """Both recordings' matches together."""
        return BoundaryErrors(
            self.start_offsets + other.start_offsets,
            self.end_offsets + other.end_offsets,
            self.missed + other.missed,
            self.extra + other.extra,
            self.truth + other.truth,
            self.found + other.found,
        )


def boundary_errors(truth: Sequence[Segment], found: Sequence[Span]) -> BoundaryErrors:
    """Compare found segments (start, end seconds) of one recording with its true ones."""
    starts, ends, missed = [], [], 0
    for segment in truth:
        best = max(found, key=lambda span: overlap(span, (segment.start, segment.end)), default=None)
        if best is None or overlap(best, (segment.start, segment.end)) == 0:
            missed += 1
            continue
        starts.append(best[0] - segment.start)
        ends.append(best[1] - segment.end)
    extra = sum(1 for span in found if all(overlap(span, (s.start, s.end)) == 0 for s in truth))
    return BoundaryErrors(tuple(starts), tuple(ends), missed, extra, len(truth), len(found))


def segment_labels(truth: Sequence[Segment], rows: Sequence[tuple[float, float, Sequence[float]]], label_names: Sequence[str]) -> list[str | None]:
    """The label predicted for each true segment: argmax of the overlap-weighted mean class probabilities of the rows
    (start, end, probabilities) that overlap it; None where no row does."""
    labels: list[str | None] = []
    for segment in truth:
        weights = np.array([overlap((start, end), (segment.start, segment.end)) for start, end, _ in rows])
        if not rows or weights.sum() == 0:
            labels.append(None)
            continue
        mean = (weights[:, None] * np.array([probs for _, _, probs in rows])).sum(0) / weights.sum()
        labels.append(label_names[int(mean.argmax())])
    return labels


def unweighted_accuracy(true: Sequence[str], predicted: Sequence[str | None]) -> float:
    """Mean recall over the classes present in ``true`` (a segment without a prediction counts as wrong)."""
    recalls = []
    for label in sorted(set(true)):
        hits = [p == label for t, p in zip(true, predicted) if t == label]
        recalls.append(sum(hits) / len(hits))
    return float(np.mean(recalls)) if recalls else math.nan

"""Unlabelled audio files for prediction: a folder, a file list or paths, cut into windows; no labels, speakers or manifest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset, SequentialSampler

from .audio import AudioError, probe, resample
from .batching import DurationBatchSampler, collate_utterances

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif")
LIST_EXTENSIONS: tuple[str, ...] = (".txt", ".lst", ".list")


@dataclass(frozen=True)
class Window:
    """A stretch of one file: ``start``/``stop`` in samples at the file's own rate."""

    path: str
    start: int
    stop: int
    file_rate: int

    @property
    def seconds(self) -> float:
        return (self.stop - self.start) / self.file_rate


def find_audio_files(files: str | Path | Sequence[str | Path], extensions: Sequence[str] = AUDIO_EXTENSIONS) -> list[str]:
    """The audio files named by ``files``: folders (recursively, sorted), audio files, and list files (one path a line).

    Relative paths in a list file are relative to the list file's folder. Raises ``FileNotFoundError``
    naming the entry when a path does not exist or a folder holds no audio file.
    """
    entries = [files] if isinstance(files, (str, Path)) else list(files)
    suffixes = tuple(ext.lower() for ext in extensions)
    found: list[str] = []
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            audio = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."))
            if not audio:
                raise FileNotFoundError(f"No audio files ({', '.join(suffixes)}) under {path}; give another folder or set `extensions`.")
            found.extend(str(p) for p in audio)
        elif path.is_file() and path.suffix.lower() in LIST_EXTENSIONS:
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            listed = [Path(line) if Path(line).is_absolute() else path.parent / line for line in lines if line and not line.startswith("#")]
            if not listed:
                raise FileNotFoundError(f"The file list {path} names no files.")
            found.extend(find_audio_files(listed, extensions))
        elif path.is_file():
            found.append(str(path))
        else:
            raise FileNotFoundError(f"{path} does not exist; `files` takes folders, audio files or text files listing paths.")
    return found


def windows_of(path: str, window_seconds: float | None, hop_seconds: float | None) -> list[Window]:
    """Cut a file into windows of ``window_seconds`` every ``hop_seconds``; the last window ends at the file's end.

    A file no longer than one window (or ``window_seconds=None``) is one window. Raises :class:`AudioError` for
    a missing, unreadable or empty file.
    """
    duration, rate = probe(path)
    frames = int(round(duration * rate))
    if window_seconds is None or duration <= window_seconds:
        return [Window(path, 0, frames, rate)]
    size = int(round(window_seconds * rate))
    hop = int(round((hop_seconds if hop_seconds else window_seconds / 2) * rate))
    starts = list(range(0, frames - size, hop))
    if not starts or starts[-1] != frames - size:
        starts.append(frames - size)
    return [Window(path, start, start + size, rate) for start in starts]


class WindowDataset(Dataset):
    """Mono float32 waves at ``sample_rate`` for each window; ``meta`` holds the path and the start and end in seconds."""

    def __init__(self, windows: Sequence[Window], sample_rate: int) -> None:
        self.windows = list(windows)
        self.sample_rate = sample_rate

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        window = self.windows[index]
        try:
            data, _ = sf.read(window.path, start=window.start, stop=window.stop, dtype="float32", always_2d=True)
        except Exception as error:
            raise AudioError(f"Audio file {window.path} cannot be read ({error}); re-export it as WAV/FLAC or leave it out.") from None
        wave = resample(torch.from_numpy(np.ascontiguousarray(data.mean(axis=1))), window.file_rate, self.sample_rate)
        return {
            "wave": wave,
            "label": -1,
            "meta": {"path": window.path, "start": window.start / window.file_rate, "end": window.stop / window.file_rate},
        }


class AudioFiles(LightningDataModule):
    """Audio files to label with a trained model (``predict``); they need no labels, speakers or manifest.

    Long files are cut into overlapping windows; the prediction writer (and
    :meth:`EmotionRecognizer.predict_files`) averages each file's class probabilities over its windows.
    Every file's header is read at ``setup``, so an unreadable file stops the run before any prediction.

    Args:
        files: a folder (every audio file below it, recursively, in sorted order), an audio file, a text
            file listing one path a line (relative to the list's folder; ``#`` starts a comment), or a
            list of these.
        extensions: file endings taken from folders.
        sample_rate: rate in Hz the model expects (16000 for every shipped backbone).
        window_seconds: files longer than this many seconds are cut into windows of this length;
            null classifies every file whole (long files then need memory for their full length).
        hop_seconds: seconds between window starts; null means half a window (50% overlap).
        batch_size: windows per batch (grouped by duration).
        num_workers: DataLoader worker processes (0 loads in the main process).
    """

    def __init__(
        self,
        files: str | list[str],
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
        sample_rate: int = 16000,
        window_seconds: float | None = 8.0,
        hop_seconds: float | None = None,
        batch_size: int = 8,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if window_seconds is not None and window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive (or null for whole files), got {window_seconds}.")
        if hop_seconds is not None and hop_seconds <= 0:
            raise ValueError(f"hop_seconds must be positive (or null for half a window), got {hop_seconds}.")
        self.files = files
        self.extensions = tuple(extensions)
        self.sample_rate = sample_rate
        self.window_seconds = window_seconds
        self.hop_seconds = hop_seconds
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.dataset: WindowDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        paths = find_audio_files(self.files, self.extensions)
        windows = [window for path in paths for window in windows_of(path, self.window_seconds, self.hop_seconds)]
        self.dataset = WindowDataset(windows, self.sample_rate)
        rank_zero_info(f"Predicting {len(paths)} files ({len(windows)} windows).")

    def predict_dataloader(self) -> DataLoader:
        if self.dataset is None:
            raise RuntimeError("Call setup() before asking for the dataloader.")
        durations = [window.seconds for window in self.dataset.windows]
        batches = DurationBatchSampler(SequentialSampler(self.dataset), durations, self.batch_size, shuffle=False)
        return DataLoader(self.dataset, batch_sampler=batches, collate_fn=collate_utterances, num_workers=self.num_workers)

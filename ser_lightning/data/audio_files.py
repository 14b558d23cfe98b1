"""Unlabelled audio files for prediction: a folder, a file list or paths, cut into windows; no labels, speakers or manifest."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf
import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader, Dataset, SequentialSampler
from tqdm.auto import tqdm

from .audio import AudioError, decode, probe, resample
from .batching import DurationBatchSampler, collate_utterances
from .segments import SpeechDetector, fit_to_window, require_vad

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

    Relative paths in a list file are relative to the list file's folder. Symlinked folders below a folder are followed
    (each real folder once, so a link back up does not loop); a dangling symlink or a folder that cannot be listed is
    named in one warning. Raises ``FileNotFoundError`` naming the entry when a path does not exist (a dangling link:
    with its target) or a folder holds no audio file.
    """
    entries = [files] if isinstance(files, (str, Path)) else list(files)
    suffixes = tuple(ext.lower() for ext in extensions)
    found: list[str] = []
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            audio = _audio_under(path, suffixes)
            if not audio:
                raise FileNotFoundError(f"No audio files ({', '.join(suffixes)}) under {path}; give another folder or set `extensions`.")
            found.extend(audio)
        elif path.is_file() and path.suffix.lower() in LIST_EXTENSIONS:
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            listed = [Path(line) if Path(line).is_absolute() else path.parent / line for line in lines if line and not line.startswith("#")]
            if not listed:
                raise FileNotFoundError(f"The file list {path} names no files.")
            found.extend(find_audio_files(listed, extensions))
        elif path.is_file():
            found.append(str(path))
        elif path.is_symlink():
            raise FileNotFoundError(f"{path} is a symlink to {os.readlink(path)}, which does not exist; mend the link or leave it out.")
        else:
            raise FileNotFoundError(f"{path} does not exist; `files` takes folders, audio files or text files listing paths.")
    return found


def _audio_under(folder: Path, suffixes: tuple[str, ...]) -> list[str]:
    """Audio files below ``folder``, sorted; symlinked folders followed once each; dangling links and unlistable folders warned about."""
    audio, dangling, unlisted, walked = [], [], [], set()
    for root, folders, names in os.walk(folder, followlinks=True, onerror=unlisted.append):
        real = os.path.realpath(root)
        if real in walked:  # a link back to a folder already walked (a loop, or the same folder twice)
            folders[:] = []
            continue
        walked.add(real)
        folders.sort()  # top-down in name order: which of two paths to one folder is walked does not depend on the file system
        for name in names:
            path = Path(root) / name
            if name.startswith(".") or path.suffix.lower() not in suffixes:
                continue
            if path.is_file():
                audio.append(path)
            elif path.is_symlink() and not path.exists():
                dangling.append(f"{path} -> {os.readlink(path)}")
    if dangling:
        more = f" (and {len(dangling) - 1} more)" if len(dangling) > 1 else ""
        rank_zero_warn(f"Left out {len(dangling)} dangling symlink(s) under {folder}, whose targets do not exist: {dangling[0]}{more}.")
    if unlisted:
        rank_zero_warn(f"Could not list {len(unlisted)} folder(s) under {folder}: {unlisted[0]}; their files are left out.")
    return [str(path) for path in sorted(audio)]


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

    Long files are cut into overlapping fixed windows, or (``segment: vad``) into the segments of speech that Silero
    VAD finds, each cut to fit the window; the prediction writer (and :meth:`EmotionRecognizer.predict_files`)
    averages each file's class probabilities over its windows or segments and can write one row per window or
    segment. Every file's header is read at ``setup``, so an unreadable file stops the run before any prediction.

    Args:
        files: a folder (every audio file below it, recursively, in sorted order; symlinked folders are
            followed), an audio file, a text file listing one path a line (relative to the list's folder;
            ``#`` starts a comment), or a list of these.
        extensions: file endings taken from folders.
        sample_rate: rate in Hz the model expects (16000 for every shipped backbone).
        window_seconds: the model's window: with ``segment: fixed`` files longer than this many seconds are
            cut into windows of this length; with ``segment: vad`` longer segments of speech are cut into
            the fewest equal parts no longer than this. Null classifies every file (or segment) whole
            (long ones then need memory for their full length).
        hop_seconds: seconds between fixed window starts; null means half a window (50% overlap).
        segment: ``fixed`` cuts every file into windows of ``window_seconds`` every ``hop_seconds``;
            ``vad`` finds the segments of speech with Silero VAD (its ONNX model ships in the silero-vad
            package: no download) and predicts one row per segment; silence between them gets no row.
        vad_threshold: with ``segment: vad``, a 32 ms frame is speech when the VAD's speech probability
            reaches this (0-1); lower finds quieter speech and more noise.
        vad_min_speech_seconds: with ``segment: vad``, speech shorter than this many seconds is dropped.
        vad_min_silence_seconds: with ``segment: vad``, a pause must last this many seconds to end a
            segment; shorter pauses stay inside it (larger values give fewer, longer segments).
        vad_padding_seconds: with ``segment: vad``, seconds added before and after each segment.
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
        segment: Literal["fixed", "vad"] = "fixed",
        vad_threshold: float = 0.5,
        vad_min_speech_seconds: float = 0.25,
        vad_min_silence_seconds: float = 0.5,
        vad_padding_seconds: float = 0.1,
        batch_size: int = 8,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if window_seconds is not None and window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive (or null for whole files), got {window_seconds}.")
        if hop_seconds is not None and hop_seconds <= 0:
            raise ValueError(f"hop_seconds must be positive (or null for half a window), got {hop_seconds}.")
        if segment not in ("fixed", "vad"):
            raise ValueError(f"segment must be fixed or vad, got {segment!r}.")
        self.detector = SpeechDetector(vad_threshold, vad_min_speech_seconds, vad_min_silence_seconds, vad_padding_seconds)
        if segment == "vad":
            require_vad()
        self.files = files
        self.extensions = tuple(extensions)
        self.sample_rate = sample_rate
        self.window_seconds = window_seconds
        self.hop_seconds = hop_seconds
        self.segment = segment
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.paths: list[str] | None = None
        self.dataset: WindowDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        """Find the files and read every header (fixed windows are cut here; speech is found by the first dataloader)."""
        if self.paths is not None:
            return
        paths = find_audio_files(self.files, self.extensions)
        if self.segment == "fixed":
            cut = [windows_of(path, self.window_seconds, self.hop_seconds) for path in self._progress(paths, "Reading headers")]
            windows = [window for file_windows in cut for window in file_windows]
            self.dataset = WindowDataset(windows, self.sample_rate)
            rank_zero_info(f"Predicting {len(paths)} files ({len(windows)} windows).")
        else:
            for path in self._progress(paths, "Reading headers"):
                probe(path)
        self.paths = paths

    def _progress(self, paths: Sequence[str], description: str) -> Iterable[str]:
        """``paths`` with a progress bar (shown after a second) while the trainer shows one."""
        trainer = self.trainer
        show = trainer is not None and trainer.progress_bar_callback is not None and trainer.is_global_zero
        return tqdm(paths, desc=description, unit="file", disable=not show, delay=1.0, leave=False, dynamic_ncols=True)

    def input_paths(self) -> list[str]:
        """Every file this DataModule reads: the audio files found and the list files named in ``files`` (after ``setup``)."""
        entries = [self.files] if isinstance(self.files, (str, Path)) else list(self.files)
        return [*(self.paths or []), *(str(entry) for entry in entries if Path(entry).is_file())]

    def _speech_windows(self, paths: Sequence[str]) -> list[Window]:
        """The segments of speech of every file, fitted to the window; files without speech are named in one warning."""
        windows, silent = [], []
        for path in self._progress(paths, "Finding speech (VAD)"):
            wave, rate = decode(path)
            spans = fit_to_window(self.detector.find(wave.mean(axis=1), rate), self.window_seconds)
            windows += [Window(path, int(round(start * rate)), int(round(end * rate)), rate) for start, end in spans]
            if not spans:
                silent.append(path)
        if silent:
            more = f" (and {len(silent) - 1} more)" if len(silent) > 1 else ""
            rank_zero_warn(
                f"The VAD found no speech in {len(silent)} of {len(paths)} files, which get no prediction: {silent[0]}{more}; "
                "lower --data.vad_threshold or use --data.segment fixed."
            )
        return windows

    def predict_dataloader(self) -> DataLoader:
        if self.paths is None:
            raise RuntimeError("Call setup() before asking for the dataloader.")
        if self.dataset is None:
            windows = self._speech_windows(self.paths)
            self.dataset = WindowDataset(windows, self.sample_rate)
            rank_zero_info(f"Predicting {len(self.paths)} files ({len(windows)} segments of speech).")
        durations = [window.seconds for window in self.dataset.windows]
        batches = DurationBatchSampler(SequentialSampler(self.dataset), durations, self.batch_size, shuffle=False)
        return DataLoader(self.dataset, batch_sampler=batches, collate_fn=collate_utterances, num_workers=self.num_workers)

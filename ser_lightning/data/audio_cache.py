"""DecodedAudio: decoded, resampled waves kept in memory between epochs, up to a size, checked against their files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch.utils.data import get_worker_info

from .audio import load_audio


class DecodedAudio:
    """Loads files as mono waves at ``sample_rate`` (:func:`~ser_lightning.data.audio.load_audio`) and keeps them in
    memory, up to ``max_mb`` megabytes, so that later epochs skip decoding, sample checks and resampling.

    Waves are kept in the order they are first read until the budget is full; later files are then read every time.
    (Epochs visit files in a new random order, under which evicting the least recently used wave would throw away as
    many hits as it makes: keeping a fixed set serves a share of about ``max_mb`` / the data's size.) A kept wave is
    served only while its file is the same (size, modification and change times, inode: one ``stat`` per read; a file
    copied over it with its times preserved still changes inode or change time); a changed file is read again. Each
    read returns a copy, so crops, augmentation and noise never reach the kept wave.

    The budget is per process. A DataLoader with workers gives each of them ``max_mb / num_workers``; a worker reads
    the batches it is handed, a random share of each epoch, so with several workers a budget smaller than the data
    serves fewer reads from memory (the training and validation loaders' workers each keep their own). Pickling (spawned
    workers, DDP) carries the settings, not the waves. ``max_mb = 0`` keeps nothing (every read decodes).
    """

    def __init__(self, sample_rate: int, max_mb: float) -> None:
        if not math.isfinite(max_mb) or max_mb < 0:
            raise ValueError(f"audio_cache_mb must be 0 (off) or a finite number of megabytes, got {max_mb}.")
        self.sample_rate = sample_rate
        self.max_bytes = int(max_mb * 1e6)
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._waves: dict[str, tuple[tuple[int, ...], torch.Tensor]] = {}

    def __getstate__(self) -> dict:
        """Pickled (DataLoader workers under spawn, DDP): the settings travel, the kept waves do not."""
        return {**self.__dict__, "_waves": {}, "bytes": 0, "hits": 0, "misses": 0}

    def _budget(self) -> int:
        worker = get_worker_info()
        return self.max_bytes // worker.num_workers if worker is not None else self.max_bytes

    def load(self, path: str | Path) -> torch.Tensor:
        """The file's wave (a copy); raises :class:`~ser_lightning.data.audio.AudioError` as ``load_audio`` does."""
        key = str(path)
        budget = self._budget()
        if budget <= 0:
            return load_audio(path, self.sample_rate)
        try:
            status = os.stat(key)
            version: tuple[int, ...] | None = (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)
        except OSError:
            version = None  # load_audio names the missing file
        kept = self._waves.get(key)
        if kept is not None and kept[0] == version:
            self.hits += 1
            return kept[1].clone()
        if kept is not None:
            self.bytes -= self._size(self._waves.pop(key)[1])
        wave = load_audio(path, self.sample_rate)
        self.misses += 1
        size = self._size(wave)
        if version is not None and self.bytes + size <= budget:
            self._waves[key] = (version, wave.clone())
            self.bytes += size
        return wave

    @staticmethod
    def _size(wave: torch.Tensor) -> int:
        return wave.element_size() * wave.numel()

    def __len__(self) -> int:
        return len(self._waves)

"""DecodedAudio: decoded, resampled waves kept in memory between epochs, up to a size, checked against their files."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch
from torch.utils.data import get_worker_info

from .audio import load_audio


class DecodedAudio:
    """Loads files as mono waves at ``sample_rate`` (:func:`~ser_lightning.data.audio.load_audio`) and keeps the most
    recently used ones in memory, up to ``max_mb`` megabytes, so that later epochs skip decoding and resampling.

    A kept wave is served only while its file's size and modification time are unchanged (one ``stat`` per read); a
    changed file is read again. Each read returns a copy, so crops, augmentation and noise never reach the kept wave.
    In DataLoader worker processes every worker keeps its own waves, within ``max_mb / num_workers``, so the
    processes together stay within ``max_mb``. ``max_mb = 0`` keeps nothing (every read decodes).
    """

    def __init__(self, sample_rate: int, max_mb: float) -> None:
        if max_mb < 0:
            raise ValueError(f"audio_cache_mb must be 0 (off) or more megabytes, got {max_mb}.")
        self.sample_rate = sample_rate
        self.max_bytes = int(max_mb * 1e6)
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._waves: OrderedDict[str, tuple[tuple[int, int], torch.Tensor]] = OrderedDict()

    def __getstate__(self) -> dict:
        """Pickled (DataLoader workers under spawn, DDP): the settings travel, the kept waves do not."""
        return {**self.__dict__, "_waves": OrderedDict(), "bytes": 0, "hits": 0, "misses": 0}

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
            version = (status.st_size, status.st_mtime_ns)
        except OSError:
            version = None  # load_audio names the missing file
        kept = self._waves.get(key)
        if kept is not None and kept[0] == version:
            self._waves.move_to_end(key)
            self.hits += 1
            return kept[1].clone()
        if kept is not None:
            self._drop(key)
        wave = load_audio(path, self.sample_rate)
        self.misses += 1
        size = wave.element_size() * wave.numel()
        if version is not None and size <= budget:
            while self.bytes + size > budget:
                self._drop(next(iter(self._waves)))
            self._waves[key] = (version, wave.clone())
            self.bytes += size
        return wave

    def _drop(self, key: str) -> None:
        _, wave = self._waves.pop(key)
        self.bytes -= wave.element_size() * wave.numel()

    def __len__(self) -> int:
        return len(self._waves)

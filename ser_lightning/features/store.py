"""The on-disk feature store: one folder per backbone, chunk files of rows that are memory-mapped on read.

A chunk is ``<layout>-<dtype>-<id>.npy`` (rows [N, L, D]: an utterance's frames one after another, or one
pooled row) and ``<layout>-<dtype>-<id>.json`` (utterance key -> first row and row count). Each file is
written under a temporary name and renamed into place, the index last, so a crash never leaves a chunk
that looks complete; a chunk whose files are missing or do not match its index is ignored, and its
utterances are computed again. Writers never touch existing chunks, so any number of processes (DDP
ranks, parallel runs) may add to one folder.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..fileio import write_bytes_atomic
from .keys import FORMAT_VERSION, digest

Layout = Literal["frames", "pooled"]
StoreDtype = Literal["float16", "float32"]
CHUNK_BYTES = 256 * 2**20


def _write_json(path: Path, data: Any) -> None:
    write_bytes_atomic(path, json.dumps(data, sort_keys=True).encode("utf-8"), fsync=True)


class FeatureStore:
    """Cached backbone features of utterances, in one folder per backbone.

    Args:
        folder: the backbone's folder (see :meth:`for_backbone`); created when missing.
        layout: ``frames`` (every frame of every layer) or ``pooled`` (one mean row per utterance).
        dtype: how rows are stored.
    """

    def __init__(self, folder: str | Path, layout: Layout = "frames", dtype: StoreDtype = "float32") -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.layout = layout
        self.dtype = dtype
        self._entries: dict[str, tuple[str, int, int]] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self.ignored: list[str] = []
        self.refresh()

    @classmethod
    def for_backbone(cls, root: str | Path, identity: dict[str, Any], layout: Layout = "frames", dtype: StoreDtype = "float32") -> FeatureStore:
        """The store of the backbone ``identity`` (see :func:`~ser_lightning.features.keys.backbone_identity`) under ``root``.

        Its folder, ``<class>-<digest of identity>``, also holds ``backbone.json``: the identity, for people.
        """
        name = str(identity["class"]).rsplit(".", 1)[-1]
        folder = Path(root) / f"{name}-{digest(identity)}"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "backbone.json").exists():
            _write_json(folder / "backbone.json", identity)
        return cls(folder, layout, dtype)

    @property
    def prefix(self) -> str:
        return f"{self.layout}-{self.dtype}-"

    def refresh(self) -> None:
        """Read every chunk index of this layout and dtype (again); incomplete or corrupt chunks go to ``ignored``."""
        entries: dict[str, tuple[str, int, int]] = {}
        arrays: dict[str, np.ndarray] = {}
        ignored: list[str] = []
        for index in sorted(self.folder.glob(f"{self.prefix}*.json")):
            try:
                array, spans = self._read_chunk(index)
            except (OSError, ValueError, KeyError, TypeError) as error:
                ignored.append(f"{index.stem} ({error})")
                continue
            arrays[index.stem] = array
            entries.update((key, (index.stem, start, count)) for key, (start, count) in spans.items())
        self._entries, self._arrays, self.ignored = entries, arrays, ignored

    def _read_chunk(self, index: Path) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
        info = json.loads(index.read_text(encoding="utf-8"))
        if info["version"] != FORMAT_VERSION:
            raise ValueError(f"format {info['version']}, expected {FORMAT_VERSION}")
        array = np.load(index.with_suffix(".npy"), mmap_mode="r")
        if list(array.shape) != info["shape"] or array.dtype != np.dtype(self.dtype) or array.ndim != 3:
            raise ValueError(f"its rows are {array.dtype} {list(array.shape)}, its index says {self.dtype} {info['shape']}")
        spans = {key: (int(start), int(count)) for key, (start, count) in info["entries"].items()}
        if any(start < 0 or count < 1 or start + count > array.shape[0] for start, count in spans.values()):
            raise ValueError("an entry lies outside its rows")
        return array, spans

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys with no entry, in order."""
        return [key for key in keys if key not in self._entries]

    def rows(self, key: str) -> np.ndarray:
        """The rows of one utterance [T', L, D] (a read-only view of the memory-mapped chunk)."""
        name, start, count = self._entries[key]
        return self._arrays[name][start : start + count]

    def gather(self, keys: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Features [B, T', L, D] of ``keys`` (zero-padded along T', in the store's dtype) and their row counts [B]."""
        missing = self.missing(keys)
        if missing:
            raise KeyError(f"{len(missing)} of {len(keys)} utterances are not in the feature cache {self.folder} (was it deleted during the run?).")
        spans = [self.rows(key) for key in keys]
        lengths = [len(rows) for rows in spans]
        out = np.zeros((len(keys), max(lengths), *spans[0].shape[1:]), dtype=self.dtype)
        for row, rows in enumerate(spans):
            out[row, : len(rows)] = rows
        return torch.from_numpy(out), torch.tensor(lengths, dtype=torch.long)

    def writer(self, chunk_bytes: int = CHUNK_BYTES) -> ChunkWriter:
        """A writer adding chunks of about ``chunk_bytes`` to this folder."""
        return ChunkWriter(self, chunk_bytes)


class ChunkWriter:
    """Collects rows and writes them as chunks of about ``chunk_bytes``; :meth:`close` writes the last one.

    Args:
        store: the store whose folder, layout and dtype the chunks take.
        chunk_bytes: buffered bytes that make a chunk (memory held before writing).
    """

    def __init__(self, store: FeatureStore, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.store = store
        self.chunk_bytes = chunk_bytes
        self.chunks: list[Path] = []
        self._buffer: list[tuple[str, np.ndarray]] = []
        self._bytes = 0

    def add(self, key: str, rows: np.ndarray) -> None:
        """Add one utterance's rows [T', L, D] (converted to the store's dtype)."""
        if rows.ndim != 3 or len(rows) == 0:
            raise ValueError(f"Rows of a feature cache entry are [frames, layers, width] with at least one frame, got shape {rows.shape}.")
        rows = np.ascontiguousarray(rows, dtype=self.store.dtype)
        self._buffer.append((key, rows))
        self._bytes += rows.nbytes
        if self._bytes >= self.chunk_bytes:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered as one chunk: the rows, then the index that makes them visible."""
        if not self._buffer:
            return
        array = np.concatenate([rows for _, rows in self._buffer])
        entries, start = {}, 0
        for key, rows in self._buffer:
            entries[key] = [start, len(rows)]
            start += len(rows)
        path = self.store.folder / f"{self.store.prefix}{uuid.uuid4().hex}.npy"
        write_bytes_atomic(path, lambda handle: np.save(handle, array), fsync=True)
        _write_json(path.with_suffix(".json"), {"version": FORMAT_VERSION, "shape": list(array.shape), "entries": entries})
        self.chunks.append(path)
        self._buffer, self._bytes = [], 0

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.close()

"""Caches of audio checks, so loading an unchanged corpus again reads no headers and decodes no samples.

Each entry is keyed on the file's absolute path and checked against its size and modification
time (nanoseconds): a changed or replaced file is checked again. One JSON file per corpus tree and
check lives under ``$SER_LIGHTNING_CACHE/probe/`` (headers) and ``.../samples/`` (decoded samples)
(see :func:`ser_lightning.cache.cache_root`), never inside the corpus,
which is often read-only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_warn

from ..cache import CACHE_ENV, cache_root
from ..fileio import write_text_atomic
from .audio import AudioError, decode, probe

_VERSION = 2


def probe_cache_file(kind: str, root: str | Path, what: str = "probe") -> Path:
    """The cache file of one corpus tree (``kind`` names the parser, ``root`` the tree, ``what`` the check:
    ``probe`` for headers, ``samples`` for decoded-sample checks)."""
    digest = hashlib.sha1(os.path.abspath(root).encode("utf-8")).hexdigest()[:16]
    return cache_root() / what / f"{kind}-{digest}.json"


def _read(path: Path) -> dict[str, list]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("files", {}) if isinstance(data, dict) and data.get("version") == _VERSION else {}


def _write(path: Path, files: dict[str, list]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps({"version": _VERSION, "files": files}))
    except OSError as error:
        rank_zero_warn(
            f"Could not write the probe cache {path} ({error}); headers will be read again next time. Set ${CACHE_ENV} to a writable folder."
        )


def _cached(paths: Sequence[str], cache_file: Path | None, compute: Callable[[str], list]) -> list[list]:
    """``compute(path)`` per path (a JSON list), reusing entries whose file size and modification time are unchanged."""
    entries = _read(cache_file) if cache_file is not None else {}
    results, changed = [], False
    for path in paths:
        key = os.path.abspath(path)
        try:
            stat = os.stat(key)
        except OSError:
            results.append(["missing"])
            continue
        entry = entries.get(key)
        if entry is not None and entry[0] == stat.st_size and entry[1] == stat.st_mtime_ns:
            results.append(entry[2:])
            continue
        value = compute(path)
        entries[key] = [stat.st_size, stat.st_mtime_ns, *value]
        results.append(value)
        changed = True
    if changed and cache_file is not None:
        wanted = {os.path.abspath(path) for path in paths}
        _write(cache_file, {key: entry for key, entry in entries.items() if key in wanted or os.path.exists(key)})
    return results


def _probe_entry(path: str) -> list:
    try:
        duration, rate = probe(path)
    except AudioError as error:
        return [str(error)]
    return [duration, rate]


def _samples_entry(path: str) -> list:
    try:
        decode(path)
    except AudioError as error:
        return [str(error)]
    return [""]


def _missing(path: str) -> str:
    return f"Audio file {path} does not exist; fix the corpus root or regenerate the manifest."


def cached_probes(paths: Sequence[str], cache_file: Path | None, faults: dict[str, str] | None = None) -> list[tuple[float, int] | None]:
    """(duration seconds, sample rate) per path, reading only the headers of new or changed files.

    A missing or unreadable file raises :class:`~ser_lightning.data.audio.AudioError` naming it, or, when
    ``faults`` is given, is recorded there (path -> reason) and gets None. With ``cache_file`` None every
    header is read.
    """
    results: list[tuple[float, int] | None] = []
    for path, entry in zip(paths, _cached(paths, cache_file, _probe_entry)):
        if len(entry) == 2:
            results.append((entry[0], entry[1]))
            continue
        reason = _missing(path) if entry == ["missing"] else entry[0]
        if faults is None:
            raise AudioError(reason)
        faults[path] = reason
        results.append(None)
    return results


def cached_sample_checks(paths: Sequence[str], cache_file: Path | None) -> dict[str, str]:
    """Decode every file once and return the faulty ones (path -> reason: NaN/Inf, unscaled floats, silence,
    cancelling channels, undecodable); unchanged files are not decoded again."""
    faults = {}
    for path, entry in zip(paths, _cached(paths, cache_file, _samples_entry)):
        if entry == ["missing"]:
            faults[path] = _missing(path)
        elif entry[0]:
            faults[path] = entry[0]
    return faults

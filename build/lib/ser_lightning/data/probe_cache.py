"""A cache of audio header probes, so loading an unchanged corpus again reads no headers.

Each entry is keyed on the file's absolute path and checked against its size and modification
time (nanoseconds): a changed or replaced file is probed again. One JSON file per corpus tree
lives under ``$SER_LIGHTNING_CACHE/probe/`` (default ``$XDG_CACHE_HOME/ser_lightning`` or
``~/.cache/ser_lightning``), never inside the corpus, which is often read-only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

from lightning.pytorch.utilities import rank_zero_warn

from .audio import AudioError, probe

CACHE_ENV = "SER_LIGHTNING_CACHE"
_VERSION = 1


def cache_root() -> Path:
    """The project's cache folder: ``$SER_LIGHTNING_CACHE``, else ``$XDG_CACHE_HOME/ser_lightning``, else ``~/.cache/ser_lightning``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ser_lightning"


def probe_cache_file(kind: str, root: str | Path) -> Path:
    """The cache file of one corpus tree (``kind`` names the parser, ``root`` the tree)."""
    digest = hashlib.sha1(os.path.abspath(root).encode("utf-8")).hexdigest()[:16]
    return cache_root() / "probe" / f"{kind}-{digest}.json"


def _read(path: Path) -> dict[str, list]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("files", {}) if isinstance(data, dict) and data.get("version") == _VERSION else {}


def _write(path: Path, files: dict[str, list]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": _VERSION, "files": files}), encoding="utf-8")
        tmp.replace(path)
    except OSError as error:
        rank_zero_warn(f"Could not write the probe cache {path} ({error}); headers will be read again next time. Set ${CACHE_ENV} to a writable folder.")


def cached_probes(paths: Sequence[str], cache_file: Path | None) -> list[tuple[float, int]]:
    """(duration seconds, sample rate) per path, reading only the headers of new or changed files.

    Raises :class:`~ser_lightning.data.audio.AudioError` naming the first missing or unreadable file.
    With ``cache_file`` None every header is read.
    """
    if cache_file is None:
        return [probe(path) for path in paths]
    entries = _read(cache_file)
    results, changed = [], False
    for path in paths:
        key = os.path.abspath(path)
        try:
            stat = os.stat(key)
        except OSError:
            raise AudioError(f"Audio file {path} does not exist; fix the corpus root or regenerate the manifest.") from None
        entry = entries.get(key)
        if entry is not None and entry[0] == stat.st_size and entry[1] == stat.st_mtime_ns:
            results.append((entry[2], entry[3]))
            continue
        duration, rate = probe(path)
        entries[key] = [stat.st_size, stat.st_mtime_ns, duration, rate]
        results.append((duration, rate))
        changed = True
    if changed:
        wanted = {os.path.abspath(path) for path in paths}
        _write(cache_file, {key: entry for key, entry in entries.items() if key in wanted or os.path.exists(key)})
    return results

"""The project's one cache folder: converted weights, feature stores and audio-check caches all live under it."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "SER_LIGHTNING_CACHE"


def cache_root() -> Path:
    """``$SER_LIGHTNING_CACHE`` when set, else the user's cache folder for ``ser_lightning`` as platformdirs knows it
    (``$XDG_CACHE_HOME/ser_lightning`` or ``~/.cache/ser_lightning`` on Linux, ``~/Library/Caches/ser_lightning`` on
    macOS, ``%LOCALAPPDATA%\\ser_lightning\\Cache`` on Windows). Nothing is created here."""
    found = os.environ.get(CACHE_ENV)
    if found:
        return Path(found).expanduser()
    return Path(platformdirs.user_cache_dir("ser_lightning", appauthor=False))

"""Reading corpus trees as distributed: visible files and folders, finding the layout, saying what was found."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from ..manifest import ManifestError

AUDIO_SUFFIX = ".wav"


def visible(name: str) -> bool:
    """False for hidden entries such as macOS ``._*`` resource forks and ``.DS_Store``."""
    return not name.startswith(".")


def subfolders(folder: Path) -> list[Path]:
    """Visible sub-folders of ``folder``, sorted by name (none when it is not a folder)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries if visible(e.name) and e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def wav_files(folder: Path) -> list[Path]:
    """Visible ``.wav`` files directly in ``folder`` (any case of the suffix), sorted by name."""
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries if visible(e.name) and e.name.lower().endswith(AUDIO_SUFFIX) and e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def child(folder: Path, name: str) -> Path | None:
    """The visible sub-folder of ``folder`` called ``name``, matched case-insensitively."""
    return next((sub for sub in subfolders(folder) if sub.name.lower() == name.lower()), None)


def audio_folder(folder: Path, name: str, pattern: re.Pattern[str]) -> Path | None:
    """The sub-folder ``name`` of ``folder`` (any case), or ``folder`` itself when it holds files named like ``pattern``
    directly (flat copies such as ``EmoDB/*.wav``); None when neither."""
    found = child(folder, name)
    if found is not None:
        return found
    return folder if any(pattern.fullmatch(path.name) for path in wav_files(folder)) else None


def matching_subfolders(folder: Path, pattern: str) -> list[Path]:
    """Visible sub-folders whose whole name matches the regular expression ``pattern`` (case-insensitive)."""
    regex = re.compile(pattern, re.IGNORECASE)
    return [sub for sub in subfolders(folder) if regex.fullmatch(sub.name)]


def describe(folder: Path, limit: int = 8) -> str:
    """A short listing of what ``folder`` holds, for layout errors."""
    if not folder.exists():
        return "nothing: the folder does not exist"
    if not folder.is_dir():
        return "a file, not a folder"
    try:
        names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(folder) if visible(e.name))
    except PermissionError:
        return "nothing readable (permission denied)"
    if not names:
        return "an empty folder"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def locate(root: Path, corpus: str, is_layout: Callable[[Path], bool], expected: str, depth: int = 2) -> Path:
    """The folder at or below ``root`` (up to ``depth`` levels, shallowest first) that has the corpus's layout.

    Copies of a corpus often nest it one or two folders deeper (``EMOVO/``, ``data/``, an archive's
    own folder); this accepts them. Raises :class:`ManifestError` saying which layout was expected
    and what ``root`` holds.
    """
    level = [root]
    for _ in range(depth + 1):
        for folder in level:
            if is_layout(folder):
                return folder
        level = [sub for folder in level for sub in subfolders(folder)]
    raise ManifestError(
        f"{corpus}: {root} does not have the layout of the corpus as distributed: expected {expected}; "
        f"found {describe(root)}. Set `root` to the folder you downloaded."
    )

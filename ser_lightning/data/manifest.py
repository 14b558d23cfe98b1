"""Manifest records: one :class:`Utterance` per audio file, stored as JSON Lines.

A manifest is the only thing a corpus parser produces and the only thing the rest of the
data pipeline consumes. Paths in a JSONL file are written relative to the file's folder
when they lie under it, so a corpus tree can be moved as a whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..fileio import atomic_file

REQUIRED_FIELDS = ("path", "label", "speaker", "language", "corpus")


class ManifestError(ValueError):
    """A manifest or corpus folder that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Utterance:
    """One utterance: where its audio is, its emotion label and who said it in which language.

    ``duration`` is in seconds (0.0 when unknown; the DataModule fills it from the file header).
    ``extra`` holds corpus-specific fields (gender, sentence id, valence, ...). ``role`` is what the split plan
    made of it (``source``: a trained-on corpus; ``target``: a corpus or language never trained on, or its
    few-shot data); plans set it on every utterance they return, whatever a manifest says.
    """

    path: str
    label: str
    speaker: str
    language: str
    corpus: str
    duration: float = 0.0
    sample_rate: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    role: str = "source"

    def with_(self, **changes: Any) -> Utterance:
        """Return a copy with some fields changed."""
        return replace(self, **changes)


_FIELD_NAMES = {f.name for f in fields(Utterance)} - {"role"}  # roles come from the split plan, never from a manifest


def utterance_from_dict(record: dict[str, Any], base_dir: Path, source: str = "<dict>") -> Utterance:
    """Build an :class:`Utterance` from a JSON record; relative paths are resolved against ``base_dir``."""
    missing = [name for name in REQUIRED_FIELDS if record.get(name) in (None, "")]
    if missing:
        raise ManifestError(f"{source}: record is missing required field(s) {missing}; every record needs {list(REQUIRED_FIELDS)}.")
    known = {k: v for k, v in record.items() if k in _FIELD_NAMES and k != "extra"}
    if not isinstance(record.get("extra") or {}, dict):
        raise ManifestError(f"{source}: `extra` must be a JSON object, got {record['extra']!r}.")
    extra = dict(record.get("extra") or {})
    extra.update({k: v for k, v in record.items() if k not in _FIELD_NAMES})
    path = Path(str(known.pop("path")))
    if not path.is_absolute():
        path = base_dir / path
    try:
        duration = float(known.pop("duration", 0.0) or 0.0)
        sample_rate = int(known.pop("sample_rate", 0) or 0)
    except (TypeError, ValueError):
        raise ManifestError(
            f"{source}: `duration` must be seconds and `sample_rate` an integer, got {record.get('duration')!r} and {record.get('sample_rate')!r}."
        ) from None
    return Utterance(
        path=str(path),
        label=str(known.pop("label")),
        speaker=str(known.pop("speaker")),
        language=str(known.pop("language")),
        corpus=str(known.pop("corpus")),
        duration=duration,
        sample_rate=sample_rate,
        extra=extra,
    )


def deduplicate(utterances: Iterable[Utterance], source: str) -> tuple[list[Utterance], int]:
    """One record per audio file: exact repeats are dropped (their count is returned); a file listed twice with
    another label, speaker, language or corpus is a :class:`ManifestError` naming the file and both values."""
    kept: dict[str, Utterance] = {}
    repeats = 0
    for utt in utterances:
        key = os.path.abspath(utt.path)
        first = kept.get(key)
        if first is None:
            kept[key] = utt
            continue
        conflicts = [
            f"{name} {getattr(first, name)!r} and {getattr(utt, name)!r}"
            for name in REQUIRED_FIELDS[1:]
            if getattr(first, name) != getattr(utt, name)
        ]
        if conflicts:
            raise ManifestError(f"{source}: {utt.path} is listed twice with {'; '.join(conflicts)}; one file is one utterance: keep one record.")
        repeats += 1
    return list(kept.values()), repeats


def check_inside(path: str, root: Path, source: str) -> None:
    """Raise unless ``path`` lies under ``root`` (``..`` resolved, symlinks not followed), naming the option that allows it."""
    resolved, base = os.path.normpath(os.path.abspath(path)), os.path.normpath(os.path.abspath(root))
    if os.path.commonpath([resolved, base]) != base:
        raise ManifestError(
            f"{source}: {path} lies outside the corpus folder {base}; move the audio there, set `audio_root` to a folder "
            "that holds it, or set `allow_outside_root: true` if the manifest is yours."
        )


def read_manifest(
    path: str | Path, columns: Mapping[str, str] | None = None, defaults: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> list[Utterance]:
    """Read a JSONL manifest; raises :class:`ManifestError` naming the file and line on bad input.

    ``columns`` maps record fields to the keys the file uses (``{label: emotion}``); ``defaults``
    fills fields a record lacks (``{language: ur}``); relative paths start from ``base_dir``
    (default: the manifest's folder).
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"Manifest {path} does not exist; create it or point the corpus at the right folder.")
    base_dir = base_dir or path.parent
    renamed = {key: field for field, key in (columns or {}).items()}
    utterances = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ManifestError(f"{path}:{number}: not valid JSON ({error.msg}); each line must be one JSON object.") from None
            if not isinstance(record, dict):
                raise ManifestError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}.")
            if columns or defaults:
                record = {**(defaults or {}), **{renamed.get(key, key): value for key, value in record.items()}}
            utterances.append(utterance_from_dict(record, base_dir, source=f"{path}:{number}"))
    return utterances


def write_manifest(utterances: Iterable[Utterance], path: str | Path) -> Path:
    """Write utterances as JSONL (paths relative to the manifest's folder where possible); atomic on one filesystem."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base_dir = Path(os.path.abspath(path.parent))
    with atomic_file(path, "w") as handle:
        for utt in utterances:
            record = asdict(utt)
            del record["role"]  # a split plan's decision, not a property of the corpus
            audio = Path(utt.path)
            try:
                record["path"] = Path(os.path.abspath(audio)).relative_to(base_dir).as_posix()  # not resolve(): keep symlinked trees movable
            except ValueError:
                record["path"] = os.path.abspath(audio)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path

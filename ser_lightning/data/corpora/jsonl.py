"""Any corpus described by a manifest: JSON Lines (see ``data/manifest.py``) or a CSV/TSV table with a column mapping."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..manifest import ManifestError, Utterance, check_inside, read_manifest, utterance_from_dict
from .base import Corpus

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


def read_table(path: Path, columns: Mapping[str, str], defaults: Mapping[str, str], base_dir: Path | None = None) -> list[Utterance]:
    """Records from a CSV/TSV file: ``columns`` maps record fields to column names, ``defaults`` fills absent fields.

    Columns not named in ``columns`` keep their own name (a ``speaker`` column is the speaker); any other
    column goes to ``extra``. Relative paths are resolved against ``base_dir`` (default: the table's folder).
    """
    if not path.is_file():
        raise ManifestError(f"Manifest {path} does not exist; create it or point the corpus at the right file.")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, delimiter=TABLE_SUFFIXES[path.suffix.lower()])
        header = reader.fieldnames or []
        missing = sorted(column for column in columns.values() if column not in header)
        if missing:
            raise ManifestError(f"{path}: the column mapping names {missing}, but the header has {header}; fix `columns`.")
        renamed = {column: field for field, column in columns.items()}
        utterances = []
        for number, row in enumerate(reader, start=2):
            record = {
                **defaults,
                **{renamed.get(column, column): value for column, value in row.items() if column is not None and value not in (None, "")},
            }
            utterances.append(utterance_from_dict(record, base_dir or path.parent, source=f"{path}:{number}"))
    return utterances


class ManifestCorpus(Corpus):
    """A corpus given as a manifest: JSON Lines, or a CSV/TSV table whose columns are mapped in YAML.

    Every record needs ``path``, ``label``, ``speaker``, ``language`` and ``corpus`` (``duration``,
    ``sample_rate`` optional; anything else goes to ``extra``). Relative paths are resolved against
    ``audio_root`` (default: the manifest's folder), and every path must stay inside it, so a
    manifest from elsewhere cannot make a run read arbitrary files. Labels are taken as written:
    they are the corpus's native words.

    Args:
        root: the ``.jsonl``, ``.csv`` or ``.tsv`` file, or a folder holding ``manifest.jsonl``.
        languages: keep only these languages; None keeps all.
        columns: record field -> column (or JSON key) name, e.g. ``{path: file, label: emotion, speaker: actor}``;
            fields not named keep their own name.
        defaults: values for fields the file lacks, e.g. ``{language: ur, corpus: mydata}``.
        audio_root: the folder that relative paths start from and that every audio file must lie in;
            null is the manifest's own folder.
        allow_outside_root: accept absolute paths and ``..`` that leave ``audio_root`` (for manifests you wrote).
    """

    name = "manifest"

    def __init__(
        self,
        root: str,
        languages: Sequence[str] | None = None,
        columns: dict[str, str] | None = None,
        defaults: dict[str, str] | None = None,
        audio_root: str | None = None,
        allow_outside_root: bool = False,
    ) -> None:
        super().__init__(root, languages)
        self.columns = dict(columns or {})
        self.defaults = dict(defaults or {})
        self.audio_root = Path(audio_root) if audio_root else None
        self.allow_outside_root = allow_outside_root

    @property
    def manifest_path(self) -> Path:
        return self.root if self.root.suffix.lower() in (".jsonl", *TABLE_SUFFIXES) else self.root / "manifest.jsonl"

    def prepare(self) -> None:
        super().prepare()
        if not self.manifest_path.is_file():
            raise ManifestError(f"No manifest at {self.manifest_path}; write one record per utterance there (see ser_lightning.data.manifest).")

    def parse(self) -> list[Utterance]:
        path = self.manifest_path
        base = self.audio_root or path.parent
        if path.suffix.lower() in TABLE_SUFFIXES:
            utterances = read_table(path, self.columns, self.defaults, base)
        else:
            utterances = read_manifest(path, columns=self.columns, defaults=self.defaults, base_dir=base)
        if not self.allow_outside_root:
            for utt in utterances:
                check_inside(utt.path, base, str(path))
        return utterances

    def native_labels(self) -> tuple[str, ...]:
        return tuple(sorted({u.label for u in self.parse()}))

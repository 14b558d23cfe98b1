"""Any corpus described by a JSONL manifest (one record per utterance; see ``data/manifest.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..manifest import ManifestError, Utterance, read_manifest
from .base import Corpus


class ManifestCorpus(Corpus):
    """A corpus given as a JSONL manifest (one record per utterance: path, label, speaker, language, corpus).

    Args:
        root: the ``.jsonl`` file, or a folder holding ``manifest.jsonl``; relative audio paths resolve
            against the manifest's folder.
        languages: keep only utterances in these languages; null keeps all.
    """

    name = "manifest"

    def __init__(self, root: str, languages: Sequence[str] | None = None) -> None:
        super().__init__(root, languages)

    @property
    def manifest_path(self) -> Path:
        return self.root if self.root.suffix == ".jsonl" else self.root / "manifest.jsonl"

    def prepare(self) -> None:
        super().prepare()
        if not self.manifest_path.is_file():
            raise ManifestError(f"No manifest at {self.manifest_path}; write one record per utterance there (see ser_lightning.data.manifest).")

    def parse(self) -> list[Utterance]:
        return read_manifest(self.manifest_path)

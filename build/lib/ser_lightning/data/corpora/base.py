"""The corpus interface: a corpus knows its files on disk and turns them into manifest records."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

from ..labels import native_labels
from ..manifest import ManifestError, Utterance
from ..probe_cache import cached_probes, probe_cache_file


class Corpus(ABC):
    """A corpus on disk: ``parse()`` lists its utterances; ``load()`` adds filtering and checks.

    ``languages`` keeps only utterances in those languages (None keeps all), so one multilingual
    corpus can serve as a source in some languages and a target in others. Parsers know nothing
    of torch; they read the tree as distributed. Header probes are cached outside the corpus
    (see :mod:`~ser_lightning.data.probe_cache`), so a second load of an unchanged tree reads no headers.

    Args:
        root: the corpus folder as distributed (or as written by the generator).
        languages: keep only utterances in these languages (ISO codes such as ``en``); null keeps all.
    """

    name: str = "corpus"

    def __init__(self, root: str, languages: Sequence[str] | None = None) -> None:
        self.root = Path(root)
        self.languages = list(languages) if languages else None

    def prepare(self) -> None:
        """Make the corpus available (generate or check it); runs once per node before ``load``."""
        if not self.root.exists():
            raise ManifestError(f"{self.name} corpus root {self.root} does not exist; set its `root` to the folder you downloaded.")

    @abstractmethod
    def parse(self) -> list[Utterance]:
        """All utterances of the corpus, with labels in the corpus's own words."""

    def native_labels(self) -> tuple[str, ...]:
        """The corpus's own emotion words (the ``native`` label space); real corpora read them from their code table."""
        return native_labels(self.name)

    def load(self, check_audio: bool = True) -> list[Utterance]:
        """Parsed, language-filtered utterances; with ``check_audio`` every file's header is read (durations filled).

        Raises :class:`ManifestError` naming the folder when nothing is left, and an
        :class:`~ser_lightning.data.audio.AudioError` naming the file when one is missing or unreadable,
        before any training starts.
        """
        utterances = self.parse()
        if not utterances:
            raise ManifestError(f"{self.name} corpus at {self.root} has no utterances; check that `root` points at the corpus folder.")
        if self.languages:
            found = sorted({u.language for u in utterances})
            utterances = [u for u in utterances if u.language in self.languages]
            if not utterances:
                raise ManifestError(f"{self.name} corpus at {self.root} has no utterances in languages {self.languages} (it has {found}).")
        if check_audio:
            probes = cached_probes([u.path for u in utterances], probe_cache_file(type(self).__name__, self.root))
            utterances = [u.with_(duration=duration, sample_rate=rate) for u, (duration, rate) in zip(utterances, probes)]
        return utterances

    def __repr__(self) -> str:
        langs = f", languages={self.languages}" if self.languages else ""
        return f"{type(self).__name__}(root={str(self.root)!r}{langs})"

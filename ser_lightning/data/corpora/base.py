"""The corpus interface: a corpus knows its files on disk and turns them into manifest records."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from ..audio import AudioError
from ..labels import native_labels, native_word
from ..manifest import ManifestError, Utterance, deduplicate
from ..probe_cache import cached_probes, cached_sample_checks, probe_cache_file


def describe_faults(faults: dict[str, str], shown: int = 10) -> str:
    """One message for a set of bad files: how many, the first ``shown`` reasons, and the two fixes."""
    lines = [f"{len(faults)} bad audio file(s):"] + [f"  {reason}" for reason in list(faults.values())[:shown]]
    if len(faults) > shown:
        lines.append(f"  ... and {len(faults) - shown} more")
    lines.append("Fix or remove them, or set the DataModule's on_bad_audio: skip to leave them out (listed in bad_audio.csv beside the run).")
    return "\n".join(lines)


class Corpus(ABC):
    """A corpus on disk: ``parse()`` lists its utterances; ``load()`` adds filtering and checks.

    ``languages`` keeps only utterances in those languages (None keeps all), so one multilingual
    corpus can serve as a source in some languages and a target in others. Parsers know nothing
    of torch; they read the tree as distributed. Header probes are cached outside the corpus
    (see :mod:`~ser_lightning.data.probe_cache`), so a second load of an unchanged tree reads no headers.

    Real releases have odd files (TESS ships ``OAF_neutral/OA_bite_neutral.wav``). Where the folder still
    makes label and speaker unambiguous a parser takes the file; otherwise it is skipped with its reason
    (:attr:`skipped`: one warning, and ``skipped_files.csv`` beside the run) and the rest is read;
    ``strict: true`` refuses the corpus instead, naming the file.

    Args:
        root: the corpus folder as distributed (or as written by the generator).
        languages: keep only utterances in these languages (ISO codes such as ``en``); null keeps all.
        strict: refuse the corpus at the first file that does not follow its naming scheme (default: skip
            such files, say which and why, and read the rest).
    """

    name: str = "corpus"
    language: str = ""

    def __init__(self, root: str, languages: Sequence[str] | None = None, strict: bool = False) -> None:
        self.root = Path(root)
        self.languages = list(languages) if languages else None
        self.strict = strict
        self.skipped: dict[str, str] = {}  # path -> why it was not read (filled by parse)

    def skip(self, path: Path | str, reason: str) -> None:
        """A file the parser cannot read as an utterance: an error naming it (``strict``), else recorded in :attr:`skipped`."""
        if self.strict:
            raise ManifestError(f"{path}: {reason}; remove it from {Path(path).parent}, or set strict: false to skip such files.")
        self.skipped[str(path)] = reason

    def record(self, path: Path, code: str, speaker: str, language: str | None = None, **extra: Any) -> Utterance | None:
        """The utterance of ``path`` with the corpus's emotion ``code`` (``extra`` gets ``code`` and the fields given),
        or None after :meth:`skip` when the code is not one of the corpus's."""
        try:
            label = native_word(self.name, code, path)
        except ManifestError as error:
            if self.strict:
                raise
            self.skipped[str(path)] = str(error).split(": ", 1)[-1].split(". Is `root`")[0]
            return None
        return Utterance(str(path), label, speaker, language or self.language, self.name, extra={"code": code, **extra})

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

    def load(
        self, check_audio: bool = True, check_samples: bool = False, min_seconds: float = 0.0, faults: dict[str, str] | None = None
    ) -> list[Utterance]:
        """Parsed, de-duplicated, language-filtered utterances; with ``check_audio`` every file's header is read (durations filled).

        ``check_samples`` also decodes every file once (cached) and checks its samples (NaN/Inf, unscaled
        floats, silence, cancelling channels); files shorter than ``min_seconds`` are bad too. A bad file
        raises an :class:`~ser_lightning.data.audio.AudioError` naming it, or, when ``faults`` is given, is
        left out and recorded there (path -> reason). Raises :class:`ManifestError` naming the folder
        when nothing is left, before any training starts.
        """
        self.skipped = {}
        utterances, repeats = deduplicate(self.parse(), repr(self))
        if self.skipped:
            path, reason = next(iter(self.skipped.items()))
            rank_zero_warn(
                f"{self!r}: skipped {len(self.skipped)} file(s) that do not follow the corpus's naming scheme, e.g. {path} ({reason}); "
                "they are listed in skipped_files.csv beside the run (strict: true refuses the corpus instead)."
            )
        if repeats:
            rank_zero_info(f"{self!r}: dropped {repeats} exact repeat(s) of records (one file is one utterance).")
        if not utterances:
            raise ManifestError(f"{self.name} corpus at {self.root} has no utterances; check that `root` points at the corpus folder.")
        if self.languages:
            found = sorted({u.language for u in utterances})
            utterances = [u for u in utterances if u.language in self.languages]
            if not utterances:
                raise ManifestError(f"{self.name} corpus at {self.root} has no utterances in languages {self.languages} (it has {found}).")
        if not check_audio:
            return utterances
        found_faults: dict[str, str] = {}
        kind = type(self).__name__
        probes = cached_probes([u.path for u in utterances], probe_cache_file(kind, self.root), found_faults)
        checked = [u.with_(duration=p[0], sample_rate=p[1]) for u, p in zip(utterances, probes) if p is not None]
        for utt in checked:
            if utt.duration < min_seconds:
                found_faults[utt.path] = f"Audio file {utt.path} is {utt.duration:.3f} s long, shorter than the {min_seconds:g} s the model needs"
        if check_samples:
            found_faults |= cached_sample_checks(
                [u.path for u in checked if u.path not in found_faults], probe_cache_file(kind, self.root, "samples")
            )
        if found_faults and faults is None:
            raise AudioError(describe_faults(found_faults))
        if faults is not None:
            faults.update(found_faults)
        return [u for u in checked if u.path not in found_faults]

    def __repr__(self) -> str:
        langs = f", languages={self.languages}" if self.languages else ""
        return f"{type(self).__name__}(root={str(self.root)!r}{langs})"

"""Split plans: the one place that decides which utterances train, validate and test, and in which role.

A plan knows corpora and speakers, nothing of Lightning, loaders or models. ``plan.split(load, seed)`` reads its
corpora through ``load`` (the DataModule's loader: label space, bad-audio policy, header checks) and returns a
:class:`~ser_lightning.data.splits.Split` whose every utterance carries its ``role``. The DataModule turns that
into datasets and batches; it never splits. Plans compose: :class:`CrossLingual` takes the plan of its sources
(:class:`SpeakerHoldout` or :class:`CorpusFolds`) and adds target corpora and few-shot data.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from .corpora import Corpus
from .fewshot import COVER, AdaptationSpeakers, adaptation_split, check_adaptation_options, check_shot_options, draw_shots, replay_subset
from .manifest import ManifestError, Utterance
from .protocols import PROTOCOLS, Protocol, protocol_split
from .splits import Split, check_speaker_count, speaker_key, speaker_split
from .summary import shot_counts

Loader = Callable[[Sequence[Corpus]], list[Utterance]]
SOURCE, TARGET = "source", "target"


def with_role(utterances: Sequence[Utterance], role: str) -> list[Utterance]:
    """The utterances, each marked with ``role``."""
    return [u if u.role == role else u.with_(role=role) for u in utterances]


def as_source(split: Split) -> Split:
    """A train/val/test split of trained-on corpora, every utterance marked ``source``."""
    return Split(with_role(split.train, SOURCE), with_role(split.val, SOURCE), with_role(split.test, SOURCE))


class SplitPlan(ABC):
    """How a run's utterances are split: subclasses decide; :meth:`split` is the only place a split is made."""

    @abstractmethod
    def corpora(self) -> list[Corpus]:
        """Every corpus the plan reads (for ``prepare_data`` and the ``native`` label space)."""

    @abstractmethod
    def split(self, load: Loader, seed: int) -> Split:
        """Train, validation, test (and unlabelled) utterances, every one with its ``role``; no speaker in two of them."""

    def summary(self, split: Split, label_names: Sequence[str]) -> dict[str, Any]:
        """What the plan adds to the run's ``split.json`` (few-shot plans: the speakers set aside and the shots)."""
        return {}


class SpeakerHoldout(SplitPlan):
    """Within each language of each corpus, hold out ``val_speakers`` and ``test_speakers`` speakers; the rest trains.

    Args:
        corpora: the corpora to split (``class_path`` entries such as ``SyntheticCorpus``, ``ManifestCorpus``, ``EmoDB``).
        val_speakers: speakers held out for validation in each language of each corpus: a count (1), or a fraction
            of that group's speakers (0.2).
        test_speakers: speakers held out for testing per language of each corpus, as ``val_speakers``.
    """

    def __init__(self, corpora: Sequence[Corpus], val_speakers: int | float = 1, test_speakers: int | float = 1) -> None:
        if not corpora:
            raise ValueError("Give at least one corpus to train on.")
        check_speaker_count(val_speakers, "val_speakers")
        check_speaker_count(test_speakers, "test_speakers")
        self._corpora = list(corpora)
        self.val_speakers = val_speakers
        self.test_speakers = test_speakers

    def corpora(self) -> list[Corpus]:
        return list(self._corpora)

    def split(self, load: Loader, seed: int) -> Split:
        return as_source(speaker_split(load(self._corpora), self.val_speakers, self.test_speakers, seed=seed))


class CorpusFolds(SplitPlan):
    """One corpus split by its standard speaker-independent protocol (:data:`~ser_lightning.data.protocols.PROTOCOLS`).

    Fold ``fold`` tests on its speakers; validation holds out whole training speakers (seeded) until ``val_fraction``
    of the training utterances; the rest trains. The folds are dealt from the whole parsed corpus, so they stay the
    same whatever the label space keeps.

    Args:
        corpus: the corpus (a registered parser such as ``EmoDB``).
        fold: which fold to test on (0-based; ``protocol.folds`` folds).
        val_fraction: share of the training part's utterances held out for validation, as whole speakers.
    """

    def __init__(self, corpus: Corpus, fold: int = 0, val_fraction: float = 0.1) -> None:
        if corpus.name not in PROTOCOLS:
            raise ValueError(f"{corpus!r} has no standard protocol (known: {sorted(PROTOCOLS)}); use SpeakerHoldout for it.")
        protocol = PROTOCOLS[corpus.name]
        if not 0 <= fold < protocol.folds:
            raise ValueError(f"fold must be in 0..{protocol.folds - 1} for {protocol.description}, got {fold}.")
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
        self.corpus = corpus
        self.fold = fold
        self.val_fraction = val_fraction

    @property
    def protocol(self) -> Protocol:
        """The corpus's standard protocol."""
        return PROTOCOLS[self.corpus.name]

    def corpora(self) -> list[Corpus]:
        return [self.corpus]

    def split(self, load: Loader, seed: int) -> Split:
        corpus = self.corpus
        population = [u for u in corpus.parse() if not corpus.languages or u.language in corpus.languages]  # folds ignore the label space
        split = as_source(protocol_split(load([corpus]), self.protocol, self.fold, self.val_fraction, seed, population=population))
        split.notes.append(f"{self.protocol.description}: fold {self.fold} tests on speakers {sorted({u.speaker for u in split.test})}")
        return split


class CrossLingual(SplitPlan):
    """Train on the ``sources`` plan; test on its test speakers and on the speakers of ``targets`` (role ``target``).

    Source and target entries may be two language filters of one multilingual corpus; a speaker or an audio file
    on both sides is an error. Few-shot adaptation sets ``adaptation_speakers`` target speakers aside (never tested);
    labelled shots (``shots_per_class`` or ``shots_fraction``) and unlabelled target audio come only from them. The
    set-aside speakers depend on the seed (and ``cover_per_class``) alone, so every k of one seed is tested on the
    same speakers, and a smaller k's shots are a subset of a larger one's. See
    :class:`~ser_lightning.data.crosslingual.CrossLingualDataModule` for each option.
    """

    def __init__(
        self,
        sources: SplitPlan,
        targets: Sequence[Corpus],
        adaptation_speakers: AdaptationSpeakers = 0,
        cover_per_class: int | None = None,
        shots_per_class: int = 0,
        shots_fraction: float | None = None,
        shots_oversample: int = 1,
        source_replay: float = 1.0,
        unlabelled_target: bool = False,
    ) -> None:
        if not targets:
            raise ValueError("Give at least one target corpus (the language or corpus never trained on).")
        if shots_oversample < 1:
            raise ValueError(f"shots_oversample must be at least 1, got {shots_oversample}.")
        if (shots_per_class or shots_fraction or unlabelled_target) and not adaptation_speakers:
            raise ValueError("Shots and unlabelled target audio come from speakers set aside for adaptation: set adaptation_speakers (e.g. 2).")
        check_shot_options(shots_per_class, shots_fraction, source_replay)
        check_adaptation_options(adaptation_speakers, cover_per_class, shots_per_class)
        if adaptation_speakers != COVER:
            check_speaker_count(adaptation_speakers, "adaptation_speakers")
        self.sources = sources
        self.targets = list(targets)
        self.adaptation_speakers = adaptation_speakers
        self.cover_per_class = cover_per_class if cover_per_class is not None else shots_per_class
        self.shots_per_class = shots_per_class
        self.shots_fraction = shots_fraction
        self.shots_oversample = shots_oversample
        self.source_replay = source_replay
        self.unlabelled_target = unlabelled_target

    def corpora(self) -> list[Corpus]:
        return self.sources.corpora() + self.targets

    def split(self, load: Loader, seed: int) -> Split:
        split = self.sources.split(load, seed)
        target = with_role(load(self.targets), TARGET)
        self._check_disjoint(split, target)
        adaptation, target_test = adaptation_split(target, self.adaptation_speakers, seed, self.cover_per_class)
        shots = draw_shots(adaptation, self.shots_per_class, self.shots_fraction, seed, population=target)
        split.train = replay_subset(split.train, self.source_replay, seed) + shots * self.shots_oversample
        if not split.train:
            raise ManifestError("Nothing to train on: source_replay is 0 and there are no shots; set shots_per_class or source_replay.")
        split.test = split.test + target_test
        split.adaptation, split.shots = adaptation, shots
        split.unlabelled = list(adaptation) if self.unlabelled_target else []
        return split

    @staticmethod
    def _check_disjoint(split: Split, target: Sequence[Utterance]) -> None:
        trained = split.speakers("train") | split.speakers("val")
        leaked = sorted({speaker_key(u) for u in target} & trained)
        if leaked:
            raise ManifestError(f"Target speakers {leaked[:5]} are also source speakers; give sources and targets disjoint languages or corpora.")
        shared = sorted({os.path.abspath(u.path) for u in target} & (split.files("train") | split.files("val") | split.files("test")))
        if shared:
            raise ManifestError(
                f"Audio files {shared[:3]} are listed both in a source and in a target corpus; one file is one utterance: give them to one side."
            )

    def summary(self, split: Split, label_names: Sequence[str]) -> dict[str, Any]:
        summary: dict[str, Any] = self.sources.summary(split, label_names)
        if split.adaptation:
            summary["adaptation_speakers"] = {
                f"{corpus}/{language}": sorted({u.speaker for u in split.adaptation if (u.corpus, u.language) == (corpus, language)})
                for corpus, language in sorted({(u.corpus, u.language) for u in split.adaptation})
            }
        summary["shots"] = shot_counts(split.shots, label_names)
        summary["shots_oversample"] = self.shots_oversample
        return summary

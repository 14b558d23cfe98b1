"""Speaker-independent splits: no speaker ever appears in two of train/val/test."""

from __future__ import annotations

import os
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..config_errors import ConfigError
from .manifest import Utterance

SPLIT_NAMES = ("train", "val", "test")


def speaker_key(utt: Utterance) -> tuple[str, str]:
    """Speakers are identified within their corpus (EMO-DB's '03' and URDU's '03' are different people)."""
    return utt.corpus, utt.speaker


@dataclass
class Split:
    """Utterances per split name, as a split plan (:mod:`~ser_lightning.data.plans`) decided them.

    ``unlabelled`` is target audio served without labels (domain-adversarial training); ``adaptation`` the target
    speakers' utterances set aside for few-shot adaptation (never tested) and ``shots`` the labelled ones drawn
    from them (``train`` holds them, possibly repeated); ``notes`` what the plan wants said in the run's log.
    """

    train: list[Utterance] = field(default_factory=list)
    val: list[Utterance] = field(default_factory=list)
    test: list[Utterance] = field(default_factory=list)
    unlabelled: list[Utterance] = field(default_factory=list)
    adaptation: list[Utterance] = field(default_factory=list)
    shots: list[Utterance] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def speakers(self, name: str) -> set[tuple[str, str]]:
        return {speaker_key(u) for u in getattr(self, name)}

    def files(self, name: str) -> set[str]:
        return {os.path.abspath(u.path) for u in getattr(self, name)}

    def check_disjoint(self) -> None:
        """Raise if any speaker or audio file is in two splits (a leak that inflates every reported number)."""
        for i, first in enumerate(SPLIT_NAMES):
            for second in SPLIT_NAMES[i + 1 :]:
                shared = self.speakers(first) & self.speakers(second)
                if shared:
                    raise ValueError(f"Speakers {sorted(shared)[:5]} appear in both {first} and {second}: the split leaks speakers.")
                files = self.files(first) & self.files(second)
                if files:
                    raise ValueError(
                        f"Audio files {sorted(files)[:3]} appear in both {first} and {second} (under different speakers): one file "
                        "is one utterance; fix the manifest."
                    )


def check_speaker_count(spec: int | float, option: str) -> None:
    """Raise unless ``spec`` is a whole number of speakers (0, 1, 2, ...) or a fraction between 0 and 1, naming ``option``."""
    if isinstance(spec, bool) or not isinstance(spec, (int, float)):
        raise ValueError(f"{option}={spec!r}: give a number of speakers (2) or a fraction of a group's speakers (0.2).")
    if spec < 0:
        raise ValueError(f"{option}={spec} is negative: give a number of speakers (0, 1, 2, ...) or a fraction between 0 and 1 (0.2).")
    if isinstance(spec, float) and not spec.is_integer() and not 0 < spec < 1:
        raise ValueError(
            f"{option}={spec} is neither a whole number of speakers nor a fraction between 0 and 1: write {round(spec)} or {spec / 10:g}."
        )


def _count(spec: int | float, available: int, option: str = "speakers") -> int:
    """A speaker count from an absolute number or a fraction of the available speakers."""
    check_speaker_count(spec, option)
    if isinstance(spec, float) and 0 < spec < 1:
        return max(1, round(spec * available))
    return int(spec)


def speaker_split(
    utterances: Iterable[Utterance],
    val_speakers: int | float = 1,
    test_speakers: int | float = 1,
    seed: int = 0,
    group_by: Sequence[str] = ("corpus", "language"),
    options: str = "val_speakers/test_speakers",
) -> Split:
    """Split by speaker, separately within each group (by default each language of each corpus).

    ``val_speakers``/``test_speakers`` are speaker counts per group (int) or fractions of its speakers
    (float in (0, 1)). A speaker heard in several groups (e.g. a bilingual speaker) belongs to the
    group of most of their utterances and takes all of them along. The draw depends only on ``seed``
    and the group, so adding a corpus does not reshuffle another corpus's split. ``options`` names the
    settings to lower in the error raised when a group has too few speakers.
    """
    by_speaker: dict[tuple[str, str], list[Utterance]] = defaultdict(list)
    for utt in utterances:
        by_speaker[speaker_key(utt)].append(utt)
    groups: dict[tuple, list[tuple[str, str]]] = defaultdict(list)
    for speaker, utts in by_speaker.items():
        counts = Counter(tuple(getattr(u, name) for name in group_by) for u in utts)
        groups[min(counts, key=lambda g: (-counts[g], g))].append(speaker)
    split = Split()
    for group in sorted(groups):
        speakers = sorted(groups[group])
        random.Random(f"{seed}:{group}").shuffle(speakers)
        n_test, n_val = _count(test_speakers, len(speakers), "test_speakers"), _count(val_speakers, len(speakers), "val_speakers")
        if n_test + n_val >= len(speakers):
            raise ConfigError(
                f"Group {dict(zip(group_by, group))} has {len(speakers)} speakers: too few to hold out "
                f"{n_val} for validation and {n_test} for test and keep one for training; lower {options}."
            )
        for name, chosen in (("test", speakers[:n_test]), ("val", speakers[n_test : n_test + n_val]), ("train", speakers[n_test + n_val :])):
            for speaker in chosen:
                getattr(split, name).extend(by_speaker[speaker])
    split.check_disjoint()
    return split

"""Standard speaker-independent protocols of the corpora: test folds, and a validation carve-out from training.

A :class:`Protocol` splits a corpus into ``folds`` disjoint sets of test speakers: by a recording
group (IEMOCAP's sessions), one speaker per fold (``loso``), or speakers dealt into folds that
balance the number of FILES (``balanced``: URDU's speakers hold 2 to 80 files each). Fold ``i``
tests on its speakers and trains on all others, minus a seeded validation carve-out of whole
training speakers. A speaker is never in two of train, validation and test; the one exception,
declared by the protocol, is TESS, whose two speakers leave none for validation, so validation
there holds out words of the training speaker instead.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .manifest import ManifestError, Utterance
from .splits import Split


@dataclass(frozen=True)
class Protocol:
    """How a corpus is cross-validated.

    Args:
        kind: ``group`` (fold i tests on the utterances whose ``extra[group_key]`` is the i-th value),
            ``loso`` (fold i tests on the i-th speaker in sorted order) or ``balanced`` (speakers dealt
            into ``folds`` folds of about equal file counts, genders spread, within each language).
        folds: the number of folds.
        group_key: the ``extra`` field of ``group`` folds (``session``).
        val_key: None carves validation out by speaker; an ``extra`` field (``word``) carves it out
            by that field's values instead, for corpora whose training part has a single speaker.
        description: one line for documentation and logs.
    """

    kind: str
    folds: int
    group_key: str | None = None
    val_key: str | None = None
    description: str = ""


def _fold_speakers(utterances: Sequence[Utterance], protocol: Protocol) -> list[set[str]]:
    if protocol.kind == "group":
        groups = sorted({u.extra[protocol.group_key] for u in utterances})
        return [{u.speaker for u in utterances if u.extra[protocol.group_key] == g} for g in groups]
    files = Counter(u.speaker for u in utterances)
    if protocol.kind == "loso":
        return [{speaker} for speaker in sorted(files)]
    return _balanced_folds(utterances, protocol.folds, files)


def _balanced_folds(utterances: Sequence[Utterance], n_folds: int, files: Counter) -> list[set[str]]:
    """Deal speakers (most files first) to the fold with the fewest files, then the fewest of that gender."""
    info = {u.speaker: (u.language, u.extra.get("gender", "")) for u in utterances}
    folds: list[set[str]] = [set() for _ in range(n_folds)]
    for language in sorted({language for language, _ in info.values()}):
        load = [0] * n_folds
        genders: list[Counter] = [Counter() for _ in range(n_folds)]
        for speaker in sorted((s for s in files if info[s][0] == language), key=lambda s: (-files[s], s)):
            gender = info[speaker][1]
            best = min(range(n_folds), key=lambda i: (load[i], genders[i][gender], i))
            folds[best].add(speaker)
            load[best] += files[speaker]
            genders[best][gender] += 1
    return folds


def fold_test_speakers(utterances: Sequence[Utterance], protocol: Protocol) -> list[set[str]]:
    """The test speakers of every fold; raises when the corpus does not give ``protocol.folds`` non-empty folds."""
    folds = _fold_speakers(utterances, protocol)
    if len(folds) != protocol.folds or not all(folds):
        sizes = [len(f) for f in folds]
        raise ManifestError(
            f"The protocol '{protocol.description or protocol.kind}' needs {protocol.folds} non-empty folds, but this corpus "
            f"gives {len(folds)} with {sizes} speakers: is the whole corpus under `root`?"
        )
    return folds


def _carve_validation(train: list[Utterance], fraction: float, seed: str, key: str | None) -> tuple[list[Utterance], list[Utterance]]:
    """Hold out whole speakers (or whole values of ``extra[key]``) until at least ``fraction`` of ``train`` per language."""
    by_language: dict[str, list[Utterance]] = defaultdict(list)
    for utt in train:
        by_language[utt.language].append(utt)
    kept, held = [], []
    for language, utts in sorted(by_language.items()):
        unit = (lambda u: u.speaker) if key is None else (lambda u: u.extra[key])
        counts = Counter(unit(u) for u in utts)
        units = sorted(counts)
        random.Random(f"{seed}:{language}").shuffle(units)
        chosen, size = set(), 0
        for value in units[:-1]:  # always leave one for training
            if chosen and size >= fraction * len(utts):
                break
            chosen.add(value)
            size += counts[value]
        if not chosen:
            what = "speaker" if key is None else f"value of {key!r}"
            raise ManifestError(f"The training part of {language} has a single {what}: none is left to hold out for validation.")
        kept += [u for u in utts if unit(u) not in chosen]
        held += [u for u in utts if unit(u) in chosen]
    return kept, held


def protocol_split(
    utterances: Sequence[Utterance],
    protocol: Protocol,
    fold: int,
    val_fraction: float = 0.1,
    seed: int = 0,
    population: Sequence[Utterance] | None = None,
) -> Split:
    """Train/val/test of one fold: test = the fold's speakers; validation carved from the rest (seeded, whole speakers).

    ``population`` (default ``utterances``) is what the folds are dealt from: pass the whole parsed
    corpus so that the folds stay the same whatever label space filtered ``utterances``.
    Raises when a test speaker would also be trained on or validated on.
    """
    if not 0 <= fold < protocol.folds:
        raise ValueError(f"fold must be in 0..{protocol.folds - 1} for '{protocol.description}', got {fold}.")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    test_speakers = fold_test_speakers(utterances if population is None else population, protocol)[fold]
    test = [u for u in utterances if u.speaker in test_speakers]
    train, val = _carve_validation([u for u in utterances if u.speaker not in test_speakers], val_fraction, f"{seed}:{fold}", protocol.val_key)
    split = Split(train=train, val=val, test=test)
    leaked = sorted(test_speakers & {u.speaker for u in split.train + split.val})
    if leaked:
        raise ValueError(f"Speakers {leaked[:5]} are in the test fold and in training: the protocol leaks speakers.")
    if protocol.val_key is None:
        split.check_disjoint()
    return split


PROTOCOLS: dict[str, Protocol] = {
    "iemocap": Protocol("group", 5, group_key="session", description="IEMOCAP leave-one-session-out, 5 folds"),
    "emodb": Protocol("loso", 10, description="EMO-DB leave-one-speaker-out, 10 folds"),
    "emovo": Protocol("loso", 6, description="EMOVO leave-one-speaker-out, 6 folds"),
    "urdu": Protocol("balanced", 5, description="URDU leave-speakers-out, 5 folds of about 80 files each"),
    "ravdess": Protocol("balanced", 6, description="RAVDESS leave-speakers-out, 6 folds of 4 actors (2 female, 2 male)"),
    "cremad": Protocol("balanced", 5, description="CREMA-D leave-speakers-out, 5 folds balanced by files and gender"),
    "savee": Protocol("loso", 4, description="SAVEE leave-one-speaker-out, 4 folds"),
    "tess": Protocol("loso", 2, val_key="word", description="TESS leave-one-speaker-out, 2 folds (validation: held-out words)"),
    "shemo": Protocol("balanced", 5, description="ShEMO leave-speakers-out, 5 folds balanced by files and gender"),
    "esd": Protocol("balanced", 5, description="ESD leave-speakers-out, 5 folds of 2 English and 2 Mandarin speakers"),
}

"""Few-shot target data: speakers set aside for adaptation, and k labelled shots of every class drawn from them.

The target language's speakers are split once per seed into *adaptation* speakers (the only source of
shots and of unlabelled target audio) and *test* speakers. The split does not depend on k, and shots
are the first k of a seeded per-class order, so the test set is the same for every k (k = 0 included)
and the shots of a smaller k are a subset of those of a larger one: zero-shot and k-shot numbers of one
seed are directly comparable.

Real corpora confound emotions with speakers (in URDU no speaker has all four emotions, and *angry* comes
from 4 of 29 speakers), so a fixed number of random adaptation speakers often lacks a class. ``cover``
chooses, per seed, a set of speakers that holds at least ``cover_per_class`` utterances of every class
while every class keeps test utterances among the other speakers. A draw is exact: k shots of every
class of every target group, or an error that names the classes and their numbers; never fewer classes.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Literal

from .manifest import ManifestError, Utterance
from .splits import speaker_key, speaker_split

COVER = "cover"
AdaptationSpeakers = int | float | Literal["cover"]
_COVER_ATTEMPTS = 500

Group = tuple[str, str]  # (corpus, language)


def _by_group(utterances: Sequence[Utterance]) -> dict[Group, list[Utterance]]:
    groups: dict[Group, list[Utterance]] = defaultdict(list)
    for utt in utterances:
        groups[(utt.corpus, utt.language)].append(utt)
    return dict(sorted(groups.items()))


def _counts(utterances: Sequence[Utterance], classes: Sequence[str]) -> str:
    counts = Counter(u.label for u in utterances)
    return ", ".join(f"{label} {counts[label]}" for label in classes)


def _speakers(utterances: Sequence[Utterance]) -> str:
    names = sorted({u.speaker for u in utterances})
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def check_adaptation_options(speakers: AdaptationSpeakers, cover_per_class: int | None, shots_per_class: int) -> None:
    """Raise on an ``adaptation_speakers``/``cover_per_class`` pair that cannot mean anything, naming the option."""
    if speakers == COVER:
        if cover_per_class is None and not shots_per_class:
            raise ValueError(
                "adaptation_speakers: cover needs the number of utterances per class the set-aside speakers must hold: set "
                "cover_per_class (the largest k of a sweep, so every k of a seed tests on the same speakers) or shots_per_class."
            )
        if cover_per_class is not None and cover_per_class < 1:
            raise ValueError(f"cover_per_class must be at least 1, got {cover_per_class}.")
        if cover_per_class is not None and shots_per_class > cover_per_class:
            raise ValueError(f"shots_per_class={shots_per_class} is more than cover_per_class={cover_per_class} guarantees; raise cover_per_class.")
    elif isinstance(speakers, str):
        raise ValueError(f"adaptation_speakers={speakers!r}: give a number of speakers (2), a fraction (0.3) or `cover`.")
    elif cover_per_class is not None:
        raise ValueError("cover_per_class only applies with adaptation_speakers: cover.")


def cover_speakers(group: Sequence[Utterance], per_class: int, seed: int) -> set[tuple[str, str]]:
    """A seeded set of speakers of one target group holding at least ``per_class`` utterances of every class in it,
    while every class keeps at least one utterance among the other speakers (so it is still tested).

    Speakers are taken in a seeded random order when they add a class that is still short, then any speaker
    that is not needed is given back: a minimal cover, different for each seed. Raises naming the classes and
    their numbers when no cover exists.
    """
    classes = sorted({u.label for u in group})
    corpus, language = group[0].corpus, group[0].language
    per_speaker: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for utt in group:
        per_speaker[speaker_key(utt)][utt.label] += 1
    totals = Counter(u.label for u in group)
    short = [label for label in classes if totals[label] < per_class + 1]
    if short:
        raise ManifestError(
            f"adaptation_speakers: cover with {per_class} per class: {corpus} ({language}) has {_counts(group, classes)} utterances, so "
            f"{', '.join(short)} cannot give {per_class} shots and still be tested; lower cover_per_class/shots_per_class."
        )

    def covered(chosen: Sequence[tuple[str, str]]) -> bool:
        have = sum((per_speaker[s] for s in chosen), Counter())
        return all(have[label] >= per_class for label in classes)

    for attempt in range(_COVER_ATTEMPTS):
        order = sorted(per_speaker)
        random.Random(f"{seed}:cover:{corpus}:{language}:{attempt}").shuffle(order)
        chosen: list[tuple[str, str]] = []
        have: Counter = Counter()
        for speaker in order:
            if all(have[label] >= per_class for label in classes):
                break
            if any(have[label] < per_class and per_speaker[speaker][label] for label in classes):
                chosen.append(speaker)
                have += per_speaker[speaker]
        for speaker in reversed(list(chosen)):  # give back what the cover does not need
            rest = [s for s in chosen if s != speaker]
            if covered(rest):
                chosen = rest
        left = sum((per_speaker[s] for s in per_speaker if s not in chosen), Counter())
        if covered(chosen) and all(left[label] for label in classes):
            return set(chosen)
    raise ManifestError(
        f"adaptation_speakers: cover with {per_class} per class: no set of {corpus} ({language}) speakers holds {per_class} utterances "
        f"of every class and leaves every class a test speaker ({_counts(group, classes)} utterances in all); lower cover_per_class."
    )


def adaptation_split(
    target: Sequence[Utterance], speakers: AdaptationSpeakers, seed: int, cover_per_class: int = 0
) -> tuple[list[Utterance], list[Utterance]]:
    """(adaptation, test) utterances of the target corpora, speakers never in both.

    ``speakers`` per language of each target corpus go to adaptation: a count or a fraction of that group's
    speakers (at least one speaker per group stays for testing; 0 sets nobody aside), or ``cover``: speakers
    chosen by :func:`cover_speakers` to hold ``cover_per_class`` utterances of every class.
    """
    if not speakers:
        return [], list(target)
    if speakers != COVER:
        split = speaker_split(target, val_speakers=0, test_speakers=speakers, seed=seed, options="adaptation_speakers")
        return split.test, split.train
    adaptation: list[Utterance] = []
    test: list[Utterance] = []
    for group in _by_group(target).values():
        chosen = cover_speakers(group, cover_per_class, seed)
        for utt in group:
            (adaptation if speaker_key(utt) in chosen else test).append(utt)
    return adaptation, test


def check_shot_options(per_class: int, fraction: float | None, replay: float = 1.0) -> None:
    """Raise on few-shot options that cannot mean anything, naming the option."""
    if per_class and fraction is not None:
        raise ValueError("Give shots_per_class or shots_fraction, not both.")
    if fraction is not None and not 0 < fraction <= 1:
        raise ValueError(f"shots_fraction must be in (0, 1], got {fraction}.")
    if per_class < 0:
        raise ValueError(f"shots_per_class must be 0 or more, got {per_class}.")
    if not 0 <= replay <= 1:
        raise ValueError(f"source_replay must be in [0, 1], got {replay}.")


def draw_shots(
    pool: Sequence[Utterance],
    per_class: int = 0,
    fraction: float | None = None,
    seed: int = 0,
    population: Sequence[Utterance] | None = None,
) -> list[Utterance]:
    """Labelled shots from the adaptation ``pool``: ``per_class`` utterances of every class of each target group,
    or a ``fraction`` of each class's set-aside utterances (at least one of every class).

    The classes of a group are those of ``population`` (the whole target corpus-language group; default: the
    pool), so a class that the set-aside speakers lack is an error, never a smaller draw. The order within a
    class is seeded and independent of k, so smaller draws are prefixes of larger ones.
    """
    check_shot_options(per_class, fraction)
    if not per_class and fraction is None:
        return []
    if not pool:
        raise ManifestError("Few-shot training needs target speakers set aside for adaptation: set adaptation_speakers (e.g. 2, or cover).")
    pools = _by_group(pool)
    shots: list[Utterance] = []
    for group, everyone in _by_group(population if population is not None else pool).items():
        mine = pools.get(group, [])
        classes = sorted({u.label for u in everyone})
        available = Counter(u.label for u in mine)
        need = {label: per_class if fraction is None else max(1, round(fraction * available[label])) for label in classes}
        short = [label for label in classes if available[label] < need[label] or not available[label]]
        if short:
            corpus, language = group
            asked = f"shots_per_class={per_class}" if fraction is None else f"shots_fraction={fraction}"
            raise ManifestError(
                f"{asked}: the {len({speaker_key(u) for u in mine})} adaptation speaker(s) of {corpus} ({language}) "
                f"({_speakers(mine) or 'none'}) have {_counts(mine, classes)} utterances, too few of {', '.join(short)}; every class "
                f"needs {per_class if fraction is None else 'at least 1'}. Set adaptation_speakers: cover (speakers chosen per seed to hold "
                "k of every class), raise adaptation_speakers, or lower shots_per_class."
            )
        for label in classes:
            order = sorted((u for u in mine if u.label == label), key=lambda u: u.path)
            random.Random(f"{seed}:shots:{group[0]}:{group[1]}:{label}").shuffle(order)
            shots.extend(order[: need[label]])
    return shots


def replay_subset(utterances: Sequence[Utterance], fraction: float, seed: int) -> list[Utterance]:
    """A seeded ``fraction`` of the source training utterances (1 keeps all, 0 none), for source replay."""
    check_shot_options(0, None, fraction)
    if fraction == 1:
        return list(utterances)
    order = sorted(utterances, key=lambda u: u.path)
    random.Random(f"{seed}:replay").shuffle(order)
    return order[: round(fraction * len(order))]

"""Few-shot target data: speakers set aside for adaptation, and k labelled shots per class drawn from them.

The target language's speakers are split once per seed into *adaptation* speakers (the only source of
shots and of unlabelled target audio) and *test* speakers. The split does not depend on k, and shots
are the first k of a seeded per-class order, so the test set is the same for every k (k = 0 included)
and the shots of a smaller k are a subset of those of a larger one: zero-shot and k-shot numbers of one
seed are directly comparable.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Sequence

from .manifest import ManifestError, Utterance
from .splits import speaker_key, speaker_split


def adaptation_split(target: Sequence[Utterance], speakers: int | float, seed: int) -> tuple[list[Utterance], list[Utterance]]:
    """(adaptation, test) utterances: ``speakers`` speakers per language of each target corpus go to adaptation.

    ``speakers`` is a count or a fraction of that group's speakers; at least one speaker per group stays
    for testing. 0 sets nobody aside.
    """
    if not speakers:
        return [], list(target)
    split = speaker_split(target, val_speakers=0, test_speakers=speakers, seed=seed, options="adaptation_speakers")
    return split.test, split.train


def _groups(utterances: Sequence[Utterance]) -> dict[tuple[str, str, str], list[Utterance]]:
    groups: dict[tuple[str, str, str], list[Utterance]] = defaultdict(list)
    for utt in utterances:
        groups[(utt.corpus, utt.language, utt.label)].append(utt)
    return groups


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


def draw_shots(pool: Sequence[Utterance], per_class: int = 0, fraction: float | None = None, seed: int = 0) -> list[Utterance]:
    """Labelled shots from the adaptation ``pool``: ``per_class`` utterances of each class in each target group,
    or a ``fraction`` of each class's utterances (at least one).

    The order within a class is seeded and independent of k, so smaller draws are prefixes of larger ones.
    Asking for more shots than a class has is an error that says how many there are.
    """
    check_shot_options(per_class, fraction)
    if not per_class and fraction is None:
        return []
    if not pool:
        raise ManifestError("Few-shot training needs target speakers set aside for adaptation: set adaptation_speakers (e.g. 2).")
    shots: list[Utterance] = []
    for (corpus, language, label), utterances in sorted(_groups(pool).items()):
        order = sorted(utterances, key=lambda u: u.path)
        random.Random(f"{seed}:shots:{corpus}:{language}:{label}").shuffle(order)
        k = per_class if fraction is None else max(1, round(fraction * len(order)))
        if k > len(order):
            speakers = len({speaker_key(u) for u in order})
            raise ManifestError(
                f"shots_per_class={k} but the {speakers} adaptation speaker(s) of {corpus} ({language}) have only "
                f"{len(order)} '{label}' utterances; lower shots_per_class or raise adaptation_speakers."
            )
        shots.extend(order[:k])
    return shots


def replay_subset(utterances: Sequence[Utterance], fraction: float, seed: int) -> list[Utterance]:
    """A seeded ``fraction`` of the source training utterances (1 keeps all, 0 none), for source replay."""
    check_shot_options(0, None, fraction)
    if fraction == 1:
        return list(utterances)
    order = sorted(utterances, key=lambda u: u.path)
    random.Random(f"{seed}:replay").shuffle(order)
    return order[: round(fraction * len(order))]

"""What a run trains and tests on, as plain data: utterances per class and speakers per split, role and language.

Written to ``split.json`` in the run's log folder and into ``results.json``, so a reported number always
comes with the classes it was measured on, and the few-shot k that was really drawn.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..fileio import write_text_atomic
from .manifest import Utterance
from .splits import speaker_key

SUMMARY_FILE = "split.json"


def group_name(utt: Utterance) -> str:
    """``target:urdu/ur``: the role, corpus and language an utterance is counted under."""
    return f"{utt.role}:{utt.corpus}/{utt.language}"


def parse_group_name(name: str) -> tuple[str, str, str]:
    """Inverse of :func:`group_name`: (role, corpus, language)."""
    role, _, rest = name.partition(":")
    corpus, _, language = rest.rpartition("/")
    return role, corpus, language


def count_classes(utterances: Sequence[Utterance], label_names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per group (:func:`group_name`): utterances per class (every class listed, 0 where absent) and distinct speakers."""
    labels: dict[str, Counter] = defaultdict(Counter)
    speakers: dict[str, set] = defaultdict(set)
    for utt in utterances:
        name = group_name(utt)
        labels[name][utt.label] += 1
        speakers[name].add(speaker_key(utt))
    return {name: {"classes": {label: labels[name][label] for label in label_names}, "speakers": len(speakers[name])} for name in sorted(labels)}


def shot_counts(shots: Sequence[Utterance], label_names: Sequence[str]) -> dict[str, dict[str, int]]:
    """Labelled few-shot utterances per target group (``urdu/ur``) and class."""
    per_group: dict[str, Counter] = defaultdict(Counter)
    for utt in shots:
        per_group[f"{utt.corpus}/{utt.language}"][utt.label] += 1
    return {group: {label: counts[label] for label in label_names} for group, counts in sorted(per_group.items())}


def describe_summary(summary: Mapping[str, Any]) -> str:
    """A table for the log: utterances per class and speakers per split and group, then the shots."""
    labels = list(summary["label_names"])
    width = max(6, *(len(label) for label in labels))
    lines = ["split  group" + " " * 22 + "".join(f"{label:>{width + 1}}" for label in labels) + "  speakers"]
    for split, groups in summary["splits"].items():
        for name, row in groups.items():
            counts = "".join(f"{row['classes'][label]:>{width + 1}}" for label in labels)
            lines.append(f"{split:<6} {name:<26}{counts}  {row['speakers']:>8}")
    for group, counts in summary.get("shots", {}).items():
        lines.append(f"shots  {group:<26}" + "".join(f"{counts[label]:>{width + 1}}" for label in labels))
    return "\n".join(lines)


def write_summary(folder: str | Path, summary: Mapping[str, Any]) -> Path:
    """``split.json`` in ``folder``, written atomically under a name no other process uses."""
    return write_text_atomic(Path(folder) / SUMMARY_FILE, json.dumps(summary, indent=1))

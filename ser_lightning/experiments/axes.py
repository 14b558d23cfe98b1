"""The grid's building blocks, shared by the sweep parser and its ``budget:``/``search:`` blocks: an axis, how a value
is shown in run names, the short names of axes, and the error a sweep file raises."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Axis", "SweepError", "mapping_of", "short_names", "value_label"]


class SweepError(ValueError):
    """A sweep file that cannot be expanded; the message names the file, the key and the fix."""


@dataclass
class Axis:
    """One axis of the grid: its name and, per point, a label and the overrides it sets."""

    name: str
    points: list[tuple[str, dict[str, Any]]]


def value_label(value: Any) -> str:
    """How a value appears in a run name: ``null``, ``true``, ``5``, ``0.001``, ``null+20+10`` for lists."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, (list, tuple)):
        return "+".join(value_label(item) for item in value)
    return str(value)


def short_names(axes: Sequence[Axis], names: dict[str, str]) -> dict[str, str]:
    """Axis name -> the name shown in run names and tables.

    ``names`` wins; otherwise the shortest dotted suffix (without ``init_args``) that no other axis shares:
    ``data.init_args.shots_per_class`` -> ``shots_per_class``, but ``data.init_args.seed`` beside ``model.init_args.seed``
    keeps ``data.seed``.
    """
    parts = {axis.name: [p for p in axis.name.split(".") if p != "init_args"] or [axis.name] for axis in axes}
    length = {name: 1 for name in parts}
    while True:
        shown = {name: ".".join(p[-length[name] :]) for name, p in parts.items()}
        clashes = [name for name in shown if list(shown.values()).count(shown[name]) > 1 and length[name] < len(parts[name])]
        if not clashes:
            break
        for name in clashes:
            length[name] += 1
    result = {name: names.get(name, shown[name]) for name in parts}
    taken = list(result.values())
    twice = sorted({n for n in taken if taken.count(n) > 1})
    if twice:
        raise SweepError(f"Two axes are both shown as {twice}; give them distinct `names:`.")
    return result


def mapping_of(value: Any, where: str, path: Path) -> dict[str, Any]:
    """A sweep file's block ``where`` as a dict (empty when absent); anything but a mapping is refused naming the key."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SweepError(f"{path}: `{where}` must be a mapping, got {type(value).__name__}.")
    return dict(value)

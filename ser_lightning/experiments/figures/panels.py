"""Small multiples: one panel per condition the figure does not show on its axes (a target corpus, a training set)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..tables import first_seen
from .names import Names

MAX_PANELS = 6
Rows = Sequence[Mapping[str, Any]]


def split_panels(rows: Rows, names: Names, extra: Sequence[str]) -> tuple[list[tuple[str, list[Mapping[str, Any]]]], str]:
    """(title, rows) per value of the ``extra`` columns (at most 6), and a note naming what was left out."""
    keys = first_seen([tuple(row.get(c) for c in extra) for row in rows])
    panels = [(names.condition(extra, key), [row for row in rows if tuple(row.get(c) for c in extra) == key]) for key in keys[:MAX_PANELS]]
    note = f" (first {MAX_PANELS} of {len(keys)} conditions)" if len(keys) > MAX_PANELS else ""
    return panels, note


def grid_shape(count: int, width: float) -> tuple[int, int]:
    """Rows and columns of panels: one for one panel, else two across a column's width and four across the full width."""
    columns = 1 if count == 1 else min(2 if width < 5 else 4, count)
    return math.ceil(count / columns), columns


def with_models(rows: Rows, names: Names) -> list[dict[str, Any]]:
    """Rows with their model's display name under ``_model`` (what cells are aggregated by)."""
    return [{**row, "_model": names.model(row)} for row in rows]

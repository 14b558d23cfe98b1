"""Markdown tables in the study's shape: rows are training languages/corpora, columns test languages/corpora, cells mean ± std (runs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .collect import Interval, aggregate, current_interval, factor_columns

ROLES = ("source", "target")
ROLE_NAMES = {"source": "source (held-out speakers)", "target": "target (unseen)"}


def ordered_groups(groups: Sequence[str]) -> list[str]:
    """Test groups as table columns: languages/corpora in sorted order, then the roles; ``all`` left out."""
    unique = sorted(set(groups) - {"all", *ROLES})
    return unique + [role for role in ROLES if role in groups]


def first_seen(values: Sequence[Any]) -> list[Any]:
    """The distinct values in the order they first appear (values need not be hashable)."""
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _condition(keys: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in zip(keys, values) if value is not None) or "all runs"


def study_tables(
    rows: Sequence[Mapping[str, Any]], metric: str = "ua", replicates: Sequence[str] = (), title: str = "", interval: Interval | None = None
) -> str:
    """One Markdown table per condition (backbone, k, SNR, other axes): rows ``train``, columns the test groups.

    Cells are ``mean ± std [95% interval] (runs)`` over replicates (seeds), the interval where ``interval`` gives one;
    ``–`` where a group was not tested.
    """
    rows = [row for row in rows if row["metric"] == metric and not row["group"].startswith("recall")]
    if not rows:
        return f"# {title or 'Results'}\n\nNo finished runs with test metric `{metric}` yet.\n"
    conditions = [c for c in factor_columns(rows, replicates) if c not in ("train", "test")] + ["snr"]
    interval = interval if interval is not None else current_interval()
    cells = aggregate(rows, [*conditions, "train", "group"], interval)
    lines = [
        f"# {title or 'Results'}",
        "",
        f"Test {metric.upper()}: mean ± standard deviation over runs that differ only in "
        f"{', '.join(replicates) if replicates else 'nothing (one run each)'}"
        + (", [95% interval: cluster bootstrap over the test speakers of every seed]" if interval is not None else "")
        + " (number of runs). "
        "Rows: training languages/corpora; columns: test languages/corpora; source: held-out speakers of the "
        "training languages; target: languages/corpora never trained on.",
    ]
    for condition in first_seen([tuple(row.get(key) for key in conditions) for row in rows]):
        selected = [row for row in rows if tuple(row.get(key) for key in conditions) == condition]
        groups = ordered_groups([row["group"] for row in selected])
        lines += ["", f"## {_condition(conditions, condition)}", ""]
        lines.append("| train \\ test | " + " | ".join(ROLE_NAMES.get(g, g) for g in groups) + " |")
        lines.append("|---" * (len(groups) + 1) + "|")
        for train in first_seen([row["train"] for row in selected]):
            cell = [cells.get((*condition, train, group)) for group in groups]
            lines.append(f"| {train} | " + " | ".join(str(c) if c is not None else "–" for c in cell) + " |")
    return "\n".join(lines) + "\n"

"""The cross-language matrix: one panel per model; rows the training set (or the held-out target), columns the test
languages or corpora; one colour scale for every panel; each cell's mean and interval written in it; the held-out
target's cells outlined."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Patch, Rectangle

from ..collect import aggregate
from ..tables import ROLES, first_seen, ordered_groups
from .names import Names
from .panels import grid_shape, with_models
from .style import COLUMN, Drawn, baseline, interval, interval_kind, legend_below, new_figure, paper_style, runs_note, save, wrap

Rows = Sequence[Mapping[str, Any]]
COLOURS = "cividis"  # sequential and readable in grey and by colour-blind readers


def _short(value: float) -> str:
    """``.65`` for 0.65 (cells are narrow), ``1.0`` for 1."""
    text = f"{value:.2f}"
    return text[1:] if text.startswith("0.") else text


def target_cells(rows: Rows) -> set[tuple[str, str]]:
    """(run, group) of each run's held-out target: the test group whose clean result and size are the ``target`` group's."""
    results: dict[str, dict[str, tuple]] = {}
    for row in rows:
        results.setdefault(row["run"], {})[row["group"]] = (row["value"], row.get("n"))
    found = set()
    for run, groups in results.items():
        target = groups.get("target")
        found |= {(run, group) for group, result in groups.items() if target is not None and group not in (*ROLES, "all") and result == target}
    return found


def _row_labels(selected: Rows, names: Names, replicates: Sequence[str]) -> tuple[list[str], str, dict[str, str]]:
    """The matrix's rows: the conditions other than the model (a held-out target, a training set), and their axis title."""
    extra = names.extra_conditions(selected, ["group"], replicates) or ["train"]
    keys = first_seen([tuple(row.get(c) for c in extra) for row in selected])
    labels = [wrap(", ".join(names.value(c, v) for c, v in zip(extra, key)), 14) for key in keys]
    of_run = {row["run"]: labels[keys.index(tuple(row.get(c) for c in extra))] for row in selected}
    return labels, " / ".join(extra), of_run


@paper_style
def crosslingual_matrix(rows: Rows, metric: str, names: Names, replicates: Sequence[str], folder: Path, width: float = COLUMN) -> Drawn | None:
    """Clean audio at the smallest k; None unless the runs were tested on two languages or corpora or more."""
    selected = baseline([row for row in rows if row["metric"] == metric])
    found = [row["group"] for row in selected]
    columns = [g for g in ordered_groups(found) if g not in ROLES]
    if len(columns) < 2:
        return None
    lines, line_title, line_of_run = _row_labels(selected, names, replicates)
    selected = [{**row, "_line": line_of_run[row["run"]]} for row in with_models(selected, names)]
    cells = aggregate(selected, ["_model", "_line", "group"])
    targets = target_cells(selected)
    outlined = {(row["_model"], row["_line"], row["group"]) for row in selected if (row["run"], row["group"]) in targets}
    models = names.ordered(selected)
    shown = [cell for (m, line, g), cell in cells.items() if g in columns]
    values = [cell.mean for cell in shown]
    norm = Normalize(math.floor(min(values) * 10) / 10, math.ceil(max(values) * 10) / 10 or 1.0)
    shape = grid_shape(len(models), width)
    figure = new_figure(width, 1.25 + shape[0] * (0.45 + 0.32 * max(len(lines), 1.3)))
    image = None
    for index, model in enumerate(models):
        axes = figure.add_subplot(*shape, index + 1)
        grid = [[cells.get((model, line, g)) for g in columns] for line in lines]
        matrix = np.array([[cell.mean if cell else np.nan for cell in line] for line in grid])
        image = axes.imshow(matrix, cmap=COLOURS, norm=norm, aspect="auto")
        for (r, c), cell in np.ndenumerate(np.array(grid, dtype=object)):
            if cell is None:
                continue
            low, high = interval(cell)
            rgb = image.cmap(norm(cell.mean))[:3]
            ink = "black" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 0.5 else "white"
            axes.text(c, r - 0.13, f"{cell.mean:.2f}", ha="center", va="center", fontsize=6.5, color=ink)
            axes.text(c, r + 0.24, f"{_short(low)}–{_short(high)}", ha="center", va="center", fontsize=5, color=ink)
            if (model, lines[r], columns[c]) in outlined:
                for colour, width in (("white", 2.4), ("black", 1.0)):  # seen on dark and light cells alike
                    axes.add_patch(Rectangle((c - 0.46, r - 0.46), 0.92, 0.92, fill=False, edgecolor=colour, linewidth=width))
        axes.set_xticks(range(len(columns)), [names.value("group", g) for g in columns])
        axes.set_yticks(range(len(lines)), lines if index % shape[1] == 0 and len(lines) > 1 else [""] * len(lines))
        axes.tick_params(length=0)
        axes.spines[:].set_visible(False)
        axes.set_title(wrap(model, 16), color=names.colour(model), fontweight="bold")
        if index >= len(models) - shape[1]:
            axes.set_xlabel("tested on")
    kind = interval_kind(shown)
    if len(lines) > 1:
        figure.supylabel(line_title, fontsize=8)
    figure.colorbar(image, ax=figure.axes, location="bottom", label=f"test {metric.upper()}", shrink=0.6, aspect=30, pad=0.02)
    one = f"\n{line_title}: {lines[0].replace(chr(10), '')}" if len(lines) == 1 else ""  # a single row: named in the title
    figure.suptitle(f"Cross-language {metric.upper()}: mean and {kind}{one}")
    if outlined:
        legend_below(figure, [Patch(fill=False, edgecolor="black", linewidth=1.0, label="outlined: the held-out target (unseen in training)")])
    caption = (
        f"Test {metric.upper()} per model (panels), training condition (rows: {line_title}) and test language or corpus (columns), "
        f"clean audio{', zero-shot' if any(row.get('k') == 0 for row in selected) else ''}; one colour scale for every panel. "
        f"Each cell: the mean over seeds ({runs_note(shown)}) and below it the {kind}."
        + (" Outlined: the target held out of training; the other cells are held-out speakers of the training languages." if outlined else "")
    )
    return save(figure, folder, "heatmap", caption)

"""Bars and class matrices: the pre-training ablation, per-class recall, and a confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.patches import Patch

from ..collect import Cell, aggregate
from ..tables import first_seen
from .curves import curve_groups
from .names import Names
from .panels import grid_shape, split_panels, with_models
from .style import (
    COLUMN,
    GROUP_NAMES,
    Drawn,
    baseline,
    chance,
    chance_handle,
    draw_chance,
    interval,
    interval_kind,
    legend_below,
    metric_range,
    new_figure,
    paper_style,
    runs_note,
    save,
)

Rows = Sequence[Mapping[str, Any]]
HATCH = "////"


def _patch(colour: str, untrained: bool, label: str) -> Patch:
    if untrained:
        return Patch(facecolor=to_rgba(colour, 0.25), edgecolor=colour, hatch=HATCH, linewidth=0.8, label=label)
    return Patch(facecolor=colour, edgecolor=colour, linewidth=0.8, label=label)


def _bars(axes: Any, cells: Mapping[tuple, Cell], categories: Sequence[str], models: Sequence[str], names: Names, untrained: set[str]) -> list[Cell]:
    """Bars per category (x) and model (side by side), error bars from each cell's interval; untrained models hatched."""
    width = 0.8 / max(1, len(models))
    drawn: list[Cell] = []
    for index, model in enumerate(models):
        found = [cells.get((model, category)) for category in categories]
        xs = np.arange(len(categories)) + (index - (len(models) - 1) / 2) * width
        means = np.array([cell.mean if cell else np.nan for cell in found])
        bounds = np.array([interval(cell) if cell else (np.nan, np.nan) for cell in found])
        colour = names.colour(model)
        patch = _patch(colour, model in untrained, model)
        axes.bar(xs, means, width * 0.92, facecolor=patch.get_facecolor(), edgecolor=colour, hatch=patch.get_hatch(), linewidth=0.8)
        axes.errorbar(xs, means, yerr=[means - bounds[:, 0], bounds[:, 1] - means], fmt="none", ecolor="0.15", elinewidth=0.7, capsize=1.5)
        drawn.extend(cell for cell in found if cell is not None)
    return drawn


def _bar_figure(
    rows: Rows,
    names: Names,
    replicates: Sequence[str],
    categories: Sequence[str],
    tick_labels: Sequence[str],
    models: Sequence[str],
    untrained: set[str],
    width: float,
) -> tuple[Any, list[Cell], Any]:
    """One panel of bars per condition other than the model; cells of each panel keyed by (model, group or class).

    Several panels share the column's width: their ticks name the categories only, slanted where the names are long."""
    panels, note = split_panels(rows, names, names.extra_conditions(rows, ["group", "metric"], replicates))
    shape = grid_shape(len(panels), width)
    if len(panels) > 1:
        tick_labels = list(categories)
    slant = {"rotation": 30, "ha": "right", "rotation_mode": "anchor"} if len(panels) > 1 and max(map(len, tick_labels)) > 6 else {}
    figure = new_figure(width, 0.8 + 1.85 * shape[0])
    cells: list[Cell] = []
    axes_list = []
    for index, (title, selected) in enumerate(panels):
        axes = figure.add_subplot(*shape, index + 1)
        axes_list.append(axes)
        aggregated = aggregate(with_models(selected, names), ["_model", "_category"])
        cells += _bars(axes, aggregated, categories, models, names, untrained)
        axes.set_xticks(range(len(categories)), tick_labels if index >= len(panels) - shape[1] else [""] * len(categories), **slant)
        axes.grid(axis="y", alpha=0.35)
        if title:
            axes.set_title(title, fontsize=7)
    return figure, cells, (axes_list, shape, note)


@paper_style
def pretrained_bars(rows: Rows, metric: str, names: Names, replicates: Sequence[str], folder: Path, width: float = COLUMN) -> Drawn | None:
    """Each backbone pre-trained and untrained (the same architecture, random weights) side by side, per test group;
    None unless some backbone ran both ways."""
    metric_rows = [row for row in rows if row["metric"] == metric]
    selected = [row for row in baseline(metric_rows) if row.get("pretrained") in (True, False)]
    both = {b for b in {row.get("backbone") for row in selected} if {True, False} <= {r["pretrained"] for r in selected if r.get("backbone") == b}}
    selected = [{**row, "_category": row["group"]} for row in selected if row.get("backbone") in both]
    if not selected:
        return None
    groups = curve_groups(selected)[::-1]  # source, then target
    selected = [row for row in selected if row["group"] in groups]
    backbones = first_seen([row["backbone"] for row in selected])
    model_of = {names.model(row): (backbones.index(row["backbone"]), not row["pretrained"]) for row in selected}
    models = sorted(names.ordered(selected), key=lambda model: model_of[model])
    untrained = {model for model, (_, off) in model_of.items() if off}
    figure, cells, (axes_list, shape, note) = _bar_figure(
        selected, names, replicates, groups, [GROUP_NAMES[g] for g in groups], models, untrained, width
    )
    low, high = metric_range(metric_rows)
    level = None if metric != "ua" else chance(rows)
    for index, axes in enumerate(axes_list):
        axes.set_ylim(0, high)
        draw_chance(axes, level)
        if index % shape[1] == 0:
            axes.set_ylabel(f"test {metric.upper()}")
    kind = interval_kind(cells)
    figure.suptitle(f"Pre-training ablation{note}; bars: {kind}")
    legend_below(figure, [_patch(names.colour(m), m in untrained, m) for m in models] + chance_handle(level))
    caption = (
        f"Test {metric.upper()} of each backbone pre-trained (solid) and with the same architecture untrained (hatched: random "
        f"weights), on clean audio{', zero-shot' if any(row.get('k') == 0 for row in selected) else ''}, per test group. "
        f"Bars: mean over seeds ({runs_note(cells)}); whiskers: {kind}."
    )
    return save(figure, folder, "pretrained", caption)


def best_model(rows: Rows, metric: str, names: Names) -> str | None:
    """The model with the highest mean ``metric`` on the target (else on all test utterances), clean audio, smallest k."""
    selected = baseline([row for row in rows if row["metric"] == metric])
    group = "target" if any(row["group"] == "target" for row in selected) else "all"
    cells = aggregate(with_models([row for row in selected if row["group"] == group], names), ["_model"])
    return max(cells, key=lambda key: cells[key].mean)[0] if cells else None


@paper_style
def class_recall(rows: Rows, metric: str, names: Names, replicates: Sequence[str], folder: Path, width: float = COLUMN) -> Drawn | None:
    """Recall of each class (all test utterances, clean audio, smallest k), bars per model; None without per-class recall."""
    selected = [{**row, "_category": row["metric"].split("/", 1)[1]} for row in baseline(rows) if row["metric"].startswith("recall/")]
    selected = [row for row in selected if row["group"] == "all"]
    if not selected:
        return None
    classes = first_seen([row["_category"] for row in selected])
    models = names.ordered(selected)
    figure, cells, (axes_list, shape, note) = _bar_figure(selected, names, replicates, classes, classes, models, set(), width)
    level = chance(rows)
    for index, axes in enumerate(axes_list):
        axes.set_ylim(0, 1)
        draw_chance(axes, level)
        if index % shape[1] == 0:
            axes.set_ylabel("recall")
    kind = interval_kind(cells)
    best = best_model(rows, metric, names)
    figure.suptitle(f"Per-class recall{note}; bars: {kind}")
    legend_below(
        figure, [_patch(names.colour(m), False, m + (" (best)" if m == best and len(models) > 1 else "")) for m in models] + chance_handle(level)
    )
    caption = (
        f"Recall of each class on all test utterances (source and target together), clean audio, per model"
        f"{f'; best by target {metric.upper()}: {best}' if best and len(models) > 1 else ''}. "
        f"Bars: mean over seeds ({runs_note(cells)}); whiskers: {kind}; dotted: chance."
    )
    return save(figure, folder, "recall", caption)


@paper_style
def confusion_matrix(matrix: Any, class_names: Sequence[str], folder: Path, title: str = "Confusion matrix", name: str = "confusion") -> Drawn:
    """A confusion matrix (rows: true class, columns: predicted; counts) drawn row-normalised: the diagonal is each class's recall."""
    counts = np.asarray(matrix, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(class_names):
        raise ValueError(f"A confusion matrix of {len(class_names)} classes is {len(class_names)} x {len(class_names)}, got shape {counts.shape}.")
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.full_like(counts, np.nan), where=totals > 0)
    size = min(COLUMN, 1.2 + 0.45 * len(class_names))
    figure = new_figure(size + 0.5, size)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (r, c), share in np.ndenumerate(shares):
        if not np.isnan(share):
            axes.text(c, r, f"{share:.2f}\n({int(counts[r, c])})", ha="center", va="center", fontsize=6, color="white" if share > 0.6 else "black")
    axes.set_xticks(range(len(class_names)), class_names, rotation=30, ha="right")
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.spines[:].set_visible(False)
    axes.tick_params(length=0)
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="share of the true class", shrink=0.8)
    caption = (
        f"{title}: rows are the true classes, columns the predicted ones; each cell the share of its row (its count below); the diagonal is recall."
    )
    return save(figure, folder, name, caption)

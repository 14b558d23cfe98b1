"""Curves: UA against k (few-shot adaptation) and against SNR (noise), one colour per model, target solid, source dashed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...naming import CLEAN, snr_tag
from ..collect import Cell, aggregate
from ..tables import ROLES
from .names import Names
from .panels import grid_shape, split_panels, with_models
from .style import (
    COLUMN,
    LINES,
    MARKERS,
    Drawn,
    chance,
    chance_handle,
    draw_chance,
    group_handles,
    interval,
    interval_kind,
    legend_below,
    metric_range,
    model_handles,
    new_figure,
    number,
    paper_style,
    runs_note,
    save,
)

Rows = Sequence[Mapping[str, Any]]


def curve_groups(rows: Rows) -> list[str]:
    """The groups a curve shows: target (solid) and source (dashed), or ``all`` when the runs have no roles."""
    present = {row["group"] for row in rows}
    return [group for group in ROLES[::-1] if group in present] or ["all"]


def _draw_lines(axes: Any, rows: Rows, names: Names, x_key: str, x_of: Callable[[Any], float], span: float) -> list[Cell]:
    """One line per model and group; models side by side by a small offset so their bars do not hide each other."""
    rows = with_models(rows, names)
    models, groups = names.ordered(rows), curve_groups(rows)
    cells = aggregate(rows, ["_model", "group", x_key])
    drawn: list[Cell] = []
    for index, model in enumerate(models):
        offset = (index - (len(models) - 1) / 2) * 0.012 * span
        for group in groups:
            points = sorted((x_of(x), cell) for (m, g, x), cell in cells.items() if m == model and g == group)
            if not points:
                continue
            xs = np.array([x for x, _ in points]) + offset
            found = [cell for _, cell in points]
            means = np.array([cell.mean for cell in found])
            bounds = np.array([interval(cell) for cell in found])
            colour = names.colour(model)
            axes.errorbar(
                xs,
                means,
                yerr=[means - bounds[:, 0], bounds[:, 1] - means],
                color=colour,
                linestyle=LINES[group],
                marker=MARKERS[group],
                mfc="white" if group == "source" else colour,
                capsize=1.5,
                elinewidth=0.7,
            )
            drawn.extend(found)
    return drawn


def _curve_figure(
    rows: Rows,
    metric: str,
    names: Names,
    replicates: Sequence[str],
    x_key: str,
    x_of: Callable[[Any], float],
    ticks: tuple[list[float], list[str]],
    xlabel: str,
    title: str,
    limits: tuple[float, float],
    level: float | None,
    width: float,
) -> tuple[Any, list[Cell], list[str]]:
    panels, note = split_panels(rows, names, names.extra_conditions(rows, [x_key, "group"], replicates))
    shape = grid_shape(len(panels), width)
    figure = new_figure(width, 0.75 + 1.95 * shape[0])
    span = max(ticks[0]) - min(ticks[0]) or 1.0
    cells: list[Cell] = []
    for index, (panel_title, selected) in enumerate(panels):
        axes = figure.add_subplot(*shape, index + 1)
        cells += _draw_lines(axes, selected, names, x_key, x_of, span)
        draw_chance(axes, level)
        axes.set_xticks(*ticks)
        axes.set_ylim(*limits)
        axes.grid(alpha=0.35)
        if panel_title:
            axes.set_title(panel_title, fontsize=7)
        if index % shape[1] == 0:
            axes.set_ylabel(f"test {metric.upper()}")
        if index >= len(panels) - shape[1]:
            axes.set_xlabel(xlabel)
    kind = interval_kind(cells)
    figure.suptitle(f"{title}{note}; bars: {kind}")
    models = names.ordered(rows)
    legend_below(figure, model_handles(models, names.colour) + group_handles(curve_groups(rows)) + chance_handle(level))
    return figure, cells, models


@paper_style
def fewshot_curve(rows: Rows, metric: str, names: Names, replicates: Sequence[str], folder: Path, width: float = COLUMN) -> Drawn | None:
    """The metric against k (labelled target utterances per class) on clean audio; None unless the runs have two k or more."""
    metric_rows = [row for row in rows if row["metric"] == metric]
    selected = [row for row in metric_rows if row["snr"] == CLEAN and row.get("k") is not None]
    ks = sorted({number(row["k"]) for row in selected})
    if len(ks) < 2:
        return None
    figure, cells, models = _curve_figure(
        selected,
        metric,
        names,
        replicates,
        "k",
        number,
        (ks, [format(k, "g") for k in ks]),
        "k: labelled target utterances per class",
        "Few-shot adaptation",
        metric_range(metric_rows),
        chance(rows, metric),
        width,
    )
    caption = (
        f"Test {metric.upper()} against k, the labelled target utterances per class added to training (0: zero-shot), clean audio. "
        f"One colour per model ({len(models)}); solid: target (unseen), dashed: source (held-out speakers); "
        f"points: mean over seeds ({runs_note(cells)}); bars: {interval_kind(cells)}."
    )
    return save(figure, folder, "fewshot", caption)


@paper_style
def noise_curve(rows: Rows, metric: str, names: Names, replicates: Sequence[str], folder: Path, width: float = COLUMN) -> Drawn | None:
    """The metric against test SNR (dB), clean audio at the right, at the smallest k; None unless the runs were tested in noise."""
    metric_rows = [row for row in rows if row["metric"] == metric]
    ks = [number(row["k"]) for row in metric_rows if row.get("k") is not None]
    selected = [row for row in metric_rows if row.get("k") is None or number(row["k"]) == min(ks)]
    snrs = sorted({number(row["snr"]) for row in selected if row["snr"] != CLEAN})
    if not snrs:
        return None
    clean_at = snrs[-1] + max(5.0, (snrs[-1] - snrs[0]) / 4)
    figure, cells, models = _curve_figure(
        selected,
        metric,
        names,
        replicates,
        "snr",
        lambda snr: clean_at if snr == CLEAN else number(snr),
        (snrs + [clean_at], [snr_tag(s) for s in snrs] + [CLEAN]),
        "test SNR (dB), white noise",
        "Robustness to noise",
        metric_range(metric_rows),
        chance(rows, metric),
        width,
    )
    k_note = f" at k = {min(ks):g}" if len(set(ks)) > 1 else ""
    caption = (
        f"Test {metric.upper()} against the SNR of white noise added to the test audio{k_note}, clean audio at the right. "
        f"One colour per model ({len(models)}); solid: target (unseen), dashed: source (held-out speakers); "
        f"points: mean over seeds ({runs_note(cells)}); bars: {interval_kind(cells)}."
    )
    return save(figure, folder, "noise", caption)

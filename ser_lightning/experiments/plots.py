"""The study's figures as PNGs (matplotlib's Agg canvas, no pyplot): cross-language heatmap, few-shot curve, noise curve,
pretrained vs untrained bars. Each is drawn only when the sweep varies what it shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..naming import CLEAN, snr_tag
from .collect import Cell, aggregate, factor_columns
from .tables import ROLES, first_seen, ordered_groups

Rows = Sequence[Mapping[str, Any]]
LINE_GROUPS = {"target": "-", "source": "--", "all": "-"}


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=120)
    return path


def _curve_groups(rows: Rows) -> list[str]:
    """The groups a curve shows: target (solid) and source (dashed), or ``all`` without roles."""
    present = {row["group"] for row in rows}
    return [group for group in ROLES[::-1] if group in present] or ["all"]


def _series(rows: Rows, conditions: Sequence[str]) -> tuple[list[tuple], list[str]]:
    """Distinct values of ``conditions`` (one line or bar colour each) and a legend label for each."""
    keys = first_seen([tuple(row.get(c) for c in conditions) for row in rows])
    varying = [i for i in range(len(conditions)) if len({key[i] for key in keys}) > 1]
    labels = [", ".join(f"{conditions[i]}={key[i]}" if conditions[i] not in ("backbone", "train") else str(key[i]) for i in varying) for key in keys]
    return keys, [label or "" for label in labels]


def _baseline(rows: Rows) -> list[Mapping[str, Any]]:
    """Rows of clean audio at the smallest k (the zero-shot condition when the sweep has one)."""
    clean = [row for row in rows if row["snr"] == CLEAN] or list(rows)
    ks = [_number(row.get("k")) for row in clean if row.get("k") is not None]
    if not ks:
        return clean
    smallest = min(ks)
    return [row for row in clean if row.get("k") is None or _number(row["k"]) == smallest]


def heatmap(rows: Rows, metric: str, replicates: Sequence[str], path: Path) -> Path | None:
    """Training languages/corpora x test languages/corpora, one panel per other condition (clean audio, smallest k)."""
    rows = _baseline(rows)
    groups = [g for g in ordered_groups([row["group"] for row in rows]) if g not in ROLES] or ordered_groups([row["group"] for row in rows])
    trains = first_seen([row["train"] for row in rows])
    if not groups or not trains:
        return None
    conditions = [c for c in factor_columns(rows, replicates) if c not in ("train", "test", "k")]
    panels, titles = _series(rows, conditions)
    panels, titles = panels[:12], titles[:12]
    cells = aggregate(rows, [*conditions, "train", "group"])
    columns = min(len(panels), 3)
    width, height = 1.2 + 1.1 * len(groups), 1.2 + 0.6 * len(trains)
    figure = Figure(figsize=(columns * width + 0.8, -(-len(panels) // columns) * height + 0.6), layout="constrained")
    image = None
    for index, (panel, title) in enumerate(zip(panels, titles)):
        axes = figure.add_subplot(-(-len(panels) // columns), columns, index + 1)
        found = [[cells.get((*panel, train, group)) for group in groups] for train in trains]
        values = np.array([[cell.mean if cell else np.nan for cell in line] for line in found])
        image = axes.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        axes.set_xticks(range(len(groups)), groups)
        axes.set_yticks(range(len(trains)), trains)
        axes.set_xlabel("test")
        axes.set_ylabel("train")
        axes.set_title(title or metric.upper(), fontsize=10)
        for (row, col), cell in np.ndenumerate(np.array(found, dtype=object)):
            if cell is not None:
                axes.text(
                    col, row, f"{cell.mean:.2f}\n±{cell.std:.2f}", ha="center", va="center", fontsize=8, color="white" if cell.mean < 0.6 else "black"
                )
    if image is not None:
        figure.colorbar(image, ax=figure.axes, label=f"test {metric.upper()}", shrink=0.9)
    figure.suptitle(f"Cross-language {metric.upper()} (mean ± std over runs)")
    return _save(figure, path)


def _lines(axes: Any, rows: Rows, x_of: Any, x_key: str, conditions: Sequence[str], metric: str) -> None:
    series, labels = _series(rows, conditions)
    cells = aggregate(rows, [*conditions, "group", x_key])
    colours = [f"C{i}" for i in range(10)]
    for index, (key, label) in enumerate(zip(series, labels)):
        for group in _curve_groups(rows):
            points = sorted((x_of(x), cell) for (*rest, g, x), cell in cells.items() if tuple(rest) == key and g == group)
            if not points:
                continue
            xs, found = zip(*points)
            name = f"{label}: {group}" if label else group
            axes.errorbar(
                xs,
                [c.mean for c in found],
                yerr=[c.std for c in found],
                fmt="o" + LINE_GROUPS[group],
                color=colours[index % 10],
                capsize=3,
                label=name,
            )
    axes.set_ylabel(f"test {metric.upper()}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), title="solid: target, dashed: source", title_fontsize=8)


def fewshot_curve(rows: Rows, metric: str, replicates: Sequence[str], path: Path) -> Path | None:
    """UA against k (target examples per class): one colour per backbone (and other condition), target solid, source dashed."""
    rows = [row for row in rows if row["snr"] == CLEAN and row.get("k") is not None]
    if len({_number(row["k"]) for row in rows}) < 2:
        return None
    conditions = [c for c in factor_columns(rows, replicates) if c not in ("k", "test")]
    figure = Figure(figsize=(8.4, 4.2), layout="constrained")
    axes = figure.add_subplot()
    _lines(axes, rows, _number, "k", conditions, metric)
    axes.set_xlabel("k: labelled target examples per class (0 = zero-shot)")
    axes.set_title("Few-shot adaptation (mean ± std over runs)")
    return _save(figure, path)


def noise_curve(rows: Rows, metric: str, replicates: Sequence[str], path: Path) -> Path | None:
    """UA against test SNR in dB, clean audio at the right: one colour per backbone, target solid, source dashed."""
    snrs = sorted({_number(row["snr"]) for row in rows if row["snr"] != CLEAN})
    if len(snrs) + any(row["snr"] == CLEAN for row in rows) < 2:
        return None
    clean_at = (snrs[-1] + max(5.0, (snrs[-1] - snrs[0]) / 4)) if snrs else 0.0
    ks = [_number(row["k"]) for row in rows if row.get("k") is not None]
    rows = [row for row in rows if row.get("k") is None or not ks or _number(row["k"]) == min(ks)]
    conditions = [c for c in factor_columns(rows, replicates) if c not in ("test", "k")]
    figure = Figure(figsize=(8.4, 4.2), layout="constrained")
    axes = figure.add_subplot()
    _lines(axes, rows, lambda snr: clean_at if snr == CLEAN else _number(snr), "snr", conditions, metric)
    ticks = snrs + [clean_at]
    axes.set_xticks(ticks, [snr_tag(s) for s in snrs] + [CLEAN])
    axes.set_xlabel("test SNR (dB), white noise")
    axes.set_title("Robustness to noise (mean ± std over runs)")
    return _save(figure, path)


def pretrained_bars(rows: Rows, metric: str, replicates: Sequence[str], path: Path) -> Path | None:
    """Pretrained vs untrained (same architecture, random weights): bars per backbone and test role, with error bars."""
    rows = _baseline(rows)
    if not {True, False} <= {row.get("pretrained") for row in rows}:
        return None
    rows = [row for row in rows if row.get("pretrained") in (True, False)]
    conditions = [c for c in factor_columns(rows, replicates) if c not in ("pretrained", "test", "k")]
    series, labels = _series(rows, conditions)
    cells: dict[tuple, Cell] = aggregate(rows, [*conditions, "group", "pretrained"])
    groups = _curve_groups(rows)[::-1]  # source, then target
    figure = Figure(figsize=(3.2 + 2.2 * len(groups) * max(1, len(series)) / 2, 4.0), layout="constrained")
    axes_list = [figure.add_subplot(1, len(groups), i + 1) for i in range(len(groups))]
    x = np.arange(len(series))
    for axes, group in zip(axes_list, groups):
        for offset, pretrained, colour in ((-0.2, True, "C0"), (0.2, False, "C7")):
            found = [cells.get((*key, group, pretrained)) for key in series]
            axes.bar(
                x + offset,
                [c.mean if c else np.nan for c in found],
                0.4,
                yerr=[c.std if c else np.nan for c in found],
                capsize=3,
                color=colour,
                label="pretrained" if pretrained else "untrained (random init)",
            )
        axes.set_xticks(x, [label or "model" for label in labels], rotation=20, ha="right")
        axes.set_title(group)
        axes.set_ylim(0, 1)
        axes.set_ylabel(f"test {metric.upper()}")
        axes.grid(axis="y", alpha=0.3)
    axes_list[0].legend(fontsize=8)
    figure.suptitle("Pre-training ablation (mean ± std over runs)")
    return _save(figure, path)


def make_plots(rows: Rows, metric: str, replicates: Sequence[str], folder: Path) -> list[Path]:
    """Every figure the sweep's conditions allow, as PNGs in ``folder``."""
    rows = [row for row in rows if row["metric"] == metric]
    made = [
        heatmap(rows, metric, replicates, folder / "heatmap.png"),
        fewshot_curve(rows, metric, replicates, folder / "fewshot.png"),
        noise_curve(rows, metric, replicates, folder / "noise.png"),
        pretrained_bars(rows, metric, replicates, folder / "pretrained.png"),
    ]
    return [path for path in made if path is not None]

"""Emotion over time as a picture (``predict --predictions.timeline out.png``): per file, the class probabilities of
every window or segment of speech as a stacked column as wide as it lasts, and a strip of the predicted labels below;
gaps are silence (no segment).

Drawn with matplotlib's Agg canvas (no pyplot, no display). Overlapping fixed windows share their overlap at its middle,
so the strip shows one label at every moment; the x axis reads minutes:seconds, so a 10-minute file stays legible.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MultipleLocator

Row = tuple[str, float, float | None, list[float]]
PANEL_WIDTH = 14.0  # inches
PANEL_HEIGHT = 2.4
DPI = 110
TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
EMOTION_COLOURS = {"angry": "#d62728", "happy": "#ff7f0e", "neutral": "#7f7f7f", "sad": "#1f77b4", "fear": "#9467bd", "disgust": "#2ca02c"}


def own_spans(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The part of each time-ordered span it owns: where two overlap, the boundary is halfway between their centres."""
    owned = []
    for i, (start, end) in enumerate(spans):
        centre = (start + end) / 2
        if i > 0 and start < spans[i - 1][1]:
            start = max(start, (sum(spans[i - 1]) / 2 + centre) / 2)
        if i + 1 < len(spans) and end > spans[i + 1][0]:
            end = min(end, (centre + sum(spans[i + 1]) / 2) / 2)
        owned.append((start, max(start, end)))
    return owned


def _clock(seconds: float, _: object = None) -> str:
    """``m:ss`` (``m:ss.s`` off whole seconds)."""
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{int(round(rest)):02d}" if abs(rest - round(rest)) < 0.05 else f"{int(minutes)}:{rest:04.1f}"


def _tick_step(length: float, most: int = 14) -> float:
    """Seconds between ticks: the smallest round step that gives at most ``most`` ticks."""
    steps = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
    return next((step for step in steps if length / step <= most), steps[-1] * math.ceil(length / steps[-1] / most))


def _panel(axes: tuple, path: str, rows: Sequence[Row], label_names: Sequence[str], colours: Sequence[str]) -> None:
    curve, strip = axes
    rows = sorted(rows, key=lambda row: row[1])
    spans = [(start, end if end is not None else start + 1.0) for _, start, end, _ in rows]
    owned = own_spans(spans)
    lefts = np.array([start for start, _ in owned])
    widths = np.array([end - start for start, end in owned])
    probs = np.array([row[3] for row in rows], dtype=float)
    labels = probs.argmax(1)
    bottom = np.zeros(len(rows))
    for k in range(len(label_names)):  # each segment a column of its class probabilities, stacked
        curve.bar(lefts, probs[:, k], width=widths, bottom=bottom, align="edge", color=colours[k], linewidth=0)
        bottom += probs[:, k]
    length = max(end for _, end in spans)
    speech = float(widths.sum())
    shares = np.bincount(labels, weights=widths, minlength=len(label_names)) / max(speech, 1e-9)
    top = int(shares.argmax())
    count = f"{len(rows)} segment{'s' if len(rows) != 1 else ''}"
    curve.set_title(
        f"{Path(path).name}: {_clock(round(length))} long, {count} predicted ({speech / max(length, 1e-9):.0%} of the time); "
        f"{label_names[top]} for {shares[top]:.0%} of it",
        loc="left",
        fontsize=10,
    )
    curve.set_ylim(0, 1)
    curve.set_yticks([0, 0.5, 1])
    curve.set_ylabel("class\nprobabilities", fontsize=9)
    strip.broken_barh(list(zip(lefts, widths)), (0, 1), facecolors=[colours[k] for k in labels], linewidth=0)
    seconds_per_pixel = length / (0.92 * PANEL_WIDTH * DPI)  # the axes take about 92% of the figure's width
    for left, width, k in zip(lefts, widths, labels):
        if width / seconds_per_pixel > 7 * len(label_names[k]) + 6:  # room for its name (8-point bold: about 7 px a letter)
            strip.text(left + width / 2, 0.5, label_names[k], ha="center", va="center", fontsize=8, color="white", fontweight="bold")
    strip.set_yticks([])
    strip.set_ylim(0, 1)
    strip.set_ylabel("label", fontsize=9, rotation=0, ha="right", va="center")
    strip.set_xlim(0, length)
    strip.xaxis.set_major_locator(MultipleLocator(_tick_step(length)))
    strip.xaxis.set_major_formatter(FuncFormatter(_clock))
    strip.set_xlabel("time (min:s)", fontsize=9)


def draw_timeline(rows: Sequence[Row], label_names: Sequence[str], path: Path, max_files: int = 8) -> int:
    """Draw the timeline of the first ``max_files`` files (by path) of ``rows`` into ``path``; returns the files drawn."""
    per_file: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        per_file[row[0]].append(row)
    files = sorted(per_file)
    shown = files[:max_files]
    figure = Figure(figsize=(PANEL_WIDTH, PANEL_HEIGHT * len(shown) + 0.9), layout="constrained")
    grid = figure.add_gridspec(2 * len(shown), 1, height_ratios=[3.2, 0.7] * len(shown))
    colours = _colours(label_names)
    for i, file in enumerate(shown):
        curve = figure.add_subplot(grid[2 * i])
        strip = figure.add_subplot(grid[2 * i + 1], sharex=curve)
        curve.tick_params(labelbottom=False)
        _panel((curve, strip), file, per_file[file], label_names, colours)
    handles = [Patch(color=colours[k], label=name) for k, name in enumerate(label_names)]
    figure.legend(handles=handles, loc="outside upper center", ncols=len(label_names), frameon=False, fontsize=10)
    if len(files) > len(shown):
        note = f"{len(files)} files: the first {len(shown)} drawn (timeline_files={max_files})"
        figure.text(0.005, 0.995, note, ha="left", va="top", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI)
    return len(shown)


def _colours(label_names: Sequence[str]) -> list[str]:
    """A colour per class: the usual ones for common emotion names (angry red, sad blue, ...), tab10's others for the rest."""
    taken = {EMOTION_COLOURS[name.lower()] for name in label_names if name.lower() in EMOTION_COLOURS}
    free = [colour for colour in TAB10 if colour not in taken]
    others = iter(free * (1 + len(label_names) // len(free)))
    return [EMOTION_COLOURS.get(name.lower()) or next(others) for name in label_names]

"""The look every study figure shares: sized for a paper's column (3.3 in, 8 pt text), intervals, legends, saving.

A figure drawn at column width stays readable at full width (scaled up, text ~17 pt), not the other way round, so
every figure is drawn for the column by default; ``width=FULL`` draws it for the full text width instead (panels four
abreast, legends in more columns, text still 8 pt), e.g. the cross-language matrix of many models as a ``figure*``.
Each is saved twice: PNG (README, TensorBoard, the report) and PDF (papers; TrueType fonts embedded, no creation
date, so an unchanged figure gives the same file).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...naming import CLEAN

COLUMN = 3.3  # inches: one column of a two-column paper
FULL = 6.9  # inches: the full text width
DPI = 300
RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "figure.titlesize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "grid.linewidth": 0.4,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "legend.columnspacing": 1.0,
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
    "savefig.dpi": DPI,
}
GROUP_NAMES = {"target": "target (unseen)", "source": "source (held-out speakers)", "all": "all test utterances"}
LINES = {"target": "-", "source": "--", "all": "-"}
MARKERS = {"target": "o", "source": "s", "all": "o"}
INTERVAL = "95% interval"
STD = "± std over seeds"

F = TypeVar("F", bound=Callable[..., Any])


def paper_style(function: F) -> F:
    """Draw inside the paper's rc settings (text sizes are read when an artist is made, so the whole body runs inside)."""

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(RC):
            return function(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


@dataclass
class Drawn:
    """A saved figure: its file stem, PNG and PDF, the caption a report shows under it, and the figure itself (for
    TensorBoard's ``add_figure``, or to inspect)."""

    name: str
    png: Path
    pdf: Path
    caption: str
    figure: Figure | None = field(default=None, repr=False, compare=False)


def new_figure(width: float, height: float) -> Figure:
    """A figure on matplotlib's Agg canvas (no pyplot, no display), laid out by constrained layout."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, folder: Path, name: str, caption: str) -> Drawn:
    """``folder/name.png`` and ``folder/name.pdf``."""
    folder.mkdir(parents=True, exist_ok=True)
    png, pdf = folder / f"{name}.png", folder / f"{name}.pdf"
    with matplotlib.rc_context(RC):
        figure.savefig(png, dpi=DPI, metadata={"Software": None})
        figure.savefig(pdf, metadata={"CreationDate": None, "Creator": None, "Producer": None})
    return Drawn(name, png, pdf, caption, figure)


def interval(cell: Any) -> tuple[float, float]:
    """The cell's 95% interval where the study computed one (``low``, ``high``), else mean ± std over seeds."""
    low, high = getattr(cell, "low", None), getattr(cell, "high", None)
    if low is not None and high is not None:
        return float(low), float(high)
    return cell.mean - cell.std, cell.mean + cell.std


def interval_kind(cells: Iterable[Any]) -> str:
    """What the error bars of these cells are: ``95% interval``, ``± std over seeds``, or both where mixed."""
    kinds = {getattr(cell, "low", None) is not None and getattr(cell, "high", None) is not None for cell in cells}
    if kinds == {True}:
        return INTERVAL
    return STD if kinds <= {False} else f"{INTERVAL} ({STD} where none)"


def runs_note(cells: Iterable[Any]) -> str:
    """``3 runs each`` or ``1-3 runs each``: how many runs a point averages."""
    counts = sorted({cell.n for cell in cells})
    if not counts:
        return ""
    return f"{counts[0]} run{'s' if counts[-1] > 1 else ''} each" if len(counts) == 1 else f"{counts[0]}-{counts[-1]} runs each"


def number(value: Any) -> float:
    """A value as a float (NaN when it is not a number)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def baseline(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rows of clean audio at the smallest k (the zero-shot condition when the sweep has one)."""
    clean = [row for row in rows if row["snr"] == CLEAN] or list(rows)
    ks = [number(row.get("k")) for row in clean if row.get("k") is not None]
    if not ks:
        return clean
    return [row for row in clean if row.get("k") is None or number(row["k"]) == min(ks)]


def metric_range(rows: Sequence[Mapping[str, Any]], step: float = 0.1) -> tuple[float, float]:
    """One y range for a metric across a study's figures: its values (with a margin for the intervals) to the step."""
    values = [row["value"] for row in rows if not math.isnan(row["value"])]
    if not values:
        return 0.0, 1.0
    low = max(0.0, math.floor((min(values) - 0.05) / step) * step)
    high = min(1.0, math.ceil((max(values) + 0.05) / step) * step)
    return round(low, 6), round(high, 6)


def chance(rows: Sequence[Mapping[str, Any]], metric: str = "ua") -> float | None:
    """Chance level of UA and recall: 1 / classes, the classes read from the runs' ``recall/<class>`` metrics (None for other metrics)."""
    if metric != "ua" and not metric.startswith("recall"):
        return None
    classes = {row["metric"].split("/", 1)[1] for row in rows if row["metric"].startswith("recall/")}
    return 1.0 / len(classes) if classes else None


def draw_chance(axes: Any, level: float | None) -> None:
    if level is not None:
        axes.axhline(level, color="0.55", linewidth=0.7, linestyle=":", zorder=0)


def chance_handle(level: float | None) -> list[Line2D]:
    return [] if level is None else [Line2D([], [], color="0.55", linewidth=0.7, linestyle=":", label=f"chance ({level:.2f})")]


def model_handles(models: Sequence[str], colour: Callable[[str], str], marker: str = "") -> list[Line2D]:
    """One legend entry per model: its colour."""
    return [Line2D([], [], color=colour(model), marker=marker, linewidth=1.6, label=model) for model in models]


def group_handles(groups: Sequence[str]) -> list[Line2D]:
    """One legend entry per line style (target solid, source dashed), in grey."""
    return [
        Line2D([], [], color="0.3", linestyle=LINES[g], marker=MARKERS[g], mfc="white" if g == "source" else "0.3", label=GROUP_NAMES[g])
        for g in groups
    ]


def legend_below(figure: Figure, handles: Sequence[Any]) -> None:
    """The figure's legend under its axes, in as many columns as fit its width (two at column width for most)."""
    if not handles:
        return
    longest = max(len(handle.get_label()) for handle in handles)
    columns = max(1, min(len(handles), int(figure.get_figwidth() / (0.35 + 0.05 * longest))))
    figure.legend(handles=handles, loc="outside lower center", ncols=columns)


def wrap(label: str, width: int = 16) -> str:
    """A label broken into lines of about ``width`` characters, after a comma, space, ``+`` or ``_``."""
    lines, line = [], ""
    for part in re.split(r"(?<=[, +_])", label):
        if line and len(line) + len(part.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += part
    return "\n".join([*lines, line.rstrip()])

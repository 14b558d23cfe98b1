"""The study's figures, one per question, each drawn only when the sweep varies what it shows: the cross-language
matrix, the few-shot curve, the noise curve, the pre-training ablation and per-class recall (and a confusion matrix
where one is given). PNG and PDF each; models named and coloured by the sweep (:class:`Names`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..sweep import Sweep
from .bars import best_model, class_recall, confusion_matrix, pretrained_bars
from .curves import fewshot_curve, noise_curve
from .matrix import crosslingual_matrix
from .names import PALETTE, Names
from .style import COLUMN, FULL, Drawn

__all__ = [
    "COLUMN",
    "FULL",
    "PALETTE",
    "Drawn",
    "Names",
    "best_model",
    "confusion_matrix",
    "make_figures",
    "make_plots",
]

FIGURES = (crosslingual_matrix, fewshot_curve, noise_curve, pretrained_bars, class_recall)


def make_figures(
    rows: Sequence[Mapping[str, Any]], metric: str, replicates: Sequence[str], folder: Path, names: Names | None = None, width: float = COLUMN
) -> list[Drawn]:
    """Every figure the runs allow, in ``folder`` (PNG and PDF each), drawn for a paper's column (``width=FULL``: for
    the full text width); models named and coloured by ``names`` (from the sweep), else by the runs' backbones."""
    names = names or Names()
    made = [figure(rows, metric, names, replicates, Path(folder), width=width) for figure in FIGURES]
    return [drawn for drawn in made if drawn is not None]


def make_plots(rows: Sequence[Mapping[str, Any]], metric: str, replicates: Sequence[str], folder: Path, sweep: Sweep | None = None) -> list[Path]:
    """The PNGs of :func:`make_figures` (their PDF twins beside them), models named and coloured by ``sweep``."""
    return [drawn.png for drawn in make_figures(rows, metric, replicates, folder, Names.from_sweep(sweep) if sweep else None)]

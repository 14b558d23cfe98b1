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
from .style import COLUMN, FULL, Drawn, baseline

__all__ = [
    "COLUMN",
    "FULL",
    "PALETTE",
    "Drawn",
    "Names",
    "best_confusion",
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


def best_confusion(
    rows: Sequence[Mapping[str, Any]], test_rows: Mapping[str, Any], metric: str, folder: Path, names: Names | None = None
) -> Drawn | None:
    """The confusion matrix of the best model (:func:`best_model`: target, clean audio, smallest k), summed over its
    runs' per-utterance test rows (``test_rows``: run name -> :class:`~ser_lightning.evaluation.EvaluationRows`) of
    that group; None when no run of it kept rows."""
    from ...evaluation.metrics import confusion

    names = names or Names()
    best = best_model(rows, metric, names)
    selected = [row for row in baseline(rows) if row["metric"] == metric]
    group = "target" if any(row["group"] == "target" for row in selected) else "all"
    runs = sorted({row["run"] for row in selected if row["group"] == group and names.model(row) == best and row["run"] in test_rows})
    if best is None or not runs:
        return None
    by_labels: dict[tuple[str, ...], list[str]] = {}  # a sweep over corpora may mix label spaces: sum like with like
    for run in runs:
        by_labels.setdefault(tuple(test_rows[run].label_names), []).append(run)
    runs = max(by_labels.values(), key=len)
    total = None
    for run in runs:
        kept = test_rows[run]
        mask = kept.column("snr") == "clean"
        if group == "target":
            mask &= kept.column("role") == "target"
        chosen = kept.select(mask)
        matrix = confusion(chosen.labels, chosen.predictions, len(chosen.label_names))
        total = matrix if total is None else total + matrix
    title = f"{best}: {group} ({len(runs)} run{'s' * (len(runs) > 1)}"
    title += f", those with these {len(kept.label_names)} classes)" if len(by_labels) > 1 else ")"
    return confusion_matrix(total, kept.label_names, Path(folder), title=title, name="confusion")

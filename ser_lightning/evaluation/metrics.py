"""Grouped metrics from a table of evaluation rows: the one place test metrics are computed (numpy, no torch).

UA is the mean recall over the classes present in the reference labels (the field's headline); WA the accuracy;
macro-F1 the mean F1 over the classes present in the reference or the predictions (torchmetrics' convention); ECE the
expected calibration error (L1, 15 equal-width confidence bins, torchmetrics' binning). They equal torchmetrics'
``MulticlassAccuracy``/``MulticlassF1Score``/``MulticlassCalibrationError`` and the project's UA on the same
predictions (tested). A :class:`Group` is structured (a meta field and its value, at an SNR); names such as
``target/snr10`` are made from it by :mod:`ser_lightning.naming` only at the edges (logged keys, results files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..naming import ALL, CLEAN, group_key
from .rows import EvaluationRows

ECE_BINS = 15
SCALARS = ("ua", "wa", "f1")


@dataclass(frozen=True)
class Group:
    """A test group: the rows whose ``field`` (role, corpus, language, speaker) is ``value`` (both None: all rows), at
    SNR tag ``snr`` (``clean`` or dB)."""

    field: str | None = None
    value: str | None = None
    snr: str = CLEAN

    def mask(self, rows: EvaluationRows) -> np.ndarray:
        """Which rows belong to the group."""
        mask = rows.column("snr") == self.snr
        return mask & (rows.column(self.field) == self.value) if self.field is not None else mask


def confusion(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """The confusion matrix [C, C] (rows: true class, columns: predicted)."""
    return np.bincount(labels * classes + predictions, minlength=classes * classes).reshape(classes, classes)


def ua(matrix: np.ndarray) -> float:
    """Mean recall over the classes present in the reference (0 without any row)."""
    support = matrix.sum(-1)
    present = support > 0
    if not present.any():
        return 0.0
    return float((np.diagonal(matrix)[present] / support[present]).mean())


def wa(matrix: np.ndarray) -> float:
    """Accuracy."""
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else 0.0


def macro_f1(matrix: np.ndarray) -> float:
    """Mean F1 over the classes present in the reference or the predictions."""
    tp = np.diagonal(matrix).astype(np.float64)
    fp, fn = matrix.sum(0) - tp, matrix.sum(1) - tp
    seen = tp + fp + fn > 0
    if not seen.any():
        return 0.0
    denominator = 2 * tp + fp + fn
    return float(np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), 0.0)[seen].mean())


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE (L1) of ``probabilities`` [N, C]: |accuracy - confidence| per confidence bin, weighted by the bin's share."""
    if len(labels) == 0:
        return 0.0
    probabilities = probabilities.astype(np.float32)
    confidences = probabilities.max(1)
    correct = (probabilities.argmax(1) == labels).astype(np.float32)
    boundaries = np.linspace(0, 1, bins + 1, dtype=np.float32)
    index = np.searchsorted(boundaries, confidences, side="right") - 1  # torch.bucketize(..., right=True) - 1
    count = np.bincount(index, minlength=bins + 1).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.nan_to_num(np.bincount(index, weights=confidences, minlength=bins + 1).astype(np.float32) / count)
        accuracy = np.nan_to_num(np.bincount(index, weights=correct, minlength=bins + 1).astype(np.float32) / count)
    return float(np.sum(np.abs(accuracy - confidence) * (count / count.sum())))


def scores(rows: EvaluationRows) -> dict[str, float]:
    """UA, WA, macro-F1, ECE after (``ece``) and before (``ece_uncalibrated``) temperature scaling, and ``n`` (rows)."""
    matrix = confusion(rows.labels, rows.predictions, len(rows.label_names))
    return {
        "ua": ua(matrix),
        "wa": wa(matrix),
        "f1": macro_f1(matrix),
        "ece": expected_calibration_error(rows.probabilities, rows.labels),
        "ece_uncalibrated": expected_calibration_error(rows.uncalibrated, rows.labels),
        "n": float(len(rows)),
    }


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def groups_of(rows: EvaluationRows, by: Sequence[str] = ("role", "language")) -> list[Group]:
    """Every group with rows: all rows, then each value of each ``by`` field (sorted), each at every SNR of the rows (in
    the order tested)."""
    snrs = _ordered(rows.meta["snr"])
    groups = [Group(snr=snr) for snr in snrs]
    for field in by:
        for value in sorted(set(rows.meta[field]) - {""}):
            groups += [Group(field, value, snr) for snr in snrs]
    present = [group for group in groups if group.mask(rows).any()]
    # all rows first, then per value, SNRs within each (as the tables print them)
    return sorted(present, key=lambda g: (g.field is not None, by.index(g.field) if g.field else -1, g.value or "", snrs.index(g.snr)))


def group_metrics(rows: EvaluationRows, by: Sequence[str] = ("role", "language")) -> dict[Group, dict[str, float]]:
    """:func:`scores` of every group of :func:`groups_of` (groups without rows are left out)."""
    return {group: scores(rows.select(group.mask(rows))) for group in groups_of(rows, by)}


def groups_by_name(results: Mapping[Group, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """The groups named as results files and logs name them: ``all``, ``target``, ``ur/snr10``; a value that two fields
    share (a speaker named like a language) is named ``field:value`` for the later field, so no two groups merge."""
    named: dict[str, dict[str, float]] = {}
    owner: dict[str, str | None] = {}
    for group, row in results.items():
        value = ALL if group.field is None else group.value
        if value in owner and owner[value] != group.field:
            value = f"{group.field}:{group.value}"
        owner.setdefault(value, group.field)
        named[group_key(value, group.snr)] = dict(row)
    return named


def logged_metrics(named: Mapping[str, Mapping[str, float]], names: Sequence[str] = (*SCALARS, "ece", "ece_uncalibrated")) -> dict[str, float]:
    """``test/<metric>`` for ``all`` and ``test/<metric>/<group>`` for the others, from :func:`groups_by_name` results."""
    metrics = {}
    for group, row in named.items():
        suffix = "" if group == ALL else f"/{group}"
        metrics |= {f"test/{name}{suffix}": float(row[name]) for name in names if name in row}
    return metrics


def per_class_recall(rows: EvaluationRows) -> dict[str, float]:
    """Recall of every class present in ``rows``, by class name."""
    matrix = confusion(rows.labels, rows.predictions, len(rows.label_names))
    support = matrix.sum(1)
    return {name: float(matrix[i, i] / support[i]) for i, name in enumerate(rows.label_names) if support[i]}

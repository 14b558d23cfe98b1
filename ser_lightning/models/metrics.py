"""SER metrics with torchmetrics: UA (macro recall, the field's headline), WA (accuracy), macro-F1, confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score

from ..naming import CLEAN, split_group_key
from .calibration import calibration_error

SCALARS = ("ua", "wa", "f1")


class UnweightedAverageRecall(MulticlassConfusionMatrix):
    """UA: the mean recall over the classes that occur in the reference labels.

    torchmetrics' macro recall counts a class that is predicted but absent from the reference as
    recall 0, which understates UA for any test group (a language, a corpus) that lacks a class.
    """

    def compute(self) -> torch.Tensor:
        matrix = super().compute()
        support = matrix.sum(1)
        present = support > 0
        if not present.any():
            return torch.tensor(0.0, device=matrix.device)
        return (matrix.diagonal()[present].float() / support[present].float()).mean()


def ser_metrics(num_classes: int, confusion: bool = False, ece: bool = False) -> MetricCollection:
    """UA, WA and macro-F1 (and the confusion matrix when ``confusion``, the expected calibration error when ``ece``:
    then update it with probabilities)."""
    metrics = {
        "ua": UnweightedAverageRecall(num_classes),
        "wa": MulticlassAccuracy(num_classes, average="micro"),
        "f1": MulticlassF1Score(num_classes, average="macro"),
    }
    if confusion:
        metrics["confusion"] = MulticlassConfusionMatrix(num_classes)
    if ece:
        metrics["ece"] = calibration_error(num_classes)
    return MetricCollection(metrics)


def results_table(results: Mapping[str, Mapping[str, float]], title: str = "Test results") -> str:
    """A plain-text table: one row per group (all, roles, languages) and SNR, with UA, WA, macro-F1, ECE before and after
    temperature scaling (where measured) and N."""
    rows = [(*split_group_key(key), row) for key, row in results.items()]
    noisy = any(snr != CLEAN for _, snr, _ in rows)
    order = {group: i for i, group in enumerate(dict.fromkeys(group for group, _, _ in rows))}
    rows.sort(key=lambda r: order[r[0]])  # stable: SNRs stay in the order they were tested
    calibrated = all("ece" in row and "ece_uncalibrated" in row for _, _, row in rows)
    snr_head = f" {'SNR':>6}" if noisy else ""
    ece_head = f" {'ECE':>6} {'ECE(T)':>6}" if calibrated else ""
    lines = [title, f"{'group':<10}{snr_head} {'UA':>6} {'WA':>6} {'F1':>6}{ece_head} {'N':>6}"]
    for group, snr, row in rows:
        snr_cell = f" {snr:>6}" if noisy else ""
        ece_cells = f" {row['ece_uncalibrated']:>6.3f} {row['ece']:>6.3f}" if calibrated else ""
        lines.append(f"{group:<10}{snr_cell} {row['ua']:>6.3f} {row['wa']:>6.3f} {row['f1']:>6.3f}{ece_cells} {int(row['n']):>6d}")
    if calibrated:
        lines.append("ECE: expected calibration error of the softmax; ECE(T): after temperature scaling fit on the validation speakers.")
    return "\n".join(lines)


def confusion_markdown(matrix: torch.Tensor, label_names: Sequence[str]) -> str:
    """A confusion matrix (rows: true class, columns: predicted) as a Markdown table for TensorBoard's text tab."""
    header = "| true \\ predicted | " + " | ".join(label_names) + " |"
    rule = "|---" * (len(label_names) + 1) + "|"
    rows = [f"| {name} | " + " | ".join(str(int(v)) for v in matrix[i]) + " |" for i, name in enumerate(label_names)]
    return "\n".join([header, rule, *rows])

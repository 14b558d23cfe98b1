"""Confusion matrices for TensorBoard: per-class recall and the matrix rendered as an RGB image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def per_class_recall(matrix: torch.Tensor) -> dict[int, float]:
    """Recall of each class that occurs in the reference labels (rows: true class, columns: predicted).

    Classes without reference examples have no recall and are left out (not reported as 0).
    """
    support = matrix.sum(1)
    return {i: float(matrix[i, i] / support[i]) for i in range(matrix.shape[0]) if support[i] > 0}


def confusion_image(matrix: torch.Tensor, label_names: Sequence[str], title: str = "") -> np.ndarray:
    """The confusion matrix as an RGB image [H, W, 3] (uint8): colour is the row-normalised rate, text the count.

    Drawn with matplotlib's Agg canvas directly (no pyplot), so the process's plotting backend is untouched.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = matrix.detach().cpu().numpy().astype(np.int64)
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    size = 1.2 + 0.75 * len(label_names)
    figure = Figure(figsize=(size + 0.8, size), dpi=100, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of the true class")
    ticks = range(len(label_names))
    axes.set_xticks(ticks, label_names, rotation=45, ha="right")
    axes.set_yticks(ticks, label_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if title:
        axes.set_title(title)
    for (row, col), count in np.ndenumerate(counts):
        axes.text(col, row, str(count), ha="center", va="center", color="white" if rates[row, col] > 0.5 else "black", fontsize=9)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()

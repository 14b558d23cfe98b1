"""Calibrated probabilities: temperature scaling fit on the validation speakers, and the expected calibration error.

A classifier's softmax is often over-confident; dividing its logits by one temperature ``T`` (Guo et al. 2017,
"On Calibration of Modern Neural Networks") that minimises the negative log-likelihood of held-out data fixes
most of it without changing a single prediction (the argmax is the same for every ``T > 0``). ``EmotionRecognizer``
fits ``T`` on each validation epoch's logits, so a checkpoint carries the temperature of its own epoch.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F
from torchmetrics.classification import MulticlassCalibrationError

T_RANGE = (0.05, 20.0)
ECE_BINS = 15


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, steps: int = 100) -> float:
    """The temperature in :data:`T_RANGE` minimising the NLL of ``softmax(logits / T)`` on ``labels`` (1.0 without data).

    Optimised over ``log T`` with L-BFGS in float64: a smooth one-dimensional problem with one minimum.
    """
    if logits.numel() == 0 or len(labels) == 0:
        return 1.0
    with torch.inference_mode(False), torch.enable_grad():  # validation hooks run under inference mode
        logits, labels = logits.detach().double().cpu().clone(), labels.detach().long().cpu().clone()
        log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(logits / log_t.exp(), labels)
            loss.backward()
            return loss

        optimizer.step(closure)
        temperature = float(log_t.detach().exp())
    return min(max(temperature, T_RANGE[0]), T_RANGE[1]) if temperature == temperature else 1.0  # NaN: keep the identity


def calibrated(logits: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
    """Class probabilities ``softmax(logits / T)`` in float32 (T = 1: the plain softmax)."""
    return (logits.float() / temperature).softmax(-1)


def calibration_error(num_classes: int) -> MulticlassCalibrationError:
    """Expected calibration error (L1, 15 equal-width confidence bins), updated with probabilities."""
    return MulticlassCalibrationError(num_classes=num_classes, n_bins=ECE_BINS, norm="l1")


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """ECE of ``probabilities`` [N, C] against ``labels`` [N] (the metric :func:`calibration_error` computes)."""
    metric = calibration_error(probabilities.shape[-1])
    metric.update(probabilities.float(), labels.long())
    return float(metric.compute())


MIN_CALIBRATION_UTTERANCES = 20  # a temperature fit on fewer validation utterances follows their noise, not the model


class TemperatureFit:
    """One validation epoch's logits and labels, gathered from every rank, and the temperature fit on them.

    The fit is refused (``fit`` returns None and :attr:`refused` says why) when the validation data lacks a class or
    has fewer than :data:`MIN_CALIBRATION_UTTERANCES` utterances: a temperature fit on one class only learns to be
    confident, and one fit on a handful of utterances learns their noise.
    """

    def __init__(self) -> None:
        self.logits: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        self.refused: str | None = None

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        self.logits.append(logits.detach().float().cpu())
        self.labels.append(labels.detach().cpu())

    def reset(self) -> None:
        """Forget the epoch's logits without fitting (not calibrating, or a sanity check)."""
        self.logits, self.labels = [], []

    def fit(self, num_classes: int | None = None) -> float | None:
        """The temperature of the epoch's validation data (every rank gets the same), or None without enough of it
        (see the class docstring); then forgets it."""
        logits = torch.cat(self.logits) if self.logits else torch.empty(0, 0)
        labels = torch.cat(self.labels) if self.labels else torch.empty(0, dtype=torch.long)
        self.reset()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            shards: list = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(shards, (logits, labels))
            kept = [(lo, la) for lo, la in shards if len(la)]
            logits = torch.cat([lo for lo, _ in kept]) if kept else logits
            labels = torch.cat([la for _, la in kept]) if kept else labels
        self.refused = _refusal(labels, num_classes)
        return fit_temperature(logits, labels) if self.refused is None else None


def _refusal(labels: torch.Tensor, num_classes: int | None) -> str | None:
    """Why the validation labels cannot calibrate (None when they can)."""
    present = sorted(set(labels.tolist()))
    if num_classes is not None and len(present) < num_classes:
        missing = num_classes - len(present)
        return (
            f"Temperature scaling not fit: the validation split has {len(present)} of {num_classes} classes ({missing} missing) "
            "and val/ua selects checkpoints on it; give more validation speakers (data val_speakers) so every class is in it"
        )
    if len(labels) < MIN_CALIBRATION_UTTERANCES:
        return (
            f"Temperature scaling not fit: the validation split has {len(labels)} utterance(s), fewer than {MIN_CALIBRATION_UTTERANCES}; "
            "give more validation speakers (data val_speakers)"
        )
    return None

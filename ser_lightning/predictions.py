"""From ``predict_step`` outputs to one prediction per file: gathering across ranks, window averaging, CSV/JSONL files."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from typing_extensions import override

Row = tuple[str, float, float | None, list[float]]  # path, window start and end in seconds (end None: whole file), class probabilities


@dataclass(frozen=True)
class FilePrediction:
    """The prediction for one file: its label, class probabilities (mean over its windows) and window count."""

    path: str
    label: str
    probabilities: dict[str, float]
    windows: int = 1

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (one line of the JSONL output)."""
        return {"path": self.path, "prediction": self.label, "probabilities": self.probabilities, "windows": self.windows}


def prediction_rows(batches: Sequence[dict[str, Any]]) -> list[Row]:
    """(path, window start, window end, probabilities) per window from ``predict_step`` outputs (start 0 and end None
    for whole utterances)."""
    rows: list[Row] = []
    for batch in batches:
        size = len(batch["path"])
        starts, ends = batch.get("start") or [0.0] * size, batch.get("end") or [None] * size
        for path, start, end, probs in zip(batch["path"], starts, ends, batch["probabilities"].tolist()):
            rows.append((path, float(start), None if end is None else float(end), probs))
    return rows


def gather_rows(rows: list[Row]) -> list[Row]:
    """All ranks' rows on every rank (DDP), without the repeats a DistributedSampler adds to even out shards."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        shards: list = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(shards, rows)
        rows = [row for shard in shards for row in shard]
    return list({(row[0], row[1]): row for row in rows}.values())


def aggregate_windows(rows: Sequence[Row], label_names: Sequence[str]) -> list[FilePrediction]:
    """One prediction per file, sorted by path: the mean of its windows' class probabilities and its argmax."""
    per_file: dict[str, list[list[float]]] = defaultdict(list)
    for path, _, _, probs in sorted(rows, key=lambda row: (row[0], row[1])):
        per_file[path].append(probs)
    predictions = []
    for path, windows in sorted(per_file.items()):
        mean = torch.tensor(windows, dtype=torch.float64).mean(0)
        label = label_names[int(mean.argmax())]
        predictions.append(FilePrediction(path, label, {name: float(p) for name, p in zip(label_names, mean.tolist())}, len(windows)))
    return predictions


def write_windows(rows: Sequence[Row], label_names: Sequence[str], path: Path) -> Path:
    """Emotion over time: one row per window (path, start, end in seconds, prediction, ``p_<label>``), sorted by file and
    start; CSV, or JSON lines for a ``.jsonl``/``.json`` path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=lambda row: (row[0], row[1]))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = None if path.suffix.lower() in (".jsonl", ".json") else csv.writer(handle)
        if writer is not None:
            writer.writerow(["path", "start", "end", "prediction", *(f"p_{name}" for name in label_names)])
        for file, start, end, probs in ordered:
            label = label_names[max(range(len(probs)), key=probs.__getitem__)]
            if writer is None:
                record = {"path": file, "start": start, "end": end, "prediction": label, "probabilities": dict(zip(label_names, probs))}
                handle.write(json.dumps(record) + "\n")
            else:
                writer.writerow([file, f"{start:.3f}", "" if end is None else f"{end:.3f}", label, *(f"{p:.6f}" for p in probs)])
    return path


def write_predictions(predictions: Sequence[FilePrediction], label_names: Sequence[str], path: Path) -> Path:
    """Write CSV (path, prediction, ``p_<label>`` per class) or, for a ``.jsonl``/``.json`` path, JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        if path.suffix.lower() in (".jsonl", ".json"):
            for prediction in predictions:
                handle.write(json.dumps(prediction.as_json()) + "\n")
            return path
        writer = csv.writer(handle)
        writer.writerow(["path", "prediction", *(f"p_{name}" for name in label_names)])
        for prediction in predictions:
            writer.writerow([prediction.path, prediction.label, *(f"{prediction.probabilities[name]:.6f}" for name in label_names)])
    return path


class PredictionWriter(BasePredictionWriter):
    """Writes one row per file when ``predict`` ends: label and class probabilities, windows averaged.

    Under DDP every rank's predictions are gathered first (without the sampler's repeats) and rank 0 writes.

    Args:
        output: the file to write; a ``.jsonl`` ending writes JSON lines (with the number of windows per
            file), anything else CSV. Null writes ``predictions.csv`` in the run's log folder (the working
            directory without a logger).
        windows_output: also write emotion over time to this file: one row per window of every file, with its
            start and end in seconds (``AudioFiles`` cuts long files into windows; ``.jsonl`` for JSON lines).
    """

    def __init__(self, output: str | None = None, windows_output: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output = output
        self.windows_output = windows_output

    @override
    def write_on_epoch_end(self, trainer: Trainer, pl_module: LightningModule, predictions: Sequence[Any], batch_indices: Sequence[Any]) -> None:
        if predictions and isinstance(predictions[0], list):  # several dataloaders: one list of batches each
            predictions = [batch for loader in predictions for batch in loader]
        rows = gather_rows(prediction_rows(predictions))
        log_dir = None if self.output else trainer.log_dir  # a broadcast under DDP: every rank takes part
        if not trainer.is_global_zero or not rows:
            return
        label_names = list(pl_module.label_names)
        path = Path(self.output) if self.output else Path(log_dir or ".") / "predictions.csv"
        files = aggregate_windows(rows, label_names)
        write_predictions(files, label_names, path)
        print(f"Wrote {len(files)} predictions to {path}", flush=True)
        if self.windows_output:
            windows = write_windows(rows, label_names, Path(self.windows_output))
            print(f"Wrote {len(rows)} window predictions (emotion over time) to {windows}", flush=True)


def predict_files(
    model: LightningModule,
    files: str | Path | Sequence[str | Path],
    window_seconds: float | None = 8.0,
    hop_seconds: float | None = None,
    batch_size: int = 8,
    sample_rate: int = 16000,
    accelerator: str = "auto",
) -> list[FilePrediction]:
    """:meth:`EmotionRecognizer.predict_files <ser_lightning.models.EmotionRecognizer.predict_files>`: one prediction per file."""
    from .data.files import AudioFiles

    data = AudioFiles(files, sample_rate=sample_rate, window_seconds=window_seconds, hop_seconds=hop_seconds, batch_size=batch_size)
    trainer = Trainer(
        accelerator=accelerator, devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    batches = trainer.predict(model, datamodule=data, return_predictions=True)
    return aggregate_windows(prediction_rows(batches or []), model.label_names)

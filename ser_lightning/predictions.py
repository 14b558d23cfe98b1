"""From ``predict_step`` outputs to one prediction per file: gathering across ranks, window averaging, CSV/JSONL files."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter, ProgressBar, RichProgressBar, TQDMProgressBar
from typing_extensions import override

from .config_errors import ConfigError

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


OUTPUT_OPTIONS = {"output": "--predictions.output", "windows_output": "--predictions.windows_output", "timeline": "--predictions.timeline"}
TIMELINE_SUFFIXES = (".png", ".svg", ".pdf")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (after links and ``..``; an existing pair is compared by inode)."""
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_outputs(outputs: dict[str, str | None], inputs: Sequence[str] = ()) -> None:
    """Raise ``ConfigError`` (one line naming both and the fix) when an output of ``predict`` would be written onto one
    of its inputs or onto another of its outputs, or when its name is that of an audio file or a list of files."""
    from .data.audio_files import AUDIO_EXTENSIONS, LIST_EXTENSIONS

    given = {OUTPUT_OPTIONS[key]: Path(value) for key, value in outputs.items() if value}
    for option, path in given.items():
        if path.suffix.lower() in AUDIO_EXTENSIONS + LIST_EXTENSIONS:
            raise ConfigError(f"{option} {path} names an audio file or a file list (an input of predict); give a .csv or .jsonl path instead.")
        if option == OUTPUT_OPTIONS["timeline"] and path.suffix.lower() not in TIMELINE_SUFFIXES:
            raise ConfigError(f"{option} {path}: a timeline is a picture; give a path ending in {', '.join(TIMELINE_SUFFIXES)}.")
    options = list(given)
    for i, first in enumerate(options):
        for second in options[i + 1 :]:
            if _same_file(given[first], given[second]):
                raise ConfigError(f"{first} and {second} are both {given[first]}: one would overwrite the other; give them different paths.")
    for option, path in given.items():
        for source in inputs:
            if _same_file(path, Path(source)):
                raise ConfigError(f"{option} {path} is one of predict's inputs ({source}): writing there would destroy it; give another path.")


class PredictionWriter(BasePredictionWriter):
    """Writes one row per file when ``predict`` ends: label and class probabilities, windows averaged.

    Under DDP every rank's predictions are gathered first (without the sampler's repeats) and rank 0 writes.
    No output is written onto an input of the command or onto another output: such paths stop ``predict`` (with
    one line naming both) before anything is predicted. With a progress bar on (``--trainer.enable_progress_bar``),
    it shows the files done and files per second beside the batches and the time left.

    Args:
        output: the file to write; a ``.jsonl`` ending writes JSON lines (with the number of windows per
            file), anything else CSV. Null writes ``predictions.csv`` in the run's log folder (the working
            directory without a logger).
        windows_output: also write emotion over time to this file: one row per window (or segment of speech,
            with ``--data.segment vad``) of every file, with its start and end in seconds (``.jsonl`` for JSON
            lines). With ``--data.segment vad`` the segments are written even without it, to
            ``<output>_segments.<suffix>`` beside the output.
        timeline: also draw the class probabilities over time, the segments and their predicted labels, one
            panel per file, into this picture (``.png``, ``.svg`` or ``.pdf``).
        timeline_files: the most files the timeline draws (the first ones by path); a line at its top says
            how many files there were.
    """

    def __init__(self, output: str | None = None, windows_output: str | None = None, timeline: str | None = None, timeline_files: int = 8) -> None:
        super().__init__(write_interval="epoch")
        if timeline_files < 1:
            raise ValueError(f"timeline_files must be at least 1, got {timeline_files}.")
        check_outputs({"output": output, "windows_output": windows_output, "timeline": timeline})
        self.output = output
        self.windows_output = windows_output
        self.timeline = timeline
        self.timeline_files = timeline_files
        self._progress: FileProgress | None = None

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        inputs = getattr(trainer.datamodule, "input_paths", None)
        if stage == "predict" and callable(inputs):
            check_outputs({"output": self.output, "windows_output": self.windows_output, "timeline": self.timeline}, inputs())

    @override
    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        bar = trainer.progress_bar_callback
        loaders = trainer.predict_dataloaders
        loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
        windows = [window for loader in loaders for window in getattr(getattr(loader, "dataset", None), "windows", [])]
        self._progress = FileProgress(bar, [window.path for window in windows]) if bar is not None and windows else None

    @override
    def on_predict_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        super().on_predict_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)
        if self._progress is not None and isinstance(outputs, dict):
            self._progress.update(outputs["path"])

    @override
    def write_on_epoch_end(self, trainer: Trainer, pl_module: LightningModule, predictions: Sequence[Any], batch_indices: Sequence[Any]) -> None:
        if predictions and isinstance(predictions[0], list):  # several dataloaders: one list of batches each
            predictions = [batch for loader in predictions for batch in loader]
        rows = gather_rows(prediction_rows(predictions))
        log_dir = None if self.output else trainer.log_dir  # a broadcast under DDP: every rank takes part
        if not trainer.is_global_zero:
            return
        if not rows:
            print("Wrote no predictions: no window or segment of speech was predicted.", flush=True)
            return
        label_names = list(pl_module.label_names)
        path = Path(self.output) if self.output else Path(log_dir or ".") / "predictions.csv"
        files = aggregate_windows(rows, label_names)
        write_predictions(files, label_names, path)
        print(f"Wrote {len(files)} predictions to {path}", flush=True)
        by_vad = getattr(trainer.datamodule, "segment", "fixed") == "vad"
        windows_path = Path(self.windows_output) if self.windows_output else path.with_name(f"{path.stem}_segments{path.suffix}") if by_vad else None
        if windows_path is not None:
            write_windows(rows, label_names, windows_path)
            what = "segments of speech" if by_vad else "window predictions (emotion over time)"
            print(f"Wrote {len(rows)} {what} to {windows_path}", flush=True)
        if self.timeline:
            from .predictions_timeline import draw_timeline

            drawn = draw_timeline(rows, label_names, Path(self.timeline), max_files=self.timeline_files)
            print(f"Drew the timeline of {drawn} file(s) to {self.timeline}", flush=True)


class FileProgress:
    """Files done and files per second, shown in Lightning's predict progress bar (TQDM or Rich), which itself shows
    the batches done and the time left."""

    def __init__(self, bar: ProgressBar, paths: Sequence[str]) -> None:
        self.bar = bar
        self.remaining = Counter(paths)
        self.files = len(self.remaining)
        self.done = 0
        self.started = time.perf_counter()

    def update(self, paths: Sequence[str]) -> None:
        for path in paths:
            self.remaining[path] -= 1
            self.done += self.remaining[path] == 0
        text = f"{self.done}/{self.files} files, {self.done / max(time.perf_counter() - self.started, 1e-9):.1f} files/s"
        if isinstance(self.bar, TQDMProgressBar) and self.bar._predict_progress_bar is not None:
            self.bar.predict_progress_bar.set_postfix_str(text)
        elif isinstance(self.bar, RichProgressBar) and self.bar.progress is not None and self.bar.predict_progress_bar_id is not None:
            self.bar.progress.update(self.bar.predict_progress_bar_id, description=f"{self.bar.predict_description} ({text})")


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
    from .data.audio_files import AudioFiles

    data = AudioFiles(files, sample_rate=sample_rate, window_seconds=window_seconds, hop_seconds=hop_seconds, batch_size=batch_size)
    trainer = Trainer(
        accelerator=accelerator, devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    batches = trainer.predict(model, datamodule=data, return_predictions=True)
    return aggregate_windows(prediction_rows(batches or []), model.label_names)

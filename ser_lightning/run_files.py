"""The files a run leaves in its log folder, written by one callback (as Lightning's ``SaveConfigCallback`` writes
``config.yaml``): what it trained and tested on, once the DataModule is set up, and what each test found.

==========================  =====================================================================================
``split.json``              utterances per class of every split, speakers, roles, languages, the shots drawn
``shots.jsonl``             the few-shot target utterances (a manifest: paths, labels, speakers)
``bad_audio.csv``           files ``on_bad_audio: skip`` left out, with the reason
``skipped_files.csv``       files a corpus parser could not name (odd names of real releases)
``test_predictions.csv.gz`` one row per test utterance and SNR (:mod:`ser_lightning.evaluation`)
``results.json``            test metrics computed from those rows, per group, with the resolved config
==========================  =====================================================================================

The DataModule and the model only hold what they know (:meth:`SERDataModule.record`, ``EmotionRecognizer.test_rows``);
the CLI adds a :class:`RunRecorder` to every run. Add one yourself to a plain ``Trainer`` to get the same files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info
from typing_extensions import override

from .data.datamodule import DataRecord, SERDataModule
from .data.manifest import write_manifest
from .data.summary import write_summary
from .evaluation import ROWS_FILE, Group, logged_metrics, write_rows
from .evaluation.metrics import per_class_recall
from .fileio import write_text_atomic
from .models import EmotionRecognizer
from .results import write_results

SHOTS_FILE = "shots.jsonl"
BAD_AUDIO_FILE = "bad_audio.csv"
SKIPPED_FILES_FILE = "skipped_files.csv"


class RunRecorder(Callback):
    """Writes a run's data files after the DataModule's ``setup`` and ``test_predictions.csv.gz`` + ``results.json``
    after every test, in ``trainer.log_dir`` on the global-zero process (the table in this module's docstring).

    Args:
        subcommand: what ``results.json`` records as the command that tested (``fit`` for its test after fitting).
        config: the run's resolved config, kept in ``results.json`` (sweeps read the study's fields from it).
    """

    def __init__(self, subcommand: str = "fit", config: Mapping[str, Any] | None = None) -> None:
        self.subcommand = subcommand
        self.config = dict(config or {})
        self._recorded: set[str] = set()

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        log_dir = trainer.log_dir  # a broadcast under DDP: every rank takes part
        if not isinstance(datamodule, SERDataModule) or not datamodule.datasets or log_dir is None or not trainer.is_global_zero:
            return
        if str(log_dir) in self._recorded:  # a test after fitting sets the DataModule up again, for the same folder
            return
        self._recorded.add(str(log_dir))
        write_data_files(Path(log_dir), datamodule.record(), summary=bool(trainer.loggers))  # without a logger, log_dir is the working directory

    @override
    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        log_dir = trainer.log_dir  # a broadcast under DDP: every rank must take part, not rank 0 alone
        if not isinstance(pl_module, EmotionRecognizer) or not trainer.is_global_zero or log_dir is None:
            return
        rows, groups = pl_module.test_rows, pl_module.test_results
        if rows is None or not groups:
            return
        predictions = write_rows(rows, Path(log_dir) / ROWS_FILE)
        clean = rows.select(Group().mask(rows))
        metrics = logged_metrics(groups) | {f"test/recall/{name}": value for name, value in per_class_recall(clean).items()}
        datamodule = trainer.datamodule
        data = datamodule.record().summary if isinstance(datamodule, SERDataModule) and datamodule.datasets else None
        write_results(log_dir, self.subcommand, trainer.ckpt_path, metrics, groups, self.config, data=data or None, predictions=predictions.name)


def write_data_files(folder: Path, record: DataRecord, summary: bool = True) -> list[Path]:
    """``split.json`` (unless ``summary`` is false), ``shots.jsonl`` and the listings of files left out, in ``folder``;
    each written file is named in the log. Returns the paths written."""
    written = [write_summary(folder, record.summary)] if summary else []
    if record.shots:
        written.append(write_manifest(record.shots, folder / SHOTS_FILE))
        rank_zero_info(f"The {len(record.shots)} shots are listed in {written[-1]}.")
    for name, files, what in (
        (BAD_AUDIO_FILE, record.bad_audio, "skipped bad audio file(s)"),
        (SKIPPED_FILES_FILE, record.skipped_files, "file(s) the corpus parsers skipped"),
    ):
        if files:
            written.append(write_listing(folder / name, files))
            rank_zero_info(f"The {len(files)} {what} are listed in {written[-1]}.")
    return written


def write_listing(path: Path, files: Mapping[str, str]) -> Path:
    """``path, reason`` rows, sorted by path, in a CSV file written atomically."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")  # the text file turns it into the platform's line end
    writer.writerow(["path", "reason"])
    writer.writerows(sorted(files.items()))
    return write_text_atomic(path, text.getvalue())

"""``python -m ser_lightning {fit,validate,test,predict} --config CONFIG``: LightningCLI with the project's defaults."""

from __future__ import annotations

import csv
import importlib.resources
import sys
import warnings
from pathlib import Path
from typing import Sequence

import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from .data import SERDataModule
from .models import EmotionRecognizer
from .models.metrics import results_table



def shipped_configs() -> Path:
    """The folder of configs shipped inside the package (``ser_lightning/configs``; the project's ``configs/`` links to it)."""
    return Path(str(importlib.resources.files("ser_lightning") / "configs"))


def resolve_config_paths(argv: Sequence[str], search: Sequence[Path] | None = None) -> list[str]:
    """Let ``--config xlsr_fewshot.yaml`` name a shipped config when no such file is in the working directory.

    Args:
        argv: the command line after the program name.
        search: folders to look in, in order (default: ``./configs``, then the package's shipped configs).
    """
    search = (Path("configs"), shipped_configs()) if search is None else search
    resolved = list(argv)
    for i, arg in enumerate(resolved):
        if arg in ("-c", "--config") and i + 1 < len(resolved):
            index, value, prefix = i + 1, resolved[i + 1], ""
        elif arg.startswith("--config="):
            index, value, prefix = i, arg.split("=", 1)[1], "--config="
        else:
            continue
        if Path(value).exists():
            continue
        candidates = (folder / name for folder in search for name in (value, f"{value}.yaml"))
        found = next((candidate for candidate in candidates if candidate.is_file()), None)
        if found is not None:
            resolved[index] = prefix + str(found)
    return resolved


def prediction_rows(batches: Sequence[dict]) -> list[tuple[str, str, list[float]]]:
    """(path, predicted label, class probabilities) per utterance from ``predict_step`` outputs."""
    return [row for batch in batches for row in zip(batch["path"], batch["prediction"], batch["probabilities"].tolist())]


def gather_rows(rows: list) -> list:
    """All ranks' rows on every rank (DDP), without the repeats a DistributedSampler adds to even out shards."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        shards: list = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(shards, rows)
        rows = [row for shard in shards for row in shard]
    return list({row[0]: row for row in rows}.values())


def write_predictions(rows: Sequence[tuple[str, str, list[float]]], label_names: Sequence[str], path: Path) -> Path:
    """Write predictions as CSV: path, predicted label, one probability column per class."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "prediction", *(f"p_{name}" for name in label_names)])
        for file, label, probs in rows:
            writer.writerow([file, label, *(f"{p:.4f}" for p in probs)])
    return path


class SERLightningCLI(LightningCLI):
    """LightningCLI for :class:`EmotionRecognizer` and any :class:`SERDataModule`.

    Defaults: TensorBoard under ``logs/``, checkpoints (best by ``val/ua`` and ``last``) under
    ``checkpoints/``; ``num_classes`` and ``label_names`` come from the DataModule. ``fit`` ends by
    testing the best checkpoint and printing UA/WA per test group (``--test_after_fit false`` skips it).
    """

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # Lightning 2.6 writes `save_last` only when a top-k checkpoint is saved, so last.ckpt would lag behind
        # whenever val/ua stops improving; a second, unmonitored checkpoint keeps last.ckpt current every epoch.
        parser.add_lightning_class_args(ModelCheckpoint, "last_checkpoint")
        parser.link_arguments("checkpoint.dirpath", "last_checkpoint.dirpath")
        parser.set_defaults(
            {
                "checkpoint.dirpath": "checkpoints/ser",
                "checkpoint.filename": "best-epoch{epoch:02d}-ua{val/ua:.3f}",
                "checkpoint.auto_insert_metric_name": False,
                "checkpoint.monitor": "val/ua",
                "checkpoint.mode": "max",
                "checkpoint.save_last": False,
                "last_checkpoint.filename": "last",
                "last_checkpoint.monitor": None,
                "last_checkpoint.save_top_k": 1,
                "last_checkpoint.enable_version_counter": False,
                "trainer.logger": {
                    "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
                    "init_args": {"save_dir": "logs", "name": "ser"},
                },
            }
        )
        parser.add_argument("--test_after_fit", type=bool, default=True, help="Test the best checkpoint when fit ends and print the results table.")
        parser.link_arguments("data", "model.num_classes", compute_fn=lambda data: data.num_classes, apply_on="instantiate")
        parser.link_arguments("data", "model.label_names", compute_fn=lambda data: data.label_names, apply_on="instantiate")

    def after_fit(self) -> None:
        if not self.config[self.subcommand].get("test_after_fit", True) or self.trainer.interrupted or self.trainer.fast_dev_run:
            return
        checkpoint = self.trainer.checkpoint_callback
        best = checkpoint.best_model_path if checkpoint is not None and checkpoint.best_model_path else None
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best, verbose=False)
        self._print_results(f"Test results of {best or 'the final weights'}")

    def after_test(self) -> None:
        self._print_results("Test results")

    def after_predict(self) -> None:
        rows = gather_rows(prediction_rows(self.trainer.predict_loop.predictions or []))
        if self.trainer.is_global_zero and rows:
            out = write_predictions(rows, self.model.label_names, Path(self.trainer.log_dir or ".") / "predictions.csv")
            print(f"Wrote {len(rows)} predictions to {out}", flush=True)

    def _print_results(self, title: str) -> None:
        if self.trainer.is_global_zero and self.model.test_results:
            print("\n" + results_table(self.model.test_results, title=title) + "\n", flush=True)


def main(args: Sequence[str] | None = None) -> SERLightningCLI:
    """Entry point of ``python -m ser_lightning``."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")  # raised inside Lightning, not actionable
    warnings.filterwarnings("ignore", message=r"Found .* module\(s\) in eval mode")  # frozen backbone parts, on purpose: logged at fit start
    if args is None:
        sys.argv[1:] = resolve_config_paths(sys.argv[1:])
    else:
        args = resolve_config_paths(args)
    return SERLightningCLI(
        EmotionRecognizer,
        SERDataModule,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        trainer_defaults={"callbacks": [LearningRateMonitor(logging_interval="step")]},
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "python -m ser_lightning", "description": "Cross-language speech emotion recognition with Lightning."},
        args=args,
    )

"""``python -m ser_lightning {fit,validate,test,predict} --config CONFIG``: LightningCLI with the project's defaults."""

from __future__ import annotations

import importlib.resources
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import yaml
from lightning.pytorch import LightningDataModule
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger
from typing_extensions import override

from .experiments.records import write_results
from .models import EmotionRecognizer
from .models.metrics import results_table
from .predictions import PredictionWriter



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


CHECKPOINT_SUBCOMMANDS = ("validate", "test", "predict")


def checkpoint_hparams(path: str | Path) -> dict[str, Any]:
    """A checkpoint's saved model hyper-parameters (without Lightning's internal keys); the weights are memory-mapped, not read."""
    checkpoint = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    return {key: value for key, value in hparams.items() if not key.startswith("_")}


def ckpt_path_of(argv: Sequence[str]) -> str | None:
    """The value of ``--ckpt_path`` in a command line (the last one wins, as in the parser)."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "--ckpt_path" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--ckpt_path="):
            found = arg.split("=", 1)[1]
    return found


class SERLightningCLI(LightningCLI):
    """LightningCLI for :class:`EmotionRecognizer` and a DataModule (any ``SERDataModule``; ``AudioFiles`` to predict).

    Defaults: TensorBoard under ``logs/``, checkpoints (best by ``val/ua`` and ``last``) under
    ``checkpoints/``; ``num_classes`` and ``label_names`` come from the DataModule (from the checkpoint
    for a DataModule without labels). ``fit`` ends by testing the best checkpoint and printing UA/WA per
    test group (``--test_after_fit false`` skips it); every test writes ``results.json`` in the log folder.
    ``validate``/``test``/``predict --ckpt_path CKPT`` take the model's config from the checkpoint, and
    ``predict`` writes one row per file (``--predictions.output``, CSV or JSONL).
    """

    @override
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        # validate/test/predict --ckpt_path CKPT need no model config: the checkpoint's hyper-parameters go in first as
        # `--model`, so the required `model.backbone` is there when parsing (LightningCLI applies them again afterwards).
        argv = sys.argv[1:] if args is None else args
        self._checkpoint_hparams: dict[str, Any] = {}
        if isinstance(argv, (list, tuple)) and argv and argv[0] in CHECKPOINT_SUBCOMMANDS:
            path = ckpt_path_of(argv)
            if path and Path(path).is_file():
                self._checkpoint_hparams = checkpoint_hparams(path)
                model = {k: v for k, v in self._checkpoint_hparams.items() if k not in ("num_classes", "label_names")}  # link targets
                argv = [argv[0], "--model", yaml.safe_dump(model), *argv[1:]]
                if args is None:
                    sys.argv[1:] = argv
                else:
                    args = argv
        super().parse_arguments(parser, args)

    def _from_data(self, attribute: str) -> Callable[[Any], Any]:
        """Link source: the DataModule's ``num_classes``/``label_names``, or the checkpoint's for modules without labels (AudioFiles)."""

        def compute(data: Any) -> Any:
            value = getattr(data, attribute, None)
            if value is None:
                value = getattr(self, "_checkpoint_hparams", {}).get(attribute)
            if value is None:
                raise ValueError(f"{type(data).__name__} knows no `{attribute}` (it has no labels): give the trained model with --ckpt_path.")
            return value

        return compute

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
        parser.add_lightning_class_args(PredictionWriter, "predictions")
        parser.link_arguments("data", "model.num_classes", compute_fn=self._from_data("num_classes"), apply_on="instantiate")
        parser.link_arguments("data", "model.label_names", compute_fn=self._from_data("label_names"), apply_on="instantiate")

    @override
    def before_instantiate_classes(self) -> None:
        # EmotionRecognizer writes the HPARAMS summary with the final test metrics; TensorBoard keeps only a run's first
        # summary, so TensorBoardLogger must not write its `hp_metric: -1` placeholder at the start.
        logger = self.config[self.subcommand].trainer.get("logger")
        if logger is not None and not isinstance(logger, bool) and str(logger.get("class_path", "")).endswith(TensorBoardLogger.__name__):
            logger.init_args.default_hp_metric = False

    @override
    def after_instantiate_classes(self) -> None:
        # The DataModule's config becomes its hyper-parameters, so Lightning and the HPARAMS tab record it beside the model's.
        if self.datamodule is not None and not self.datamodule.hparams:
            self.datamodule.save_hyperparameters({"data": self._resolved_config().get("data")})

    def _resolved_config(self) -> dict[str, Any]:
        """The subcommand's full config as plain data (what LightningCLI saves as config.yaml)."""
        return yaml.safe_load(self.parser.dump(self.config, skip_none=False))[self.subcommand]

    def after_fit(self) -> None:
        if not self.config[self.subcommand].get("test_after_fit", True) or self.trainer.interrupted or self.trainer.fast_dev_run:
            return
        checkpoint = self.trainer.checkpoint_callback
        best = checkpoint.best_model_path if checkpoint is not None and checkpoint.best_model_path else None
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best, verbose=False)
        self._print_results(f"Test results of {best or 'the final weights'}")
        self._write_results(best)

    def after_test(self) -> None:
        self._print_results("Test results")
        self._write_results(self.config[self.subcommand].get("ckpt_path"))

    def _write_results(self, checkpoint: str | None) -> None:
        """``results.json`` in the run's log folder: test metrics, per-group results and the resolved config (sweeps read it)."""
        if not self.trainer.is_global_zero or not self.model.test_results or self.trainer.log_dir is None:
            return
        metrics = {key: float(value) for key, value in self.trainer.callback_metrics.items() if key.startswith("test/")}
        write_results(self.trainer.log_dir, self.subcommand, checkpoint, metrics, self.model.test_results, self._resolved_config())

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
        LightningDataModule,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        trainer_defaults={"callbacks": [LearningRateMonitor(logging_interval="step")]},
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "python -m ser_lightning", "description": "Cross-language speech emotion recognition with Lightning."},
        args=args,
    )

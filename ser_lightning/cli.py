"""``python -m ser_lightning {fit,validate,test,predict} --config CONFIG``: LightningCLI with the project's defaults."""

from __future__ import annotations

import importlib.resources
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch import LightningDataModule
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger
from typing_extensions import override

from .checkpoints import (
    VERSION_ENV,
    VERSION_OPTION,
    CheckpointError,
    check_checkpoint,
    first_process,
    launched_version,
    make_folders,
    matching_run,
    next_version,
    remove_folders,
    reserve_version,
    resumable_checkpoints,
    resume_from,
)
from .config_errors import ConfigError, is_validation_error, own_error
from .data.datamodule import SERDataModule
from .features import FeatureCache
from .models import EmotionRecognizer
from .models.metrics import results_table
from .models.standalone import CHECKPOINT_KEY
from .predictions import PredictionWriter
from .run_files import RunRecorder


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
    """A checkpoint's saved model hyper-parameters (without Lightning's internal keys); the weights are memory-mapped, not read.

    The backbone entry is the one that rebuilds the architecture without downloads (see ``models/standalone.py``);
    ``_standalone`` says whether the checkpoint has one."""
    check_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    found = {key: value for key, value in hparams.items() if not key.startswith("_")}
    found["_standalone"] = CHECKPOINT_KEY in checkpoint and "backbone" in found
    return found


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            trainer = getattr(self, "trainer", None)
            if trainer is None or (trainer.global_step == 0 and trainer.is_global_zero):
                remove_folders(getattr(self, "_new_folders", []))  # the run failed before its first step: it leaves no folders
            raise

    @override
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        # validate/test/predict --ckpt_path CKPT need no model config: the checkpoint's hyper-parameters go in first as
        # `--model`, so the required `model.backbone` is there when parsing (LightningCLI applies them again afterwards).
        argv = sys.argv[1:] if args is None else args
        self._checkpoint_hparams: dict[str, Any] = {}
        if isinstance(argv, (list, tuple)) and argv and argv[0] in CHECKPOINT_SUBCOMMANDS:
            path = ckpt_path_of(argv)
            if path and path not in ("last", "best", "hpc"):
                self._checkpoint_hparams = checkpoint_hparams(path)
                model = {k: v for k, v in self._checkpoint_hparams.items() if k not in ("num_classes", "label_names", "_standalone")}  # link targets
                # the checkpoint's backbone entry goes last too: its weights fix the architecture, and it needs no download
                # even when a --config names the hub model or a base folder that this machine lacks
                last = ["--model.backbone", yaml.safe_dump(model["backbone"])] if self._checkpoint_hparams["_standalone"] else []
                args = [argv[0], "--model", yaml.safe_dump(model), *argv[1:], *last]  # parsed as given; sys.argv stays as typed
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
                "checkpoint.dirpath": None,  # each run its own: checkpoints/<logger name>/<version> (see _place_run)
                "checkpoint.filename": "best-epoch{epoch:02d}-ua{val/ua:.3f}",
                "checkpoint.auto_insert_metric_name": False,
                "checkpoint.monitor": "val/ua",
                "checkpoint.mode": "max",
                "checkpoint.save_last": False,
                "checkpoint.save_weights_only": True,  # a best checkpoint is for testing and sharing: no optimizer state (XLS-R: 1.2 GB, not 3.7)
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
        parser.add_lightning_class_args(FeatureCache, "feature_cache")  # --feature_cache.enabled true: frozen backbones run once per utterance
        parser.link_arguments("data", "model.num_classes", compute_fn=self._from_data("num_classes"), apply_on="instantiate")
        parser.link_arguments("data", "model.label_names", compute_fn=self._from_data("label_names"), apply_on="instantiate")

    @override
    def before_instantiate_classes(self) -> None:
        # EmotionRecognizer writes the HPARAMS summary with the final test metrics; TensorBoard keeps only a run's first
        # summary, so TensorBoardLogger must not write its `hp_metric: -1` placeholder at the start.
        logger = self.config[self.subcommand].trainer.get("logger")
        if logger is not None and not isinstance(logger, bool) and str(logger.get("class_path", "")).endswith(TensorBoardLogger.__name__):
            logger.init_args.default_hp_metric = False
        self._place_run()

    def _place_run(self) -> None:
        """Give the run its own folders (``checkpoints/<name>/<version>`` beside ``logs/<name>/<version>``), reserved
        atomically (an exclusive ``mkdir``: runs started together never share one) and checked writable before any data
        is read, and resolve ``ckpt_path``; a new run never starts in a fixed folder that holds an earlier run."""
        config = self.config[self.subcommand]
        logger = config.trainer.get("logger")
        init = logger.get("init_args") if logger is not None and not isinstance(logger, (bool, list)) else None
        name = str((init.get("name") if init is not None else None) or "ser")
        version = init.get("version") if init is not None else None
        fixed_version = version is not None
        dirpath = config.checkpoint.get("dirpath")
        ckpt = config.get("ckpt_path")
        chosen = dirpath is None
        fit = self.subcommand == "fit"
        first = first_process()
        root = Path("checkpoints") / name
        log_root = Path(str(init.get("save_dir") or "logs")) / name if init is not None and "version" in init else None
        self._new_folders: list[Path] = []
        if version is None and (chosen or log_root is not None):
            version = launched_version()
            if version is None and ckpt == "last" and chosen:
                version = matching_run(root, self._run_config())
            if version is None:  # a new run: reserve version_N in every folder it writes (the checkpoints only when fitting)
                places = {root: "--checkpoint.dirpath"} if chosen and fit else {}
                places |= {log_root: "--trainer.logger.init_args.save_dir"} if log_root is not None else {}
                also = [root] if chosen else []
                version, self._new_folders = (
                    reserve_version(list(places), also, list(places.values())) if places and first else (next_version(*also), [])
                )
            if init is not None and "version" in init:
                init.version = version
            if first:
                os.environ[VERSION_ENV] = str(version)  # the DDP processes Lightning starts next take the same folders
        folder = f"version_{version}" if isinstance(version, int) else str(version)
        if chosen:
            dirpath = str(root / folder)
            config.checkpoint.dirpath = config.last_checkpoint.dirpath = dirpath
        if config.trainer.get("default_root_dir") is None:
            config.trainer.default_root_dir = dirpath  # SLURM's hpc_ckpt_N.ckpt files land in the run's own folder
        log_dir = log_root / folder if log_root is not None and version is not None else None
        if first:  # every folder the run writes exists and takes a file now, not after an epoch of training
            if fit:
                self._new_folders += make_folders(Path(dirpath), option="--checkpoint.dirpath")
            if log_dir is not None:
                self._new_folders += make_folders(log_dir, option="--trainer.logger.init_args.save_dir")
        fixed_by = VERSION_OPTION if chosen and fixed_version else "--checkpoint.dirpath"
        settled = (chosen and not fixed_version) or not first  # a fixed folder is checked for an earlier run, by the first process
        if fit:
            config.ckpt_path = self._resume_from(Path(dirpath), ckpt, settled, log_dir=log_dir if fixed_version else None, fixed_by=fixed_by)
        elif ckpt == "last":
            config.ckpt_path = self._resume_from(Path(dirpath), ckpt, settled) if resumable_checkpoints(Path(dirpath)) else None

    def _run_config(self) -> dict[str, Any]:
        """This run's model and data config as plain data, comparable with :func:`run_config` of a checkpoint."""
        resolved = self._resolved_config()
        return {"model": resolved.get("model"), "data": resolved.get("data")}

    def _resume_from(self, folder: Path, ckpt: str | None, chosen: bool, **fixed: Any) -> str | None:
        return resume_from(folder, ckpt, chosen, self._run_config, fit=self.subcommand == "fit", **fixed)

    @override
    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except Exception as error:
            cause = own_error(error)
            if cause is None:
                raise
            if not is_validation_error(cause):
                raise cause from error  # a bug or an API change, not a config value: its own traceback says where
            raise ConfigError(cause) from None

    @override
    def after_instantiate_classes(self) -> None:
        # The DataModule's config becomes its hyper-parameters, so Lightning and the HPARAMS tab record it beside the model's.
        if self.datamodule is not None and not self.datamodule.hparams:
            self.datamodule.save_hyperparameters({"data": self._resolved_config().get("data")})
        if isinstance(self.datamodule, SERDataModule):  # it saves its place in the epoch: a mid-epoch resume is exact
            warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
        self._check_labels_against_checkpoint()
        self.trainer.callbacks.append(RemoveFailedRunFolders(getattr(self, "_new_folders", [])))
        self.trainer.callbacks.append(RunRecorder(self.subcommand, self._resolved_config()))

    def _check_labels_against_checkpoint(self) -> None:
        """A trained model tests and predicts only the classes it was trained on, in their order."""
        trained = self._checkpoint_hparams.get("label_names") if getattr(self, "_checkpoint_hparams", None) else None
        data = getattr(self.datamodule, "num_classes", None) and getattr(self.datamodule, "label_names", None)
        if trained and data and list(trained) != list(data):
            order = "the same classes in another order" if sorted(trained) == sorted(data) else "other classes"
            raise ConfigError(
                f"The checkpoint was trained on {list(trained)}, but the DataModule's label space gives {list(data)} ({order}); "
                f"its predictions would be named wrongly. Set --data.init_args.label_names to {list(trained)}, or use the "
                "label_space it was trained with."
            )

    def _resolved_config(self) -> dict[str, Any]:
        """The subcommand's full config as plain data (what LightningCLI saves as config.yaml)."""
        return yaml.safe_load(self.parser.dump(self.config, skip_none=False))[self.subcommand]

    def after_fit(self) -> None:
        if not self.config[self.subcommand].get("test_after_fit", True) or self.trainer.interrupted or self.trainer.fast_dev_run:
            return
        checkpoint = self.trainer.checkpoint_callback
        best = checkpoint.best_model_path if checkpoint is not None and checkpoint.best_model_path else None
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best, verbose=False)  # the RunRecorder writes its files
        self._print_results(f"Test results of {best or 'the final weights'}")

    def after_test(self) -> None:
        self._print_results("Test results")

    def _print_results(self, title: str) -> None:
        if self.trainer.is_global_zero and self.model.test_results:
            print("\n" + results_table(self.model.test_results, title=title) + "\n", flush=True)


class RemoveFailedRunFolders(Callback):
    """When a run fails before its first training step, remove the folders it created (no empty log folders are left)."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = list(folders)

    @override
    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if trainer.global_step == 0 and trainer.is_global_zero:
            remove_folders(self.folders)


USER_ERRORS = (ConfigError, CheckpointError, FloatingPointError)


def main(args: Sequence[str] | None = None) -> SERLightningCLI:
    """Entry point of ``python -m ser_lightning``: errors in the user's data, config or checkpoints end it with one
    ``error:`` line (exit code 2) instead of a traceback."""
    from .data.audio import AudioError
    from .data.manifest import ManifestError

    try:
        return _main(args)
    except (*USER_ERRORS, AudioError, ManifestError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def _main(args: Sequence[str] | None = None) -> SERLightningCLI:
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")  # raised inside Lightning, not actionable
    warnings.filterwarnings("ignore", message=r"Found .* module\(s\) in eval mode")  # frozen backbone parts, on purpose: logged at fit start
    # the command line is read, never rewritten: what the CLI parses is derived from it, so Lightning's warning about
    # args given beside a command line does not apply
    warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
    args = resolve_config_paths(sys.argv[1:] if args is None else args)
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

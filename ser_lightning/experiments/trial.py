"""One trial of a search, inside its run: the callback that reports ``val/ua`` to the Optuna trial after every epoch, stops
the run cleanly when the pruner says so, and writes ``trial.json`` (the objective) when the fit ends; and the job that
runs a trial through the sweep launcher (done when ``trial.json`` exists: a trial never tests)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from ..fileio import write_text_atomic
from .budget import MONITOR
from .job import RunJob
from .runs import RunFolder

if TYPE_CHECKING:
    import optuna

TRIAL_FILE = "trial.json"


def open_storage(path: str | Path) -> Any:
    """The on-disk Optuna storage of one search: ``*.db`` is SQLite (one machine), ``*.jsonl`` an Optuna journal file
    (safe on shared cluster file systems where SQLite's locking is not)."""
    import optuna

    path = Path(path).resolve()
    if path.suffix == ".jsonl":
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    return optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 60}})


def load_trial(storage: str | Path, study_name: str, number: int, pruner: optuna.pruners.BasePruner) -> optuna.trial.Trial:
    """Trial ``number`` of the study ``study_name`` in ``storage``, asked for by the search that started this run."""
    import optuna

    backend = open_storage(storage)
    study = optuna.load_study(study_name=study_name, storage=backend, pruner=pruner)
    trial_id = backend.get_trial_id_from_study_id_trial_number(backend.get_study_id_from_name(study_name), number)
    return optuna.trial.Trial(study, trial_id)


class SearchTrial(Callback):
    """Makes a fit one trial of a search: reports ``val/ua`` after every validation to the Optuna trial (read from the
    search's storage on disk), stops the run when the pruner prunes the trial, and when the fit ends writes ``summary``
    (best ``val/ua``, epochs trained, pruned or not, ``val/ua`` per epoch). It reads no test metric: trials are fits with
    ``--test_after_fit false``. Added by the search to each trial's arguments; not meant to be set by hand.

    Args:
        storage: the search's storage file (``.db``: SQLite; ``.jsonl``: Optuna journal).
        study_name: the study (the searched label).
        trial: the trial's number in the study.
        summary: where to write the trial's outcome (JSON) when the fit ends.
        prune: ask the pruner after every epoch; false: only report.
        pruning_startup: trials that finish before any is pruned (MedianPruner's ``n_startup_trials``).
        pruning_warmup: epochs of a trial before it may be pruned (MedianPruner's ``n_warmup_steps``).
        monitor: the validation metric, maximised.
    """

    def __init__(
        self,
        storage: str,
        study_name: str,
        trial: int,
        summary: str,
        prune: bool = True,
        pruning_startup: int = 2,
        pruning_warmup: int = 1,
        monitor: str = MONITOR,
    ) -> None:
        self.storage = storage
        self.study_name = study_name
        self.trial = trial
        self.summary = summary
        self.prune = prune
        self.pruning_startup = pruning_startup
        self.pruning_warmup = pruning_warmup
        self.monitor = monitor
        self.history: list[tuple[int, float]] = []
        self.pruned = False
        self.seconds = 0.0
        self._trial: optuna.trial.Trial | None = None
        self._started = 0.0

    @property
    @override
    def state_key(self) -> str:
        return self._generate_state_key(study_name=self.study_name, trial=self.trial)

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"history": [list(item) for item in self.history], "pruned": self.pruned, "seconds": self.seconds}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # a resumed trial run keeps its history
        self.history = [(int(epoch), float(value)) for epoch, value in state_dict.get("history", [])]
        self.pruned = bool(state_dict.get("pruned", False))
        self.seconds = float(state_dict.get("seconds", 0.0))

    def _optuna_trial(self) -> optuna.trial.Trial:
        if self._trial is None:
            import optuna

            pruner = optuna.pruners.MedianPruner(n_startup_trials=self.pruning_startup, n_warmup_steps=self.pruning_warmup)
            self._trial = load_trial(self.storage, self.study_name, self.trial, pruner)
        return self._trial

    @override
    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._started = time.time()
        if trainer.is_global_zero:
            self._optuna_trial()  # a wrong storage or trial fails here, before any training

    @override
    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise RuntimeError(f"SearchTrial: {self.monitor} was not logged; a search needs validation speakers.")
        epoch, value = trainer.current_epoch, float(value)
        self.history = [item for item in self.history if item[0] != epoch] + [(epoch, value)]
        should_stop = False
        if trainer.is_global_zero:
            trial = self._optuna_trial()
            trial.report(value if math.isfinite(value) else 0.0, step=epoch)
            should_stop = self.prune and trial.should_prune()
        should_stop = bool(trainer.strategy.broadcast(should_stop))
        if should_stop:
            self.pruned = True
            trainer.should_stop = True

    @override
    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.seconds += time.time() - self._started
        if not trainer.is_global_zero:
            return
        values = [value for _, value in self.history if math.isfinite(value)]
        outcome = {
            "trial": self.trial,
            "study": self.study_name,
            "monitor": self.monitor,
            "best": max(values) if values else None,
            "epochs": trainer.current_epoch,
            "pruned": self.pruned,
            "seconds": round(self.seconds, 1),
            "history": [{"epoch": epoch, self.monitor: value} for epoch, value in sorted(self.history)],
        }
        write_text_atomic(self.summary, json.dumps(outcome, indent=1))


class TrialFolder(RunFolder):
    """A trial run's folder: like a sweep run's, but its outcome file is ``trial.json`` (a trial never tests)."""

    @property
    def results(self) -> Path:
        return self.root / TRIAL_FILE


class TrialJob(RunJob):
    """Runs one trial run (an ordinary fit with the :class:`SearchTrial` callback); done when ``trial.json`` exists."""

    folder_type = TrialFolder

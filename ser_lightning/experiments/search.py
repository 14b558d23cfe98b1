"""A sweep's search: for each label of one axis, an Optuna study (TPE, seeded) of the options in ``search.space``, its trials
ordinary fits of the sweep (same configs, the point ``search.at``, the sweep's budget) run through the sweep's launcher.

The objective is the trial run's best ``val/ua`` on its validation speakers (never a test metric: trials run with
``--test_after_fit false`` and their runs write no results). Each study lives on disk, so an interrupted search goes
on where it stopped (a trial that was running starts again and resumes from its ``last.ckpt``)::

    <sweep>/search/
      <label>.db            the label's Optuna study (SQLite; ``<label>.jsonl`` with ``storage: journal``)
      <label>/trial=003,seed=0/   a trial's run folder (run.json, run.log, trial.json, logs/, checkpoints/)
      chosen.json           per label: chosen settings, best val/ua, trials complete/pruned/failed, epochs and wall seconds
      search.md             the same as a table
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..fileio import write_text_atomic
from .budget import CHOSEN_FILE, SEED_AXIS, Param, params_text
from .grid import _UNSAFE, RunSpec, point_overrides, run_args, run_name, short_names
from .sweep import Sweep, SweepError
from .trial import TRIAL_FILE, SearchTrial, TrialFolder

if TYPE_CHECKING:
    import optuna

Report = Callable[[str], None]
SEARCH_FILE = "search.md"


class SearchError(SweepError):
    """A search that cannot go on (another one holds its folder, its storage belongs to another search, no trial finished)."""


@dataclass
class Trial:
    """One trial being run: its label, Optuna trial, parameters and the runs (one per seed) that evaluate it."""

    label: str
    trial: optuna.trial.Trial
    params: dict[str, Any]
    specs: list[RunSpec] = field(default_factory=list)


def storage_path(sweep: Sweep, label: str) -> Path:
    """Where one label's study is kept."""
    suffix = ".jsonl" if sweep.search.storage == "journal" else ".db"
    return search_folder(sweep) / f"{_UNSAFE.sub('-', label)}{suffix}"


def search_folder(sweep: Sweep) -> Path:
    return (Path.cwd() / sweep.output / "search").resolve()


def distribution(param: Param) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution of one searched option."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if param.choices is not None:
        return CategoricalDistribution(list(param.choices))
    if param.is_int:
        return IntDistribution(int(param.low), int(param.high), log=param.log, step=int(param.step or 1))
    return FloatDistribution(float(param.low), float(param.high), log=param.log, step=param.step)


def _points(sweep: Sweep) -> list[tuple[int | None, int | None]]:
    """(seed value or None, index of that seed in the seed axis or None) per run of a trial."""
    search = sweep.search
    if search.seeds is None:
        return [(None, None)]
    axis = next((axis for axis in sweep.axes if axis.name == SEED_AXIS), None)
    labels = [label for label, _ in axis.points] if axis else []
    return [(seed, labels.index(str(seed)) if str(seed) in labels else None) for seed in search.seeds]


def trial_specs(sweep: Sweep, label: str, number: int, params: dict[str, Any]) -> list[RunSpec]:
    """The runs of one trial: the grid point ``search.at`` with ``label`` on the searched axis, once per seed, with the
    trial's parameters, the sweep's budget, no test at the end, and the :class:`SearchTrial` callback."""
    search = sweep.search
    shown = short_names(sweep.axes, sweep.names)
    cwd = Path.cwd().resolve()
    folder = search_folder(sweep) / _UNSAFE.sub("-", label)
    specs = []
    for seed, seed_index in _points(sweep):
        combination = []
        for block in sweep.blocks:
            names = [axis.name for axis in block]
            if search.per in names:
                index = [lab for lab, _ in block[names.index(search.per)].points].index(label)
            elif SEED_AXIS in names and seed_index is not None:
                index = seed_index
            else:
                index = search.point.get(len(combination), 0)
            combination.append(index)
        point, overrides = point_overrides(sweep, combination, shown)
        if seed is not None:
            overrides[SEED_AXIS] = seed
        overrides.update(params)
        overrides["test_after_fit"] = False
        name = run_name([("trial", f"{number:03d}")] + ([("seed", str(seed))] if seed is not None else []))
        run = folder / name
        callback = {
            "class_path": f"{SearchTrial.__module__}.{SearchTrial.__name__}",
            "init_args": {
                "storage": str(storage_path(sweep, label)),
                "study_name": label,
                "trial": number,
                "summary": str(run / TRIAL_FILE),
                "prune": search.pruning is not None,
                "pruning_startup": search.pruning.startup if search.pruning else 0,
                "pruning_warmup": search.pruning.warmup if search.pruning else 0,
            },
        }
        args = run_args(sweep, overrides, run, extra=["--trainer.callbacks+", json.dumps(callback)])
        specs.append(RunSpec(f"{label}/{name}", dict(point) | {"trial": f"{number:03d}"}, str(run), args, str(cwd)))
    return specs


def _open_studies(sweep: Sweep) -> dict[str, optuna.Study]:
    import optuna

    from .trial import open_storage

    studies = {}
    whole = json.loads(json.dumps(sweep.search.fingerprint()))
    for label in sweep.search.labels:
        fingerprint = json.loads(json.dumps(sweep.search.fingerprint(label)))
        path = storage_path(sweep, label)
        study = optuna.create_study(study_name=label, storage=open_storage(path), direction="maximize", load_if_exists=True)
        found = study.user_attrs.get("search")
        if found is not None and found == whole and found != fingerprint:  # stored by a release that fingerprinted the whole search
            study.set_user_attr("search", fingerprint)
            found = fingerprint
        if found is None:
            study.set_user_attr("search", fingerprint)
            study.set_user_attr("budget", asdict(sweep.budget))
        elif found != fingerprint or study.user_attrs.get("budget") != asdict(sweep.budget):
            raise SearchError(
                f"{path} holds a search with other settings (space, point, seeds, sampler, pruning or budget); "
                f"delete {search_folder(sweep)} to search again, or restore the sweep's search and budget blocks."
            )
        if len(study.trials) > sweep.search.trials:
            raise SearchError(
                f"{path} holds {len(study.trials)} trials, more than search.trials ({sweep.search.trials}); every label gets the same "
                f"number: raise trials to {len(study.trials)} or delete {search_folder(sweep)}."
            )
        studies[label] = study
    return studies


def _ask(sweep: Sweep, study: optuna.Study, label: str) -> Trial:
    """A new trial; the sampler is seeded from the search's seed and the trial's number, so a resumed search asks what an
    uninterrupted one would have."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        seed = sweep.search.seed + len(study.trials)
        study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=sweep.search.startup, constant_liar=True)
    distributions = {key: distribution(param) for key, param in sweep.search.params_of(label).items()}
    trial = study.ask(distributions)
    left = [spec.folder for spec in trial_specs(sweep, label, trial.number, dict(trial.params)) if Path(spec.folder).exists()]
    if left:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise SearchError(f"{left[0]} is left from another search (its study has no such trial); delete {search_folder(sweep)} to search again.")
    return Trial(label, trial, dict(trial.params))


def _rerun(study: optuna.Study, label: str, frozen: optuna.trial.FrozenTrial) -> Trial:
    """A trial left running by an interrupted search: the same trial and parameters, run again (its runs resume)."""
    import optuna

    return Trial(label, optuna.trial.Trial(study, frozen._trial_id), dict(frozen.params))


def _tell(study: optuna.Study, item: Trial, outcomes: dict[str, dict[str, Any]], report: Report) -> None:
    """Record a trial's outcome from its runs' ``trial.json`` files: complete (mean best val/ua over its seeds), pruned or failed."""
    from optuna.trial import TrialState

    found, errors, seconds, epochs = [], [], 0.0, 0
    for spec in item.specs:
        outcome = outcomes.get(spec.name, {})
        folder = TrialFolder(spec.folder)
        summary = json.loads(folder.results.read_text(encoding="utf-8")) if folder.results.is_file() else {}
        seconds += float(outcome.get("seconds") or folder.read("done").get("seconds") or 0.0)
        epochs += int(summary.get("epochs") or 0)
        state = folder.state()
        if state.state != "done" or summary.get("best") is None:  # a run that failed after its fit (or wrote no val/ua) fails the trial
            errors.append(f"{spec.name}: {outcome.get('error') or state.detail or 'no ' + TRIAL_FILE}")
        else:
            found.append(summary)
    trial = item.trial
    trial.set_user_attr("epochs", epochs)
    trial.set_user_attr("seconds", round(seconds, 1))
    trial.set_user_attr("runs", [spec.folder for spec in item.specs])
    name = f"{item.label} trial {trial.number}"
    if errors:
        trial.set_user_attr("error", "; ".join(errors)[:1000])
        study.tell(trial, state=TrialState.FAIL)
        report(f"{name}: FAILED: {'; '.join(errors)}")
    elif any(s.get("pruned") for s in found):
        study.tell(trial, state=TrialState.PRUNED)
        report(f"{name}: pruned after {sum(s['epochs'] for s in found)} epochs ({params_text(item.params)})")
    else:
        value = statistics.fmean(s["best"] for s in found)
        study.tell(trial, value)
        report(f"{name}: best val/ua {value:.4f} in {sum(s['epochs'] for s in found)} epochs ({params_text(item.params)})")


def _running(sweep: Sweep, label: str, frozen: optuna.trial.FrozenTrial) -> str | None:
    """Why a trial left running cannot be started again now (one of its runs is still running or queued), or None."""
    for spec in trial_specs(sweep, label, frozen.number, dict(frozen.params)):
        state = TrialFolder(spec.folder).state()
        if state.state in ("running", "queued"):
            return f"{spec.name} is {state.state} ({state.detail})"
    return None


def run_search(sweep: Sweep, report: Report = print) -> dict[str, dict[str, Any]]:
    """Run every trial the search still lacks (each label gets ``search.trials``), then write chosen.json and search.md.

    Returns label -> its summary (chosen params, best val/ua, counts, epochs, seconds). Raises :class:`SearchError` when a
    label ends without a finished trial."""
    import optuna
    from filelock import FileLock, Timeout
    from optuna.trial import TrialState

    from .check import check_runs
    from .launch import execute
    from .trial import TrialJob

    search = sweep.search
    if search is None:
        raise SweepError(f"{sweep.path} has no `search:` block; nothing to search.")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = search_folder(sweep)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SearchError(f"Another search of {sweep.name} is running ({folder / '.lock'} is held); wait for it to end.") from None
    try:
        studies = _open_studies(sweep)
        launcher = replace(sweep.launcher, wait=True)  # the search needs each round's results before it asks again
        per_round = max(1, launcher.max_parallel // len(studies)) if launcher.max_parallel else search.trials
        checked = False
        began = time.time()
        while True:
            batch: list[Trial] = []
            for label, study in studies.items():
                stale = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
                for frozen in stale:
                    busy = _running(sweep, label, frozen)
                    if busy:
                        raise SearchError(f"{label} trial {frozen.number} is still running: {busy}; wait for it, then search again.")
                todo = [_rerun(study, label, frozen) for frozen in stale[:per_round]]
                while len(todo) < per_round and len(study.trials) < search.trials:
                    todo.append(_ask(sweep, study, label))
                batch += todo
            if not batch:
                break
            for item in batch:
                item.specs = trial_specs(sweep, item.label, item.trial.number, item.params)
            specs = [spec for item in batch for spec in item.specs if TrialFolder(spec.folder).state().state != "done"]
            if not checked:
                check_runs(sweep, [item.specs[0] for item in batch])  # a config error stops the search before any trial
                checked = True
            report(f"{sweep.name}: search round of {len(batch)} trial(s): " + ", ".join(f"{i.label} {i.trial.number}" for i in batch))
            ran = execute(specs, launcher, folder / "submitit", f"{sweep.name}-search", report, job=TrialJob) if specs else []
            outcomes = {o["name"]: o for o in ran}
            for item in batch:
                _tell(studies[item.label], item, outcomes, report)
        summary = summarize(sweep, studies)
        write_outputs(sweep, summary)
        report(markdown(sweep, summary).rstrip())
        report(f"{sweep.name}: search finished in {time.time() - began:.0f} s; wrote {folder / CHOSEN_FILE} and {folder / SEARCH_FILE}")
        missing = [label for label, found in summary.items() if found["params"] is None]
        if missing:
            raise SearchError(f"{sweep.name}: no trial of {', '.join(missing)} finished; read the failed trials' logs under {folder}.")
        return summary
    finally:
        lock.release()


def summarize(sweep: Sweep, studies: dict[str, optuna.Study]) -> dict[str, dict[str, Any]]:
    """Per label: chosen params (the best complete trial's), its val/ua and number, trials complete/pruned/failed, epochs, seconds."""
    from optuna.trial import TrialState

    summary = {}
    for label, study in studies.items():
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        best = max(complete, key=lambda t: (t.value, -t.number)) if complete else None
        summary[label] = {
            "params": dict(best.params) if best else None,
            "best_val_ua": best.value if best else None,
            "best_trial": best.number if best else None,
            "trials": len(trials),
            "complete": len(complete),
            "pruned": sum(1 for t in trials if t.state == TrialState.PRUNED),
            "failed": sum(1 for t in trials if t.state == TrialState.FAIL),
            "epochs": sum(int(t.user_attrs.get("epochs", 0)) for t in trials),
            "seconds": round(sum(float(t.user_attrs.get("seconds", 0.0)) for t in trials), 1),
        }
    return summary


def write_outputs(sweep: Sweep, summary: dict[str, dict[str, Any]]) -> None:
    """``search/chosen.json`` (read back by the grid's runs) and ``search/search.md``."""
    search = sweep.search
    chosen = {
        "sweep": sweep.name,
        "per": search.shown,
        "trials": search.trials,
        "budget": asdict(sweep.budget),
        "fingerprint": search.fingerprint(),
        "search": search.declared,
        "labels": {label: found for label, found in summary.items() if found["params"] is not None},
        "unfinished": [label for label, found in summary.items() if found["params"] is None],
    }
    folder = search_folder(sweep)
    write_text_atomic(folder / CHOSEN_FILE, json.dumps(chosen, indent=1))
    write_text_atomic(folder / SEARCH_FILE, markdown(sweep, summary))


def markdown(sweep: Sweep, summary: dict[str, dict[str, Any]]) -> str:
    """The search's outcome as a Markdown table, one row per label."""
    search = sweep.search
    lines = [
        f"# {sweep.name}: search of {', '.join(search.space)}",
        "",
        f"{search.describe()}. Budget of every trial and run: {sweep.budget.describe()}. Objective: best val/ua on the "
        "validation speakers (no test metric is read).",
        "",
        f"| {search.shown} | chosen | best val/ua (trial) | trials: complete / pruned / failed | epochs | wall time |",
        "|---|---|---|---|---|---|",
    ]
    for label, found in summary.items():
        chosen = params_text(found["params"]) if found["params"] is not None else "none finished"
        best = f"{found['best_val_ua']:.4f} ({found['best_trial']})" if found["best_val_ua"] is not None else "-"
        lines.append(
            f"| {label} | {chosen} | {best} | {found['trials']}: {found['complete']} / {found['pruned']} / {found['failed']} | "
            f"{found['epochs']} | {found['seconds']:.0f} s |"
        )
    return "\n".join(lines) + "\n"

"""A sweep's selection budget (``budget:``) and hyper-parameter search (``search:``): parsed, checked against the grid, and
turned into the CLI arguments of every run. See :mod:`.sweep` for the format; :mod:`.search` runs the search.

Nothing here imports optuna or torch: ``plan``, ``status`` and the grid's expansion stay light.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .axes import Axis, SweepError, mapping_of, short_names, value_label

MONITOR = "val/ua"
EARLY_STOPPING = "lightning.pytorch.callbacks.EarlyStopping"
SEED_AXIS = "seed_everything"
STORAGES = ("sqlite", "journal")
# Options that decide how long a run trains and when it stops: the budget's, never one label's.
BUDGET_KEYS = ("trainer.max_epochs", "trainer.min_epochs", "trainer.max_steps", "trainer.min_steps", "trainer.max_time", "trainer.callbacks")
CHOSEN_FILE = "chosen.json"


@dataclass(frozen=True)
class Budget:
    """The same selection budget for every run of a sweep (and every trial of its search).

    Args:
        max_epochs: epochs at most.
        patience: early stopping: epochs without a better ``val/ua`` before the run stops (mode max); null: none.
    """

    max_epochs: int
    patience: int | None

    def early_stopping(self) -> dict[str, Any] | None:
        """The EarlyStopping callback every run is given (``None`` without ``patience``)."""
        if self.patience is None:
            return None
        return {"class_path": EARLY_STOPPING, "init_args": {"monitor": MONITOR, "mode": "max", "patience": self.patience}}

    def args(self) -> list[str]:
        """CLI arguments: ``--trainer.max_epochs N`` and the EarlyStopping callback appended to the trainer's callbacks."""
        args = ["--trainer.max_epochs", str(self.max_epochs)]
        callback = self.early_stopping()
        if callback is not None:
            args += ["--trainer.callbacks+", json.dumps(callback)]
        return args

    def describe(self) -> str:
        stop = f", early stopping on {MONITOR} (patience {self.patience})" if self.patience is not None else ", no early stopping"
        return f"at most {self.max_epochs} epochs{stop}"


@dataclass(frozen=True)
class Param:
    """One searched option: a float or int range (``low``, ``high``, ``log``, ``step``) or a list of choices, for the labels in ``only``."""

    key: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] | None = None
    only: tuple[str, ...] | None = None

    def applies(self, label: str) -> bool:
        return self.only is None or label in self.only

    @property
    def is_int(self) -> bool:
        return self.choices is None and isinstance(self.low, int) and isinstance(self.high, int)

    def describe(self) -> str:
        if self.choices is not None:
            text = "{" + ", ".join(value_label(c) for c in self.choices) + "}"
        else:
            text = f"[{value_label(self.low)}, {value_label(self.high)}]" + (" log" if self.log else "") + (f" step {self.step}" if self.step else "")
        return f"{self.key} {text}" + (f" (only {', '.join(self.only)})" if self.only else "")

    def as_dict(self) -> dict[str, Any]:
        found = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v is not None and v is not False}
        return found


@dataclass(frozen=True)
class Pruning:
    """Optuna's MedianPruner: a trial stops when its ``val/ua`` at an epoch is below the median of earlier trials' at that epoch.

    Args:
        startup: trials that finish before any is pruned.
        warmup: epochs of a trial before it may be pruned.
    """

    startup: int
    warmup: int


@dataclass
class Search:
    """An Optuna search (TPE, seeded) of the options in ``space``, its own for each label of the axis ``per``."""

    per: str  # the axis (full name)
    labels: list[str]  # its labels, in order
    trials: int
    at: dict[str, str]  # other axis (full name) -> the label trials run at
    point: dict[int, int]  # the same as block -> index (the searched axis's block, and the seed axis's with `seeds`, left out)
    seeds: list[int] | None  # seed_everything of each trial's runs; None: the `at` point's
    space: dict[str, Param]
    seed: int = 0
    startup: int = 1
    pruning: Pruning | None = None
    storage: str = "sqlite"
    shown: str = ""  # the axis as run names show it
    declared: dict[str, Any] = field(default_factory=dict)  # the block as written (for chosen.json)

    def params_of(self, label: str) -> dict[str, Param]:
        """The searched options of one label."""
        return {key: param for key, param in self.space.items() if param.applies(label)}

    def fingerprint(self, label: str | None = None) -> dict[str, Any]:
        """What makes two searches the same search (everything but the number of trials, which may grow). With ``label``:
        what makes its trials the same, i.e. only the options searched for it, so adding a model to a sweep (or an
        option for another model) keeps the trials the others already ran."""
        space = {key: param.as_dict() for key, param in self.space.items()}
        if label is not None:
            space = {key: {k: v for k, v in found.items() if k != "only"} for key, found in space.items() if self.space[key].applies(label)}
        return {
            "per": self.per,
            "at": self.at,
            "seeds": self.seeds,
            "space": space,
            "seed": self.seed,
            "startup": self.startup,
            "pruning": asdict(self.pruning) if self.pruning else None,
        }

    def folder(self, output: Path) -> Path:
        return Path(output) / "search"

    def chosen(self, output: Path, budget: Budget | None) -> dict[str, dict[str, Any]] | None:
        """Label -> its chosen settings, from ``search/chosen.json`` when it is complete for this search and budget, else None."""
        try:
            found = json.loads((self.folder(output) / CHOSEN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(found, dict) or found.get("fingerprint") != json.loads(json.dumps(self.fingerprint())):
            return None
        if found.get("budget") != (asdict(budget) if budget else None) or found.get("trials") != self.trials:
            return None
        labels = found.get("labels") or {}
        if any(not isinstance(labels.get(label), dict) or not isinstance(labels[label].get("params"), dict) for label in self.labels):
            return None
        return {label: labels[label]["params"] for label in self.labels}

    def describe(self) -> str:
        where = [f"{axis}={label}" for axis, label in self.at.items()] + (
            [f"seed_everything {', '.join(map(str, self.seeds))}"] if self.seeds else []
        )
        pruning = f"; median pruning after {self.pruning.startup} trials and {self.pruning.warmup} epochs" if self.pruning else "; no pruning"
        return (
            f"{self.trials} trials per {self.shown or self.per} (TPE, seed {self.seed}, {self.startup} random first)"
            + (f" at {', '.join(where)}" if where else "")
            + f"{pruning}; space: "
            + "; ".join(p.describe() for p in self.space.values())
        )


def _int(raw: Mapping[str, Any], key: str, where: str, path: Path, minimum: int, default: Any = ...) -> Any:
    value = raw.get(key, default)
    if value is ...:
        raise SweepError(f"{path}: `{where}` needs `{key}` (a whole number, at least {minimum}).")
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SweepError(f"{path}: `{where}.{key}` must be a whole number of at least {minimum}, got {value!r}.")
    return value


def parse_budget(raw: Any, path: Path) -> Budget | None:
    """The ``budget:`` block (None when the sweep has none)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SweepError(f"{path}: `budget` must be a mapping, e.g. `budget: {{max_epochs: 30, patience: 5}}`.")
    unknown = set(raw) - {"max_epochs", "patience"}
    if unknown:
        raise SweepError(f"{path}: unknown budget key(s) {sorted(unknown)}; a budget takes max_epochs and patience (null: no early stopping).")
    if "patience" not in raw:
        raise SweepError(f"{path}: `budget` needs `patience` (epochs without a better {MONITOR} before a run stops; null: no early stopping).")
    return Budget(max_epochs=_int(raw, "max_epochs", "budget", path, 1), patience=_int(raw, "patience", "budget", path, 1, default=None))


def _number(value: Any, key: str, bound: str, path: Path) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        hint = " (YAML reads 1e-4 as text: write 1.0e-4)" if isinstance(value, str) else ""
        raise SweepError(f"{path}: search.space.{key}.{bound} must be a number, got {value!r}{hint}.")
    return value


def _param(key: str, raw: Any, labels: Sequence[str], path: Path) -> Param:
    where = f"search.space.{key}"
    if isinstance(raw, list):
        raw = {"choices": raw}
    if not isinstance(raw, Mapping):
        raise SweepError(f"{path}: `{where}` must be a range `{{low, high, log}}` or a list of choices, got {raw!r}.")
    unknown = set(raw) - {"low", "high", "log", "step", "choices", "only"}
    if unknown:
        raise SweepError(f"{path}: unknown key(s) {sorted(unknown)} in `{where}`; give low, high, log, step, choices or only.")
    only = raw.get("only")
    if only is not None:
        only = [str(label) for label in ([only] if isinstance(only, str) else only)]
        missing = [label for label in only if label not in labels]
        if missing or not only:
            raise SweepError(f"{path}: `{where}.only` names {missing or 'no label'}; the searched axis has {', '.join(labels)}.")
        only = tuple(only)
    if "choices" in raw:
        choices = raw["choices"]
        if not isinstance(choices, list) or not choices or any(c is not None and not isinstance(c, (bool, int, float, str)) for c in choices):
            raise SweepError(f"{path}: `{where}` choices must be a non-empty list of numbers, strings, booleans or null, got {choices!r}.")
        if set(raw) - {"choices", "only"}:
            raise SweepError(f"{path}: `{where}` is either a list of choices or a range (low, high), not both.")
        return Param(key, choices=tuple(choices), only=only)
    if "low" not in raw or "high" not in raw:
        raise SweepError(f"{path}: `{where}` needs `low` and `high` (or a list of choices).")
    low, high = _number(raw["low"], key, "low", path), _number(raw["high"], key, "high", path)
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise SweepError(f"{path}: `{where}.log` must be true or false, got {log!r}.")
    if not low < high or (log and low <= 0):
        raise SweepError(f"{path}: `{where}` needs low < high" + (" and low > 0 on a log scale" if log else "") + f", got {low!r} and {high!r}.")
    step = raw.get("step")
    if step is not None and (_number(step, key, "step", path) <= 0 or log):
        raise SweepError(f"{path}: `{where}.step` must be positive, and cannot go with log: true.")
    return Param(key, low=low, high=high, log=log, step=step, only=only)


def _axis_named(name: Any, axes: Sequence[Axis], shown: Mapping[str, str], path: Path, where: str) -> Axis:
    for axis in axes:
        if str(name) in (axis.name, shown[axis.name]):
            return axis
    raise SweepError(f"{path}: `{where}` names axis {name!r}; the sweep's axes are {', '.join(shown[a.name] for a in axes) or 'none'}.")


def parse_search(
    raw: Any, path: Path, blocks: Sequence[Sequence[Axis]], names: Mapping[str, str], budget: Budget | None, command: str
) -> Search | None:
    """The ``search:`` block (None when the sweep has none), checked against the sweep's axes (``blocks``: the grid's
    axes, zipped ones together)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SweepError(f"{path}: `search` must be a mapping (per, trials, space, ...); see the sweep format.")
    unknown = set(raw) - {"per", "trials", "at", "seeds", "space", "seed", "startup", "pruning", "storage"}
    if unknown:
        keys = "per, trials, at, seeds, space, seed, startup, pruning, storage"
        raise SweepError(f"{path}: unknown search key(s) {sorted(unknown)}; a search takes {keys}.")
    if command != "fit":
        raise SweepError(f"{path}: a search trains its trials: it needs `command: fit`, not {command!r}.")
    if budget is None:
        raise SweepError(f"{path}: a search needs a `budget:` block (max_epochs, patience): its trials and the runs share that budget.")
    axes = [axis for block in blocks for axis in block]
    block_of = {axis.name: index for index, block in enumerate(blocks) for axis in block}
    shown = short_names(axes, dict(names))
    if "per" not in raw:
        raise SweepError(f"{path}: `search` needs `per`: the axis whose labels each get their own search (e.g. `per: model`).")
    per = _axis_named(raw["per"], axes, shown, path, "search.per")
    labels = [label for label, _ in per.points]
    trials = _int(raw, "trials", "search", path, 1)
    seeds = raw.get("seeds")
    if seeds is not None:
        seeds = [seeds] if isinstance(seeds, int) and not isinstance(seeds, bool) else seeds
        if not isinstance(seeds, list) or not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
            raise SweepError(f"{path}: `search.seeds` must be a list of whole numbers (seed_everything of the trial runs), got {raw.get('seeds')!r}.")
        if len(set(seeds)) != len(seeds):
            raise SweepError(f"{path}: `search.seeds` repeats a seed: {seeds}.")
    seed_block = block_of.get(SEED_AXIS) if seeds is not None else None
    point: dict[int, int] = {}
    for name, label in mapping_of(raw.get("at"), "search.at", path).items():
        axis = _axis_named(name, axes, shown, path, "search.at")
        block = block_of[axis.name]
        if block == block_of[per.name]:
            raise SweepError(f"{path}: `search.at` names {shown[axis.name]!r}, the searched axis (or one zipped with it); every label is searched.")
        if block == seed_block:
            raise SweepError(f"{path}: `search.at` names {shown[axis.name]!r}; give the trials' seed_everything through `search.seeds`.")
        known = [lab for lab, _ in axis.points]
        if value_label(label) not in known:
            raise SweepError(f"{path}: `search.at.{name}` is {label!r}; axis {shown[axis.name]!r} has labels {', '.join(known)}.")
        if point.setdefault(block, known.index(value_label(label))) != known.index(value_label(label)):
            raise SweepError(f"{path}: `search.at` names zipped axes at different positions; name one of them.")
    for block in range(len(blocks)):
        if block not in (block_of[per.name], seed_block):
            point.setdefault(block, 0)
    at = {axis.name: axis.points[index][0] for block, index in sorted(point.items()) for axis in blocks[block]}
    space_raw = raw.get("space")
    if not isinstance(space_raw, Mapping) or not space_raw:
        example = "`model.lr_head: {low: 1.0e-4, high: 1.0e-2, log: true}`"
        raise SweepError(f"{path}: `search.space` must map dotted CLI keys to ranges or choices, e.g. {example}.")
    space = {str(key): _param(str(key), value, labels, path) for key, value in space_raw.items()}
    for key in space:
        if _budget_key(key):
            raise SweepError(f"{path}: `search.space.{key}` is part of the budget; the budget block sets it for every run.")
    unsearched = [label for label in labels if not any(param.applies(label) for param in space.values())]
    if unsearched:
        raise SweepError(f"{path}: no searched option applies to {', '.join(unsearched)}; every label of {shown[per.name]!r} needs at least one.")
    seed = _int(raw, "seed", "search", path, 0, default=0)
    startup = _int(raw, "startup", "search", path, 1, default=max(1, trials // 2))
    pruning_raw = raw.get("pruning", {})
    pruning = None
    if pruning_raw is not False and pruning_raw is not None:
        if not isinstance(pruning_raw, Mapping) or set(pruning_raw) - {"startup", "warmup"}:
            raise SweepError(f"{path}: `search.pruning` is false or a mapping of startup (trials) and warmup (epochs), got {pruning_raw!r}.")
        pruning = Pruning(
            startup=_int(pruning_raw, "startup", "search.pruning", path, 0, default=2),
            warmup=_int(pruning_raw, "warmup", "search.pruning", path, 0, default=budget.patience or 1),
        )
        if seeds is not None and len(seeds) > 1:
            raise SweepError(f"{path}: pruning judges one run per trial; with several `search.seeds` set `pruning: false`.")
    storage = str(raw.get("storage", "sqlite"))
    if storage not in STORAGES:
        raise SweepError(f"{path}: `search.storage` is {storage!r}; use sqlite (one machine) or journal (a shared cluster file system).")
    declared = json.loads(json.dumps(dict(raw), default=str))
    return Search(
        per=per.name,
        labels=labels,
        trials=trials,
        at=at,
        point=point,
        seeds=seeds,
        space=space,
        seed=seed,
        startup=startup,
        pruning=pruning,
        storage=storage,
        shown=shown[per.name],
        declared=declared,
    )


def _normal(key: str) -> str:
    """A dotted key without ``init_args`` parts or a trailing ``+``: ``trainer.callbacks+`` -> ``trainer.callbacks``."""
    return ".".join(part for part in key.rstrip("+").split(".") if part != "init_args")


def _budget_key(key: str) -> bool:
    key = _normal(key)
    return any(key == k or key.startswith(k + ".") for k in BUDGET_KEYS)


def flat_keys(overrides: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of the values overrides set, nested mappings flattened (``trainer: {max_epochs: 6}`` -> ``trainer.max_epochs``)."""
    keys = []
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if key == "config":
            continue
        keys += flat_keys(value, dotted + ".") if isinstance(value, Mapping) and value else [dotted]
    return keys


def check_budget_keys(path: Path, overrides: Mapping[str, Any], axes: Sequence[Axis], budget: Budget | None, search: Search | None) -> None:
    """Refuse a label (or the sweep's overrides) that sets a budget key or a searched option itself."""
    if budget is None and search is None:
        return
    searched = {_normal(key) for key in (search.space if search else {})}

    def owned(key: str) -> str | None:
        if budget is not None and _budget_key(key):
            return "the budget block sets it for every run"
        normal = _normal(key)
        if any(normal == k or normal.startswith(k + ".") for k in searched):
            return "the search chooses it for every label"
        return None

    for key in flat_keys(overrides):
        why = owned(key)
        if why:
            raise SweepError(f"{path}: `overrides` sets `{key}`, but {why}; remove it.")
    for axis in axes:
        for label, values in axis.points:
            for key in flat_keys(values):
                why = owned(key)
                if why:
                    raise SweepError(f"{path}: label `{label}` of axis `{axis.name}` sets `{key}`, but {why}; remove it from the label.")


def params_text(params: Mapping[str, Any]) -> str:
    """``model.lr_head=0.001, model.head_hidden=64``."""
    return ", ".join(f"{key}={value_label(value)}" for key, value in params.items())


def plan_lines(budget: Budget | None, search: Search | None, output: Path) -> list[str]:
    """What ``plan`` says about a sweep's budget and search (its output folder ``output``): each label's chosen
    settings, or that it is to be searched."""
    lines = []
    if budget is not None:
        lines.append(f"budget (every run): {budget.describe()}")
    if search is None:
        return lines
    lines.append(f"search: {search.describe()}")
    chosen = search.chosen(Path.cwd() / output, budget)
    for label in search.labels:
        lines.append(f"  {label}: " + (params_text(chosen[label]) if chosen is not None else "to be searched"))
    return lines


# -- a run's effective budget, read back from its arguments (for plan and the shipped sweeps' test) --------------------------


def config_file(name: str, cwd: Path | None = None) -> Path | None:
    """A ``--config`` value as the CLI finds it: a path, else ``./configs/NAME[.yaml]``, else the shipped configs."""
    cwd = Path(cwd or Path.cwd())
    shipped = Path(str(importlib.resources.files("ser_lightning") / "configs"))
    candidates = [cwd / name] + [folder / n for folder in (cwd / "configs", shipped) for n in (name, f"{name}.yaml")]
    return next((c for c in candidates if c.is_file()), None)


@functools.lru_cache(maxsize=64)
def _trainer_block(path: Path) -> dict[str, Any]:
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("trainer") or {}


def effective_budget(args: Sequence[str], cwd: Path | None = None) -> dict[str, Any]:
    """The ``max_epochs`` and early-stopping patience a run's arguments give it, applied in order as the CLI does
    (config files, then options): ``{"max_epochs": 30, "patience": 5, "callbacks": [...]}``; a missing file is skipped."""
    max_epochs: Any = None
    callbacks: list[Any] = []
    for flag, value in zip(args, list(args[1:]) + [""]):
        if flag == "--config":
            path = config_file(value, cwd)
            trainer = _trainer_block(path) if path else {}
            max_epochs = trainer.get("max_epochs", max_epochs)
            if "callbacks" in trainer:
                callbacks = list(trainer["callbacks"] or [])
        elif flag == "--trainer.max_epochs":
            max_epochs = yaml.safe_load(value)
        elif flag == "--trainer.callbacks+":
            callbacks.append(yaml.safe_load(value))
        elif flag == "--trainer.callbacks":
            callbacks = list(yaml.safe_load(value) or [])
    stopping = [c.get("init_args", {}) for c in callbacks if isinstance(c, Mapping) and str(c.get("class_path", "")).endswith("EarlyStopping")]
    patience = [s.get("patience", 3) for s in stopping if s.get("monitor") == MONITOR]
    return {"max_epochs": max_epochs, "patience": patience[0] if len(patience) == 1 else (patience or None), "callbacks": callbacks}

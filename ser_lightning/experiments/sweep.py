"""The sweep file: base configs, overrides, the grid of axes, how to launch the runs and what to report.

```yaml
name: demo_fewshot                  # default: the file's stem
output: sweeps/demo_fewshot         # the sweep folder (default: sweeps/<name>), relative to the working directory
command: fit                        # fit (tests the best checkpoint at the end) or test
configs: [demo.yaml]                # base --config files, in order (bare names resolve as in the CLI)
overrides:                          # options of every run: dotted CLI keys
  trainer.max_epochs: 10
grid:                               # the product of these axes, in this order
  data.init_args.shots_per_class: [0, 2, 5]      # a list: one run per value
  backbone:                                      # a mapping: one run per label, each a set of overrides;
    cnn_lstm: {config: backbones/cnn_lstm.yaml}  #   `config` adds config files after the base ones
zip:                                # axes that vary together (lists of equal length); or a list of such groups
  seed_everything: [0, 1, 2]
  data.init_args.seed: [0, 1, 2]
names: {data.init_args.shots_per_class: k}       # short axis names for run names and tables
labels: {backbone: {cnn_lstm: CNN-LSTM}}         # display names of axis labels in figures and the report
launcher: {cluster: local}          # see Launcher
report: {metric: ua}                # see Report
claims: []                          # what the sweep sets out to show, tested on its runs: see experiments/claims.py
anchors: {}                         # ignored: a place for YAML anchors (&name) used further down
budget:                             # the selection budget, the same for every run (and every search trial)
  max_epochs: 30                    #   --trainer.max_epochs of every run
  patience: 5                       #   early stopping on val/ua (mode max) after 5 epochs without a better one; null: none
search:                             # an Optuna search per label of one axis, run before the grid (python -m ... search)
  per: model                        #   the axis whose labels each get their own search, with the same trials
  trials: 6                         #   trials per label (complete, pruned or failed: each counts)
  at: {shots: k0}                   #   the point of the other axes where trials run (default: each axis's first label)
  seeds: [0]                        #   seed_everything of each trial's runs (default: the `at` point's); the objective
                                    #   is the mean over them of each run's best val/ua on its validation speakers
  space:                            #   dotted CLI keys: a range {low, high, log, step} (ints if low and high are) or
    model.lr_head: {low: 1.0e-4, high: 1.0e-2, log: true}    # a list of choices; `only`: the labels it applies to
    model.lr_backbone: {low: 1.0e-4, high: 3.0e-3, log: true, only: [cnn_lstm]}
    model.head_hidden: [64, 256]
  seed: 0                           #   the TPE sampler's seed (default 0)
  startup: 3                        #   random trials before TPE models the space (default: half the trials)
  pruning: {startup: 2, warmup: 5}  #   median pruning after 2 finished trials and 5 epochs of a trial (default warmup:
                                    #   the patience); false: none (required with several seeds)
  storage: sqlite                   #   sweeps/<name>/search/<label>.db; journal: <label>.jsonl (shared cluster disks)
```

With a budget, no label (nor `overrides`) may set a budget key (trainer.max_epochs, min_epochs, max_steps, min_steps,
max_time, callbacks); with a search, none may set a searched key. Trials are fits with ``--test_after_fit false``: no test
metric takes part in selection. Outputs: ``search/chosen.json`` and ``search/search.md``; ``run`` searches first when they
are missing, then every run takes its label's chosen settings (``plan`` shows them, or "to be searched").
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .axes import Axis, SweepError, mapping_of, value_label
from .claims import ClaimError, parse_claims

if TYPE_CHECKING:
    from .budget import Budget, Search

COMMANDS = ("fit", "test")
CLUSTERS = ("local", "slurm", "debug")
TOP_LEVEL = {
    "name", "output", "command", "configs", "overrides", "grid", "zip", "names", "labels",
    "launcher", "report", "anchors", "claims", "budget", "search",
}  # fmt: skip


@dataclass
class Launcher:
    """Where runs execute, through submitit.

    Args:
        cluster: ``local`` (each run a subprocess of this machine), ``slurm`` (one job per run, submitted as a job
            array) or ``debug`` (in this process; for debugging).
        max_parallel: runs at once: locally in batches of this size (1 = one after another), on SLURM the job array's
            parallelism (0 = no limit).
        wait: wait for the runs and collect the results; default true, except on SLURM, where ``run`` returns
            after submitting (follow with ``status``, then ``collect``).
        parameters: the remaining keys go to submitit's ``AutoExecutor.update_parameters``: ``timeout_min``
            (default 720), ``gpus_per_node``, ``cpus_per_task``, ``mem_gb``, ``nodes``, ``tasks_per_node``, and
            ``slurm_``-prefixed SLURM options (``slurm_partition``, ``slurm_account``, ``slurm_qos``,
            ``slurm_additional_parameters``, ``slurm_setup``: lines run before the job, e.g. a module load).
    """

    cluster: str = "local"
    max_parallel: int = 1
    wait: bool | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def waits(self) -> bool:
        return self.wait if self.wait is not None else self.cluster != "slurm"


@dataclass
class Report:
    """What the tables and plots show.

    Args:
        metric: the test metric of tables and plots (``ua``, ``wa`` or ``f1``).
        replicates: axes that only repeat a run (seeds): tables and plots average over them. Default: every axis
            whose name contains ``seed``.
        alpha: the significance level of the sweep's claims (Holm-corrected across them).
    """

    metric: str = "ua"
    replicates: list[str] | None = None
    alpha: float = 0.05


@dataclass
class Sweep:
    """A parsed sweep file (see the module docstring for the format)."""

    path: Path
    name: str
    output: Path
    command: str
    configs: list[str]
    overrides: dict[str, Any]
    blocks: list[list[Axis]]  # each block is one axis, or several zipped axes; the grid is their product
    names: dict[str, str]
    launcher: Launcher
    report: Report
    claims: list[Any] = field(default_factory=list)  # experiments.claims.Claim
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # axis name -> grid label -> display name
    budget: Budget | None = None  # the same max_epochs and early stopping for every run (see budget.py)
    search: Search | None = None  # an Optuna search per label of one axis, run before the grid (see search.py)

    @property
    def axes(self) -> list[Axis]:
        return [axis for block in self.blocks for axis in block]


def shipped_sweeps() -> Path:
    """The sweeps shipped with the package (``ser_lightning/configs/sweeps``)."""
    return Path(str(importlib.resources.files("ser_lightning") / "configs" / "sweeps"))


def find_sweep(name: str | Path) -> Path:
    """A sweep file by path, or by bare name from ``./configs/sweeps`` then the shipped sweeps."""
    path = Path(name)
    if path.is_file():
        return path
    for folder in (Path("configs") / "sweeps", shipped_sweeps()):
        for candidate in (folder / path, folder / f"{path}.yaml"):
            if candidate.is_file():
                return candidate
    raise SweepError(
        f"No sweep file {name}; give a path or the name of a shipped sweep ({', '.join(sorted(p.stem for p in shipped_sweeps().glob('*.yaml')))})."
    )


def _axis(name: str, values: Any, path: Path) -> Axis:
    """A list axis (one override per value) or a labelled axis (label -> overrides)."""
    if isinstance(values, list):
        if not values:
            raise SweepError(f"{path}: axis `{name}` has no values.")
        if any(isinstance(value, Mapping) for value in values):
            raise SweepError(f"{path}: axis `{name}` has mapping values; give them labels instead: `{name}: {{label: {{...}}}}`.")
        return Axis(name, [(value_label(value), {name: value}) for value in values])
    if isinstance(values, Mapping):
        if not values:
            raise SweepError(f"{path}: axis `{name}` has no labels.")
        points = []
        for label, overrides in values.items():
            if not isinstance(overrides, Mapping):
                raise SweepError(f"{path}: label `{label}` of axis `{name}` must map to overrides (`{label}: {{key: value}}`), got {overrides!r}.")
            points.append((str(label), dict(overrides)))
        return Axis(name, points)
    raise SweepError(f"{path}: axis `{name}` must be a list of values or a mapping of labels to overrides, got {values!r}.")


def _launcher(raw: Any, path: Path) -> Launcher:
    raw = mapping_of(raw, "launcher", path)
    launcher = Launcher(
        cluster=str(raw.pop("cluster", "local")),
        max_parallel=int(raw.pop("max_parallel", 1)),
        wait=raw.pop("wait", None),
        parameters={"timeout_min": 720, **raw},
    )
    if launcher.cluster not in CLUSTERS:
        raise SweepError(f"{path}: launcher.cluster is {launcher.cluster!r}; use one of {', '.join(CLUSTERS)}.")
    if launcher.max_parallel < 0:
        raise SweepError(f"{path}: launcher.max_parallel must be 0 (no limit) or more, got {launcher.max_parallel}.")
    return launcher


def _report(raw: Any, path: Path) -> Report:
    raw = mapping_of(raw, "report", path)
    unknown = set(raw) - {"metric", "replicates", "alpha"}
    if unknown:
        raise SweepError(f"{path}: unknown report key(s) {sorted(unknown)}; report takes metric, replicates and alpha.")
    alpha = float(raw.get("alpha", 0.05))
    if not 0 < alpha < 1:
        raise SweepError(f"{path}: report.alpha is the claims' significance level, between 0 and 1; got {alpha}.")
    return Report(metric=str(raw.get("metric", "ua")), replicates=raw.get("replicates"), alpha=alpha)


def _blocks(raw: Mapping[str, Any], path: Path) -> list[list[Axis]]:
    blocks = [[_axis(str(name), values, path)] for name, values in mapping_of(raw.get("grid"), "grid", path).items()]
    zipped = raw.get("zip") or []
    for group in [zipped] if isinstance(zipped, Mapping) else zipped:
        axes = [_axis(str(name), values, path) for name, values in mapping_of(group, "zip", path).items()]
        lengths = {axis.name: len(axis.points) for axis in axes}
        if len(set(lengths.values())) > 1:
            raise SweepError(f"{path}: zipped axes must have equal lengths, got {lengths}.")
        if axes:
            blocks.append(axes)
    names = [axis.name for block in blocks for axis in block]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SweepError(f"{path}: axis {repeated} appears twice; give each axis once.")
    return blocks


def _claims(raw: Any, path: Path) -> list[Any]:
    try:
        return parse_claims(raw, path)
    except ClaimError as error:
        raise SweepError(str(error)) from None


def _labels(raw: Any, blocks: list[list[Axis]], names: Mapping[str, str], path: Path) -> dict[str, dict[str, str]]:
    """Display names per axis (keyed by the axis's full name), each naming a label the axis has."""
    axes = [axis for block in blocks for axis in block]
    result: dict[str, dict[str, str]] = {}
    for key, shown in mapping_of(raw, "labels", path).items():
        axis = next((a for a in axes if str(key) in (a.name, names.get(a.name), a.name.rsplit(".", 1)[-1])), None)
        if axis is None:
            raise SweepError(f"{path}: labels names axis `{key}`, which the grid does not have; axes: {', '.join(a.name for a in axes)}.")
        known = [label for label, _ in axis.points]
        mapping = {str(label): str(name) for label, name in mapping_of(shown, f"labels.{key}", path).items()}
        unknown = sorted(set(mapping) - set(known))
        if unknown:
            raise SweepError(f"{path}: labels.{key} names {unknown}, not labels of axis `{axis.name}` ({', '.join(known)}).")
        result[axis.name] = mapping
    return result


def load_sweep(path: str | Path, output: str | Path | None = None) -> Sweep:
    """Read and check a sweep file; ``output`` replaces its sweep folder."""
    path = find_sweep(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SweepError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(raw, Mapping):
        raise SweepError(f"{path}: a sweep file is a mapping (configs, overrides, grid, ...).")
    unknown = set(raw) - TOP_LEVEL
    if unknown:
        raise SweepError(f"{path}: unknown key(s) {sorted(unknown)}; a sweep takes {', '.join(sorted(TOP_LEVEL))}.")
    configs = raw.get("configs") or []
    configs = [configs] if isinstance(configs, str) else [str(c) for c in configs]
    if not configs:
        raise SweepError(f"{path}: give the base config(s) of every run, e.g. `configs: [demo.yaml]`.")
    command = str(raw.get("command", "fit"))
    if command not in COMMANDS:
        raise SweepError(f"{path}: command is {command!r}; a sweep runs {' or '.join(COMMANDS)}.")
    name = str(raw.get("name") or path.stem)
    blocks = _blocks(raw, path)
    names = {str(k): str(v) for k, v in mapping_of(raw.get("names"), "names", path).items()}
    sweep = Sweep(
        path=path,
        name=name,
        output=Path(output if output is not None else raw.get("output") or Path("sweeps") / name),
        command=command,
        configs=configs,
        overrides=mapping_of(raw.get("overrides"), "overrides", path),
        blocks=blocks,
        names=names,
        launcher=_launcher(raw.get("launcher"), path),
        report=_report(raw.get("report"), path),
        claims=_claims(raw.get("claims"), path),
        labels=_labels(raw.get("labels"), blocks, names, path),
    )
    from .budget import check_budget_keys, parse_budget, parse_search

    sweep.budget = parse_budget(raw.get("budget"), path)
    sweep.search = parse_search(raw.get("search"), path, sweep.blocks, sweep.names, sweep.budget, command)
    check_budget_keys(path, sweep.overrides, sweep.axes, sweep.budget, sweep.search)
    return sweep

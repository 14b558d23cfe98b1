"""Grid expansion: a sweep's axes -> one RunSpec per point, with a stable, readable, filesystem-safe name and its CLI arguments."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .axes import short_names
from .sweep import Sweep, SweepError

MAX_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
# Options every run sets itself: its own log and checkpoint folders under the sweep folder.
RUN_OWNED = (
    "trainer.logger.init_args.save_dir",
    "trainer.logger.init_args.name",
    "trainer.logger.init_args.version",
    "checkpoint.dirpath",
    "ckpt_path",
)


@dataclass
class RunSpec:
    """One run of a sweep: its name, grid point (axis -> label), folder and the CLI arguments that run it."""

    name: str
    point: dict[str, str]
    folder: str
    args: list[str]
    cwd: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def command_line(self) -> str:
        """The run as a shell command (for logs and for running it by hand)."""
        return "python -m ser_lightning " + " ".join(shlex.quote(arg) for arg in self.args)


def run_name(point: Sequence[tuple[str, str]]) -> str:
    """``k=5,seed=1``: ``short=label`` per axis, characters other than letters, digits and ``._+-`` replaced by ``-``.

    Names longer than 120 characters keep their start and end with a hash of the whole, so they stay unique.
    """
    name = ",".join(f"{_UNSAFE.sub('-', axis)}={_UNSAFE.sub('-', label)}" for axis, label in point) or "run"
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name[: MAX_NAME - 11]}-{digest}"
    return name


def cli_value(value: Any) -> str:
    """A YAML value as a command-line value that jsonargparse parses back to it (JSON for non-strings)."""
    return value if isinstance(value, str) else json.dumps(value)


def run_args(sweep: Sweep, overrides: dict[str, Any], folder: Path, extra: Sequence[str] = ()) -> list[str]:
    """CLI arguments: base configs, the point's configs, the overrides, the sweep's budget, ``extra``, then the run's own
    log and checkpoint folders."""
    configs = list(sweep.configs)
    options: dict[str, Any] = {}
    for key, value in overrides.items():
        if key == "config":
            configs.extend([value] if isinstance(value, str) else [str(v) for v in value])
        elif key in RUN_OWNED:
            raise SweepError(f"{sweep.path}: `{key}` is set by the sweep for every run (its own folder); leave it out.")
        else:
            options[key] = value
    args = [sweep.command]
    for config in configs:
        args += ["--config", config]
    for key, value in options.items():
        args += [f"--{key}", cli_value(value)]
    if sweep.budget is not None:
        args += sweep.budget.args()
    args += list(extra)
    args += [
        "--trainer.logger.init_args.save_dir",
        str(folder.parent),
        "--trainer.logger.init_args.name",
        folder.name,
        "--trainer.logger.init_args.version",
        "logs",
        "--checkpoint.dirpath",
        str(folder / "checkpoints"),
    ]
    if sweep.command == "fit":
        args += ["--ckpt_path", "last"]  # an interrupted or requeued run resumes from its last epoch
    return args


def point_overrides(sweep: Sweep, combination: Sequence[int], shown: dict[str, str]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """One grid point (an index per block): its ``(shown axis, label)`` pairs and the overrides it runs with."""
    point: list[tuple[str, str]] = []
    overrides = dict(sweep.overrides)
    for block, index in zip(sweep.blocks, combination):
        for axis in block:
            label, values = axis.points[index]
            point.append((shown[axis.name], label))
            for key, value in values.items():
                if key == "config" and "config" in overrides:
                    extra = overrides["config"]
                    value = ([extra] if isinstance(extra, str) else list(extra)) + ([value] if isinstance(value, str) else list(value))
                overrides[key] = value
    return point, overrides


def expand(sweep: Sweep, cwd: Path | None = None) -> list[RunSpec]:
    """Every point of the sweep's grid, in order (the last axis varies fastest); names are unique.

    With a ``search:`` block whose results are in, each run also gets its label's chosen settings."""
    cwd = (cwd or Path.cwd()).resolve()
    runs_dir = (cwd / sweep.output / "runs").resolve()
    shown = short_names(sweep.axes, sweep.names)
    chosen = sweep.search.chosen(cwd / sweep.output, sweep.budget) if sweep.search is not None else None
    specs: list[RunSpec] = []
    for combination in itertools.product(*[range(len(block[0].points)) for block in sweep.blocks]):
        point, overrides = point_overrides(sweep, combination, shown)
        if chosen is not None:
            overrides.update(chosen[dict(point)[sweep.search.shown]])
        name = run_name(point)
        folder = runs_dir / name
        specs.append(RunSpec(name, dict(point), str(folder), run_args(sweep, overrides, folder), str(cwd)))
    names = [spec.name for spec in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SweepError(f"{sweep.path}: several grid points are named {twice[:3]}; give the axes distinct labels.")
    return specs

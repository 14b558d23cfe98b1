"""Finished runs -> tidy rows (one per run, group, SNR and metric) -> means ± standard deviations over replicates.

A run's metrics are computed from its per-utterance test rows (``logs/test_predictions.csv.gz``, see
:mod:`ser_lightning.evaluation`) when it kept them, else read from its ``results.json`` (runs of older releases).
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import math
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..evaluation import EvaluationRows, Group, group_metrics, groups_by_name, logged_metrics, read_rows
from ..evaluation.metrics import per_class_recall
from ..naming import parse_metric_key, snr_tag
from ..results import read_results, study_fields

# Study fields read from each run's resolved config; grid axes of the same name are these fields, not extra columns.
FIELDS = ("backbone", "pretrained", "train", "test", "k")
SEEDS = ("seed", "split_seed")


@dataclass
class RunRecord:
    """A finished run: its name, grid point (axis -> label), results file content and, when it kept them, its test rows."""

    name: str
    point: dict[str, str]
    results: dict[str, Any]
    rows: EvaluationRows | None = None


def load_records(runs: Iterable[tuple[str, Mapping[str, str], Path]]) -> list[RunRecord]:
    """Read the results file of each (name, point, results path), and the test rows file it names."""
    records = []
    for name, point, path in runs:
        results = read_results(path)
        kept = Path(path).parent / results["predictions"] if results.get("predictions") else None
        records.append(RunRecord(name, dict(point), results, read_rows(kept) if kept is not None and kept.is_file() else None))
    return records


def run_metrics(record: RunRecord) -> dict[str, float]:
    """``test/<metric>[/<group>]`` of a run: computed from its test rows (grouped as the run grouped them), else as logged."""
    if record.rows is None:
        return dict(record.results.get("metrics", {}))
    model = (record.results.get("config") or {}).get("model") or {}
    by = (model.get("init_args", model) if isinstance(model, Mapping) else {}).get("group_by") or ("role", "language")
    named = groups_by_name(group_metrics(record.rows, list(by)))
    clean = record.rows.select(Group().mask(record.rows))
    return logged_metrics(named) | {f"test/recall/{name}": value for name, value in per_class_recall(clean).items()}


def tidy_rows(records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One row per run, group, SNR and metric.

    Columns: run, the study fields (backbone, pretrained, train, test, k), the grid's other axes, seed,
    split_seed, group, snr (``clean`` or dB), metric, value, n (test utterances of the group, clean audio).
    """
    rows = []
    for record in records:
        results = record.results
        study = study_fields(results["config"], results.get("data")) if results.get("config") else dict(results.get("study") or {})
        axes = {axis: label for axis, label in record.point.items() if axis not in FIELDS and axis not in SEEDS}
        base = {
            "run": record.name,
            **{key: study.get(key) for key in FIELDS},
            **axes,
            "seed": study.get("seed"),
            "split_seed": study.get("split_seed"),
        }
        groups = record.results.get("groups") or {}
        for key, value in sorted(run_metrics(record).items()):
            parsed = parse_metric_key(key)
            if parsed is None:
                continue
            metric, group, snr = parsed
            n = groups.get(group, {}).get("n") if snr is None else None
            rows.append(base | {"group": group, "snr": snr_tag(snr), "metric": metric, "value": float(value), "n": None if n is None else int(n)})
    return rows


def factor_columns(rows: Sequence[Mapping[str, Any]], replicates: Sequence[str] = ()) -> list[str]:
    """The columns that tell conditions apart: study fields and axes, without run, seeds, replicates and measures."""
    skip = {"run", "group", "snr", "metric", "value", "n", *SEEDS, *replicates}
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in skip and key not in columns)
    return columns


@dataclass
class Cell:
    """Mean, sample standard deviation (0 for one run) and number of runs of one condition; ``low`` and ``high``: the 95%
    interval of the mean (a cluster bootstrap over test speakers, see :mod:`.statistics`) where it was computed."""

    mean: float
    std: float
    n: int
    low: float | None = None
    high: float | None = None

    def __str__(self) -> str:
        interval = f" [{self.low:.3f}, {self.high:.3f}]" if self.low is not None and self.high is not None and self.low == self.low else ""
        return f"{self.mean:.3f} ± {self.std:.3f}{interval} ({self.n})"


Interval = Callable[[Sequence[Mapping[str, Any]]], "tuple[float, float] | None"]
_INTERVAL: contextvars.ContextVar[Interval | None] = contextvars.ContextVar("cell_interval", default=None)


@contextlib.contextmanager
def cell_intervals(interval: Interval | None) -> Iterator[None]:
    """Within the block, :func:`aggregate` gives every cell ``interval``'s 95% interval (tables, figures and the report
    of one sweep draw the same intervals without passing them through every call)."""
    token = _INTERVAL.set(interval)
    try:
        yield
    finally:
        _INTERVAL.reset(token)


def current_interval() -> Interval | None:
    """The interval of the enclosing :func:`cell_intervals` block (None outside one)."""
    return _INTERVAL.get()


def aggregate(rows: Sequence[Mapping[str, Any]], by: Sequence[str], interval: Interval | None = None) -> dict[tuple, Cell]:
    """Mean ± std over the runs that share the values of ``by`` (NaN values are left out); ``interval`` (default: the
    one of the enclosing :func:`cell_intervals`) gives a cell's 95% interval from its tidy rows (None: no interval)."""
    interval = interval if interval is not None else _INTERVAL.get()
    members: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        if isinstance(row["value"], float) and math.isnan(row["value"]):
            continue
        members.setdefault(tuple(row.get(key) for key in by), []).append(row)
    cells = {}
    for key, found in members.items():
        v = [float(row["value"]) for row in found]
        bounds = interval(found) if interval is not None else None
        cells[key] = Cell(statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v), *(bounds or (None, None)))
    return cells


def default_replicates(axes: Sequence[str]) -> list[str]:
    """Axes that only repeat runs: those whose name contains ``seed``."""
    return [axis for axis in axes if "seed" in axis]


def write_tidy_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """The tidy table as CSV (columns in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows({key: ("" if row.get(key) is None else row.get(key)) for key in columns} for row in rows)
    return path


def speaker_intervals(records: Sequence[RunRecord], replicates: Sequence[str], metric: str) -> Interval:
    """A cell's 95% interval from its runs' test rows: a cluster bootstrap over test speakers (see
    :mod:`.statistics`); None for other metrics, or when a run of the cell kept no rows."""
    from .claims import FinishedRun, units_of
    from .statistics import interval

    runs = {
        record.name: FinishedRun(record.name, record.point, ",".join(str(record.point.get(a)) for a in replicates) or "0", Path(), record.rows)
        for record in records
        if record.rows is not None
    }

    found: dict[tuple, tuple[float, float] | None] = {}  # tables and figures ask for the same cells: each is bootstrapped once

    def compute(cell: Sequence[Mapping[str, Any]]) -> tuple[float, float] | None:
        if metric not in ("ua", "wa", "f1") or any(row["run"] not in runs for row in cell) or cell[0]["metric"] != metric:
            return None
        key = (tuple(sorted(row["run"] for row in cell)), cell[0]["group"], cell[0]["snr"])
        if key not in found:
            found[key] = _cell_interval(cell)
        return found[key]

    def _cell_interval(cell: Sequence[Mapping[str, Any]]) -> tuple[float, float] | None:
        members = [runs[row["run"]] for row in cell]
        try:
            units = units_of(members, cell[0]["group"], cell[0]["snr"], len(members[0].rows.label_names))
        except ValueError:
            return None
        estimate = interval(units, metric)
        return (estimate.low, estimate.high) if estimate.low == estimate.low else None

    return compute

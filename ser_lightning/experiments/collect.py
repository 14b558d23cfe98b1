"""Finished runs -> tidy rows (one per run, group, SNR and metric) -> means ± standard deviations over replicates."""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..naming import parse_metric_key, snr_tag
from ..results import read_results, study_fields

# Study fields read from each run's resolved config; grid axes of the same name are these fields, not extra columns.
FIELDS = ("backbone", "pretrained", "train", "test", "k")
SEEDS = ("seed", "split_seed")


@dataclass
class RunRecord:
    """A finished run: its name, grid point (axis -> label) and results file content."""

    name: str
    point: dict[str, str]
    results: dict[str, Any]


def load_records(runs: Iterable[tuple[str, Mapping[str, str], Path]]) -> list[RunRecord]:
    """Read the results file of each (name, point, results path)."""
    return [RunRecord(name, dict(point), read_results(path)) for name, point, path in runs]


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
        for key, value in sorted(record.results.get("metrics", {}).items()):
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
    """Mean, sample standard deviation (0 for one run) and number of runs of one condition."""

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.std:.3f} ({self.n})"


def aggregate(rows: Sequence[Mapping[str, Any]], by: Sequence[str]) -> dict[tuple, Cell]:
    """Mean ± std over the runs that share the values of ``by`` (NaN values are left out)."""
    values: dict[tuple, list[float]] = {}
    for row in rows:
        if isinstance(row["value"], float) and math.isnan(row["value"]):
            continue
        values.setdefault(tuple(row.get(key) for key in by), []).append(float(row["value"]))
    return {key: Cell(statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v)) for key, v in values.items()}


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

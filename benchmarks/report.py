"""The figure format every benchmark item returns, the Markdown table, and the report files.

A figure is a plain dict: ``name``, ``value`` (float; NaN when it could not be measured), ``unit``,
``goal`` (text such as ``<= 1.05x``; empty when there is none), ``passed`` (bool, or None when there
is no goal) and ``detail`` (what was compared, sizes, repetitions). Figures that could not be
measured also carry ``status`` (``missing``, ``not available`` or ``error``); they never pass.
In the JSON report a NaN value is written as null.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Figure = dict[str, Any]
FIELDS = ("name", "value", "unit", "goal", "passed", "detail")


def figure(name: str, value: float, unit: str, goal: str = "", passed: bool | None = None, detail: str = "") -> Figure:
    """One measured figure; ``passed`` must be None exactly when there is no ``goal``."""
    if (passed is None) != (not goal):
        raise ValueError(f"{name}: a figure with a goal passes or fails, one without a goal has passed=None.")
    return {"name": name, "value": float(value), "unit": unit, "goal": goal, "passed": passed, "detail": detail}


def unmeasured(name: str, status: str, detail: str, goal: str = "") -> Figure:
    """A figure that could not be measured (``missing``, ``not available``, ``error``): NaN, and not passed when it has a goal."""
    return {"name": name, "value": math.nan, "unit": "", "goal": goal, "passed": False if goal else None, "detail": detail, "status": status}


def median_time(run: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def spread(values: Sequence[float]) -> str:
    """``median (min-max, n=...)`` of repeated measurements, for details."""
    return f"median {statistics.median(values):.4g} (min {min(values):.4g}, max {max(values):.4g}, n={len(values)})"


def _value_text(fig: Figure) -> str:
    if fig.get("status"):
        return fig["status"]
    value = fig["value"]
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _result_text(fig: Figure) -> str:
    if fig.get("status"):
        return fig["status"] if not fig["goal"] else f"not passed ({fig['status']})"
    return {True: "pass", False: "**FAIL**", None: "-"}[fig["passed"]]


def markdown_table(figures: Sequence[Figure]) -> str:
    """The figures as one Markdown table (details in the last column)."""
    rows = ["| figure | value | unit | goal | result | detail |", "|---|---|---|---|---|---|"]
    for fig in figures:
        cells = [fig["name"], _value_text(fig), fig["unit"], fig["goal"] or "-", _result_text(fig), fig["detail"]]
        rows.append("| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(rows)


def write_reports(figures: Sequence[Figure], folder: Path, header: dict[str, Any]) -> tuple[Path, Path, str]:
    """Write ``report.md`` and ``report.json`` under ``folder``; returns both paths and the Markdown text."""
    folder.mkdir(parents=True, exist_ok=True)
    goals = [fig for fig in figures if fig["goal"]]
    failed = [fig["name"] for fig in goals if not fig["passed"]]
    summary = f"{len(goals) - len(failed)} of {len(goals)} goals passed" + (f"; not passed: {', '.join(failed)}" if failed else "")
    lines = ["# Benchmark report", ""] + [f"- {key}: {value}" for key, value in header.items()] + [f"- {summary}", "", markdown_table(figures), ""]
    markdown = "\n".join(lines)
    md_path, json_path = folder / "report.md", folder / "report.json"
    md_path.write_text(markdown, encoding="utf-8")
    clean = [{**fig, "value": fig["value"] if math.isfinite(fig["value"]) else None} for fig in figures]
    json_path.write_text(json.dumps({"header": header, "summary": summary, "figures": clean}, indent=2) + "\n", encoding="utf-8")
    return md_path, json_path, markdown

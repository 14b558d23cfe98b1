"""The figure format every benchmark item returns, the Markdown table, and the report files.

A figure is a plain dict: ``name``, ``value`` (float; NaN when it could not be measured), ``unit``,
``goal`` (text such as ``<= 1.05x``; empty when there is none), ``passed`` (bool, or None when there
is no goal or the result is within noise), ``verdict`` (``pass``, ``FAIL``, ``within noise`` or ``-``)
and ``detail`` (what was compared, sizes, repetitions). A figure measured in repeats (:func:`judged`)
also carries ``low`` and ``high``, the smallest and largest repeat: it passes when every repeat meets
its goal, fails when none does, and is ``within noise`` when the goal lies inside that spread (on a
shared machine a ratio of 1.05 against a goal of 1.05 says nothing either way). Figures that could
not be measured carry ``status`` (``missing``, ``not available``, ``not measured`` or ``error``) and
the reason in ``detail``; they never pass. In the JSON report a NaN value is written as null.
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


VERDICTS = {True: "pass", False: "FAIL", None: "-"}
WITHIN_NOISE = "within noise"


class NotMeasured(Exception):
    """Raised by an item that cannot measure here, with the reason (a child process that failed, a missing resource)."""


def figure(name: str, value: float, unit: str, goal: str = "", passed: bool | None = None, detail: str = "") -> Figure:
    """One measured figure; ``passed`` must be None exactly when there is no ``goal``."""
    if (passed is None) != (not goal):
        raise ValueError(f"{name}: a figure with a goal passes or fails, one without a goal has passed=None.")
    return {"name": name, "value": float(value), "unit": unit, "goal": goal, "passed": passed, "verdict": VERDICTS[passed], "detail": detail}


def judged(name: str, values: Sequence[float], unit: str, goal: str = "", meets: Callable[[float], bool] | None = None, detail: str = "") -> Figure:
    """A figure measured in repeats: the median of ``values`` with its spread; ``pass`` when every repeat meets the goal,
    ``FAIL`` when none does, ``within noise`` (passed None) when the goal lies inside the spread; ``-`` without a goal."""
    if not values:
        raise ValueError(f"{name}: no repeats to judge.")
    if (meets is None) != (not goal):
        raise ValueError(f"{name}: a goal needs its test (meets), and a test its goal.")
    hits = [bool(meets(value)) for value in values] if meets is not None else []
    passed = None if not hits else True if all(hits) else False if not any(hits) else None
    low, high = min(values), max(values)
    text = f"median of {len(values)} repeats, min {low:.4g}, max {high:.4g}"
    return {
        "name": name,
        "value": float(statistics.median(values)),
        "unit": unit,
        "goal": goal,
        "passed": passed,
        "verdict": VERDICTS[passed] if passed is not None or not goal else WITHIN_NOISE,
        "detail": f"{text}; {detail}" if detail else text,
        "low": float(low),
        "high": float(high),
    }


def unmeasured(name: str, status: str, detail: str, goal: str = "") -> Figure:
    """A figure that could not be measured (``missing``, ``not available``, ``not measured``, ``error``): NaN, the reason
    in ``detail``, and not passed when it has a goal."""
    passed = False if goal else None
    return {"name": name, "value": math.nan, "unit": "", "goal": goal, "passed": passed, "verdict": status, "detail": detail, "status": status}


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


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _value_text(fig: Figure) -> str:
    if fig.get("status"):
        return fig["status"]
    spread_text = f" ({_number(fig['low'])}-{_number(fig['high'])})" if "low" in fig else ""
    return _number(fig["value"]) + spread_text


def _result_text(fig: Figure) -> str:
    if fig.get("status"):
        return fig["status"] if not fig["goal"] else f"not passed ({fig['status']})"
    return "**FAIL**" if fig["verdict"] == "FAIL" else fig["verdict"]


def markdown_table(figures: Sequence[Figure]) -> str:
    """The figures as one Markdown table (details in the last column)."""
    rows = ["| figure | value (min-max of repeats) | unit | goal | result | detail |", "|---|---|---|---|---|---|"]
    for fig in figures:
        cells = [fig["name"], _value_text(fig), fig["unit"], fig["goal"] or "-", _result_text(fig), fig["detail"]]
        rows.append("| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(rows)


def write_reports(figures: Sequence[Figure], folder: Path, header: dict[str, Any]) -> tuple[Path, Path, str]:
    """Write ``report.md`` and ``report.json`` under ``folder``; returns both paths and the Markdown text."""
    folder.mkdir(parents=True, exist_ok=True)
    goals = [fig for fig in figures if fig["goal"]]
    noisy = [fig["name"] for fig in goals if fig.get("verdict") == WITHIN_NOISE]
    failed = [fig["name"] for fig in goals if fig["passed"] is False]
    summary = f"{len(goals) - len(failed) - len(noisy)} of {len(goals)} goals passed"
    summary += (f"; within noise (the goal inside the spread of repeats): {', '.join(noisy)}" if noisy else "") + (
        f"; not passed: {', '.join(failed)}" if failed else ""
    )
    lines = ["# Benchmark report", ""] + [f"- {key}: {value}" for key, value in header.items()] + [f"- {summary}", "", markdown_table(figures), ""]
    markdown = "\n".join(lines)
    md_path, json_path = folder / "report.md", folder / "report.json"
    md_path.write_text(markdown, encoding="utf-8")
    clean = [{**fig, "value": fig["value"] if math.isfinite(fig["value"]) else None} for fig in figures]
    json_path.write_text(json.dumps({"header": header, "summary": summary, "figures": clean}, indent=2) + "\n", encoding="utf-8")
    return md_path, json_path, markdown

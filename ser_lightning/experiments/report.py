"""``python -m ser_lightning.experiments report SWEEP``: the study on one page, ``report.html`` (self-contained: figures
inline) and ``report.md`` beside it in the sweep folder.

What it holds: how many runs finished and which failed or are missing (with their logs), the claims and their
verdicts (``claims.json``, when computed), every figure, the results with their intervals, the model selection
(``search/chosen.json``, when a search ran), and every run with its grid point, files and command line.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..fileio import write_text_atomic
from ..naming import CLEAN
from .collect import Cell, RunRecord, aggregate, cell_intervals, default_replicates, load_records, speaker_intervals, tidy_rows
from .figures import Drawn, Names, best_confusion, make_figures
from .figures.curves import curve_groups
from .figures.style import interval_kind
from .grid import RunSpec, expand
from .report_blocks import Badge, Code, Details, Document, Figure, Heading, Link, Table, Text, markdown
from .report_html import html
from .runs import RunFolder, RunState
from .sweep import Sweep
from .tables import ROLE_NAMES, first_seen, ordered_groups

REPORT_HTML = "report.html"
REPORT_MD = "report.md"
CLAIMS = "claims.json"
CHOSEN = Path("search") / "chosen.json"
VERDICTS = ("holds", "does not hold", "inconclusive")
Rows = Sequence[Mapping[str, Any]]


@dataclass
class Written:
    """What ``report`` wrote."""

    html: Path
    markdown: Path
    figures: list[Drawn]


def cell_text(cell: Cell | None) -> str:
    """``0.739 [0.702, 0.771] (3)`` with a 95% interval, else ``0.739 ± 0.035 (3)``; ``–`` where nothing was measured."""
    if cell is None:
        return "–"
    low, high = getattr(cell, "low", None), getattr(cell, "high", None)
    if low is not None and high is not None:
        return f"{cell.mean:.3f} [{low:.3f}, {high:.3f}] ({cell.n})"
    return f"{cell.mean:.3f} ± {cell.std:.3f} ({cell.n})"


def _number(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else str(value)
    if isinstance(value, float) and math.isnan(value):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _runs(sweep: Sweep) -> tuple[list[RunSpec], dict[str, RunState], list[RunRecord], dict[str, str]]:
    """The grid, each run's state, the records of the finished runs, and the finished runs whose results are unreadable."""
    specs = expand(sweep)
    states = {spec.name: RunFolder(spec.folder).state() for spec in specs}
    records, unreadable = [], {}
    for spec in specs:
        if states[spec.name].state == "done":
            try:
                records += load_records([(spec.name, spec.point, RunFolder(spec.folder).results)])
            except ValueError as error:
                unreadable[spec.name] = str(error)
    return specs, states, records, unreadable


def _intervals(rows: Rows) -> str:
    """What a table's cells are: mean [95% interval] or mean ± std over seeds, and the number of runs."""
    kind = interval_kind(aggregate(rows, ["_model", "group", "snr"]).values())
    return f"cells: mean [{kind}] (runs)" if kind.startswith("95%") else "cells: mean ± standard deviation over seeds (runs)"


def _row_keys(rows: Rows, extra: Sequence[str], names: Names) -> list[tuple]:
    """(model, condition...) of each table row: models in the sweep's order, conditions as first seen."""
    keys = first_seen([(row["_model"], *(row.get(c) for c in extra)) for row in rows])
    return sorted(keys, key=lambda key: names.models.index(key[0]) if key[0] in names.models else len(names.models))


def result_tables(rows: Rows, metric: str, names: Names, replicates: Sequence[str]) -> list[Table]:
    """Clean audio: one row per model and condition, one column per test group; in noise: one column per SNR."""
    metric_rows = [{**row, "_model": names.model(row)} for row in rows if row["metric"] == metric]
    clean = [row for row in metric_rows if row["snr"] == CLEAN]
    tables = []
    if clean:
        extra = names.extra_conditions(clean, ["group"], replicates)
        groups = ordered_groups([row["group"] for row in clean]) or ["all"]
        cells = aggregate(clean, ["_model", *extra, "group"])
        keys = _row_keys(clean, extra, names)
        tables.append(
            Table(
                ["model", *extra, *(ROLE_NAMES.get(g, g) for g in groups)],
                [[key[0], *(names.value(c, v) for c, v in zip(extra, key[1:])), *(cell_text(cells.get((*key, g))) for g in groups)] for key in keys],
                "results",
                f"Test {metric.upper()} on clean audio; {_intervals(clean)}.",
            )
        )
    noisy_runs = {row["run"] for row in metric_rows if row["snr"] != CLEAN}
    noisy = [row for row in metric_rows if row["run"] in noisy_runs]
    if noisy:
        extra = names.extra_conditions(noisy, ["group", "snr"], replicates)
        snrs = [CLEAN] + sorted({row["snr"] for row in noisy if row["snr"] != CLEAN}, key=float, reverse=True)
        groups = curve_groups(noisy)
        cells = aggregate(noisy, ["_model", *extra, "group", "snr"])
        keys = _row_keys(noisy, extra, names)
        tables.append(
            Table(
                ["model", *extra, "test group", *(s if s == CLEAN else f"{s} dB" for s in snrs)],
                [
                    [
                        key[0],
                        *(names.value(c, v) for c, v in zip(extra, key[1:])),
                        ROLE_NAMES.get(g, g),
                        *(cell_text(cells.get((*key, g, s))) for s in snrs),
                    ]
                    for key in keys
                    for g in groups
                ],
                "noise",
                f"Test {metric.upper()} with white noise added to the test audio at each SNR; {_intervals(noisy)}.",
            )
        )
    return tables


def _read_json(path: Path) -> tuple[Any, str]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except (OSError, json.JSONDecodeError) as error:
        return None, f"{path} could not be read ({error}); compute it again."


def _value(value: Any) -> str:
    return f" ({value:.3f})" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _condition(value: Any, names: Names) -> str:
    if not isinstance(value, Mapping):
        return "–" if value is None else str(value)
    return ", ".join(names.value(axis, label) for axis, label in value.items()) or "–"


def claim_blocks(folder: Path, names: Names) -> list[Any]:
    """The verdict table from ``claims.json``, or a line saying there is none."""
    path = folder / CLAIMS
    if not path.is_file():
        return [Text(f"No claims declared/computed: {CLAIMS} is absent from {folder}.", "note")]
    data, error = _read_json(path)
    claims = data.get("claims") if isinstance(data, Mapping) else None
    if error or not isinstance(claims, list):
        return [Text(error or f"{path} has no list of `claims`; compute the claims again.", "warning")]
    rows = []
    for claim in claims:
        claim = claim if isinstance(claim, Mapping) else {}
        better, worse = (_condition(claim.get(side), names) + _value(claim.get(f"{side}_value")) for side in ("better", "worse"))
        comparison = f"{better} vs {worse}"
        change = claim.get("change")
        if isinstance(change, Mapping):
            comparison += "; " + ", ".join(
                f"{axis}: {names.value(axis, pair[0])} → {names.value(axis, pair[1])}" for axis, pair in change.items() if len(pair) == 2
            )
        verdict = str(claim.get("verdict", "–"))
        p = claim.get("p_holm")
        rows.append(
            [
                str(claim.get("name", "–")),
                comparison,
                f"{claim.get('metric', '')} {claim.get('group', '')}".strip() or "–",
                _number(claim.get("delta")),
                f"[{_number(claim.get('low'))}, {_number(claim.get('high'))}]",
                "< 0.001" if isinstance(p, (int, float)) and p < 0.001 else _number(p),
                Badge(verdict, verdict.replace(" ", "-") if verdict in VERDICTS else "pending"),
                f"{claim.get('seeds', '–')} / {claim.get('speakers', '–')}",
                str(claim.get("note") or ""),
            ]
        )
    alpha = data.get("alpha", "–")
    caption = (
        f"Δ: the first condition's metric minus the second's on the test group (their values in brackets), with its 95% "
        f"interval; p adjusted for the {len(rows)} claims by Holm's method; α = {alpha}; verdicts as computed in {CLAIMS}."
    )
    columns = ["claim", "comparison", "metric", "Δ", "95% interval", "p (Holm)", "verdict", "seeds / speakers", "note"]
    return [Table(columns, rows, "verdicts", caption)]


def _flat(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={_flat(v)}" for key, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def search_blocks(folder: Path, names: Names) -> list[Any]:
    """The chosen settings per model from ``search/chosen.json`` (a table when it maps models to records)."""
    path = folder / CHOSEN
    if not path.is_file():
        return []
    data, error = _read_json(path)
    blocks: list[Any] = [Heading("Model selection", "search")]
    if error:
        return blocks + [Text(error, "warning")]
    labels = data.get("labels") if isinstance(data, Mapping) else None
    if isinstance(labels, Mapping) and all(isinstance(v, Mapping) for v in labels.values()):  # what the search writes
        axis = names.model_axes[0] if len(names.model_axes) == 1 else ""
        rows = [[names.value(axis, label), *_search_cells(record)] for label, record in labels.items()]
        rows += [[names.value(axis, label), "none finished", "–", "–", "–", "–"] for label in data.get("unfinished") or []]
        budget = data.get("budget") if isinstance(data.get("budget"), Mapping) else {}
        caption = (
            f"Chosen on the validation speakers only (best val UA over {data.get('trials', '?')} trials per model; no test "
            f"metric is read); every trial and run: at most {budget.get('max_epochs', '?')} epochs, "
            + (f"early stopping on val UA with patience {budget['patience']}" if budget.get("patience") is not None else "no early stopping")
            + f". From {CHOSEN}."
        )
        columns = ["model", "chosen", "best val UA (trial)", "trials: complete / pruned / failed", "epochs", "wall time"]
        return blocks + [Table(columns, rows, "chosen", caption)]
    if isinstance(data, Mapping) and data and all(isinstance(v, Mapping) for v in data.values()):
        columns = first_seen([key for record in data.values() for key in record])
        axis = names.model_axes[0] if len(names.model_axes) == 1 else ""
        rows = [[names.value(axis, model), *(_flat(record[c]) if c in record else "–" for c in columns)] for model, record in data.items()]
        return blocks + [Table(["model", *columns], rows, "chosen", f"Settings chosen per model by the search ({CHOSEN}).")]
    return blocks + [Text(f"The search's choices ({CHOSEN}):"), Code(json.dumps(data, indent=1))]


def _search_cells(record: Mapping[str, Any]) -> list[str]:
    """One model's search outcome: chosen settings, best val UA (its trial), trial counts, epochs and wall time."""
    params = record.get("params")
    chosen = ", ".join(f"{key.rsplit('.', 1)[-1]}={_flat(value)}" for key, value in params.items()) if isinstance(params, Mapping) else "–"
    best = record.get("best_val_ua")
    best_text = f"{best:.3f} ({record.get('best_trial')})" if isinstance(best, (int, float)) else "–"
    counts = f"{record.get('trials', '?')}: {record.get('complete', '?')} / {record.get('pruned', '?')} / {record.get('failed', '?')}"
    seconds = record.get("seconds")
    return [chosen, best_text, counts, str(record.get("epochs", "–")), f"{seconds:.0f} s" if isinstance(seconds, (int, float)) else "–"]


def _files(document: Document, folder: RunFolder) -> list[Link]:
    found = [
        ("log", folder.log),
        ("results", folder.results),
        ("config", folder.log_dir / "config.yaml"),
        ("TensorBoard", folder.log_dir),
    ]
    return [Link(text, document.relative(path)) for text, path in found if path.exists()]


def run_blocks(document: Document, specs: Sequence[RunSpec], states: Mapping[str, RunState], rows: Rows, metric: str, names: Names) -> list[Any]:
    """Every run (its name is its grid point): state, model, result, time or error, files; then every command line."""
    group = "target" if any(row["group"] == "target" for row in rows) else "all"
    value = {row["run"]: row["value"] for row in rows if row["metric"] == metric and row["group"] == group and row["snr"] == CLEAN}
    table = []
    for spec in specs:
        state, folder = states[spec.name], RunFolder(spec.folder)
        if state.state == "done":
            detail = f"{folder.read('done').get('seconds', '?')} s"
        else:
            detail = folder.read("failed").get("error") or state.detail or "never started"
        table.append(
            [
                spec.name,
                Badge(state.state, state.state),
                names.model({"run": spec.name}),
                _number(value.get(spec.name)),
                detail,
                _files(document, folder),
            ]
        )
    header = ["run", "state", "model", f"{metric.upper()} ({group})", "time or error", "files"]
    commands = "\n\n".join(f"# {spec.name}\n{spec.command_line}" for spec in specs)
    return [Table(header, table, "run-table"), Details(f"Command line of each run ({len(specs)})", commands)]


def missing_blocks(document: Document, specs: Sequence[RunSpec], states: Mapping[str, RunState], unreadable: Mapping[str, str]) -> list[Any]:
    """A warning naming every run the results leave out: failed, unreadable, or not finished."""
    missing = [spec for spec in specs if states[spec.name].state != "done" or spec.name in unreadable]
    if not missing:
        return []
    counts = {s: sum(1 for spec in missing if states[spec.name].state == s) for s in ("failed", "running", "queued", "pending")}
    said = ", ".join(f"{n} {s}" for s, n in counts.items() if n) + (f", {len(unreadable)} unreadable" if unreadable else "")
    rows = []
    for spec in missing:
        state = states[spec.name]
        failed = RunFolder(spec.folder).read("failed")
        log = Path(failed.get("log") or RunFolder(spec.folder).log)
        detail = unreadable.get(spec.name) or failed.get("error") or state.detail or "never started"
        rows.append(
            [
                spec.name,
                Badge("unreadable", "failed") if spec.name in unreadable else Badge(state.state, state.state),
                detail,
                Link("log", document.relative(log)) if log.exists() else "–",
            ]
        )
    return [
        Text(f"{len(missing)} of {len(specs)} runs are not in the figures and tables ({said}); they are listed here.", "warning"),
        Table(["run", "state", "error or detail", "log"], rows, "missing"),
    ]


def build(sweep: Sweep) -> tuple[Document, list[Drawn]]:
    """The report's content, and the figures it drew (in the sweep folder's ``plots/``)."""
    folder = Path(sweep.output)
    specs, states, records, unreadable = _runs(sweep)
    rows = tidy_rows(records)
    metric = sweep.report.metric
    replicates = sweep.report.replicates if sweep.report.replicates is not None else default_replicates(list(specs[0].point) if specs else [])
    with cell_intervals(speaker_intervals(records, replicates, metric)):  # the 95% intervals of the tables and figures
        document, figures = _document(sweep, folder, specs, states, rows, unreadable, metric, replicates)
    kept = {record.name: record.rows for record in records if record.rows is not None}
    confusion = best_confusion(rows, kept, metric, folder / "plots", Names.from_sweep(sweep)) if kept else None
    if confusion is not None:
        at = next(i for i, block in enumerate(document.blocks) if isinstance(block, Heading) and block.anchor == "results-tables")
        document.blocks.insert(at, Figure(confusion))
        figures.append(confusion)
    return document, figures


def _document(
    sweep: Sweep,
    folder: Path,
    specs: list[RunSpec],
    states: dict[str, RunState],
    rows: list[dict[str, Any]],
    unreadable: dict[str, str],
    metric: str,
    replicates: list[str],
) -> tuple[Document, list[Drawn]]:
    names = Names.from_sweep(sweep)
    finished = len({row["run"] for row in rows})
    figures = make_figures(rows, metric, replicates, folder / "plots", names) if rows else []
    document = Document(
        f"{sweep.name}: study report",
        f"{finished} of {len(specs)} runs finished · metric: test {metric.upper()} · averaged over {', '.join(replicates) or 'nothing'} · "
        f"sweep file {sweep.path} · written {time.strftime('%Y-%m-%d %H:%M')}",
        folder,
    )
    blocks = document.blocks
    blocks += missing_blocks(document, specs, states, unreadable)
    blocks += [Heading("Claims and verdicts", "claims"), *claim_blocks(folder, names)]
    blocks.append(Heading("Figures", "figures"))
    blocks += [Figure(drawn) for drawn in figures] or [Text("No figures: no finished run, or nothing a figure shows varies.", "note")]
    blocks.append(Heading("Results", "results-tables"))
    tables = result_tables(rows, metric, names, replicates)
    blocks += tables or [Text(f"No finished runs with test metric {metric} yet.", "note")]
    beside = [Link(path.name, document.relative(path)) for path in (folder / "results.md", folder / "results.csv") if path.is_file()]
    if beside:
        blocks.append(Text("Tables per condition and every number per run, group, SNR and metric (from `collect`):", links=beside))
    blocks += search_blocks(folder, names)
    blocks += [Heading("Runs", "runs"), *run_blocks(document, specs, states, rows, metric, names)]
    return document, figures


def write_report(sweep: Sweep, report: Callable[[str], None] = print) -> Written:
    """Write ``report.html`` and ``report.md`` in the sweep folder (and the figures in its ``plots/``)."""
    document, figures = build(sweep)
    folder = Path(sweep.output)
    folder.mkdir(parents=True, exist_ok=True)
    written = Written(write_text_atomic(folder / REPORT_HTML, html(document)), write_text_atomic(folder / REPORT_MD, markdown(document)), figures)
    report(f"{sweep.name}: {document.subtitle.split(' · ')[0]}; wrote {written.html} ({len(figures)} figures inline) and {written.markdown}")
    return written

"""The three things a sweep does: run what is not finished, tell where each run stands, and rebuild the outputs."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .check import check_runs
from .collect import cell_intervals, default_replicates, load_records, speaker_intervals, tidy_rows, write_tidy_csv
from .grid import RunSpec, expand
from .runs import RunFolder, RunState
from .sweep import Sweep

Report = Callable[[str], None]
RERUN = ("pending", "failed")


@dataclass
class Outputs:
    """What ``collect`` wrote, and from how many finished runs."""

    runs: int
    csv: Path | None = None
    markdown: Path | None = None
    plots: list[Path] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)


def states(specs: list[RunSpec]) -> dict[str, RunState]:
    """Run name -> its state, in grid order."""
    return {spec.name: RunFolder(spec.folder).state() for spec in specs}


def status(sweep: Sweep, report: Report = print) -> dict[str, RunState]:
    """Print one line per run (state and detail) and a count per state."""
    specs = expand(sweep)
    found = states(specs)
    width = max((len(name) for name in found), default=4)
    for name, state in found.items():
        report(f"{name:<{width}}  {state.state:<8} {state.detail}")
    counts = {s: sum(1 for state in found.values() if state.state == s) for s in ("done", "running", "queued", "failed", "pending")}
    report(f"{sweep.name}: {len(found)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return found


def collect(sweep: Sweep, report: Report = print) -> Outputs:
    """Rebuild results.csv, results.md and the plots in the sweep folder from every finished run."""
    specs = expand(sweep)
    done = [(spec.name, spec.point, RunFolder(spec.folder).results) for spec in specs if RunFolder(spec.folder).state().state == "done"]
    out = Path(sweep.output)
    if not done:
        report(f"{sweep.name}: no finished runs yet; nothing to collect.")
        return Outputs(0)
    axes = list(specs[0].point)
    replicates = sweep.report.replicates if sweep.report.replicates is not None else default_replicates(axes)
    from .figures import Names, best_confusion, make_plots  # matplotlib: only when there is something to draw
    from .tables import study_tables

    records = load_records(done)
    rows = tidy_rows(records)
    outputs = Outputs(len(done), write_tidy_csv(rows, out / "results.csv"), out / "results.md")
    with cell_intervals(speaker_intervals(records, replicates, sweep.report.metric)):  # tables and figures: the same intervals
        tables = study_tables(rows, sweep.report.metric, replicates, title=f"{sweep.name}: {len(done)} of {len(specs)} runs")
        outputs.markdown.write_text(tables, encoding="utf-8")
        report(tables.rstrip())  # the comparison itself, not only where it was written
        outputs.plots = make_plots(rows, sweep.report.metric, replicates, out / "plots", sweep)
    kept = {record.name: record.rows for record in records if record.rows is not None}
    drawn = best_confusion(rows, kept, sweep.report.metric, out / "plots", Names.from_sweep(sweep)) if kept else None
    if drawn is not None:
        outputs.plots.append(drawn.png)
    if sweep.claims:
        outputs.claims = claims(sweep, report)
    report(
        f"{sweep.name}: collected {len(done)} of {len(specs)} runs into {outputs.csv}, {outputs.markdown}" + "".join(f", {p}" for p in outputs.plots)
    )
    return outputs


def claims(sweep: Sweep, report: Report = print) -> list[dict]:
    """Test the sweep's declared claims on its finished runs' test rows, print them and write claims.md and claims.json."""
    from .claims import ClaimError, check_labels, claims_markdown, evaluate, finished_runs, write_claims

    specs = expand(sweep)
    if not sweep.claims:
        report(f"{sweep.name}: the sweep declares no claims (add a `claims:` list; see ser_lightning/experiments/claims.py).")
        return []
    check_labels(sweep.claims, [spec.point for spec in specs])
    replicates = sweep.report.replicates if sweep.report.replicates is not None else default_replicates(list(specs[0].point))
    runs = finished_runs(specs, replicates, lambda spec: RunFolder(spec.folder).state().state)
    if not runs:
        raise ClaimError(f"{sweep.name}: no finished run with test rows ({len(specs)} in the grid); run the sweep first.")
    records = evaluate(sweep.claims, runs, sweep.report.alpha, declared=[spec.point for spec in specs])
    title = f"{sweep.name}: claims ({len(runs)} of {len(specs)} runs finished)"
    json_path, md_path = write_claims(Path(sweep.output), records, sweep.report.alpha, sweep.name, title)
    report(claims_markdown(records, sweep.report.alpha, title).rstrip())
    report(f"{sweep.name}: wrote {md_path} and {json_path}")
    return records


def run(sweep: Sweep, report: Report = print) -> tuple[dict[str, dict], Outputs]:
    """Execute every run that is pending or failed (finished ones are skipped), then collect. A sweep with a ``search:``
    block runs the search first when its results are missing, and every run gets its label's chosen settings.

    Returns the outcomes of the runs executed now (by name) and the collected outputs.
    """
    from .launch import execute  # submitit: only when running

    if sweep.search is not None and sweep.search.chosen(Path.cwd() / sweep.output, sweep.budget) is None:
        from .search import run_search  # optuna: only when searching

        report(f"{sweep.name}: searching first ({sweep.search.trials} trials per {sweep.search.shown}); the runs take the chosen settings.")
        run_search(sweep, report)
    specs = expand(sweep)
    found = states(specs)
    todo = [spec for spec in specs if found[spec.name].state in RERUN]
    busy = [name for name, state in found.items() if state.state in ("running", "queued")]
    finished = sum(1 for state in found.values() if state.state == "done")
    report(f"{sweep.name}: {len(specs)} runs: {finished} finished (skipped), {len(busy)} running or queued (skipped), {len(todo)} to run.")
    if todo:
        check_runs(sweep, todo)
    out = Path(sweep.output)
    out.mkdir(parents=True, exist_ok=True)
    if sweep.path.resolve() != (out / "sweep.yaml").resolve():
        shutil.copyfile(sweep.path, out / "sweep.yaml")
    outcomes = {o["name"]: o for o in execute(todo, sweep.launcher, out / "submitit", sweep.name, report)} if todo else {}
    failed = [o for o in outcomes.values() if o["state"] != "done"]
    if failed:
        report(f"{len(failed)} run(s) failed:" + "".join(f"\n  {o['name']}: {o['error']}\n    log: {o['log']}" for o in failed))
    return outcomes, collect(sweep, report)

"""``python -m ser_lightning.experiments {run,status,collect,claims,report,plan,search} SWEEP.yaml``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .claims import ClaimError
from .grid import expand
from .study import claims, collect, run, status
from .sweep import CLUSTERS, SweepError, load_sweep

HELP = """Sweeps of ordinary `python -m ser_lightning` runs.

  run      run every run that is not finished (locally, or on SLURM through submitit), then collect
  status   done / running / queued / failed / pending per run, with the log of each failure
  collect  rebuild results.csv, results.md and plots/*.png in the sweep folder from the finished runs
  claims   test the sweep's declared claims on its finished runs (paired, per test speaker): claims.md, claims.json
  report   write report.html (one self-contained page: verdicts, figures, tables, runs) and report.md in the sweep folder
  plan     list the runs and their command lines without running anything (and the budget, and the search's chosen settings)
  search   run the sweep's `search:` (per label, Optuna trials on val/ua), write search/chosen.json and search/search.md

SWEEP is a sweep file, or the name of a shipped one (demo_fewshot, demo_noise, crosslingual, ...)."""


def parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    p = argparse.ArgumentParser(prog="python -m ser_lightning.experiments", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("run", "status", "collect", "claims", "report", "plan", "search"))
    p.add_argument("sweep", help="sweep file, or the name of a shipped sweep")
    p.add_argument("--output", help="sweep folder (default: the sweep's `output`, else sweeps/<name>)")
    p.add_argument("--cluster", choices=CLUSTERS, help="override launcher.cluster")
    p.add_argument("--max_parallel", type=int, help="override launcher.max_parallel")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (1 when a run failed or the sweep file is wrong)."""
    args = parser().parse_args(argv)
    try:
        sweep = load_sweep(args.sweep, args.output)
        if args.cluster:
            sweep.launcher.cluster = args.cluster
        if args.max_parallel is not None:
            sweep.launcher.max_parallel = args.max_parallel
        if args.action == "plan":
            from .budget import plan_lines

            for line in plan_lines(sweep.budget, sweep.search, sweep.output):
                print(line)
            for spec in expand(sweep):
                print(f"{spec.name}\n  {spec.command_line}")
            return 0
        if args.action == "status":
            found = status(sweep)
            return 1 if any(state.state == "failed" for state in found.values()) else 0
        if args.action == "collect":
            collect(sweep)
            return 0
        if args.action == "claims":
            claims(sweep)
            return 0
        if args.action == "report":
            from .report import write_report  # matplotlib: only when drawing

            write_report(sweep)
            return 0
        if args.action == "search":
            from .search import run_search

            run_search(sweep)
            return 0
        outcomes, _ = run(sweep)
        return 1 if any(o["state"] != "done" for o in outcomes.values()) else 0
    except (SweepError, ClaimError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

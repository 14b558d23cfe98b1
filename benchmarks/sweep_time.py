"""Wall time of sweeps from scratch and of a second `run` that finds every run finished (the acceptance: the demo
sweeps together under 15 minutes on 2 CPU cores, a re-run under a quarter of that).

Each sweep runs twice, as a user runs it, in a fresh output folder under --workdir (the demo corpus is generated
there on first use and counts in the first time):

    python benchmarks/sweep_time.py [SWEEP ...] [--workdir /tmp/sweep_time]      # default: demo_fewshot demo_noise
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path


def timed_run(sweep: str, output: Path, workdir: Path) -> tuple[float, float]:
    """Wall and CPU seconds (all processes of the command) of one `python -m ser_lightning.experiments run`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ser_lightning.experiments", "run", sweep, "--output", str(output)], cwd=workdir, check=True, stdout=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="*", default=["demo_fewshot", "demo_noise"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sweep_time"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for sweep in args.sweeps:
        output = args.workdir / f"sweeps-{time.strftime('%Y%m%d-%H%M%S')}-{Path(sweep).stem}"
        sweep_path = str(Path(sweep).resolve()) if Path(sweep).is_file() else sweep
        rows.append((Path(sweep).stem, *timed_run(sweep_path, output, args.workdir), *timed_run(sweep_path, output, args.workdir)))
    print(f"{'sweep':<20} {'first: wall s':>14} {'cpu s':>8} {'re-run: wall s':>15} {'cpu s':>8} {'wall ratio':>11}")
    for name, wall, cpu, wall2, cpu2 in rows:
        print(f"{name:<20} {wall:>14.1f} {cpu:>8.1f} {wall2:>15.1f} {cpu2:>8.1f} {wall2 / wall:>11.3f}")
    totals = [sum(row[i] for row in rows) for i in range(1, 5)]
    print(f"{'total':<20} {totals[0]:>14.1f} {totals[1]:>8.1f} {totals[2]:>15.1f} {totals[3]:>8.1f} {totals[2] / totals[0]:>11.3f}")
    print("(CPU seconds: all processes; with OMP_NUM_THREADS=1 and runs one after another, an idle machine's wall time is close to them)")


if __name__ == "__main__":
    main()

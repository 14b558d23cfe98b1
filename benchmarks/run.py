"""The benchmark suite: every item as ratios with goals, in one process run; writes benchmarks/results/report.{md,json}.

Items (each a module here with ``figures(quick) -> list[dict]``, see report.py for the figure format):
overhead, hf_trainer, feature_cache, feature_cache_real (real Whisper base weights), padding, loading, memory, whisper,
long_recordings (VAD segments against fixed windows and true segments), onnx (PyTorch against ONNX fp32 and int8).
Times are medians of interleaved repeats, compared as ratios within this run (absolute times do not carry over between
machines); a ratio measured in repeats is given with its spread, and a goal inside that spread is reported "within
noise", not passed or failed. An item that cannot measure here says why in its row; the others still run. Exits 0
even when a goal is missed: the report says which.

    python benchmarks/run.py [--quick] [--only overhead padding ...] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # after benchmarks/ itself: the tests' tiny model configs

import lightning  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from report import Figure, NotMeasured, unmeasured, write_reports  # noqa: E402

ITEMS = {
    "overhead": "overhead",
    "hf_trainer": "hf_trainer",
    "feature_cache": "feature_cache",
    "feature_cache_real": "feature_cache_real",
    "padding": "padding",
    "loading": "loading",
    "memory": "memory",
    "whisper": "whisper_window",
    "long_recordings": "long_recordings",
    "onnx": "onnx_speed",
}


def quiet() -> None:
    """Keep Lightning's and our set-up messages and known harmless warnings out of the report output."""
    for name in ("lightning.pytorch", "lightning.fabric", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    transformers.logging.set_verbosity_error()
    for message in (
        ".*does not have many workers.*",
        ".*module\\(s\\) in eval mode.*",
        ".*LeafSpec.*",
        ".*max_steps.*max_epochs.*",
        ".*validation_step.*no `val_dataloader`.*",
    ):
        warnings.filterwarnings("ignore", message=message)


def run_item(item: str, quick: bool) -> list[Figure]:
    """The figures of one item; a missing module, an item that cannot measure here (it says why) or one that raises is
    reported as one row, never fatal: the other items still run."""
    module_name = ITEMS[item]
    if not (HERE / f"{module_name}.py").is_file():
        return [unmeasured(item, "missing", f"benchmarks/{module_name}.py does not exist yet", goal="its own goals")]
    try:
        return list(importlib.import_module(module_name).figures(quick=quick))
    except NotMeasured as error:
        return [unmeasured(item, "not measured", str(error), goal="its own goals")]
    except subprocess.CalledProcessError as error:  # a child process of the item: its own last words say why
        return [unmeasured(item, "not measured", f"{child_failure(error)}", goal="its own goals")]
    except Exception as error:  # one broken item must not hide the others
        traceback.print_exc()
        return [unmeasured(item, "error", f"{type(error).__name__}: {error}", goal="runs")]


def child_failure(error: subprocess.CalledProcessError) -> str:
    """Why a child process failed, in one line: its exit status (or signal) and the last line it wrote to stderr."""
    command = " ".join(str(part) for part in error.cmd[1:3]) if isinstance(error.cmd, (list, tuple)) else str(error.cmd)
    how = f"was killed by signal {-error.returncode}" if error.returncode < 0 else f"exited with status {error.returncode}"
    stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else (error.stderr or "")
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"its child process ({command}) {how}" + (f": {last}" if last else " without a message (out of memory?)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one repeat: a smoke test, not a measurement")
    parser.add_argument("--only", nargs="+", choices=list(ITEMS), metavar="NAME", help=f"run only these items ({', '.join(ITEMS)})")
    parser.add_argument(
        "--threads", type=int, default=1,
        help=(
            "torch.set_num_threads here and in the items' subprocesses (default 1: on a shared 2-core machine, 2 "
            "OpenMP threads run 15-20x slower whenever another process holds a core)"
        ),
    )  # fmt: skip
    parser.add_argument("--output", type=Path, default=HERE / "results", help="folder of report.md and report.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["BENCH_THREADS"] = str(args.threads)  # subprocesses of the items set the same
    quiet()
    load_before = os.getloadavg()
    start = time.perf_counter()
    figures: list[Figure] = []
    item_times = []
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SER_LIGHTNING_CACHE"] = cache  # header probes start cold and never touch ~/.cache
        for item in args.only or list(ITEMS):
            item_start = time.perf_counter()
            print(f"[{item}] ...", file=sys.stderr, flush=True)
            figures += run_item(item, args.quick)
            item_times.append(f"{item} {time.perf_counter() - item_start:.0f} s")
    header = {
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "mode": "quick (smoke test sizes: not a measurement)" if args.quick else "full",
        "threads": f"torch.set_num_threads({args.threads}) here and in subprocesses; DataLoader workers run 1 thread each",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load_before[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end",
        "versions": (
            f"python {platform.python_version()}, torch {torch.__version__}, lightning {lightning.__version__}, "
            f"transformers {transformers.__version__}"
        ),
        "wall time": f"{time.perf_counter() - start:.0f} s ({', '.join(item_times)})",
    }
    _, _, markdown = write_reports(figures, args.output, header)
    print(markdown)


if __name__ == "__main__":
    main()

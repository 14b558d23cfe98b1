"""A run's folder and its state, kept in small marker files, so any process (or a later session) can tell where it stands.

```
<sweep>/runs/<name>/
  run.json        the run: grid point, CLI arguments, working directory
  submitted.json  SLURM job id and submitit's log files (jobs submitted to a cluster)
  started.json    host, process id, time (written by the run itself)
  done.json       written only when the run's test results exist: the completion marker
  failed.json     the error, and the log to read
  requeued.json   the job was pre-empted or timed out and submitit requeued it (the run is queued, not failed)
  run.log         everything the run printed
  .run.lock       held (filelock) by the process that runs it: a second process never runs the same run at once
  logs/           TensorBoard events, config.yaml, hparams.yaml, results.json
  checkpoints/    best and last checkpoints
```
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..fileio import FileLock, try_lock, write_text_atomic
from ..results import RESULTS_FILE

STATES = ("pending", "queued", "running", "done", "failed")


@dataclass
class RunState:
    """``pending`` (never started), ``queued`` (submitted to SLURM), ``running``, ``done`` or ``failed``, with a detail line."""

    state: str
    detail: str = ""


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, default=str))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunFolder:
    """The files of one run (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def log(self) -> Path:
        return self.root / "run.log"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def results(self) -> Path:
        return self.log_dir / RESULTS_FILE

    @property
    def lock_path(self) -> Path:
        return self.root / ".run.lock"

    def claim(self) -> FileLock | None:
        """The run's lock, now held by this process (release it when the run ends), or None at once when another
        process holds it: that process is running this run (locally, or on a cluster node sharing the folder)."""
        return try_lock(self.lock_path)

    def claimed_elsewhere(self) -> bool:
        """Whether another process holds the run's lock now (it is running this run)."""
        lock = self.claim()
        if lock is None:
            return True
        lock.release()
        return False

    def marker(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def read(self, name: str) -> dict[str, Any]:
        """A marker's content ({} when absent)."""
        return _read_json(self.marker(name))

    def describe(self, spec: dict[str, Any]) -> None:
        """Write run.json (the run's grid point and arguments)."""
        self.root.mkdir(parents=True, exist_ok=True)
        _write_json(self.marker("run"), spec)

    def mark_submitted(self, job_id: str, logs: list[str]) -> None:
        """Record a cluster job that will run this run."""
        self._clear("done", "failed", "started")
        _write_json(self.marker("submitted"), {"job_id": job_id, "logs": logs, "time": time.time()})

    def mark_started(self) -> None:
        """Called by the run itself: clears earlier outcomes and a stale results file."""
        self._clear("done", "failed", "requeued")
        self.results.unlink(missing_ok=True)
        job_id = os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_LOCAL_JOB_ID") or ""
        _write_json(self.marker("started"), {"host": socket.gethostname(), "pid": os.getpid(), "job_id": job_id, "time": time.time()})

    def mark_requeued(self) -> None:
        """The run's job was pre-empted or timed out and submitit requeued it: it waits to resume (``--ckpt_path last``)."""
        started = self.read("started")
        self._clear("started")
        _write_json(self.marker("requeued"), {"job_id": started.get("job_id", ""), "time": time.time()})

    def mark_done(self, seconds: float) -> None:
        """The completion marker; only called when the results file exists."""
        _write_json(self.marker("done"), {"results": str(self.results), "seconds": round(seconds, 1), "time": time.time()})

    def mark_failed(self, error: str, log: Path | str | None = None) -> None:
        _write_json(self.marker("failed"), {"error": error, "log": str(log or self.log), "time": time.time()})

    def _clear(self, *names: str) -> None:
        for name in names:
            self.marker(name).unlink(missing_ok=True)

    def state(self) -> RunState:
        """Where the run stands, from its markers (a run whose process died on this host counts as failed)."""
        if self.marker("done").is_file() and self.results.is_file():
            return RunState("done", f"{self.read('done').get('seconds', '?')} s")
        if self.marker("failed").is_file():
            failed = self.read("failed")
            return RunState("failed", f"{failed.get('error', '?')} (log: {failed.get('log', self.log)})")
        if self.marker("started").is_file():
            started = self.read("started")
            if started.get("host") == socket.gethostname() and isinstance(started.get("pid"), int) and not _alive(started["pid"]):
                return RunState("failed", f"interrupted: its process {started['pid']} is gone (log: {self.log})")
            return RunState("running", f"on {started.get('host')} since {time.strftime('%H:%M:%S', time.localtime(started.get('time', 0)))}")
        if self.marker("requeued").is_file():
            job = self.read("requeued").get("job_id")
            return RunState("queued", f"requeued after a pre-emption or time-out (job {job}); it resumes from last.ckpt")
        if self.marker("submitted").is_file():
            return RunState("queued", f"job {self.read('submitted').get('job_id')}")
        return RunState("pending")

"""What a submitit job executes: one ordinary CLI run (``ser_lightning.cli.main``), its output in run.log, its outcome in markers."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import submitit

from ..fileio import FileLock, write_text_atomic
from .runs import RunFolder


def global_rank() -> int:
    """This task's rank in a multi-task (DDP) job; 0 outside submitit."""
    try:
        return submitit.JobEnvironment().global_rank
    except RuntimeError:
        return 0


def _tasks() -> tuple[int, str]:
    """The number of tasks of this job and a name for this start of it: its id and SLURM's restart count, which a
    requeued job raises (``1, ""`` outside submitit)."""
    try:
        environment = submitit.JobEnvironment()
    except RuntimeError:
        return 1, ""
    return environment.num_tasks, f"{environment.job_id}-{os.environ.get('SLURM_RESTART_COUNT', '0')}"


def claim(folder: RunFolder, rank: int, wait_s: float = 600.0) -> tuple[FileLock | None, dict[str, str] | None]:
    """Whether this job may run the run in ``folder``: rank 0 takes the run's lock without waiting (a lock another
    process holds means that process is running it; a run found finished is not run again) and tells the job's other
    tasks through a small file; they wait up to ``wait_s`` for its word.

    Returns the lock, held by rank 0 while the run goes on, and, when the run must not start here, its state
    (``running`` or ``done``) and why (None: start it).
    """
    tasks, job = _tasks()
    word = folder.root / f".claim-{job}.json"
    if rank > 0:
        deadline = time.monotonic() + wait_s
        while not word.is_file():
            if time.monotonic() > deadline:
                return None, {"state": "failed", "skipped": f"task 0 of job {job} never said whether to start the run"}
            time.sleep(0.2)
        return None, json.loads(word.read_text(encoding="utf-8")).get("skip")
    lock, skip = folder.claim(), None
    if lock is None:
        skip = {"state": "running", "skipped": f"another process is running it (it holds {folder.lock_path})"}
    elif folder.state().state == "done":
        lock.release()
        lock, skip = None, {"state": "done", "skipped": "another process finished it meanwhile"}
    if tasks > 1:
        write_text_atomic(word, json.dumps({"skip": skip}))
    return lock, skip


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's output to ``path``: file descriptors 1 and 2 (C libraries, subprocesses) and Python's
    ``sys.stdout``/``sys.stderr`` (even when something replaced them, as pytest or a notebook do)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("a", encoding="utf-8", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def working_directory(path: str) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def program_arguments() -> Iterator[None]:
    """Hide the job runner's own command line (submitit's) from the CLI, which parses only the run's arguments."""
    saved = sys.argv
    sys.argv = ["python -m ser_lightning"]
    try:
        yield
    finally:
        sys.argv = saved


def cli_error(text: str) -> str:
    """The CLI's ``error: ...`` message (with its continuation lines) from what it printed, or its last line."""
    lines = text.rstrip().splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("error:"):
            return " ".join(line.strip() for line in lines[index:])[:500]
    return lines[-1].strip()[:500] if lines else ""


def _error_line(error: BaseException, log: Path) -> str:
    """One line saying what went wrong; for the CLI's own exits, its ``error:`` line from the log."""
    if isinstance(error, SystemExit):
        found = cli_error(log.read_text(encoding="utf-8", errors="replace")) if log.is_file() else ""
        return found if found.startswith("error:") else f"the CLI stopped with exit code {error.code}"
    text = f"{type(error).__name__}: {error}".strip()
    return (text.splitlines() or [type(error).__name__])[0][:300]


class RunJob(submitit.helpers.Checkpointable):
    """Runs one sweep run through the CLI and records its outcome; never raises for a failed run.

    A run is done only when its ``results.json`` exists (``fit`` tests the best checkpoint at its end). Being
    ``Checkpointable``, a SLURM job that times out or is pre-empted is requeued by submitit (:meth:`checkpoint`
    runs in its signal handler, which then exits the job): the run is recorded as requeued, so ``status`` shows it
    queued and ``run`` never submits a duplicate, and the requeued job resumes from its ``last.ckpt`` (every run is
    given ``--ckpt_path last``; ``last_checkpoint.every_n_train_steps`` bounds the work lost).

    A run whose lock another process holds (a second ``experiments run`` of the same sweep, a duplicate job) is not
    started: its outcome is ``running``, with the reason under ``skipped``, and its folder is left to that process
    (see :func:`claim`).
    """

    requeued: bool = False
    folder_type: type[RunFolder] = RunFolder  # where the run's outcome file is (a search trial's is its trial.json)

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """submitit's signal handler asks for the resubmission: the same job, which resumes the run."""
        self.requeued = True
        return super().checkpoint(*args, **kwargs)

    def __call__(self, spec: dict[str, Any]) -> dict[str, Any]:
        from ser_lightning.cli import main

        self.requeued = False  # a requeued job starts afresh (the flag travelled in the resubmission's pickle)
        folder = self.folder_type(spec["folder"])
        rank = global_rank()
        lock, skip = claim(folder, rank)
        if skip is not None:  # never two processes in one run's folder: the run is left to the one that holds it
            return {"name": spec["name"], "log": str(folder.log), **skip}
        try:
            return self._run(spec, folder, rank, main)
        finally:
            if lock is not None:
                lock.release()  # after the outcome's marker is written
                (folder.root / f".claim-{_tasks()[1]}.json").unlink(missing_ok=True)

    def _run(self, spec: dict[str, Any], folder: RunFolder, rank: int, main: Any) -> dict[str, Any]:
        log = folder.log if rank == 0 else folder.root / f"run.rank{rank}.log"
        if rank == 0:
            folder.mark_started()
        start = time.time()
        outcome: dict[str, Any] = {"name": spec["name"], "log": str(log)}
        with output_to(log):
            print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {spec['name']}: python -m ser_lightning {' '.join(spec['args'])}", flush=True)
            try:
                with working_directory(spec["cwd"]), program_arguments():
                    main(list(spec["args"]))
            except SystemExit:
                if not self.requeued:
                    traceback.print_exc()
                    outcome |= {"state": "failed", "error": _error_line(sys.exc_info()[1], log)}
                else:
                    print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] pre-empted or timed out: requeued, it resumes from last.ckpt", flush=True)
            except Exception as error:
                traceback.print_exc()
                outcome |= {"state": "failed", "error": _error_line(error, log)}
            else:
                if folder.results.is_file():
                    outcome |= {"state": "done"}
                else:
                    outcome |= {"state": "failed", "error": f"finished without its results ({folder.results} is missing)"}
        if self.requeued:
            if rank == 0:
                folder.mark_requeued()
            raise SystemExit(-1)  # submitit's own exit after requeueing: the job ends here, the resubmission resumes it
        outcome["seconds"] = round(time.time() - start, 1)
        if rank == 0:
            if outcome["state"] == "done":
                folder.mark_done(outcome["seconds"])
            else:
                folder.mark_failed(outcome["error"], log)
        return outcome

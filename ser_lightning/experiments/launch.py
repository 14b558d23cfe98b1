"""Execute runs through submitit: locally one after another (or in batches), or as a SLURM job array."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import submitit

from .grid import RunSpec
from .job import RunJob
from .runs import RunFolder
from .sweep import Launcher, SweepError

Report = Callable[[str], None]


def make_executor(launcher: Launcher, folder: Path, name: str) -> submitit.Executor:
    """submitit's ``AutoExecutor`` for the launcher's cluster, with its resources (``%j`` in ``folder`` is the job id)."""
    executor = submitit.AutoExecutor(folder=folder, cluster=launcher.cluster)
    parameters = {"name": name, **launcher.parameters}
    if launcher.cluster == "slurm" and launcher.max_parallel:
        parameters.setdefault("slurm_array_parallelism", launcher.max_parallel)
    try:
        executor.update_parameters(**parameters)
    except (NameError, AssertionError, ValueError) as error:  # submitit's ways of refusing a parameter
        raise SweepError(f"The sweep's launcher has a parameter submitit does not take: {error}") from None
    return executor


def _outcome(job: submitit.Job, spec: RunSpec) -> dict[str, Any]:
    """The job's outcome; a job that crashed outside the run (killed, out of memory, timed out) is marked failed here."""
    try:
        return job.result()
    except Exception as error:  # submitit's FailedJobError / UncompletedJobError
        folder = RunFolder(spec.folder)
        log = job.paths.stderr
        message = f"the job ended abnormally: {str(error).splitlines()[0][:200]}"
        folder.mark_failed(message, log)
        return {"name": spec.name, "state": "failed", "error": message, "log": str(log)}


def _submit(executor: submitit.Executor, specs: Sequence[RunSpec], job: type[RunJob]) -> list[submitit.Job]:
    if len(specs) == 1:
        return [executor.submit(job(), specs[0].as_dict())]
    with executor.batch():  # one job array on SLURM
        jobs = [executor.submit(job(), spec.as_dict()) for spec in specs]
    return jobs


def execute(
    specs: Sequence[RunSpec], launcher: Launcher, folder: Path, name: str, report: Report = print, job: type[RunJob] = RunJob
) -> list[dict[str, Any]]:
    """Run ``specs``; returns one outcome per run that finished (none for SLURM jobs left running with ``wait: false``).

    A failed run is reported with its log and the others go on; ``job``: the job class that runs each (a
    :class:`RunJob`). A run that another process is running (it holds the run's lock: a second ``run`` of the same
    sweep) is reported as skipped, never started, and has no outcome here.
    """
    busy = [spec for spec in specs if RunFolder(spec.folder).claimed_elsewhere()]
    for spec in busy:
        report(f"{spec.name}: skipped: another process is running it (it holds {RunFolder(spec.folder).lock_path})")
    specs = [spec for spec in specs if spec not in busy]
    if not specs:
        return []
    executor = make_executor(launcher, folder / "%j", name)
    for spec in specs:
        RunFolder(spec.folder).describe(spec.as_dict() | {"command_line": spec.command_line})
    if launcher.cluster == "slurm":
        jobs = _submit(executor, specs, job)
        for spec, job in zip(specs, jobs):
            RunFolder(spec.folder).mark_submitted(str(job.job_id), [str(job.paths.stdout), str(job.paths.stderr)])
        report(f"Submitted {len(jobs)} runs as SLURM job(s) {', '.join(sorted({str(job.job_id).split('_')[0] for job in jobs}))}.")
        return _wait(list(zip(specs, jobs)), report) if launcher.waits else []
    size = launcher.max_parallel or len(specs)
    outcomes: list[dict[str, Any]] = []
    for start in range(0, len(specs), size):
        chunk = specs[start : start + size]
        outcomes += _wait(list(zip(chunk, _submit(executor, chunk, job))), report, offset=start, total=len(specs))
    return outcomes


def _wait(pairs: Sequence[tuple[RunSpec, submitit.Job]], report: Report, offset: int = 0, total: int | None = None) -> list[dict[str, Any]]:
    outcomes = []
    total = total or len(pairs)
    for index, (spec, job) in enumerate(pairs, start=offset + 1):
        began = time.time()
        outcome = _outcome(job, spec)
        outcome.setdefault("seconds", round(time.time() - began, 1))
        if outcome.get("skipped"):
            report(f"[{index}/{total}] {spec.name}: skipped ({outcome['state']}): {outcome['skipped']}")
            continue
        outcomes.append(outcome)
        if outcome["state"] == "done":
            report(f"[{index}/{total}] {spec.name}: done in {outcome['seconds']:.0f} s")
        else:
            report(f"[{index}/{total}] {spec.name}: FAILED: {outcome['error']}\n    log: {outcome['log']}")
    return outcomes

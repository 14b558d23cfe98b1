"""Catch config errors before anything runs: parse a sample of runs with the CLI (``--print_config``: nothing is built)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

from .grid import RunSpec
from .job import cli_error, working_directory
from .sweep import Sweep, SweepError


def covering_sample(specs: Sequence[RunSpec]) -> list[RunSpec]:
    """A few of ``specs`` in which every label of every axis among them appears at least once."""
    picked: list[RunSpec] = []
    covered: set[tuple[str, str]] = set()
    for spec in specs:
        labels = set(spec.point.items())
        if not labels <= covered or not picked:
            picked.append(spec)
            covered |= labels
    return picked


def check_runs(sweep: Sweep, specs: Sequence[RunSpec]) -> None:
    """Parse a covering sample of ``specs`` with the CLI; raises :class:`SweepError` naming each run that does not parse."""
    from ser_lightning.cli import main

    problems = []
    for spec in covering_sample(specs):
        printed = io.StringIO()
        try:
            with working_directory(spec.cwd), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                main([*spec.args, "--print_config"])
        except SystemExit as stop:
            if stop.code:
                problems.append(f"{spec.name}: {cli_error(printed.getvalue())}")
    if problems:
        raise SweepError(f"{sweep.path}: some runs do not parse; nothing was started:\n  " + "\n  ".join(problems))

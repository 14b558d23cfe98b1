"""Catch config errors before anything runs: parse a sample of runs with the CLI (``--print_config``), then build each one's
DataModule (its constructor checks every option; nothing is read from disk and no model is built)."""

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


def data_error(printed: str) -> str | None:
    """What the DataModule of a printed run config refuses, as the CLI would say it (``error: Class: message``), or None."""
    import yaml
    from jsonargparse import ArgumentParser
    from lightning.pytorch import LightningDataModule

    from ..config_errors import ConfigError, own_error

    data = (yaml.safe_load(printed) or {}).get("data")
    if not isinstance(data, dict):
        return None
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(LightningDataModule, "data", fail_untyped=False)
    try:
        parser.instantiate_classes(parser.parse_object({"data": data}))
    except Exception as error:
        cause = own_error(error) or error
        return f"error: {ConfigError(cause) if isinstance(cause, ValueError) else cause}"
    return None


def check_runs(sweep: Sweep, specs: Sequence[RunSpec]) -> None:
    """Parse a covering sample of ``specs`` with the CLI and build their DataModules; raises :class:`SweepError` naming each
    run that does not parse or whose DataModule refuses its options."""
    from ser_lightning.cli import main

    problems = []
    for spec in covering_sample(specs):
        printed, said = io.StringIO(), io.StringIO()
        try:
            with working_directory(spec.cwd), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(said):
                main([*spec.args, "--print_config"])
        except SystemExit as stop:
            if stop.code:
                problems.append(f"{spec.name}: {cli_error(said.getvalue() + printed.getvalue())}")
                continue
        with working_directory(spec.cwd):
            refused = data_error(printed.getvalue())
        if refused:
            problems.append(f"{spec.name}: {refused}")
    if problems:
        raise SweepError(f"{sweep.path}: some runs do not parse; nothing was started:\n  " + "\n  ".join(problems))

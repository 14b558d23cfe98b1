"""Run folders and checkpoints: every run its own version folder, resume from the newest readable checkpoint, bad files named.

A run's checkpoints live in ``checkpoints/<name>/<version>/`` beside its TensorBoard folder
``logs/<name>/<version>/`` (the same version name), so two runs never share a ``last.ckpt``.
``--ckpt_path last`` picks the newest run of that name and its newest readable ``last.ckpt`` or
SLURM ``hpc_ckpt_N.ckpt``; a truncated or corrupt file is named and skipped for the next good one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

VERSION_ENV = "SER_LIGHTNING_RUN_VERSION"  # the version rank 0 chose, for the DDP processes Lightning launches after it
_VERSION = re.compile(r"^version_(\d+)$")
_RESUMABLE = re.compile(r"^(last(-v\d+)?|hpc_ckpt_\d+)\.ckpt$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and what to use instead."""


def unreadable(path: str | Path, resume: bool = False) -> str | None:
    """Why ``path`` is not a loadable checkpoint (truncated, corrupt, not a checkpoint; with ``resume``, one that holds
    the weights only, as best checkpoints do), or None when it loads.

    Loads with ``weights_only=True`` and memory-mapped tensors, as Lightning will: cheap, and the same verdict.
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for broken files
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'unreadable'}"
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        return "not a Lightning checkpoint (no state_dict)"
    if resume and "optimizer_states" not in checkpoint:
        return "it holds the weights only (no optimizer state), so training cannot continue from it"
    return None


def newest_first(paths: Iterable[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)


def resumable_checkpoints(folder: Path) -> list[Path]:
    """``last.ckpt`` and SLURM ``hpc_ckpt_N.ckpt`` files of one run folder, newest first."""
    return newest_first(p for p in folder.glob("*.ckpt") if _RESUMABLE.match(p.name)) if folder.is_dir() else []


def newest_readable(candidates: Iterable[Path], skipped: list[tuple[Path, str]], resume: bool = False) -> Path | None:
    """The first readable checkpoint of ``candidates`` (with ``resume``, one holding the training state); the ones before
    it go to ``skipped`` with their reason."""
    for path in candidates:
        reason = unreadable(path, resume)
        if reason is None:
            return path
        skipped.append((path, reason))
    return None


def check_checkpoint(path: str | Path) -> None:
    """Raise :class:`CheckpointError` naming ``path`` and the newest readable checkpoint beside it, if ``path`` cannot be loaded."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}; give the path of a .ckpt file, or `last` to resume the newest run.")
    reason = unreadable(path)
    if reason is None:
        return
    others = newest_readable((p for p in newest_first(path.parent.glob("*.ckpt")) if p != path), [])
    instead = (
        f" The newest readable checkpoint beside it is {others}: pass --ckpt_path {others}." if others else " No readable checkpoint is beside it."
    )
    raise CheckpointError(f"Checkpoint {path} cannot be loaded ({reason}); it is truncated or corrupt.{instead}")


def _numbers(parents: Iterable[Path]) -> list[int]:
    return [int(m.group(1)) for parent in parents if parent.is_dir() for child in parent.iterdir() if (m := _VERSION.match(child.name))]


def next_version(*parents: Path) -> str:
    """``version_N`` with N one more than any ``version_*`` folder under ``parents`` (logs and checkpoints alike)."""
    return f"version_{max(_numbers(parents), default=-1) + 1}"


class RunFolderError(CheckpointError):
    """A run folder that cannot be made or written; the message names the folder and the fix."""


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, outermost first (what ``mkdir(parents=True)`` creates)."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            break
        missing.append(path)
    return missing[::-1]


def make_folders(*folders: Path, option: str = "") -> list[Path]:
    """Create ``folders`` (with their parents) and check that a file can be written in each; returns the folders
    created now, outermost first, so a run that fails at once can remove exactly those (:func:`remove_folders`).

    Raises :class:`RunFolderError` naming the folder and ``option`` (the command-line option that sets it)."""
    created: list[Path] = []
    for folder in folders:
        new = missing_folders(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            created += new
            with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
                pass
        except OSError as error:
            remove_folders(created)
            existing = next((path for path in (folder, *folder.parents) if path.exists()), None)
            if existing is not None and not existing.is_dir():
                reason = f"{existing} is a file, not a folder"
            else:
                reason = (error.strerror or type(error).__name__) + (
                    f" ({error.filename})" if error.filename and Path(error.filename) != folder else ""
                )
            fix = f"give {option} a folder you can write to" if option else "choose another folder"
            raise RunFolderError(f"The run folder {folder} cannot be written ({reason}): {fix}, or fix its permissions.") from None
    return created


def reserve_version(create: Sequence[Path], also: Sequence[Path] = (), options: Sequence[str] = ()) -> tuple[str, list[Path]]:
    """The next ``version_N`` free under every folder of ``create``, reserved by making ``<folder>/version_N`` in each
    with an exclusive ``mkdir`` (atomic on local disks and on NFS): runs started together never get the same one.

    N starts above every ``version_*`` under ``create`` and ``also`` (folders only counted, e.g. the checkpoints of
    a ``test`` that writes none); a number taken meanwhile by another run is skipped. ``options``: the command-line
    option that sets each folder of ``create``, for the error message. Returns the version and the folders created
    (with parents made on the way, outermost first)."""
    options = list(options) + [""] * (len(create) - len(options))
    created: list[Path] = []
    try:
        for parent, option in zip(create, options):
            created += make_folders(parent, option=option)
    except RunFolderError:
        remove_folders(created)
        raise
    number = max(_numbers([*create, *also]), default=-1) + 1
    while True:
        version, made = f"version_{number}", []
        try:
            for parent in create:
                (parent / version).mkdir()  # exclusive: fails when another run made it first
                made.append(parent / version)
            return version, created + made
        except FileExistsError:
            for folder in made:
                with contextlib.suppress(OSError):
                    folder.rmdir()
            number += 1
        except OSError as error:
            remove_folders(created + made)
            option = options[len(made)] or "the run"
            raise RunFolderError(
                f"No run folder can be made in {create[len(made)]} ({error.strerror or error}): "
                f"give {option} a folder you can write to, or fix its permissions."
            ) from None


def remove_folders(created: Sequence[Path]) -> None:
    """Undo :func:`make_folders`/:func:`reserve_version` for a run that failed before its first step: the run's own
    folders go with their files unless they hold a checkpoint; a folder that holds another folder (a parent such as
    ``checkpoints/<name>``, where other runs may have reserved theirs meanwhile) goes only when left empty."""
    leaves = {path for path in created if not any(other != path and path in other.parents for other in created)}
    for path in sorted(created, key=lambda p: len(p.parts), reverse=True):
        if not path.is_dir():
            continue
        if path in leaves and not any(child.is_dir() or child.suffix == ".ckpt" for child in path.iterdir()):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.rmdir()  # only when empty


def first_process() -> bool:
    """Whether this is the process that starts a run (not a DDP process started for it, by Lightning, torchrun or srun)."""
    return all(os.environ.get(key, "0") == "0" for key in ("LOCAL_RANK", "RANK", "SLURM_PROCID"))


def launched_version() -> str | None:
    """A version that every process of one run agrees on without talking: a DDP child's inherited choice, or the job's id."""
    if os.environ.get(VERSION_ENV) and os.environ.get("LOCAL_RANK", "0") != "0":
        return os.environ[VERSION_ENV]  # Lightning started this process after rank 0 chose
    if os.environ.get("SLURM_JOB_ID"):
        array = os.environ.get("SLURM_ARRAY_JOB_ID")
        job = f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID', '0')}" if array else os.environ["SLURM_JOB_ID"]
        return f"slurm-{job}"  # a requeued job keeps its id, so it finds its own hpc checkpoints
    if os.environ.get("TORCHELASTIC_RUN_ID") and os.environ.get("TORCHELASTIC_RUN_ID") != "none":
        return f"torchrun-{os.environ['TORCHELASTIC_RUN_ID']}"
    return None


def prune_hpc(folder: Path, resumed: Path) -> list[Path]:
    """Delete the SLURM ``hpc_ckpt_N.ckpt`` files older than the one resumed from (each pre-emption writes a new one)."""
    match = re.match(r"^hpc_ckpt_(\d+)\.ckpt$", resumed.name)
    if not match:
        return []
    old = [p for p in folder.glob("hpc_ckpt_*.ckpt") if (m := re.match(r"^hpc_ckpt_(\d+)\.ckpt$", p.name)) and int(m.group(1)) < int(match.group(1))]
    for path in old:
        path.unlink(missing_ok=True)
    return old


# Options that change neither what is learned nor what is measured: a resumed run may change them.
RESUME_MAY_CHANGE = ("model.num_classes", "model.label_names", "data.init_args.num_workers", "data.init_args.audio_cache_mb")


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run_config(path: str | Path) -> dict[str, Any]:
    """The model and data config a checkpoint was trained with (the backbone as configured, not its standalone form)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    model = {k: v for k, v in dict(checkpoint.get("hyper_parameters") or {}).items() if not k.startswith("_")}
    configured = (checkpoint.get("ser_lightning") or {}).get("backbone_as_configured")
    if configured is not None:
        model["backbone"] = configured
    data = (checkpoint.get("datamodule_hyper_parameters") or {}).get("data")
    return _plain({"model": model, "data": data})


def config_differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    """``key: saved -> current`` for every option set in both configs that differs (options only one side knows,
    such as a newer release's defaults, and :data:`RESUME_MAY_CHANGE` are left out)."""
    if prefix in RESUME_MAY_CHANGE:
        return []
    saved, current = _plain(saved), _plain(current)
    if isinstance(saved, dict) and isinstance(current, dict):
        if "class_path" in saved and "class_path" in current and saved["class_path"] != current["class_path"]:
            return [f"{prefix}: {saved['class_path']} -> {current['class_path']}"]
        found: list[str] = []
        for key in sorted(set(saved) & set(current)):
            found += config_differences(saved[key], current[key], f"{prefix}.{key}" if prefix else key)
        return found
    return [] if saved == current else [f"{prefix}: {saved!r} -> {current!r}"]


def runs_newest_first(root: Path) -> list[tuple[Path, Path]]:
    """(run folder, its newest resumable checkpoint) under ``root`` (``checkpoints/<name>``), most recent first."""
    runs = [(resumable_checkpoints(folder), folder) for folder in root.iterdir() if folder.is_dir()] if root.is_dir() else []
    return [(folder, found[0]) for found, folder in sorted(((f, d) for f, d in runs if f), key=lambda r: r[0][0].stat().st_mtime_ns, reverse=True)]


def matching_run(root: Path, current: dict[str, Any]) -> str | None:
    """``--ckpt_path last``: the newest run under ``root`` trained with the ``current`` model and data config (trainer
    options such as ``max_epochs`` may differ), or None to start a new run, saying why the newest one was not taken."""
    newest: tuple[Path, Path, list[str]] | None = None
    for folder, checkpoint in runs_newest_first(root):
        try:
            differences = config_differences(run_config(checkpoint), current)
        except Exception:  # unreadable: resume_from names it and falls back within that run
            differences = []
        if not differences:
            return folder.name
        newest = newest or (folder, checkpoint, differences)
    if newest is not None:
        folder, checkpoint, differences = newest
        rank_zero_warn(
            f"--ckpt_path last: the newest run {folder} was trained with another config ({'; '.join(differences[:4])}"
            f"{'; ...' if len(differences) > 4 else ''}), so this run starts fresh in a folder of its own. "
            f"To continue that run with the new settings anyway, pass its checkpoint: --ckpt_path {checkpoint}."
        )
    return None


VERSION_OPTION = "--trainer.logger.init_args.version"


def earlier_run(folder: Path, log_dir: Path | None, fixed_by: str) -> str | None:
    """Why a new run may not start in the fixed ``folder`` (checkpoints) and ``log_dir``: they hold an earlier run's
    checkpoints or TensorBoard events (``fixed_by``: the option that fixed them), or None when they are free."""
    existing = sorted(p.name for p in folder.glob("*.ckpt")) if folder.is_dir() else []
    elsewhere = (
        "another --trainer.logger.init_args.version (unset, each run gets its own version_N)"
        if fixed_by == VERSION_OPTION
        else "its own --checkpoint.dirpath (unset, each run gets checkpoints/<name>/<version>)"
    )
    if existing:
        return (
            f"{folder} already holds checkpoints of an earlier run ({', '.join(existing[:3])}): resume that run with "
            f"--ckpt_path last, or start a new one with {elsewhere}."
        )
    events = sorted(p.name for p in log_dir.glob("events.out.tfevents.*")) if log_dir is not None and log_dir.is_dir() else []
    if events:
        return f"{log_dir} already holds the logs of an earlier run ({events[0]}): start this run with {elsewhere}."
    return None


def resume_from(
    folder: Path,
    ckpt: str | None,
    chosen: bool,
    current: Callable[[], dict[str, Any]],
    fit: bool,
    log_dir: Path | None = None,
    fixed_by: str = "--checkpoint.dirpath",
) -> str | None:
    """The checkpoint a run starts from: ``last``/``hpc`` resolve to the newest readable file in the run's folder
    (a first run starts fresh), an explicit path must load, and a run never writes into another run's folder.

    ``chosen``: the folder was chosen for this run, not fixed by the user (``fixed_by``: the option that fixed it; then
    a new run refuses a folder, or a ``log_dir``, that holds an earlier run); ``current``: this run's model and data
    config (``last`` never continues another experiment); ``fit``: the checkpoint must be able to resume training.
    """
    from lightning.fabric.plugins.environments import SLURMEnvironment

    resumable = resumable_checkpoints(folder)
    if ckpt is None and SLURMEnvironment.detect() and any(p.name.startswith("hpc_ckpt_") for p in resumable):
        ckpt = "hpc"  # a requeued SLURM job resumes (Lightning's own rule, with the unreadable-file fallback below)
    if ckpt is None:
        problem = None if chosen else earlier_run(folder, log_dir, fixed_by)
        if problem:
            raise CheckpointError(problem)
        return None
    if ckpt not in ("last", "hpc"):
        check_checkpoint(ckpt)
        return ckpt
    candidates = [p for p in resumable if ckpt == "last" or p.name.startswith("hpc_ckpt_")]
    if not candidates:
        rank_zero_info(f"--ckpt_path {ckpt}: no checkpoint to resume in {folder} yet, so this run starts fresh.")
        return None
    skipped: list[tuple[Path, str]] = []
    others = [p for p in newest_first(folder.glob("*.ckpt")) if p not in resumable]  # e.g. a best checkpoint saved in full
    found = newest_readable(candidates + others, skipped, resume=fit)
    if found is None:
        weights = [p for p, reason in skipped if "weights only" in reason]
        hint = f" To start a new run from its weights: --model.init_from {weights[0]}." if weights else ""
        raise CheckpointError(f"No checkpoint in {folder} can resume this run ({'; '.join(f'{p.name}: {r}' for p, r in skipped)}).{hint}")
    for path, reason in skipped:
        rank_zero_warn(f"{path} cannot be used ({reason}). Resuming from {found} instead.")
    differences = config_differences(run_config(found), current()) if ckpt == "last" else []
    if differences:  # the run folder was fixed (logger version, checkpoint.dirpath): never continue another experiment
        raise CheckpointError(
            f"--ckpt_path last would continue {found}, trained with another config ({'; '.join(differences[:4])}). "
            "Give this run its own folder (leave the logger's version and checkpoint.dirpath unset), or pass "
            f"--ckpt_path {found} to continue it anyway."
        )
    if os.environ.get("LOCAL_RANK", "0") == "0":
        prune_hpc(folder, found)
    rank_zero_info(f"Resuming from {found}.")
    return str(found)

"""``python -m ser_lightning export``: a checkpoint as a self-contained folder (and an ONNX file, and a hub repository).

    python -m ser_lightning export --ckpt_path checkpoints/demo/version_0/best-epoch07-ua0.612.ckpt --out exported/demo \\
        [--results logs/demo/version_0/results.json] [--onnx] [--push-to-hub user/ser-demo]

The folder: ``model.safetensors``, ``config.json``, ``README.md`` (model card with the test table of a ``results.json``
that tested this very checkpoint), and with ``--onnx`` ``model.onnx`` (waveform in, calibrated probabilities out),
checked against the PyTorch model with onnxruntime. ``--push-to-hub`` uploads the folder with huggingface_hub
(``HF_TOKEN`` or ``hf auth login``).

``--out`` must be new, empty, or a folder export wrote itself (it is replaced whole, so no file of an earlier export
stays); the files are written into a hidden sibling folder renamed into place at the end, so a killed export never
leaves a folder that looks complete.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..checkpoints import CheckpointError, check_checkpoint
from ..fileio import temporary_path
from ..results import RESULTS_FILE, read_results
from .folder_config import CONFIG_FILE, EXPORT_KEY, RECOGNIZER, check_class, check_hparams
from .folder_weights import WEIGHTS_FILE, built_shapes, compare_shapes
from .pretrained import PretrainedRecognizer, rebuild, rebuildable

EXPORT_FORMAT = 1
CARD_FILE, ONNX_FILE, INT8_FILE = "README.md", "model.onnx", "model.int8.onnx"
EXPORT_FILES = (CARD_FILE, CONFIG_FILE, WEIGHTS_FILE, ONNX_FILE, INT8_FILE)
QUANTIZATIONS = ("int8",)


def _run_logs(ckpt_path: Path) -> Path | None:
    """``logs/<name>`` of the run that wrote ``checkpoints/<name>/<version>/X.ckpt`` (the CLI's layout), or None."""
    folder = ckpt_path.resolve().parent
    return folder.parents[2] / "logs" / folder.parent.name if len(folder.parents) >= 3 else None


def run_results(ckpt_path: Path) -> Path | None:
    """The ``results.json`` of the run that wrote ``ckpt_path``: ``checkpoints/<name>/<version>/X.ckpt`` is tested in
    ``logs/<name>/<version>/`` beside ``checkpoints/`` (the CLI's layout), or None."""
    logs = _run_logs(ckpt_path)
    candidate = logs / ckpt_path.resolve().parent.name / RESULTS_FILE if logs else None
    return candidate if candidate is not None and candidate.is_file() else None


def tested(record: dict[str, Any], results_path: Path, ckpt_path: Path) -> bool:
    """Whether the run that wrote ``record`` (read from ``results_path``) tested ``ckpt_path``: its ``checkpoint`` is that
    file, as an absolute path or relative to the run's project folder (``<project>/logs/<name>/<version>/``) or here."""
    named = record.get("checkpoint")
    if not isinstance(named, str) or not named:
        return False
    path, parents = Path(named).expanduser(), results_path.resolve().parents
    bases = [Path.cwd()] + ([parents[3]] if len(parents) > 3 else [])
    return any((path if path.is_absolute() else base / path).resolve() == ckpt_path.resolve() for base in bases)


def card_results(ckpt_path: Path, given: str | Path | None) -> tuple[dict[str, Any] | None, bool]:
    """The ``results.json`` record for the card and whether it tested ``ckpt_path``. A given file must have tested it
    (else ``ValueError``); otherwise the run's own ``results.json``, or another test run's of the same name that tested it."""
    if given is not None:
        record = read_results(given)
        if not tested(record, Path(given), ckpt_path):
            raise ValueError(
                f"--results {given} tested {record.get('checkpoint')!r}, not {ckpt_path}: its table would describe another model; test this "
                f"checkpoint first (python -m ser_lightning test --ckpt_path {ckpt_path}) and give that run's results.json, or leave --results out."
            )
        return record, True
    logs, own = _run_logs(ckpt_path), run_results(ckpt_path)
    others = sorted(logs.glob(f"*/{RESULTS_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True) if logs and logs.is_dir() else []
    for path in [own, *others] if own else others:
        try:
            record = read_results(path)
        except ValueError:
            continue
        if tested(record, path, ckpt_path):
            return record, True
    return (read_results(own), False) if own else (None, False)  # the run's data, without another checkpoint's table


def own_export(folder: Path) -> bool:
    """Whether ``folder`` holds an export and nothing else: the files its ``config.json`` lists (or, from before that
    list, the export's own file names and a config with ``hparams`` and ``recognizer``)."""
    names = {path.name for path in folder.iterdir()}
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(config, dict):
        return False
    record = config.get(EXPORT_KEY)
    if isinstance(record, dict):
        files = record.get("files")
        return isinstance(files, list) and names <= set(EXPORT_FILES).intersection(str(name) for name in files)
    return names <= set(EXPORT_FILES) and isinstance(config.get("hparams"), dict) and isinstance(config.get("recognizer"), str)


def check_out(out: Path, inputs: Sequence[Path]) -> None:
    """Raise ``ValueError`` (naming ``out``) unless export may write there: not an input nor a folder holding one, and
    new, empty, or an export and nothing else (which is then replaced whole)."""
    where = out.resolve()
    for path in inputs:
        if path.resolve() == where or where in path.resolve().parents:
            raise ValueError(f"--out {out} is or holds {path}, an input of this export: writing there would replace it; choose another folder.")
    if out.is_symlink():
        raise ValueError(f"--out {out} is a symbolic link: give the folder it points to, or a new folder.")
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder; choose a new folder.")
    names = sorted(path.name for path in out.iterdir())
    if names and not own_export(out):
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise ValueError(
            f"--out {out} holds files that export did not write ({shown}): choose a new or empty folder (export replaces only a folder it wrote)."
        )


def replace_folder(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` into place as ``out``; an existing ``out`` (empty, or an earlier export) goes whole."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        os.rename(tmp, out)
        return
    old = temporary_path(out)
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _check_hub(repo_id: str) -> None:
    """Before anything is written: ``repo_id`` is a repository name and the hub answers (one line naming it otherwise)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    from ..models.hub import hub_endpoint, hub_offline, hub_status

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise ValueError(f"--push-to-hub {repo_id!r} is not a hub repository name (user/name or org/name).") from None
    why = "is switched off (HF_HUB_OFFLINE is set)" if hub_offline() else hub_status()
    if why is not None:
        raise ValueError(
            f"--push-to-hub {repo_id}: the hub at {hub_endpoint()} {why}; nothing was written. Export without --push-to-hub and upload "
            "later (hf upload), or set HF_ENDPOINT (and the proxy variables) to a hub this machine reaches."
        )


def push(out: Path, repo_id: str, ckpt_name: str) -> None:
    """Upload ``out`` to hub repository ``repo_id`` (created if missing), every request bounded in time; a failure is one
    ``ValueError`` line naming the endpoint and the fix."""
    from huggingface_hub import HfApi

    from ..models.hub import bound_hub_requests, hub_endpoint, hub_failure

    bound_hub_requests()
    try:
        api = HfApi(endpoint=hub_endpoint())
        api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(out), commit_message=f"ser_lightning export of {ckpt_name}")
    except Exception as error:
        failure = hub_failure(error)
        if failure is None:
            raise
        raise ValueError(
            f"--push-to-hub {repo_id}: {failure}. The folder {out} is written: log in with a token that may write there (`hf auth login` "
            f"or HF_TOKEN), or set HF_ENDPOINT for another hub, then upload it with `hf upload {repo_id} {out}`."
        ) from None


def _exported_model(ckpt_path: Path, checkpoint: dict[str, Any]) -> tuple[PretrainedRecognizer, dict[str, Any]]:
    """The checkpoint's model as a :class:`PretrainedRecognizer` and the ``config.json`` content that rebuilds it: its
    hyper-parameters checked as a model folder's are, and its shapes compared with the checkpoint's before the model
    is built for real."""
    hparams = checkpoint.get("hyper_parameters") or {}
    if "backbone" not in hparams or not isinstance(hparams["backbone"], dict):
        raise CheckpointError(f"{ckpt_path} holds no backbone config (a model built in Python, not by the CLI); export needs one the CLI trained.")
    rebuilt, recognizer = rebuildable(hparams), hparams.get("_class_path", RECOGNIZER)
    check_class(recognizer, "recognizer", ckpt_path)
    check_hparams(rebuilt, ckpt_path)  # what the folder will say must load: no base model, no remote code
    state = checkpoint["state_dict"]
    found = {f"recognizer.{key}": tuple(value.shape) for key, value in state.items()}
    found.setdefault("recognizer.temperature", ())  # a checkpoint from before calibration: T = 1 (on_load_checkpoint)
    compare_shapes(built_shapes(lambda: rebuild(rebuilt, recognizer, ckpt_path), ckpt_path, len(found), ckpt_path), found, ckpt_path, ckpt_path)
    exported = rebuild(rebuilt, recognizer, ckpt_path).eval()
    exported.recognizer.on_load_checkpoint(checkpoint)  # what load_from_checkpoint runs first (an older file gets T = 1)
    exported.recognizer.load_state_dict(state)
    return exported, {"hparams": rebuilt, "recognizer": recognizer}


def onnx_card_section(recognizer: Any, folder: Path, quantize: str | None) -> str:
    """The card's ONNX section: the files, their sizes, and with ``quantize`` the int8 model written and what it costs
    (its labels and probabilities against the float model on the export's check inputs)."""
    from .onnx import ONNX_INPUTS, compare_onnx, quantize_onnx

    float_size = (folder / ONNX_FILE).stat().st_size / 1e6
    lines = [
        "\n## ONNX\n",
        f"`{ONNX_FILE}` ({float_size:.1f} MB, float32): {ONNX_INPUTS}; checked against PyTorch with onnxruntime at export.",
    ]
    if quantize:
        quantize_onnx(folder / ONNX_FILE, folder / INT8_FILE)
        agreement, largest = compare_onnx(folder / ONNX_FILE, folder / INT8_FILE, recognizer)
        lines.append(
            f"`{INT8_FILE}` ({(folder / INT8_FILE).stat().st_size / 1e6:.1f} MB, onnxruntime dynamic int8 quantisation of the linear and "
            f"LSTM weights; the log-mel front end and convolutions stay float): on the export's {agreement[1]} check inputs it gives the "
            f"float model's label for {agreement[0]} and its probabilities differ by at most {largest:.3f}. Int8 is not exact: "
            "compare UA on your own held-out speakers before deploying it (benchmarks/onnx_speed.py measures speed and UA)."
        )
    return "\n".join(lines) + "\n"


def export_checkpoint(
    ckpt_path: str | Path,
    out: str | Path,
    results: str | Path | None = None,
    onnx: bool = False,
    push_to_hub: str | None = None,
    quantize: str | None = None,
) -> Path:
    """Write the exported folder of ``ckpt_path`` to ``out`` and return it (see the module docstring); ``quantize:
    int8`` also writes ``model.int8.onnx`` (needs ``onnx``)."""
    ckpt_path, out = Path(ckpt_path), Path(out)
    if quantize is not None and (quantize not in QUANTIZATIONS or not onnx):
        raise ValueError(f"--quantize {quantize}: give --onnx --quantize int8 (the int8 model is made from the float ONNX file).")
    check_out(out, [ckpt_path, *([Path(results)] if results else [])])
    if onnx:
        from .onnx import require_onnx

        require_onnx()  # before anything is written
    if push_to_hub:
        _check_hub(push_to_hub)
    check_checkpoint(str(ckpt_path))
    record, record_tested = card_results(ckpt_path, results)
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)  # read once, the model built once
    exported, config = _exported_model(ckpt_path, checkpoint)
    files = sorted([CARD_FILE, CONFIG_FILE, WEIGHTS_FILE, *([ONNX_FILE] if onnx else []), *([INT8_FILE] if quantize else [])])
    config[EXPORT_KEY] = {"format": EXPORT_FORMAT, "files": files, "checkpoint": ckpt_path.name}
    card = {"name": push_to_hub or str(out), "results": record, "tested": record_tested, "checkpoint": ckpt_path.name}
    tmp = temporary_path(out)
    try:
        exported.save_pretrained(tmp, config=config, model_card_kwargs=card)
        if onnx:
            from .onnx import export_onnx

            export_onnx(exported.recognizer, tmp / ONNX_FILE)
            with (tmp / CARD_FILE).open("a", encoding="utf-8") as card_file:
                card_file.write(onnx_card_section(exported.recognizer, tmp, quantize))
        replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if push_to_hub:
        push(out, push_to_hub, ckpt_path.name)
    return out


def main(argv: Sequence[str] | None = None) -> Path:
    """Command line of ``python -m ser_lightning export``; bad input ends with one ``error:`` line (exit code 2)."""
    parser = argparse.ArgumentParser(prog="python -m ser_lightning export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt_path", required=True, help="the checkpoint to export (e.g. the best one of a fit)")
    parser.add_argument("--out", required=True, help="the folder to write: new, empty, or an earlier export (replaced whole)")
    parser.add_argument("--results", help="a results.json that tested this checkpoint, for the model card (default: found beside its run)")
    parser.add_argument("--onnx", action="store_true", help="also write model.onnx and check it with onnxruntime")
    parser.add_argument(
        "--quantize", choices=QUANTIZATIONS, help="with --onnx: also write model.int8.onnx (dynamic int8; the card says what it costs)"
    )
    parser.add_argument("--push-to-hub", dest="push_to_hub", metavar="REPO", help="upload the folder to this hub repository")
    args = parser.parse_args(argv)
    try:
        out = export_checkpoint(args.ckpt_path, args.out, args.results, args.onnx, args.push_to_hub, args.quantize)
    except (CheckpointError, ValueError, OSError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    files = sorted(path.name for path in out.iterdir())
    print(json.dumps({"exported": str(out), "files": files}))
    return out

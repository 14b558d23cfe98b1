"""``python -m ser_lightning export``: a checkpoint as a self-contained folder (and an ONNX file, and a hub repository).

    python -m ser_lightning export --ckpt_path checkpoints/demo/version_0/best-epoch07-ua0.612.ckpt --out exported/demo \\
        [--results logs/demo/version_0/results.json] [--onnx] [--push-to-hub user/ser-demo]

The folder: ``model.safetensors``, ``config.json``, ``README.md`` (model card with the run's test table), and with
``--onnx`` ``model.onnx`` (waveform in, calibrated probabilities out), checked against the PyTorch model with
onnxruntime. ``--push-to-hub`` uploads the folder with huggingface_hub (``HF_TOKEN`` or ``huggingface-cli login``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ..checkpoints import CheckpointError, check_checkpoint
from ..results import RESULTS_FILE, read_results
from .pretrained import RECOGNIZER, PretrainedRecognizer, rebuildable


def run_results(ckpt_path: Path) -> Path | None:
    """The ``results.json`` of the run that wrote ``ckpt_path``: ``checkpoints/<name>/<version>/X.ckpt`` is tested in
    ``logs/<name>/<version>/`` beside ``checkpoints/`` (the CLI's layout), or None."""
    folder = ckpt_path.resolve().parent
    if len(folder.parents) < 3:
        return None
    candidate = folder.parents[2] / "logs" / folder.parent.name / folder.name / RESULTS_FILE
    return candidate if candidate.is_file() else None


def export_checkpoint(
    ckpt_path: str | Path,
    out: str | Path,
    results: str | Path | None = None,
    onnx: bool = False,
    push_to_hub: str | None = None,
) -> Path:
    """Write the exported folder of ``ckpt_path`` to ``out`` and return it (see the module docstring)."""
    ckpt_path, out = Path(ckpt_path), Path(out)
    if onnx:
        from .onnx import require_onnx

        require_onnx()  # before anything is written
    check_checkpoint(str(ckpt_path))
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)  # read once, the model built once
    hparams = checkpoint.get("hyper_parameters") or {}
    if "backbone" not in hparams or not isinstance(hparams["backbone"], dict):
        raise CheckpointError(f"{ckpt_path} holds no backbone config (a model built in Python, not by the CLI); export needs one the CLI trained.")
    exported = PretrainedRecognizer(rebuildable(hparams), hparams.get("_class_path", RECOGNIZER)).eval()
    exported.recognizer.on_load_checkpoint(checkpoint)  # what load_from_checkpoint runs first (an older file gets T = 1)
    exported.recognizer.load_state_dict(checkpoint["state_dict"])
    results_path = Path(results) if results else run_results(ckpt_path)
    record = read_results(results_path) if results_path else None
    name = push_to_hub or str(out)
    exported.save_pretrained(out, model_card_kwargs={"name": name, "results": record})
    if onnx:
        from .onnx import export_onnx

        export_onnx(exported.recognizer, out / "model.onnx")
    if push_to_hub:
        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(push_to_hub, exist_ok=True)
        api.upload_folder(repo_id=push_to_hub, folder_path=str(out), commit_message=f"ser_lightning export of {ckpt_path.name}")
    return out


def main(argv: Sequence[str] | None = None) -> Path:
    """Command line of ``python -m ser_lightning export``; bad input ends with one ``error:`` line (exit code 2)."""
    parser = argparse.ArgumentParser(prog="python -m ser_lightning export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt_path", required=True, help="the checkpoint to export (e.g. the best one of a fit)")
    parser.add_argument("--out", required=True, help="the folder to write")
    parser.add_argument("--results", help="the run's results.json for the model card (default: found beside the checkpoint's run)")
    parser.add_argument("--onnx", action="store_true", help="also write model.onnx and check it with onnxruntime")
    parser.add_argument("--push-to-hub", dest="push_to_hub", metavar="REPO", help="upload the folder to this hub repository")
    args = parser.parse_args(argv)
    try:
        out = export_checkpoint(args.ckpt_path, args.out, args.results, args.onnx, args.push_to_hub)
    except (CheckpointError, ValueError, OSError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    files = sorted(path.name for path in out.iterdir())
    print(json.dumps({"exported": str(out), "files": files}))
    return out

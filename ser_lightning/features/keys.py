"""Cache keys: what a backbone is (class, settings, weights, precision) and what an utterance's input is (file, noise)."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel

from ..data.audio import AudioError
from ..data.augment import EvaluationNoise
from ..data.dataset import UtteranceDataset, noise_key

FORMAT_VERSION = 1  # raise when what is stored, or how it is computed, changes: every key changes with it
RUNTIME_ATTRIBUTES = frozenset({"training", "warnings_issued"})  # change while a model runs, never its output


def digest(data: Any, size: int = 20) -> str:
    """A short hex digest of plain data (JSON with sorted keys)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def _plain(value: Any) -> tuple[bool, Any]:
    """(True, value as JSON-able data), or (False, None) for values with no stable plain form (objects, tensors)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True, value
    if isinstance(value, torch.dtype):
        return True, str(value)
    if isinstance(value, (list, tuple)):
        items = [_plain(item) for item in value]
        return (True, [item for _, item in items]) if all(ok for ok, _ in items) else (False, None)
    if isinstance(value, dict):
        pairs = {str(key): _plain(item) for key, item in value.items()}
        return True, {key: item for key, (ok, item) in pairs.items() if ok}
    return False, None


def backbone_settings(backbone: nn.Module) -> dict[str, Any]:
    """Every sub-module's class and plain attributes (window, hop, ``normalize``, attention mask, ...), and the
    config of each Hugging Face model: what changes the output for the same weights. Training mode is left out."""
    settings: dict[str, Any] = {}
    for name, module in backbone.named_modules():
        entry: dict[str, Any] = {"class": f"{type(module).__module__}.{type(module).__qualname__}"}
        for attribute, value in vars(module).items():
            if attribute.startswith("_") or attribute in RUNTIME_ATTRIBUTES:
                continue
            ok, plain = _plain(value)
            if ok:
                entry[attribute] = plain
        if isinstance(module, PreTrainedModel):
            entry["config"] = _plain(module.config.to_dict())[1]
        settings[name or "."] = entry
    return settings


def weights_digest(module: nn.Module) -> str:
    """A hash of every tensor of ``module``'s state dict (parameters and buffers: names, dtypes, shapes and bytes)."""
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(module.state_dict().items()):
        data = tensor.detach()
        hasher.update(f"{name}|{data.dtype}|{tuple(data.shape)}|".encode())
        hasher.update(data.cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return hasher.hexdigest()


def backbone_identity(backbone: nn.Module, precision: str) -> dict[str, Any]:
    """What a backbone's features depend on: its class, settings, weights and the precision it runs in."""
    return {
        "format": FORMAT_VERSION,
        "class": f"{type(backbone).__module__}.{type(backbone).__qualname__}",
        "settings": backbone_settings(backbone),
        "weights": weights_digest(backbone),
        "precision": str(precision),
    }


def file_identity(path: str) -> dict[str, Any]:
    """A file's absolute path, size and modification time (ns): any rewrite of the file changes it."""
    absolute = os.path.abspath(path)
    try:
        stat = os.stat(absolute)
    except OSError:
        raise AudioError(f"Audio file {path} does not exist; fix the corpus root or regenerate the manifest.") from None
    return {"path": absolute, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def noise_identity(noise: EvaluationNoise) -> dict[str, Any]:
    """An evaluation noise's seed and recordings (white noise has none)."""
    return {"seed": noise.seed, "files": [file_identity(path) for path in noise.files]}


def utterance_keys(dataset: UtteranceDataset) -> list[str]:
    """One key per item of ``dataset``: the audio file, the rate it is resampled to, and the SNR and noise of the item.

    Refuses datasets that crop or augment at random (their items change from one read to the next).
    """
    if dataset.max_samples or dataset.augment is not None:
        raise ValueError("A dataset that crops (max_seconds) or augments at random has no fixed input to cache; cache only deterministic datasets.")
    noise = noise_identity(dataset.noise) if dataset.noise is not None and any(snr is not None for snr in dataset.snrs) else None
    files = [{**file_identity(utt.path), "sample_rate": dataset.sample_rate} for utt in dataset.utterances]
    keys = []
    for snr in dataset.snrs:
        for utt, identity in zip(dataset.utterances, files):
            noisy = {"snr": snr, "noise": noise, "noise_name": noise_key(utt)} if snr is not None else {}
            keys.append(digest({"format": FORMAT_VERSION, **identity, **noisy}, size=32))
    return keys

"""Checkpoints that stand alone: the backbone's architecture and preprocessing travel in the checkpoint's hyper-parameters.

A backbone built from a hub name or a local folder reads that name or folder again whenever the checkpoint
is loaded (``load_from_checkpoint``, ``test``/``predict --ckpt_path``), although the checkpoint holds every
weight. At save time the backbone's config entry is rewritten to its resolved architecture with
``pretrained: false`` (see :meth:`Backbone.standalone_args`), so loading needs neither the hub nor the base
model's files; the entry as configured is kept beside it under ``ser_lightning.backbone_as_configured``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from transformers import PretrainedConfig

CHECKPOINT_KEY = "ser_lightning"
_NOT_ARCHITECTURE = ("_name_or_path", "transformers_version", "architectures", "_commit_hash", "_attn_implementation_autoset")


def architecture(config: PretrainedConfig) -> dict[str, Any]:
    """A Hugging Face config as plain data that ``AutoConfig.for_model(**it)`` rebuilds (model_type included)."""
    data = json.loads(config.to_json_string(use_diff=False))
    return {key: value for key, value in data.items() if key not in _NOT_ARCHITECTURE}


def make_standalone(checkpoint: dict[str, Any], backbone: Any, configured: Mapping[str, Any] | None = None) -> None:
    """Rewrite ``checkpoint``'s backbone hyper-parameters to rebuild without downloads (in place; a no-op for backbones
    that read no files, or for models built in Python without a ``class_path`` entry). ``configured`` is the entry as
    the user wrote it, when the model was itself rebuilt from a standalone checkpoint."""
    hparams = checkpoint.get("hyper_parameters")
    entry = hparams.get("backbone") if isinstance(hparams, dict) else None
    standalone = getattr(backbone, "standalone_args", lambda: None)()
    if not isinstance(entry, Mapping) or "class_path" not in entry or not standalone:
        return
    configured = copy.deepcopy(dict(configured if configured is not None else entry))  # hparams are shared with the live module
    hparams["backbone"] = {**configured, "init_args": {**dict(configured.get("init_args") or {}), **standalone}}
    checkpoint.setdefault(CHECKPOINT_KEY, {})["backbone_as_configured"] = configured


def configured_backbone(checkpoint: Mapping[str, Any]) -> Any:
    """The backbone entry as the user configured it (hub name or folder), for display and config comparison."""
    saved = checkpoint.get(CHECKPOINT_KEY, {}).get("backbone_as_configured")
    return saved if saved is not None else (checkpoint.get("hyper_parameters") or {}).get("backbone")

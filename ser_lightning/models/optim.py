"""The optimiser of ``EmotionRecognizer`` (AdamW, a learning rate per group, warm-up, then cosine decay) and its per-batch seeds."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup


def adamw_with_warmup(module: Any) -> dict[str, Any]:
    """Lightning's ``configure_optimizers`` result for ``module`` (its ``hparams``: lr_backbone, lr_head, weight_decay, warmup)."""
    backbone = [p for p in module.backbone.parameters() if p.requires_grad]
    head = [p for part in (module.pooling, module.head, module.domain_classifier) if part is not None for p in part.parameters() if p.requires_grad]
    groups = [{"params": head, "lr": module.hparams.lr_head, "name": "head"}]
    if backbone:
        groups.append({"params": backbone, "lr": module.hparams.lr_backbone, "name": "backbone"})
    optimizer = torch.optim.AdamW(groups, weight_decay=module.hparams.weight_decay)
    total = module.trainer.estimated_stepping_batches
    warmup = module.hparams.warmup
    if math.isfinite(total):
        warmup_steps = int(warmup * total) if warmup < 1 else int(warmup)
        scheduler = get_cosine_schedule_with_warmup(optimizer, warmup_steps, max(1, int(total)))
    else:  # e.g. --trainer.max_epochs -1 with max_time: no length to decay over
        warmup_steps = int(warmup) if warmup >= 1 else 0
        scheduler = get_constant_schedule_with_warmup(optimizer, warmup_steps)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def batch_seed(seed: int, batch: int, rank: int) -> int:
    """The torch seed of one training batch of one rank (a hash, so neighbouring batches get unrelated streams)."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{batch}|{rank}".encode()).digest()[:8], "little") & (2**63 - 1)

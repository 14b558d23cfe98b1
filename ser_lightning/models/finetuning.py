"""Which backbone parameters train: full fine-tuning, a frozen feature encoder, the top layers, a frozen probe, or LoRA.

Every backbone exposes the same modes (``finetune`` in YAML); a backbone only says which of its
modules are the feature encoder (the convolutional front end) and which are its stacked layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from torch import nn

FinetuneMode = Literal["full", "encoder", "top_layers", "frozen", "lora"]
FINETUNE_MODES: tuple[str, ...] = ("full", "encoder", "top_layers", "frozen", "lora")
ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")  # wav2vec2 family and Whisper alike


def apply_finetuning(
    model: nn.Module,
    mode: str,
    feature_encoder: Sequence[nn.Module],
    layers: Sequence[nn.Module],
    top: Sequence[nn.Module] = (),
    trainable_layers: int = 2,
    lora_rank: int = 8,
    lora_alpha: float = 16.0,
    lora_dropout: float = 0.0,
) -> None:
    """Set ``requires_grad`` on ``model``'s parameters for a fine-tuning ``mode``.

    Args:
        model: the whole backbone module.
        mode: ``full`` (everything trains), ``encoder`` (the feature encoder is frozen, the rest trains),
            ``top_layers`` (only the last ``trainable_layers`` of ``layers`` and the ``top`` modules train),
            ``frozen`` (nothing trains: a probe) or ``lora`` (LoRA adapters on the attention projections train,
            through ``peft``; every original weight is frozen).
        feature_encoder: the modules frozen in ``encoder`` mode.
        layers: the stacked layers, lowest first.
        top: modules after the last layer (e.g. a final layer norm) that train with the top layers.
        trainable_layers: how many of the last layers train in ``top_layers`` mode.
        lora_rank: rank of the LoRA update matrices.
        lora_alpha: LoRA scaling numerator (the update is scaled by ``lora_alpha / lora_rank``).
        lora_dropout: dropout on the LoRA branch's input.
    """
    if mode not in FINETUNE_MODES:
        raise ValueError(f"finetune={mode!r} is not a fine-tuning mode; choose one of {', '.join(FINETUNE_MODES)}.")
    fixed = [p for p in model.parameters() if not p.requires_grad]  # what the architecture itself keeps fixed (e.g. sinusoidal positions)
    if mode == "lora":
        _inject_lora(model, lora_rank, lora_alpha, lora_dropout)
    model.requires_grad_(mode in ("full", "encoder"))
    if mode == "encoder":
        for module in feature_encoder:
            module.requires_grad_(False)
    elif mode == "top_layers":
        if not 1 <= trainable_layers <= len(layers):
            raise ValueError(f"trainable_layers={trainable_layers} must be between 1 and the backbone's {len(layers)} layers.")
        for module in [*layers[len(layers) - trainable_layers :], *top]:
            module.requires_grad_(True)
    elif mode == "lora":
        for name, param in model.named_parameters():
            param.requires_grad_("lora_" in name)
    for param in fixed:
        param.requires_grad_(False)


def _inject_lora(model: nn.Module, rank: int, alpha: float, dropout: float) -> None:
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError:
        raise ImportError("finetune: lora needs peft: pip install 'ser_lightning[peft]' (or pip install peft).") from None
    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    targets = sorted(names & set(ATTENTION_PROJECTIONS))
    if not targets:
        raise ValueError(f"finetune: lora adapts attention projections {ATTENTION_PROJECTIONS}; {type(model).__name__} has none.")
    if rank < 1:
        raise ValueError(f"lora_rank must be at least 1, got {rank}.")
    inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets), model)


def freeze_idle_modules(module: nn.Module) -> None:
    """Put every sub-module whose parameters are all frozen into eval mode (dropout off, batch-norm statistics fixed).

    Frozen parts then act as fixed feature extractors, which is what a probe or a cache of their
    outputs assumes; modules without parameters follow their parent.
    """
    for child in module.children():
        params = list(child.parameters())
        if params and not any(p.requires_grad for p in params):
            child.eval()
        else:
            freeze_idle_modules(child)


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(module.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def log_trainable_parameters(recognizer: Any) -> None:
    """Say (and log as ``params/*``) how many backbone and head parameters train, and how many frozen modules run in eval mode."""
    from lightning.pytorch.utilities import rank_zero_info

    trainable, total = count_parameters(recognizer.backbone)
    head_trainable, _ = count_parameters(nn.ModuleList([recognizer.pooling, recognizer.head]))
    idle = sum(1 for module in recognizer.backbone.modules() if not module.training)
    rank_zero_info(
        f"Trainable parameters: backbone {trainable:,} of {total:,}, pooling and classifier {head_trainable:,}"
        + (f"; {idle} frozen backbone module(s) run in eval mode." if idle else ".")
    )
    if recognizer.logger is not None:
        recognizer.logger.log_metrics({"params/trainable_backbone": trainable, "params/trainable_head": head_trainable}, step=0)

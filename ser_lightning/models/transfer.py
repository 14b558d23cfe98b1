"""Start a model from another run's weights (weights only: no optimizer, scheduler or loop state)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn


def load_initial_weights(model: nn.Module, path: str | Path, label_names: Sequence[str], classifier: str) -> list[str]:
    """Copy the weights of checkpoint ``path`` into ``model``; return what was adapted, as messages.

    The final classifier layer (parameters under ``classifier``) is matched by class name: the same
    classes in another order are re-ordered, other classes leave it freshly initialised. Parameters the
    checkpoint lacks keep their initialisation; any other shape mismatch is an error naming the parameter.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"init_from: no checkpoint at {path}; give the .ckpt of a finished run.")
    from ..checkpoints import CheckpointError

    try:  # one load: a truncated file, or a pickled object that weights_only refuses, is one line with no traceback
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'unreadable'}"
        raise CheckpointError(f"init_from: {path} cannot be loaded ({reason}); give the .ckpt of a finished run of this package.") from None
    weights = {
        k: v for k, v in checkpoint.get("state_dict", checkpoint).items() if not k.startswith("loss_fn.")
    }  # loss weights belong to the new data
    old_names = list(checkpoint.get("hyper_parameters", {}).get("label_names") or [])
    messages = []
    head = {key: value for key, value in weights.items() if key.startswith(classifier + ".")}
    own = model.state_dict()
    if old_names == list(label_names) and all(own[k].shape == v.shape for k, v in head.items()):
        pass
    elif sorted(old_names) == sorted(label_names):
        order = torch.tensor([old_names.index(name) for name in label_names])
        weights.update({key: value[order] for key, value in head.items()})
        messages.append(f"classifier rows re-ordered from {old_names} to {list(label_names)}")
    else:
        for key in head:
            del weights[key]
        messages.append(f"classifier re-initialised: the checkpoint predicts {old_names or 'unknown classes'}, this model {list(label_names)}")
    for key, value in weights.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(
                f"init_from {path}: {key} has shape {tuple(value.shape)} there and {tuple(own[key].shape)} here; use a "
                "checkpoint of the same backbone and pooling."
            )
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [key for key in missing if not key.startswith(classifier + ".")]
    if missing:
        messages.append(f"{len(missing)} parameter(s) not in the checkpoint keep their initialisation (e.g. {missing[0]})")
    if unexpected:
        messages.append(f"{len(unexpected)} checkpoint parameter(s) unused (e.g. {unexpected[0]})")
    return messages

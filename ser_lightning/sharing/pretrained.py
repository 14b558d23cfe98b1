"""A trained model as a self-contained folder or hub repository, through huggingface_hub's own ``PyTorchModelHubMixin``.

The folder holds ``model.safetensors`` (every weight, the calibration temperature included), ``config.json`` (the
model's hyper-parameters with the backbone's resolved architecture and ``pretrained: false``, so rebuilding it reads
no hub and no base model) and ``README.md`` (the model card, :mod:`~ser_lightning.sharing.card`). Loading it needs
this package, nothing else: ``EmotionRecognizer.from_pretrained(folder or "user/repo")``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin, constants
from safetensors.torch import load_file, save_file
from torch import nn

from .card import model_card

_NOT_REBUILT = ("init_from",)  # weights come from the folder, not from a first-stage checkpoint


def rebuildable(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's hyper-parameters as plain JSON data that :func:`build_recognizer` rebuilds (private keys dropped)."""
    kept = {key: value for key, value in hparams.items() if not str(key).startswith("_") and key not in _NOT_REBUILT}
    return _plain(kept)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"hyper-parameter value {value!r} ({type(value).__name__}) is not plain data; the model cannot be exported")


RECOGNIZER = "ser_lightning.models.EmotionRecognizer"


def build_recognizer(hparams: Mapping[str, Any], class_path: str = RECOGNIZER) -> nn.Module:
    """An untrained recognizer (``class_path``, an ``EmotionRecognizer`` by default) of the architecture ``hparams``
    describe; no download. The class is named, as LightningCLI names classes, so a subclass rebuilds as itself."""
    from lightning.pytorch.cli import instantiate_module

    module, _, name = class_path.rpartition(".")
    if not (module == "ser_lightning" or module.startswith("ser_lightning.") or module in sys.modules):
        # a downloaded config.json never makes us import a module: a user's own subclass must be imported first
        raise ValueError(f"config.json names the recognizer {class_path!r}: import its module before from_pretrained to load it.")
    cls = getattr(importlib.import_module(module), name, None)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module) or not hasattr(cls, "probabilities"):
        raise ValueError(f"config.json names {class_path!r}, which is not an EmotionRecognizer (sub)class.")
    return instantiate_module(cls, dict(hparams))


class PretrainedRecognizer(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="ser_lightning",
    pipeline_tag="audio-classification",
    tags=["speech-emotion-recognition", "audio-classification", "pytorch-lightning"],
):
    """The hub form of an :class:`~ser_lightning.models.EmotionRecognizer`: ``save_pretrained``, ``push_to_hub``,
    ``from_pretrained`` (huggingface_hub's), with the recognizer as :attr:`recognizer`.

    Args:
        hparams: the recognizer's hyper-parameters (:func:`rebuildable` of a standalone checkpoint's).
        recognizer: the class path of the recognizer they build.
    """

    def __init__(self, hparams: dict[str, Any], recognizer: str = RECOGNIZER) -> None:
        super().__init__()
        self.recognizer = build_recognizer(hparams, recognizer)

    def _save_pretrained(self, save_directory: Path) -> None:
        """``model.safetensors``: every tensor of the state dict as its own copy (some buffers, such as torchaudio's STFT
        window, are views of a larger storage, which safetensors refuses to write as they are)."""
        state = {key: value.detach().contiguous().clone() for key, value in self.state_dict().items()}
        save_file(state, str(save_directory / constants.SAFETENSORS_SINGLE_FILE), metadata={"format": "pt"})

    @classmethod
    def _load_as_safetensor(cls, model: PretrainedRecognizer, model_file: str, map_location: str, strict: bool) -> PretrainedRecognizer:
        """Load ``model.safetensors`` into ``model`` through ``load_state_dict`` (views of one storage load as copies)."""
        model.load_state_dict(load_file(model_file, device=str(map_location)), strict=strict)
        return model.eval()

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities [B, C] of waves [B, T] at the model's sample rate."""
        return self.recognizer.probabilities(waves, lengths)

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The model card (hub metadata, training data, test table, calibration, limits), from :mod:`~ser_lightning.sharing.card`."""
        return model_card(self.recognizer, **kwargs)


def load_pretrained(name_or_path: str, **hub_options: Any):  # -> EmotionRecognizer
    """The recognizer saved in a folder or hub repository by ``python -m ser_lightning export``, in eval mode.

    Every weight must load (strict): a folder of another architecture is an error, never a half-initialised model.
    ``hub_options`` go to huggingface_hub (``revision``, ``token``, ``cache_dir``, ``local_files_only``, ...).
    """
    hub_options.setdefault("strict", True)
    return PretrainedRecognizer.from_pretrained(name_or_path, **hub_options).recognizer.eval()

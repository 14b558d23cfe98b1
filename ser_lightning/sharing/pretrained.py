"""A trained model as a self-contained folder or hub repository, through huggingface_hub's own ``PyTorchModelHubMixin``.

The folder holds ``model.safetensors`` (every weight, the calibration temperature included), ``config.json`` (the
model's hyper-parameters with the backbone's resolved architecture and ``pretrained: false``, so rebuilding it reads
no hub and no base model) and ``README.md`` (the model card, :mod:`~ser_lightning.sharing.card`). Loading it needs
this package, nothing else: ``EmotionRecognizer.from_pretrained(folder or "user/repo")``.

A folder is a stranger's data: ``config.json`` is checked whole before anything it names is imported
(:mod:`~ser_lightning.sharing.folder_config`), the model it describes is built for its shapes only and compared with
the weights' header before anything is allocated, and the loaded values are checked
(:mod:`~ser_lightning.sharing.folder_weights`). Every refusal is one line naming the file, the key and the fix.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin, constants
from safetensors.torch import save_file
from torch import nn

from ..config_errors import own_error
from .card import model_card
from .folder_config import CONFIG_FILE, RECOGNIZER, ModelFolderError, check_class, check_hparams, read_config
from .folder_weights import WEIGHTS_FILE, built_shapes, compare_shapes, load_weights, read_header

_NOT_REBUILT = ("init_from",)  # weights come from the folder, not from a first-stage checkpoint
_FIX = "export the checkpoint again with this version of ser_lightning (python -m ser_lightning export), or load a folder you trust"


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


def build_recognizer(hparams: Mapping[str, Any], class_path: str = RECOGNIZER, where: str | Path = CONFIG_FILE) -> nn.Module:
    """An untrained recognizer (``class_path``, an ``EmotionRecognizer`` by default) of the architecture ``hparams``
    describe; no download. The class is named, as LightningCLI names classes, so a subclass rebuilds as itself.
    ``hparams`` are checked first as a model folder's are (nothing they name is imported; ``where`` names them)."""
    from lightning.pytorch.cli import instantiate_module

    cls = check_class(class_path, "recognizer", Path(where))
    check_hparams(hparams, Path(where))
    return instantiate_module(cls, copy.deepcopy(dict(hparams)))


def _one_line(error: BaseException) -> str:
    """An error from building a model (a class's own message, else jsonargparse's) as one line with the config's key names."""
    text = " ".join(str(own_error(error) or error).split())
    return re.sub(r"\bmodule\.", "hparams.", text)[:400]


class PretrainedRecognizer(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="ser_lightning",
    pipeline_tag="audio-classification",
    tags=["speech-emotion-recognition", "audio-classification", "pytorch-lightning"],
):
    """The hub form of an :class:`~ser_lightning.models.EmotionRecognizer`: ``save_pretrained``, ``push_to_hub``
    (huggingface_hub's) and a checked ``from_pretrained`` (:func:`load_folder`), with the recognizer as :attr:`recognizer`.

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
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **hub_options: Any) -> PretrainedRecognizer:  # type: ignore[override]
        """The model in a folder, or in a hub repository (``revision``, ``token``, ``cache_dir``, ``local_files_only``,
        ``force_download``), checked as :func:`load_folder` says."""
        from .download import export_folder

        return load_folder(export_folder(str(pretrained_model_name_or_path), **hub_options))

    def push_to_hub(self, *args: Any, **kwargs: Any) -> str:
        """huggingface_hub's ``push_to_hub``, every request bounded in time (:func:`~ser_lightning.models.hub.bound_hub_requests`)."""
        from ..models.hub import bound_hub_requests

        bound_hub_requests()
        return super().push_to_hub(*args, **kwargs)

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities [B, C] of waves [B, T] at the model's sample rate."""
        return self.recognizer.probabilities(waves, lengths)

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The model card (hub metadata, training data, test table, calibration, limits), from :mod:`~ser_lightning.sharing.card`."""
        return model_card(self.recognizer, **kwargs)


def rebuild(hparams: Mapping[str, Any], recognizer: str, where: Path) -> PretrainedRecognizer:
    """:class:`PretrainedRecognizer` of ``hparams`` (read from ``where``); a failure to build is one
    :class:`ModelFolderError` line naming ``where`` (jsonargparse's type errors, a class's own refusal), never a dump."""
    try:
        return PretrainedRecognizer(dict(hparams), recognizer)
    except Exception as error:  # jsonargparse's type errors, a class's own ValueError, an unknown model_type
        own = own_error(error) or error
        if isinstance(own, ModelFolderError):
            raise own from None
        raise ModelFolderError(f"{where}: its hparams do not build a model ({_one_line(error)}); {_FIX}.") from None


def load_folder(folder: str | Path) -> PretrainedRecognizer:
    """The model an export folder holds, in eval mode: ``config.json`` checked whole (nothing it names is imported), the
    model it describes built for its shapes only and compared with ``model.safetensors``' header, the weights' values
    checked, and only then the model built for real and every weight loaded (strict). Raises :class:`ModelFolderError`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder} is not a folder; give the folder `python -m ser_lightning export` wrote (or a hub repository name).")
    config_path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    config = read_config(config_path)
    header = read_header(weights)
    compare_shapes(built_shapes(lambda: rebuild(config.hparams, config.recognizer, config_path), weights, len(header)), header, weights)
    state = load_weights(weights)
    model = rebuild(config.hparams, config.recognizer, config_path)
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_pretrained(name_or_path: str, **hub_options: Any):  # -> EmotionRecognizer
    """The recognizer saved in a folder or hub repository by ``python -m ser_lightning export``, in eval mode.

    Every weight must load (strict): a folder of another architecture is an error, never a half-initialised model.
    ``hub_options`` go to huggingface_hub (``revision``, ``token``, ``cache_dir``, ``local_files_only``, ``force_download``).
    """
    return PretrainedRecognizer.from_pretrained(name_or_path, **hub_options).recognizer.eval()

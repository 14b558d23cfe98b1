"""A model folder's ``model.safetensors``, checked against its ``config.json`` before the model is built for real.

The header (names, dtypes, shapes, byte ranges) is read alone and checked against the file's size. The model the config
describes is then built for its shapes only (:func:`built_shapes`: every tensor of any size on PyTorch's ``meta``
device, which allocates nothing), and each of its parameters and buffers must be in the header with the same shape,
and nothing else: a config asking for absurd sizes is refused before one byte of them is allocated. Loaded values
must be finite, and the calibration temperature above 0.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors
from torch.utils._pytree import tree_flatten, tree_map_only

from ..models.backbones import Backbone
from .folder_config import ModelFolderError

WEIGHTS_FILE = "model.safetensors"
TEMPERATURE = "recognizer.temperature"
MAX_HEADER_BYTES = 100 * 2**20  # safetensors' own limit
_ITEM_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2}
_ITEM_BYTES |= {"I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
SMALL = 4096  # elements: a tensor this small is made for real while the shapes are built (code may read its values)
REAL_BUDGET = 2**22  # elements made for real in all while the shapes are built
_FIX = "export the checkpoint again, or download the repository again"


def read_header(path: str | Path) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor in the safetensors file ``path``, from its header alone, after checking that the header
    is whole and that every byte range it names lies in the file and fits its tensor's dtype and shape."""
    path = Path(path)
    if not path.is_file():
        raise ModelFolderError(f"{path} is missing: an export folder holds its weights there; {_FIX}.")
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else None
        if length is None or not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
            raise ModelFolderError(f"{path} is truncated or not a safetensors file (its header does not fit in its {size:,} bytes): {_FIX}.")
        raw = file.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ModelFolderError(f"{path} has a damaged header (not JSON): {_FIX}.") from None
    if not isinstance(header, dict):
        raise ModelFolderError(f"{path} has a damaged header (not a JSON object): {_FIX}.")
    data_bytes, shapes = size - 8 - length, {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape, offsets = (entry.get("shape"), entry.get("data_offsets")) if isinstance(entry, dict) else (None, None)
        valid = isinstance(entry, dict) and entry.get("dtype") in _ITEM_BYTES
        valid = valid and isinstance(shape, list) and isinstance(offsets, list) and len(offsets) == 2
        valid = valid and all(type(n) is int and n >= 0 for n in [*shape, *offsets]) and offsets[0] <= offsets[1] <= data_bytes
        if not valid or (offsets[1] - offsets[0]) != math.prod(shape) * _ITEM_BYTES[entry["dtype"]]:
            raise ModelFolderError(
                f"{path}: the header's entry for {name} does not fit the file ({data_bytes:,} bytes of data): it is truncated or damaged: {_FIX}."
            )
        shapes[name] = tuple(shape)
    return shapes


class _TooManyTensors(ModelFolderError):
    """Raised inside a build that makes far more tensors than the weights hold (a layer count no file matches)."""


class _ShapesOnly(TorchFunctionMode):
    """Tensors made without a device go to ``meta`` unless small (then real, so code may read them), and an operation
    mixing ``meta`` and real tensors runs on ``meta``; more than ``max_tensors`` tensors made stops the build."""

    def __init__(self, max_tensors: int) -> None:
        super().__init__()
        self.max_tensors, self.made, self.real = max_tensors, 0, 0
        self.constructors = _device_constructors()

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in self.constructors and kwargs.get("device") is None:
            self.made += 1
            if self.made > self.max_tensors:
                raise _TooManyTensors(f"the model makes more than {self.max_tensors:,} tensors")
            meta = func(*args, **{**kwargs, "device": "meta"})
            size = meta.numel() if isinstance(meta, torch.Tensor) else 0
            if size > SMALL or self.real + size > REAL_BUDGET:
                return meta
            self.real += size
        else:
            devices = {t.device.type for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
            if "meta" in devices and len(devices) > 1:
                args, kwargs = tree_map_only(torch.Tensor, lambda t: t.to("meta"), (args, kwargs))
        return func(*args, **kwargs)


def _no_freezing(self: Backbone, layer: int) -> int:
    return 0  # Backbone.freeze_unused runs a forward pass: it changes which weights train, never a shape


def built_shapes(build: Callable[[], nn.Module], weights: Path, tensors: int, config: Path | None = None) -> dict[str, tuple[int, ...]]:
    """The shape of every entry of the state dict of the module ``build()`` makes, found without allocating its weights
    (see :class:`_ShapesOnly`); a build that makes far more tensors than the ``tensors`` in ``weights`` is stopped."""
    limit = 8 * tensors + 1000
    try:
        with mock.patch.object(Backbone, "freeze_unused", _no_freezing), _ShapesOnly(max_tensors=limit):
            model = build()
    except _TooManyTensors:
        raise ModelFolderError(
            f"{config or weights.parent / 'config.json'} describes a model of more than {limit:,} tensors, but {weights} holds {tensors:,}: "
            f"they do not belong together (damaged or tampered with): {_FIX}."
        ) from None
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def compare_shapes(expected: Mapping[str, tuple[int, ...]], found: Mapping[str, tuple[int, ...]], weights: Path, config: Path | None = None) -> None:
    """Raise :class:`ModelFolderError` naming the first tensor that the model of ``config`` (``expected``; default: the
    ``config.json`` beside ``weights``) and the weights (``found``) disagree on: a shape, a tensor missing from the file,
    or one the model has no place for."""
    config = config or weights.parent / "config.json"
    apart = f"they do not belong together (damaged or tampered with): {_FIX}."
    for key in sorted(set(expected) | set(found)):
        if key not in found:
            raise ModelFolderError(f"{weights} lacks {key}, which the model of {config} has: {apart}")
        if key not in expected:
            raise ModelFolderError(f"{weights} holds {key}, which the model of {config} has no place for: {apart}")
        if tuple(expected[key]) != tuple(found[key]):
            raise ModelFolderError(f"{weights}: {key} has shape {list(found[key])}, but the model of {config} has {list(expected[key])}: {apart}")


def check_values(state: Mapping[str, torch.Tensor], weights: Path) -> None:
    """Raise :class:`ModelFolderError` unless the calibration temperature is finite and above 0 and every floating-point
    tensor is finite (a NaN weight makes every probability NaN)."""
    temperature = state.get(TEMPERATURE)
    if temperature is not None:
        value = float(temperature.float().reshape(-1)[0]) if temperature.numel() == 1 else float("nan")
        if not (math.isfinite(value) and value > 0):
            raise ModelFolderError(
                f"{weights}: {TEMPERATURE} is {value}: the calibration temperature must be finite and above 0 (probabilities are "
                f"softmax(logits / T)): the weights are damaged or were tampered with; {_FIX}."
            )
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFolderError(f"{weights}: {key} holds NaN or infinite values: the weights are damaged or were tampered with; {_FIX}.")


def load_weights(weights: Path) -> dict[str, torch.Tensor]:
    """Every tensor of ``weights`` (its header already checked by :func:`read_header`), values checked by :func:`check_values`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFolderError(f"{weights} cannot be read ({str(error).splitlines()[0]}): {_FIX}.") from None
    check_values(state, weights)
    return state

"""A model folder's ``config.json``, read as data from a stranger: checked whole before anything it names is imported or built.

- Every ``class_path``, at any depth, must name a class of this package (``ser_lightning.``) or of a module that is
  already imported (a user's own subclass, imported before loading), and a subclass of what its slot takes
  (``Backbone``, ``Pooling``, else ``nn.Module``); the top-level ``recognizer`` an ``EmotionRecognizer``. A dotted name
  anywhere else is held to the same rule, since jsonargparse also takes a bare ``"package.Class"`` as a class.
- Nothing may fetch or run code from elsewhere (``trust_remote_code``, ``auto_map``, a hub attention kernel) or read a
  base model (``name_or_path``, ``pretrained: true``, ``init_from``): an export writes the resolved architecture with
  ``pretrained: false``, so a shared folder never needs them.
- Numbers are bounded before anything is built (the shapes are then checked against the weights' header, see
  :mod:`~ser_lightning.sharing.folder_weights`).

Every refusal is a :class:`ModelFolderError`: one line naming the file, the key and the fix.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from ..models.backbones import Backbone
from ..models.pooling import Pooling

CONFIG_FILE = "config.json"
RECOGNIZER = "ser_lightning.models.EmotionRecognizer"
EXPORT_KEY = "ser_lightning_export"  # written by `export`: the files it wrote (how it recognises its own folder)
MAX_CONFIG_BYTES = 4 * 2**20  # an export's config.json is a few kB
MAX_INT = 2**20  # no architecture needs a larger number (vocabularies and sample rates included)
MAX_LIST = 4096
MAX_DEPTH = 32
MAX_MEL_BANDS = 1024  # the mel filters are made with numpy (not on the meta device) while the model is built
_MEL_KEYS = ("n_mels", "num_mel_bins")
_DATA_KEYS = ("label_names", "group_by")  # plain strings: never resolved as classes
_ATTENTION = (None, "eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")
_REMOTE_KEYS = ("auto_map", "quantization_config")  # code or packages a transformers config would pull in
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
_RECOGNIZER_BASE = "ser_lightning.models.module.EmotionRecognizer"
_FIX = "export the checkpoint again with this version of ser_lightning (python -m ser_lightning export), or load a folder you trust"


class ModelFolderError(ValueError):
    """A model folder or hub repository that cannot be loaded: one line naming the file, the key and the fix."""


@dataclass(frozen=True)
class FolderConfig:
    """What ``config.json`` holds: the recognizer's hyper-parameters, its class path, and the export's own record."""

    hparams: dict[str, Any]
    recognizer: str
    export: dict[str, Any] | None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: Path, limit: int = MAX_CONFIG_BYTES) -> Any:
    """The JSON in ``path`` (at most ``limit`` bytes; NaN and Infinity refused), or :class:`ModelFolderError` naming it."""
    if not path.is_file():
        raise ModelFolderError(f"{path} is missing: a model folder written by `python -m ser_lightning export` holds {path.name}; {_FIX}.")
    size = path.stat().st_size
    if size > limit:
        raise ModelFolderError(f"{path} is {size:,} bytes, more than the {limit:,} a model's config needs; it is not an export's {path.name}.")
    try:
        return json.loads(path.read_bytes().decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFolderError(f"{path} is not valid JSON ({str(error).splitlines()[0]}); the folder is damaged or not an export: {_FIX}.") from None


def read_config(path: str | Path) -> FolderConfig:
    """``config.json`` of a model folder, checked whole (see the module docstring) before anything is imported."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("hparams"), dict):
        raise ModelFolderError(f"{path} has no `hparams` object (the model's hyper-parameters); it is not an export's config: {_FIX}.")
    recognizer = data.get("recognizer", RECOGNIZER)
    if not isinstance(recognizer, str):
        raise ModelFolderError(f"{path}: `recognizer` must be a class path (a string), got {type(recognizer).__name__}; {_FIX}.")
    check_class(recognizer, "recognizer", path)
    hparams = data["hparams"]
    for key in ("backbone", "pooling"):
        value = hparams.get(key)
        if not (isinstance(value, dict) and isinstance(value.get("class_path"), str)) and not (key == "pooling" and value is None):
            raise ModelFolderError(f"{path}: hparams.{key} must be an object with a `class_path`, got {json.dumps(value)[:80]}; {_FIX}.")
    check_hparams(hparams, path)
    export = data.get(EXPORT_KEY)
    return FolderConfig(hparams=hparams, recognizer=recognizer, export=export if isinstance(export, dict) else None)


def _expected(key: str) -> tuple[type | str, str]:
    """What the class at ``key`` must be (a type, or the qualified name of one not imported here) and how to say it."""
    if key == "recognizer":
        return _RECOGNIZER_BASE, "an EmotionRecognizer (sub)class"
    if key == "hparams.backbone.class_path":
        return Backbone, "a Backbone subclass"
    if key == "hparams.pooling.class_path":
        return Pooling, "a Pooling subclass"
    return nn.Module, "an nn.Module subclass"


def _is_subclass(cls: type, expected: type | str) -> bool:
    if isinstance(expected, str):  # compared by name: the recognizer's module imports this package (no import cycle)
        return any(f"{base.__module__}.{base.__qualname__}" == expected for base in cls.__mro__)
    return issubclass(cls, expected)


def _ours(module: str) -> bool:
    return module == "ser_lightning" or module.startswith("ser_lightning.")


def check_importable(dotted: str, key: str, where: Path) -> None:
    """Refuse ``dotted`` unless its module belongs to this package or is already imported: resolving it imports nothing new."""
    module = dotted.rpartition(".")[0]
    if not _DOTTED.match(dotted) or not (_ours(module) or module in sys.modules):
        raise ModelFolderError(
            f"{where}: {key} names {dotted!r}, a class outside ser_lightning whose module is not imported: a model folder never makes "
            "Python import a module; import your own subclass's module before from_pretrained, or load a folder you trust."
        )


def check_class(class_path: str, key: str, where: Path) -> type:
    """The class ``class_path`` names, resolved only when its module belongs to this package or is already imported, and
    only if it is what slot ``key`` takes; otherwise :class:`ModelFolderError` (nothing is imported)."""
    check_importable(class_path, key, where)
    module, _, name = class_path.rpartition(".")
    ours = _ours(module)
    try:
        cls = getattr(importlib.import_module(module), name, None) if ours else getattr(sys.modules[module], name, None)
    except ImportError:
        cls = None
    expected, said = _expected(key)
    if not isinstance(cls, type) or not _is_subclass(cls, expected):
        raise ModelFolderError(f"{where}: {key} names {class_path!r}, which is not {said}; {_FIX}.")
    return cls


def _refuse(where: Path, key: str, what: str) -> None:
    raise ModelFolderError(f"{where}: {key} {what}; an export never writes that, so the folder is refused: load a folder you trust.")


def _check_value(key: str, name: str, value: Any, where: Path) -> None:
    """The rules for one key/value pair (``name`` is the key's last part)."""
    if name == "class_path":
        if not isinstance(value, str):
            raise ModelFolderError(f"{where}: {key} must be a string (a class path); {_FIX}.")
        check_class(value, key, where)
    elif name == "trust_remote_code" and value:
        _refuse(where, key, "is true: it would run code shipped by a hub repository")
    elif name in _REMOTE_KEYS and value:
        _refuse(where, key, "is set: transformers would import code or packages it names")
    elif name in ("attn_implementation", "_attn_implementation") and value not in _ATTENTION:
        _refuse(where, key, f"is {value!r}: only {', '.join(str(a) for a in _ATTENTION[1:])} (no hub kernels) are taken from a model folder")
    elif name == "name_or_path" and value is not None:
        _refuse(where, key, f"is {value!r}: it would read a base model (the hub or a folder); an export writes null")
    elif name == "pretrained" and value is not False:
        _refuse(where, key, "is not false: it would read a base model's weights; an export writes false")
    elif name == "init_from" and value is not None:
        _refuse(where, key, f"is {value!r}: it would read a checkpoint")
    elif name in _MEL_KEYS and isinstance(value, int) and not 0 < value <= MAX_MEL_BANDS:
        raise ModelFolderError(f"{where}: {key} is {value}: mel bands must be in 1..{MAX_MEL_BANDS}; the config is damaged or hostile.")


def check_hparams(hparams: Mapping[str, Any], where: Path) -> None:
    """Walk ``hparams`` (every depth) and raise :class:`ModelFolderError` at the first key that breaks a rule of the module
    docstring; imports nothing but this package's own modules."""
    stack: list[tuple[str, str, Any, int]] = [("hparams", "hparams", hparams, 0)]
    while stack:
        key, name, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ModelFolderError(f"{where}: {key} is nested more than {MAX_DEPTH} levels deep; the config is damaged or hostile.")
        _check_value(key, name, value, where)
        if isinstance(value, dict):
            stack.extend((f"{key}.{child}", str(child), item, depth + 1) for child, item in reversed(list(value.items())))
        elif isinstance(value, list):
            if len(value) > MAX_LIST:
                raise ModelFolderError(f"{where}: {key} holds {len(value):,} items (at most {MAX_LIST:,}); the config is damaged or hostile.")
            stack.extend((f"{key}[{i}]", name, item, depth + 1) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int) and abs(value) > MAX_INT:
            raise ModelFolderError(f"{where}: {key} is {value:,}, more than any model needs (at most {MAX_INT:,}); the config is damaged or hostile.")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ModelFolderError(f"{where}: {key} is {value}; the config is damaged.")
        elif isinstance(value, str) and name != "class_path" and _DOTTED.match(value) and name not in _DATA_KEYS:
            check_importable(value, key, where)  # jsonargparse reads a bare "package.Class" as a class to import

"""Hostile and damaged model folders, generated here from a real tiny export: nothing a folder names is imported, no size
it states is allocated before it is checked against the weights' header, and every refusal is one line naming the file
(and the key) and what is wrong."""

from __future__ import annotations

import json
import shutil
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from ser_lightning.models import EmotionRecognizer
from ser_lightning.sharing.folder_config import ModelFolderError

from .tiny import CNN_LSTM_HPARAMS, WAV2VEC2_HPARAMS, tiny_export, waves

EVIL_MODULE = "ser_evil_on_import"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A tiny CNN-LSTM export (T = 1.7), written by the export command's own code."""
    return tiny_export(tmp_path_factory.mktemp("export") / "cnnlstm")


@pytest.fixture(scope="module")
def exported_wav2vec2(tmp_path_factory) -> Path:
    """A tiny wav2vec2 export (a transformers config inside hparams)."""
    return tiny_export(tmp_path_factory.mktemp("export") / "wav2vec2", WAV2VEC2_HPARAMS)


def copy_of(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "folder"))


def edit_config(folder: Path, edit: Callable[[dict[str, Any]], Any]) -> Path:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def at(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit setting the dotted ``path`` of config.json to ``value`` (intermediate objects made as needed)."""

    def edit(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return edit


def refusal(folder: Path) -> str:
    """The one-line message of loading ``folder``."""
    with pytest.raises(ModelFolderError) as error:
        EmotionRecognizer.from_pretrained(str(folder))
    message = str(error.value)
    assert "\n" not in message and len(message) < 600, message
    return message


def test_the_tiny_export_loads_with_its_temperature_and_probabilities(exported):
    model = EmotionRecognizer.from_pretrained(str(exported))
    assert float(model.temperature) == pytest.approx(1.7) and model.label_names == CNN_LSTM_HPARAMS["label_names"]
    again = EmotionRecognizer.from_pretrained(str(exported))
    with torch.no_grad():
        assert torch.equal(model.probabilities(*waves()), again.probabilities(*waves()))


@pytest.fixture
def evil_module(tmp_path, monkeypatch) -> Path:
    """A module on sys.path that writes a marker file when it is imported (and defines a Backbone-looking class)."""
    marker = tmp_path / "imported.marker"
    code = f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\nclass Evil:\n    pass\n"
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / f"{EVIL_MODULE}.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    monkeypatch.delitem(sys.modules, EVIL_MODULE, raising=False)
    return marker


EVIL = f"{EVIL_MODULE}.Evil"
DEPTHS = {
    "recognizer": at("recognizer", EVIL),
    "hparams.backbone.class_path": at("hparams.backbone.class_path", EVIL),
    "hparams.pooling.class_path": at("hparams.pooling.class_path", EVIL),
    "hparams.backbone.init_args.x.class_path": at("hparams.backbone.init_args.x", {"class_path": EVIL, "init_args": {}}),
    "hparams.backbone.init_args.a.b.class_path": at("hparams.backbone.init_args.a", {"b": {"class_path": EVIL}}),
    "hparams.backbone.init_args.x": at("hparams.backbone.init_args.x", EVIL),  # jsonargparse takes a bare name as a class too
    "hparams.label_names[0]": None,  # plain data: never resolved, so harmless (the folder loads)
}


@pytest.mark.parametrize("key", list(DEPTHS))
def test_a_module_named_at_any_depth_is_never_imported_and_the_folder_is_refused_naming_the_key(key, exported, evil_module, tmp_path):
    folder = copy_of(exported, tmp_path)
    if DEPTHS[key] is None:
        edit_config(folder, lambda config: config["hparams"]["label_names"].__setitem__(0, EVIL))
        assert EmotionRecognizer.from_pretrained(str(folder)).label_names[0] == EVIL
    else:
        message = refusal(edit_config(folder, DEPTHS[key]))
        assert message.startswith(f"{folder / 'config.json'}: {key} names '{EVIL}'") and "import your own subclass's module" in message
    assert not evil_module.exists() and EVIL_MODULE not in sys.modules


def test_an_installed_module_with_import_time_effects_is_not_imported_either(exported, tmp_path):
    assert "this" not in sys.modules  # the standard library's `this` prints a poem when imported
    message = refusal(edit_config(copy_of(exported, tmp_path), at("hparams.backbone.init_args.x", {"class_path": "this.Zen"})))
    assert "hparams.backbone.init_args.x.class_path names 'this.Zen'" in message and "this" not in sys.modules


@pytest.mark.parametrize(
    ("key", "class_path", "expected"),
    [
        ("hparams.backbone.class_path", "torch.nn.Linear", "not a Backbone subclass"),
        ("hparams.pooling.class_path", "ser_lightning.models.CNNLSTM", "not a Pooling subclass"),
        ("recognizer", "ser_lightning.models.MeanPooling", "not an EmotionRecognizer"),
        ("hparams.backbone.init_args.x.class_path", "subprocess.Popen", "not an nn.Module subclass"),
    ],
)
def test_an_imported_class_that_the_slot_does_not_take_is_refused(key, class_path, expected, exported, tmp_path):
    edit = at(key.removesuffix(".class_path"), {"class_path": class_path}) if key.endswith(".x.class_path") else at(key, class_path)
    message = refusal(edit_config(copy_of(exported, tmp_path), edit))
    assert f"{key} names '{class_path}', which is {expected}" in message


def test_a_users_own_subclass_imported_beforehand_rebuilds_as_itself(tmp_path, monkeypatch):
    (tmp_path / "modules").mkdir()
    code = "from ser_lightning.models import EmotionRecognizer\nclass Mine(EmotionRecognizer):\n    pass\n"
    (tmp_path / "modules" / "my_recognizers.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    import my_recognizers  # the user's own module, imported by the user

    folder = tiny_export(tmp_path / "mine", {**CNN_LSTM_HPARAMS})
    edit_config(folder, at("recognizer", "my_recognizers.Mine"))
    assert isinstance(EmotionRecognizer.from_pretrained(str(folder)), my_recognizers.Mine)


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("hparams.backbone.init_args.trust_remote_code", True, "trust_remote_code is true: it would run code shipped by a hub repository"),
        ("hparams.backbone.init_args.config.trust_remote_code", True, "config.trust_remote_code is true"),
        ("hparams.backbone.init_args.config.auto_map", {"AutoModel": "x--modeling.M"}, "auto_map is set"),
        ("hparams.backbone.init_args.name_or_path", "facebook/wav2vec2-base", "name_or_path is 'facebook/wav2vec2-base': it would read a base model"),
        ("hparams.backbone.init_args.pretrained", True, "pretrained is not false: it would read a base model's weights"),
        ("hparams.backbone.init_args.attn_implementation", "kernels-community/flash-attn", "only eager, sdpa"),
        ("hparams.init_from", "/home/someone/first-stage.ckpt", "init_from is '/home/someone/first-stage.ckpt': it would read a checkpoint"),
    ],
)
def test_remote_code_and_base_models_are_never_taken_from_a_folder(path, value, says, exported_wav2vec2, tmp_path):
    message = refusal(edit_config(copy_of(exported_wav2vec2, tmp_path), at(path, value)))
    assert message.startswith(f"{tmp_path / 'folder' / 'config.json'}: {path}") and says in message


def test_a_legitimate_wav2vec2_export_loads_offline_with_pretrained_false(exported_wav2vec2, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = json.loads((exported_wav2vec2 / "config.json").read_text())["hparams"]["backbone"]["init_args"]
    assert config["name_or_path"] is None and config["pretrained"] is False and config["config"]["model_type"] == "wav2vec2"
    assert EmotionRecognizer.from_pretrained(str(exported_wav2vec2)).backbone.hidden_size == 32


@pytest.mark.parametrize(
    ("fixture", "path", "value", "key"),
    [
        ("exported", "hparams.backbone.init_args.channels", [100000, 100000], "recognizer.backbone.blocks.0.0.bias"),  # 360 GB as floats
        ("exported_wav2vec2", "hparams.backbone.init_args.config.hidden_size", 1_000_000, "recognizer.backbone.model.encoder.layer_norm.bias"),
    ],
)
def test_absurd_sizes_are_refused_before_anything_is_allocated(fixture, path, value, key, request, tmp_path):
    folder = edit_config(copy_of(request.getfixturevalue(fixture), tmp_path), at(path, value))
    start = time.monotonic()
    message = refusal(folder)
    assert message.startswith(f"{folder / 'model.safetensors'}: {key} has shape") and f"the model of {folder / 'config.json'}" in message
    assert time.monotonic() - start < 30  # built on the meta device: nothing of that size exists


def test_a_layer_count_no_weights_file_matches_is_stopped_while_building(exported_wav2vec2, tmp_path):
    folder = edit_config(copy_of(exported_wav2vec2, tmp_path), at("hparams.backbone.init_args.config.num_hidden_layers", 100_000))
    start = time.monotonic()
    assert "describes a model of more than" in refusal(folder) and time.monotonic() - start < 30


def set_tensor(key: str, value: torch.Tensor | None) -> Callable[[Path], None]:
    def edit(weights: Path) -> None:
        state = load_file(str(weights))
        if value is None:
            del state[key]
        else:
            state[key] = value
        save_file(state, str(weights), metadata={"format": "pt"})

    return edit


def write_bytes(change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    return lambda weights: weights.write_bytes(change(weights.read_bytes()))


T = "recognizer.temperature"
NAN = float("nan")
WEIGHTS_CASES = {
    "temperature NaN": (set_tensor(T, torch.tensor(NAN)), f"{T} is nan: the calibration temperature must be finite and above 0"),
    "temperature 0": (set_tensor(T, torch.tensor(0.0)), f"{T} is 0.0"),
    "temperature negative": (set_tensor(T, torch.tensor(-1.5)), f"{T} is -1.5"),
    "temperature infinite": (set_tensor(T, torch.tensor(float("inf"))), f"{T} is inf"),
    "a NaN weight": (set_tensor("recognizer.head.1.weight", torch.full((8, 16), NAN)), "head.1.weight holds NaN or infinite values"),
    "a tensor missing": (set_tensor("recognizer.head.4.bias", None), "lacks recognizer.head.4.bias, which the model of"),
    "a tensor extra": (set_tensor("recognizer.extra", torch.zeros(2)), "holds recognizer.extra, which the model of"),
    "a shape changed": (set_tensor("recognizer.head.4.bias", torch.zeros(5)), "recognizer.head.4.bias has shape [5], but the model of"),
    "data truncated": (write_bytes(lambda data: data[:-100]), "does not fit the file"),
    "header truncated": (write_bytes(lambda data: data[:50]), "is truncated or not a safetensors file"),
    "header length absurd": (write_bytes(lambda data: struct.pack("<Q", 2**60) + data[8:]), "is truncated or not a safetensors file"),
    "header not JSON": (write_bytes(lambda data: data[:8] + b"\xff" * 20 + data[28:]), "has a damaged header"),
    "not a safetensors file": (write_bytes(lambda data: b"PK\x03\x04 a zip file"), "is truncated or not a safetensors file"),
    "deleted": (lambda weights: weights.unlink(), "is missing"),
}


@pytest.mark.parametrize("case", list(WEIGHTS_CASES))
def test_tampered_weights_are_one_line_naming_the_file_and_what_is_wrong(case, exported, tmp_path):
    folder = copy_of(exported, tmp_path)
    change, says = WEIGHTS_CASES[case]
    change(folder / "model.safetensors")
    message = refusal(folder)
    assert message.startswith(str(folder / "model.safetensors")) and says in message


def config(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    return lambda path: edit_config(path.parent, edit)


def text(change: Callable[[str], str]) -> Callable[[Path], None]:
    return lambda path: path.write_text(change(path.read_text()))


CONFIG_CASES = {
    "not JSON": (text(lambda _: "{not json"), "config.json is not valid JSON"),
    "NaN in JSON": (text(lambda data: data.replace('"head_hidden": 8', '"head_hidden": NaN')), "config.json is not valid JSON"),
    "a list": (text(lambda _: "[]"), "has no `hparams` object"),
    "no hparams": (config(lambda c: c.pop("hparams")), "has no `hparams` object"),
    "no backbone": (config(lambda c: c["hparams"].pop("backbone")), "hparams.backbone must be an object with a `class_path`"),
    "backbone a string": (config(at("hparams.backbone", "cnnlstm.yaml")), "hparams.backbone must be an object"),
    "no num_classes": (config(lambda c: c["hparams"].pop("num_classes")), "hparams.num_classes"),
    "num_classes a word": (config(at("hparams.num_classes", "four")), "hparams.num_classes\": Expected a <class 'int'>"),
    "an unknown option": (config(at("hparams.backbone.init_args.bogus", 3)), "Option 'bogus' is not accepted"),
    "a class's own refusal": (config(at("hparams.pooling.init_args.layer", 5)), "layer=5 does not exist"),
    "recognizer a number": (config(at("recognizer", 3)), "`recognizer` must be a class path"),
    "a huge number": (config(at("hparams.backbone.init_args.lstm_hidden", 10**12)), "lstm_hidden is 1,000,000,000,000"),
    "a huge list": (config(at("hparams.label_names", ["x"] * 10_000)), "label_names holds 10,000 items"),
    "absurd mel bands": (config(at("hparams.backbone.init_args.n_mels", 100_000)), "mel bands must be in 1..1024"),
    "a huge file": (text(lambda _: " " * (5 * 2**20) + "{}"), "more than the 4,194,304 a model's config needs"),
    "deleted": (lambda path: path.unlink(), "config.json is missing"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_a_tampered_config_is_one_line_naming_the_file_and_what_is_wrong(case, exported, tmp_path):
    folder = copy_of(exported, tmp_path)
    change, says = CONFIG_CASES[case]
    change(folder / "config.json")
    message = refusal(folder)
    assert message.startswith(str(folder / "config.json")) and says in message
    assert "missing 1 required positional argument" not in message and "Traceback" not in message


def test_a_path_that_is_neither_a_folder_nor_a_repository_name_is_one_line(tmp_path):
    with pytest.raises(ModelFolderError, match=r"is neither a folder here nor a hub repository name"):
        EmotionRecognizer.from_pretrained(str(tmp_path / "no" / "such" / "export"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFolderError, match=r"file is a file; give the folder"):
        EmotionRecognizer.from_pretrained(str(tmp_path / "file"))

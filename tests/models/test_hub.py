"""A hub name that cannot be fetched (no network) fails in seconds with one line naming the option and the fixes."""

from __future__ import annotations

import time

import pytest

from ser_lightning.models import HFBackbone, WhisperBackbone
from ser_lightning.models.hub import hub_reachable


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens, the connection is refused at once
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert not hub_reachable()


@pytest.mark.parametrize(("backbone", "name"), [(HFBackbone, "facebook/wav2vec2-xls-r-300m"), (WhisperBackbone, "openai/whisper-small")])
def test_an_unreachable_hub_name_is_one_line_naming_the_fixes(offline, backbone, name):
    start = time.monotonic()
    with pytest.raises(ValueError) as error:
        backbone(name_or_path=name)
    message = str(error.value)
    assert time.monotonic() - start < 10  # no minute of retries
    assert "\n" not in message and f"name_or_path={name!r}" in message
    assert "local folder written by save_pretrained" in message and "pretrained: false" in message


def test_a_local_folder_needs_no_hub(offline, tmp_path):
    from transformers import AutoConfig, AutoModel

    from .tiny import TINY_WAV2VEC2

    folder = tmp_path / "tiny"
    AutoModel.from_config(AutoConfig.for_model(**TINY_WAV2VEC2)).save_pretrained(folder)
    assert HFBackbone(name_or_path=str(folder)).hidden_size == TINY_WAV2VEC2["hidden_size"]


def test_hf_hub_offline_gets_the_same_one_line_answer(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match=r"name_or_path='facebook/wav2vec2-xls-r-300m'.*HF_HUB_OFFLINE is set"):
        HFBackbone(name_or_path="facebook/wav2vec2-xls-r-300m")

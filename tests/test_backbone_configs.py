"""The per-backbone configs compose with a task config (two --config files) and parse."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ser_lightning.cli import main

PROJECT = Path(__file__).resolve().parent.parent
CHECKPOINTS = {
    "wav2vec2": "facebook/wav2vec2-base",
    "xlsr": "facebook/wav2vec2-xls-r-300m",
    "mms": "facebook/mms-300m",
    "whisper": "openai/whisper-small",
    "hubert": "facebook/hubert-large-ll60k",
    "wavlm": "microsoft/wavlm-base-plus",
    "cnn_lstm": None,
}


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_backbone_config_composes_with_a_task_config(name, monkeypatch, capsys):
    monkeypatch.chdir(PROJECT)
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--config", "demo.yaml", "--config", f"backbones/{name}.yaml", "--print_config"])
    assert stop.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    backbone = config["model"]["backbone"]
    assert backbone["init_args"].get("name_or_path") == CHECKPOINTS[name]
    if CHECKPOINTS[name]:
        assert backbone["init_args"]["pretrained"] is True and "n_mels" not in backbone["init_args"]  # the demo's CNN-LSTM arguments are gone
    assert config["data"]["init_args"]["sources"][0]["init_args"]["languages"] == ["en", "de", "it"]  # the task config's data stays

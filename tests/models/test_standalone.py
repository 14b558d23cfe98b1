"""A checkpoint stands alone: trained from a local model folder, it tests and predicts with that folder gone and the hub off."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModel, WhisperConfig, WhisperModel

from ser_lightning.cli import main
from ser_lightning.models import EmotionRecognizer, HFBackbone, WhisperBackbone
from ser_lightning.models.standalone import CHECKPOINT_KEY

from ..test_cli import write_config
from ..test_predictions import new_audio
from .tiny import TINY_WAV2VEC2, TINY_WHISPER


def base_folder(kind: str, folder: Path) -> dict:
    """A 'pretrained' model folder as save_pretrained writes it (random weights), and the backbone entry that loads it."""
    if kind == "wav2vec2":
        config = {k: v for k, v in TINY_WAV2VEC2.items() if k != "model_type"}
        AutoModel.from_config(AutoConfig.for_model("wav2vec2", **config)).save_pretrained(folder)
        return {"class_path": "ser_lightning.models.HFBackbone", "init_args": {"name_or_path": str(folder), "finetune": "full"}}
    config = {k: v for k, v in TINY_WHISPER.items() if k != "model_type"}
    WhisperModel(WhisperConfig(**config)).save_pretrained(folder)
    return {"class_path": "ser_lightning.models.WhisperBackbone", "init_args": {"name_or_path": str(folder), "window_seconds": 4.0}}


@pytest.mark.slow  # a CLI fit, an export and a predict per backbone
@pytest.mark.filterwarnings("ignore:The dirpath has changed")
@pytest.mark.parametrize("kind", ["wav2vec2", "whisper"])
def test_a_checkpoint_predicts_without_the_base_model_folder_or_the_hub(kind, small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    backbone = base_folder(kind, tmp_path / "base")
    config = write_config(tmp_path / "run.yaml", small_corpus, backbone, epochs=1)
    main(["fit", "--config", str(config), "--test_after_fit", "false", "--trainer.limit_train_batches", "2"])
    ckpt = tmp_path / "checkpoints" / "e2e" / "last.ckpt"
    saved = torch.load(ckpt, weights_only=True)
    rebuilt = saved["hyper_parameters"]["backbone"]["init_args"]
    assert rebuilt["name_or_path"] is None and rebuilt["pretrained"] is False and rebuilt["config"]["model_type"] == kind
    configured = saved[CHECKPOINT_KEY]["backbone_as_configured"]  # what the user wrote is kept beside it
    assert configured["class_path"] == backbone["class_path"] and backbone["init_args"].items() <= configured["init_args"].items()

    classes = HFBackbone if kind == "wav2vec2" else WhisperBackbone
    expected_model = EmotionRecognizer(classes(**backbone["init_args"]), num_classes=4, head_hidden=16)  # still from the folder
    expected_model.load_state_dict(saved["state_dict"])
    waves, lengths = torch.randn(2, 24000), torch.tensor([24000, 16000])
    expected = expected_model.eval()(waves, lengths)

    shutil.rmtree(tmp_path / "base")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reloaded = EmotionRecognizer.load_from_checkpoint(ckpt).eval()
    assert torch.allclose(reloaded(waves, lengths), expected, atol=1e-6)
    if kind == "wav2vec2":  # preprocessing travels too: the folder's layer-norm model takes an attention mask
        assert reloaded.backbone.use_attention_mask is True and reloaded.backbone.normalize is True

    files = new_audio(tmp_path / "new", small_corpus)
    main(
        [
            "predict",
            "--ckpt_path",
            str(ckpt),
            "--data",
            "ser_lightning.data.AudioFiles",
            "--data.files",
            str(tmp_path / "new"),
            "--predictions.output",
            "p.jsonl",
        ]
    )
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [line["path"] for line in lines] == files
    cli = main(["test", "--config", str(config), "--ckpt_path", str(ckpt)])  # the config still names the vanished folder
    assert cli.model.test_results["all"]["n"] == 48
    checkpoint_again = tmp_path / "again.ckpt"
    cli.trainer.save_checkpoint(checkpoint_again)  # saving a rebuilt model keeps the configured entry, not the rebuilt one
    assert torch.load(checkpoint_again, weights_only=True)[CHECKPOINT_KEY]["backbone_as_configured"] == configured

"""Export: a trained checkpoint as a self-contained folder that reloads offline with the same probabilities, its model
card, a push to a loopback stand-in of the hub, ONNX where onnxruntime is installed, and emotion over time."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
import torch
import yaml

from ser_lightning.cli import main
from ser_lightning.models import EmotionRecognizer
from ser_lightning.sharing.export import main as export

from ..test_cli import CNN_LSTM, write_config
from .hub_standin import HubStandIn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(small_corpus, tmp_path_factory):
    """A demo-style CLI fit (1 epoch of a tiny CNN-LSTM on the small corpus): (project folder, best checkpoint)."""
    folder = tmp_path_factory.mktemp("project")
    previous = os.getcwd()
    os.chdir(folder)
    config = write_config(folder / "fit.yaml", small_corpus, CNN_LSTM, epochs=2)
    raw = yaml.safe_load(config.read_text())
    del raw["checkpoint"]  # the CLI's own layout: checkpoints/e2e/version_N beside logs/e2e/version_N
    config.write_text(yaml.safe_dump(raw))
    try:
        main(["fit", "--config", str(config)])
    finally:
        os.chdir(previous)
    best = next(folder.glob("checkpoints/e2e/*/best-*.ckpt"))
    return folder, best


def example_waves() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    waves = 0.1 * torch.randn(3, 24000, generator=generator)
    lengths = torch.tensor([24000, 20000, 9000])
    for row, length in enumerate(lengths):
        waves[row, length:] = 0
    return waves, lengths


def test_an_exported_folder_reloads_offline_with_the_checkpoints_probabilities(trained, tmp_path, monkeypatch, capsys):
    project, best = trained
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a folder needs no hub
    out = export(["--ckpt_path", str(best), "--out", str(tmp_path / "exported")])
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["exported"] == str(out)
    reloaded = EmotionRecognizer.from_pretrained(str(out))
    original = EmotionRecognizer.load_from_checkpoint(best, map_location="cpu").eval()
    waves, lengths = example_waves()
    with torch.no_grad():
        assert torch.equal(reloaded.probabilities(waves, lengths), original.probabilities(waves, lengths))
    assert float(reloaded.temperature) == float(original.temperature) != 1.0 and reloaded.label_names == original.label_names
    config = json.loads((out / "config.json").read_text())
    assert config["hparams"]["backbone"]["class_path"].endswith("CNNLSTM") and "init_from" not in config["hparams"]


def test_the_model_card_holds_the_runs_test_table_and_its_limits(trained, tmp_path):
    project, best = trained
    out = export(["--ckpt_path", str(best), "--out", str(tmp_path / "card")])
    card = (out / "README.md").read_text()
    results = json.loads(next(project.glob("logs/e2e/*/results.json")).read_text())  # found beside the checkpoint's run
    assert card.startswith("---\n") and "library_name: ser_lightning" in card and "pipeline_tag: audio-classification" in card
    target = results["groups"]["target"]
    assert f"| target | clean | {target['ua']:.3f} | {target['wa']:.3f} | {target['f1']:.3f} |" in card
    assert f"{target['ece_uncalibrated']:.3f} | {target['ece']:.3f} | {int(target['n'])} |" in card
    assert "Acted emotions" in card and "Licence" in card and "trained on: en+de+it" in card


def test_a_checkpoint_that_is_not_a_model_is_one_error_line(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit) as stop:
        export(["--ckpt_path", str(bad), "--out", str(tmp_path / "x")])
    assert stop.value.code == 2 and capsys.readouterr().err.startswith(f"error: Checkpoint {bad} cannot be loaded")


def test_push_to_hub_uploads_the_folder_to_a_loopback_stand_in(trained, tmp_path, monkeypatch):
    project, best = trained
    with HubStandIn() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_TOKEN", "hf_standin")
        monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", hub.endpoint)
        export(["--ckpt_path", str(best), "--out", str(tmp_path / "pushed"), "--push-to-hub", "user/ser-demo"])
    pushed = hub.files["user/ser-demo"]
    assert sorted(pushed) == ["README.md", "config.json", "model.safetensors"]
    assert pushed["model.safetensors"] == (tmp_path / "pushed" / "model.safetensors").read_bytes()
    assert 'from_pretrained("user/ser-demo")' in pushed["README.md"].decode()
    assert all(path.startswith("/api/") for method, path in hub.requests if (method, path) != ("HEAD", "/"))  # HEAD /: the probe


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="the onnx extra (onnxruntime) is not installed")
def test_onnx_export_matches_pytorch_within_1e_4_and_int8_is_written_beside_it_with_what_it_costs(trained, tmp_path, capsys):
    from ser_lightning.sharing.onnx import onnx_probabilities

    project, best = trained
    out = export(["--ckpt_path", str(best), "--out", str(tmp_path / "onnx"), "--onnx", "--quantize", "int8"])
    waves, lengths = example_waves()
    model = EmotionRecognizer.from_pretrained(str(out))
    with torch.no_grad():
        expected = model.probabilities(waves, lengths)
    float_probs = onnx_probabilities(out / "model.onnx", waves, lengths)
    assert torch.allclose(float_probs, expected, atol=1e-4)

    assert {"model.onnx", "model.int8.onnx"} <= {path.name for path in out.iterdir()}
    int8_probs = onnx_probabilities(out / "model.int8.onnx", waves, lengths)
    assert int8_probs.shape == float_probs.shape and torch.allclose(int8_probs.sum(-1), torch.ones(len(waves)), atol=1e-4)
    card = (out / "README.md").read_text()
    assert "## ONNX" in card and "model.int8.onnx" in card and "gives the float model's label for" in card
    assert json.loads((out / "config.json").read_text())["ser_lightning_export"]["files"].count("model.int8.onnx") == 1
    with pytest.raises(SystemExit):
        export(["--ckpt_path", str(best), "--out", str(tmp_path / "no-float"), "--quantize", "int8"])
    assert "give --onnx --quantize int8" in capsys.readouterr().err and not (tmp_path / "no-float").exists()


def test_predict_writes_emotion_over_time_one_row_per_window(trained, tmp_path, small_corpus, capsys):
    project, best = trained
    windows = tmp_path / "windows.csv"
    data = ["--data", "AudioFiles", "--data.files", str(small_corpus / "ur"), "--data.window_seconds", "0.5", "--data.hop_seconds", "0.25"]
    outputs = ["--predictions.output", str(tmp_path / "files.csv"), "--predictions.windows_output", str(windows)]
    main(["predict", "--ckpt_path", str(best), *data, *outputs])
    rows = windows.read_text().splitlines()
    header, first = rows[0].split(","), rows[1].split(",")
    assert header[:4] == ["path", "start", "end", "prediction"] and float(first[1]) == 0.0 and float(first[2]) == pytest.approx(0.5, abs=0.01)
    files = (tmp_path / "files.csv").read_text().splitlines()[1:]
    assert len(rows) - 1 > len(files) > 0  # more windows than files: long files are heard over time


def test_onnx_without_its_packages_says_what_to_install_and_writes_nothing(trained, tmp_path, monkeypatch, capsys):
    project, best = trained
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(SystemExit):
        export(["--ckpt_path", str(best), "--out", str(tmp_path / "none"), "--onnx"])
    assert "--onnx needs onnxruntime: pip install -e '.[onnx]'" in capsys.readouterr().err and not (tmp_path / "none").exists()


def test_a_config_naming_another_class_is_refused_before_anything_is_imported():
    from ser_lightning.sharing.pretrained import build_recognizer

    with pytest.raises(ValueError, match="import your own subclass's module before from_pretrained"):
        build_recognizer({}, "some_unimported_package.evil.Model")
    with pytest.raises(ValueError, match="not an EmotionRecognizer"):
        build_recognizer({}, "torch.nn.Linear")

"""Predictions on new audio (no labels, speakers or manifest) through the CLI and through one Python call; what
TensorBoard and results.json get from a fit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

from ser_lightning.cli import main
from ser_lightning.models import EmotionRecognizer

from .test_cli import CNN_LSTM, write_config


@pytest.fixture(scope="module")
def trained(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fitted tiny CNN-LSTM run folder (1 epoch)."""
    root = tmp_path_factory.mktemp("trained")
    config = write_config(root / "tiny.yaml", small_corpus, CNN_LSTM, epochs=1)
    main(
        ["fit", "--config", str(config), "--trainer.logger.init_args.save_dir", str(root / "logs"), "--checkpoint.dirpath", str(root / "checkpoints")]
    )
    return root


def new_audio(folder: Path, corpus: Path) -> list[str]:
    """A folder of unlabelled files: two corpus clips under new names, and a 9 s file made of several clips."""
    clips = sorted(corpus.rglob("*.wav"))
    (folder / "sub").mkdir(parents=True)
    for i, clip in enumerate(clips[:2]):
        data, rate = sf.read(clip)
        sf.write(folder / f"clip{i}.wav", data, rate)
    long = np.concatenate([sf.read(clip)[0] for clip in clips[:8]])[: 9 * 16000]
    sf.write(folder / "sub" / "long.flac", long, 16000)
    return [str(folder / "clip0.wav"), str(folder / "clip1.wav"), str(folder / "sub" / "long.flac")]


@pytest.mark.filterwarnings("ignore:The dirpath has changed")  # the checkpoint was trained in another folder: expected
def test_predict_a_folder_without_manifest_and_the_python_call_gives_the_same_probabilities(trained, small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    files = new_audio(tmp_path / "new", small_corpus)
    ckpt = trained / "checkpoints" / "last.ckpt"
    args = [
        "predict",
        "--ckpt_path",
        str(ckpt),
        "--data",
        "ser_lightning.data.AudioFiles",
        "--data.files",
        str(tmp_path / "new"),
        "--data.window_seconds",
        "4",
        "--data.hop_seconds",
        "2",
    ]
    main([*args, "--predictions.output", "out/predictions.jsonl"])  # no --config: the model comes from the checkpoint
    assert "Wrote 3 predictions to out/predictions.jsonl" in capsys.readouterr().out
    lines = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [line["path"] for line in lines] == files
    assert [line["windows"] for line in lines] == [1, 1, 4]  # 9 s in 4 s windows every 2 s: 0, 2, 4, 5
    for line in lines:
        assert set(line["probabilities"]) == {"angry", "happy", "neutral", "sad"} and sum(line["probabilities"].values()) == pytest.approx(1.0)
        assert line["prediction"] == max(line["probabilities"], key=line["probabilities"].get)

    model = EmotionRecognizer.load_from_checkpoint(ckpt)
    predictions = model.predict_files(tmp_path / "new", window_seconds=4, hop_seconds=2)
    assert [p.path for p in predictions] == files and [p.windows for p in predictions] == [1, 1, 4]
    for prediction, line in zip(predictions, lines):
        assert prediction.label == line["prediction"]
        assert prediction.probabilities == pytest.approx(line["probabilities"], abs=1e-6)

    main([*args, "--predictions.output", "out/predictions.csv"])
    rows = list(csv.DictReader((tmp_path / "out" / "predictions.csv").open()))
    assert [row["path"] for row in rows] == files and float(rows[2]["p_sad"]) == pytest.approx(lines[2]["probabilities"]["sad"], abs=1e-6)


def test_fit_logs_hparams_with_test_metrics_confusion_images_recall_and_results(trained):
    log_dir = trained / "logs" / "e2e" / "version_0"
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    assert {"val/confusion", "test/confusion"} <= set(events.Tags()["images"])
    assert {"val/recall/angry", "val/recall/sad", "test/recall/neutral"} <= set(events.Tags()["scalars"])
    content = events.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    experiment = hparams_metadata.parse_experiment_plugin_data(content[hparams_metadata.EXPERIMENT_TAG])
    assert {"test/ua", "test/ua/target", "test/ua/ur", "test/recall/angry"} <= {info.name.tag for info in experiment.metric_infos}
    assert "hp_metric" not in {info.name.tag for info in experiment.metric_infos}  # no placeholder
    session = hparams_metadata.parse_session_start_info_plugin_data(content[hparams_metadata.SESSION_START_INFO_TAG])
    assert session.hparams["backbone/class_path"].string_value == "ser_lightning.models.CNNLSTM"
    assert session.hparams["data/init_args/batch_size"].number_value == 8  # the DataModule's config too

    results = json.loads((log_dir / "results.json").read_text())
    assert results["metrics"]["test/ua/target"] == pytest.approx(results["groups"]["target"]["ua"])
    assert results["checkpoint"].endswith(".ckpt") and results["study"]["backbone"] == "cnnlstm" and results["study"]["test"] == "ur"
    assert results["config"]["model"]["head_hidden"] == 16

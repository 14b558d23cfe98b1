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


def predict_args(ckpt: Path, files: str, *extra: str) -> list[str]:
    return ["predict", "--ckpt_path", str(ckpt), "--data", "ser_lightning.data.AudioFiles", "--data.files", files, *extra]


@pytest.mark.filterwarnings("ignore:The dirpath has changed")
def test_an_output_onto_an_input_or_another_output_stops_predict_in_one_line_and_writes_nothing(trained, small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    files = new_audio(tmp_path / "new", small_corpus)
    before = Path(files[0]).read_bytes()
    ckpt = trained / "checkpoints" / "last.ckpt"
    cases = [
        (["--predictions.output", files[0]], "names an audio file"),
        (["--predictions.output", str(tmp_path / "new" / "sub" / ".." / "clip0.wav")], "names an audio file"),
        (["--predictions.output", "out.csv", "--predictions.windows_output", "./out.csv"], "output and --predictions.windows_output are both"),
        (["--predictions.output", "p.csv", "--predictions.timeline", "p.csv"], "a timeline is a picture"),
        (["--predictions.timeline", "t.png", "--predictions.windows_output", "t.png"], "both t.png"),
    ]
    for extra, match in cases:
        with pytest.raises(SystemExit):
            main(predict_args(ckpt, str(tmp_path / "new"), *extra))
        error = capsys.readouterr().err.strip().splitlines()
        assert error[-1].startswith("error: ") and match in error[-1], (extra, error[-3:])
    listing = tmp_path / "inputs.txt"  # a list file is an input too, whatever its name says
    listing.write_text("new/clip1.wav\n")
    with pytest.raises(SystemExit):
        main(predict_args(ckpt, str(listing), "--predictions.output", str(listing)))
    assert "names an audio file or a file list" in capsys.readouterr().err
    link = tmp_path / "link.csv"  # another name of an input file
    link.symlink_to(files[1])
    with pytest.raises(SystemExit):
        main(predict_args(ckpt, str(tmp_path / "new"), "--predictions.output", str(link)))
    assert f"is one of predict's inputs ({files[1]})" in capsys.readouterr().err
    assert Path(files[0]).read_bytes() == before and not (tmp_path / "out.csv").exists() and not (tmp_path / "p.csv").exists()


@pytest.mark.filterwarnings("ignore:The dirpath has changed")
def test_predict_by_vad_writes_one_row_per_segment_of_a_long_recording_and_a_timeline(trained, small_corpus, tmp_path, monkeypatch, capsys):
    from ser_lightning.data.long_recordings import make_long_recordings
    from ser_lightning.data.manifest import read_manifest

    monkeypatch.chdir(tmp_path)
    recording = make_long_recordings(read_manifest(small_corpus / "manifest.jsonl"), tmp_path / "long", per_recording=8, seed=5)[0]
    ckpt = trained / "checkpoints" / "last.ckpt"
    main(predict_args(ckpt, recording.path, "--data.segment", "vad", "--predictions.output", "out/p.csv", "--predictions.timeline", "out/t.png"))
    out = capsys.readouterr().out
    assert "Wrote 8 segments of speech to out/p_segments.csv" in out and "Drew the timeline of 1 file(s) to out/t.png" in out
    rows = list(csv.DictReader((tmp_path / "out" / "p_segments.csv").open()))
    assert len(rows) == 8 and all(row["path"] == recording.path for row in rows)
    for row, truth in zip(rows, recording.segments):
        assert abs(float(row["start"]) - truth.start) < 0.3 and abs(float(row["end"]) - truth.end) < 0.4
        assert row["prediction"] == max(("angry", "happy", "neutral", "sad"), key=lambda name: float(row[f"p_{name}"]))
    (single,) = list(csv.DictReader((tmp_path / "out" / "p.csv").open()))
    assert single["path"] == recording.path
    assert (tmp_path / "out" / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_progress_bar_shows_files_done_and_files_per_second_and_is_off_when_asked(trained, small_corpus, tmp_path):
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import TQDMProgressBar

    from ser_lightning.data.audio_files import AudioFiles
    from ser_lightning.predictions import PredictionWriter

    new_audio(tmp_path / "new", small_corpus)
    model = EmotionRecognizer.load_from_checkpoint(trained / "checkpoints" / "last.ckpt")
    for enabled in (True, False):
        bar = [TQDMProgressBar()] if enabled else []
        writer = PredictionWriter(output=str(tmp_path / f"p{enabled}.csv"))
        trainer = Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, callbacks=[*bar, writer], enable_progress_bar=enabled)
        trainer.predict(model, datamodule=AudioFiles(str(tmp_path / "new"), window_seconds=4, batch_size=2), return_predictions=False)
        if enabled:
            assert bar[0].predict_progress_bar.postfix.startswith("3/3 files, ") and "files/s" in bar[0].predict_progress_bar.postfix
        else:
            assert writer._progress is None and trainer.progress_bar_callback is None

"""End to end through the CLI, as a user runs it: fit + test, logs, checkpoints, resume, configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ser_lightning.cli import main, resolve_config_paths
from ser_lightning.evaluation import group_metrics, groups_by_name, logged_metrics, read_rows
from ser_lightning.models import CNNLSTM, EmotionRecognizer

from .conftest import SMALL_SPEC
from .models.tiny import TINY_WAV2VEC2, TINY_WHISPER

pytestmark = pytest.mark.slow


PROJECT = Path(__file__).resolve().parent.parent


def write_config(path: Path, corpus: Path, backbone: dict, epochs: int = 2, pooling: dict | None = None) -> Path:
    corpus_args = {
        "root": str(corpus),
        "speakers_per_language": SMALL_SPEC["speakers_per_language"],
        "sentences_per_language": SMALL_SPEC["sentences_per_language"],
    }
    config = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": epochs,
            "accelerator": "cpu",
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "logger": {"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": "logs", "name": "e2e"}},
        },
        "checkpoint": {"dirpath": "checkpoints/e2e"},
        "model": {"backbone": backbone, "pooling": pooling, "head_hidden": 16, "lr_backbone": 1e-3},
        "data": {
            "class_path": "ser_lightning.data.CrossLingualDataModule",
            "init_args": {
                "sources": [{"class_path": "ser_lightning.data.SyntheticCorpus", "init_args": {**corpus_args, "languages": ["en", "de", "it"]}}],
                "targets": [{"class_path": "ser_lightning.data.SyntheticCorpus", "init_args": {**corpus_args, "languages": ["ur"]}}],
                "batch_size": 8,
            },
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


CNN_LSTM = {"class_path": "ser_lightning.models.CNNLSTM", "init_args": {"n_mels": 32, "channels": [4, 8], "lstm_hidden": 16}}


def scalars(log_dir: Path) -> dict[str, list]:
    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: acc.Scalars(tag) for tag in acc.Tags()["scalars"]}


def test_fit_tests_best_checkpoint_logs_and_resumes(small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "e2e.yaml", small_corpus, CNN_LSTM, epochs=2)
    cli = main(["fit", "--config", str(config)])

    out = capsys.readouterr().out
    assert "Test results of" in out and "best-epoch" in out
    for group in ("all", "source", "target", "en", "de", "it", "ur"):
        assert any(line.split()[0] == group for line in out.splitlines() if line.strip()), group
    results = cli.model.test_results
    assert results["target"]["n"] == 24 and results["source"]["n"] == 24  # 3 Urdu speakers; 1 held-out speaker x 3 languages
    assert results["all"]["n"] == 48 and results["ur"] == results["target"]

    checkpoints = {p.name for p in (tmp_path / "checkpoints" / "e2e").glob("*.ckpt")}
    assert "last.ckpt" in checkpoints and any(name.startswith("best-epoch") for name in checkpoints)
    first = scalars(tmp_path / "logs" / "e2e" / "version_0")
    assert {"train/loss", "val/ua", "val/wa", "val/f1", "test/ua", "test/ua/ur", "test/ua/target", "lr-AdamW/head", "lr-AdamW/backbone"} <= set(first)
    assert len(first["val/ua"]) == 2

    last = torch.load(tmp_path / "checkpoints" / "e2e" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1 and last["hyper_parameters"]["num_classes"] == 4

    # every reported metric is computed from the per-utterance rows kept beside results.json
    record = json.loads((tmp_path / "logs" / "e2e" / "version_0" / "results.json").read_text())
    rows = read_rows(tmp_path / "logs" / "e2e" / "version_0" / record["predictions"])
    assert len(rows) == 48 and set(rows.meta["speaker"]) and set(rows.meta["role"]) == {"source", "target"}
    assert groups_by_name(group_metrics(rows)) == record["groups"]
    assert logged_metrics(record["groups"]) == {key: value for key, value in record["metrics"].items() if not key.startswith("test/recall/")}
    assert {f"test/recall/{name}" for name in ("angry", "happy", "neutral", "sad")} <= set(record["metrics"])
    assert record["metrics"]["test/ua/target"] == pytest.approx(float(first["test/ua/target"][-1].value), abs=1e-6)

    reloaded = EmotionRecognizer.load_from_checkpoint(tmp_path / "checkpoints" / "e2e" / "last.ckpt")  # no config needed
    assert isinstance(reloaded.backbone, CNNLSTM) and reloaded.label_names == ["angry", "happy", "neutral", "sad"]
    waves = torch.randn(2, 16000)
    expected = EmotionRecognizer.load_from_checkpoint(tmp_path / "checkpoints" / "e2e" / "last.ckpt").eval()(waves, torch.tensor([16000, 9000]))
    assert torch.allclose(reloaded.eval()(waves, torch.tensor([16000, 9000])), expected)
    assert torch.equal(reloaded.state_dict()["head.1.weight"], last["state_dict"]["head.1.weight"])

    main(["fit", "--config", str(config), "--trainer.max_epochs", "3", "--ckpt_path", "last"])
    resumed = scalars(tmp_path / "logs" / "e2e" / "version_1")
    assert len(resumed["val/ua"]) == 1  # only the third epoch ran
    assert min(event.step for event in resumed["train/loss"]) >= first["train/loss"][-1].step
    assert torch.load(tmp_path / "checkpoints" / "e2e" / "last.ckpt", weights_only=True)["epoch"] == 2


HF_BACKBONES = {  # name: (backbone, pooling)
    "wav2vec2": (
        {"class_path": "ser_lightning.models.HFBackbone", "init_args": {"name_or_path": None, "pretrained": False, "config": TINY_WAV2VEC2}},
        {"class_path": "ser_lightning.models.WeightedLayerPooling"},
    ),
    "whisper": (
        {
            "class_path": "ser_lightning.models.WhisperBackbone",
            "init_args": {"name_or_path": None, "pretrained": False, "config": TINY_WHISPER, "window_seconds": 4.0},
        },
        {"class_path": "ser_lightning.models.AttentiveStatisticsPooling", "init_args": {"attention_hidden": 8}},
    ),
}


@pytest.mark.parametrize("name", sorted(HF_BACKBONES))
def test_fit_with_a_tiny_hugging_face_backbone_and_test_predict_from_checkpoint(name, small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    backbone, pooling = HF_BACKBONES[name]
    config = write_config(tmp_path / "hf.yaml", small_corpus, backbone, epochs=1, pooling=pooling)
    main(["fit", "--config", str(config), "--test_after_fit", "false"])
    assert "Test results" not in capsys.readouterr().out
    ckpt = tmp_path / "checkpoints" / "e2e" / "last.ckpt"
    reloaded = EmotionRecognizer.load_from_checkpoint(ckpt)
    assert type(reloaded.pooling).__name__ == pooling["class_path"].rsplit(".", 1)[1]
    cli = main(["validate", "--config", str(config), "--ckpt_path", str(ckpt)])
    assert {"val/ua", "val/wa", "val/f1", "val/loss"} <= set(cli.trainer.callback_metrics)
    cli = main(["test", "--config", str(config), "--ckpt_path", str(ckpt)])
    assert "Test results" in capsys.readouterr().out
    assert set(cli.model.test_results) == {"all", "source", "target", "de", "en", "it", "ur"}
    cli = main(["predict", "--config", str(config), "--ckpt_path", str(ckpt)])
    predictions = cli.trainer.predict_loop.predictions
    assert sum(len(batch["prediction"]) for batch in predictions) == 48
    assert all(label in {"angry", "happy", "neutral", "sad"} for batch in predictions for label in batch["prediction"])
    rows = (Path(cli.trainer.log_dir) / "predictions.csv").read_text().splitlines()
    assert rows[0] == "path,prediction,p_angry,p_happy,p_neutral,p_sad" and len(rows) == 49
    assert "Wrote 48 predictions" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["demo.yaml", "xlsr_fewshot.yaml", "xlsr_fewshot", "whisper_small"])
def test_shipped_configs_parse_by_bare_name_from_the_project_root(name, monkeypatch, capsys):
    # in this process (a subprocess spends ~12 s importing; `python -m ser_lightning` itself is run by test_package)
    monkeypatch.chdir(PROJECT)
    with pytest.raises(SystemExit) as printed:
        main(["fit", "--config", name, "--print_config"])
    assert printed.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["data"]["class_path"] == "ser_lightning.data.CrossLingualDataModule"
    expected = {"xlsr": "facebook/wav2vec2-xls-r-300m", "whisper": "openai/whisper-small"}.get(name.split("_")[0])
    if expected:
        assert config["model"]["backbone"]["init_args"]["name_or_path"] == expected


def test_config_resolution_prefers_files_in_the_working_directory(tmp_path):
    (tmp_path / "mine.yaml").write_text("{}")
    assert resolve_config_paths(["fit", "--config", str(tmp_path / "mine.yaml")]) == ["fit", "--config", str(tmp_path / "mine.yaml")]
    resolved = resolve_config_paths(["fit", "--config=demo"])
    assert resolved[1].startswith("--config=") and resolved[1].endswith("configs/demo.yaml")
    assert resolve_config_paths(["fit", "--config", "nope.yaml"]) == ["fit", "--config", "nope.yaml"]


def test_xlsr_fewshot_runs_few_shot_end_to_end_with_a_tiny_local_backbone(small_corpus, tmp_path, monkeypatch):
    """The user's own config, with the corpus made small and XLS-R swapped for a tiny wav2vec2 saved here (no hub)."""
    from transformers import AutoConfig, AutoModel

    AutoModel.from_config(AutoConfig.for_model(**TINY_WAV2VEC2)).save_pretrained(tmp_path / "tiny-xlsr")
    monkeypatch.chdir(tmp_path)
    corpus = {
        "root": str(small_corpus),
        "speakers_per_language": SMALL_SPEC["speakers_per_language"],
        "sentences_per_language": SMALL_SPEC["sentences_per_language"],
    }
    overrides = {
        "trainer": {
            "max_epochs": 1,
            "accelerator": "cpu",
            "devices": 1,
            "precision": "32-true",
            "enable_progress_bar": False,
            "log_every_n_steps": 1,
        },
        "model": {"backbone": {"init_args": {"name_or_path": str(tmp_path / "tiny-xlsr")}}},
        "data": {
            "init_args": {
                "sources": [{"class_path": "ser_lightning.data.SyntheticCorpus", "init_args": {**corpus, "languages": ["en", "de", "it"]}}],
                "targets": [{"class_path": "ser_lightning.data.SyntheticCorpus", "init_args": {**corpus, "languages": ["ur"]}}],
                "shots_per_class": 2,
                "cover_per_class": 2,  # each small-corpus speaker has 2 of every class: one speaker covers k = 2
                "num_workers": 0,
                "test_snrs": [None, 10],
            }
        },
    }
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(overrides))
    cli = main(["fit", "--config", "xlsr_fewshot.yaml", "--config", str(tmp_path / "small.yaml")])
    shots = (Path(cli.trainer.log_dir) / "shots.jsonl").read_text().splitlines()
    assert len(shots) == 4 * 2 and all('"ur"' in line for line in shots)  # k=2 per class x 4 classes, listed beside the run
    results = cli.model.test_results
    assert results["target"]["n"] == 16  # the two Urdu speakers not set aside (1 of 3 covers k = 2) x 4 emotions x 2 sentences
    assert results["target/snr10"]["n"] == 16 and "test/ua/target/snr10" in cli.trainer.logged_metrics
    split = json.loads((Path(cli.trainer.log_dir) / "split.json").read_text())
    assert split["shots"] == {"synthetic/ur": {"angry": 2, "happy": 2, "neutral": 2, "sad": 2}}
    assert split["splits"]["test"]["target:synthetic/ur"] == {"classes": {"angry": 4, "happy": 4, "neutral": 4, "sad": 4}, "speakers": 2}
    record = json.loads((Path(cli.trainer.log_dir) / "results.json").read_text())
    assert record["data"]["shots"] == split["shots"] and record["study"]["k"] == 2

"""End to end on the miniature corpora: one fit per corpus DataModule, and the study's cross-language setup via the CLI."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch
import yaml

from ser_lightning.cli import main
from ser_lightning.data import CORPUS_DATAMODULES
from ser_lightning.models import CNNLSTM, EmotionRecognizer
from ser_lightning.models.class_weights import inverse_frequency_weights

STUDY = ("iemocap", "emodb", "emovo", "urdu")


@pytest.mark.parametrize("name", sorted(CORPUS_DATAMODULES))
def test_corpus_datamodule_fits_and_tests_with_auto_class_weights(trees, name):
    dm = CORPUS_DATAMODULES[name](root=str(trees[name]), fold=1, batch_size=4, seed=3)
    model = EmotionRecognizer(
        CNNLSTM(n_mels=16, channels=(4,), lstm_hidden=8), num_classes=dm.num_classes, label_names=dm.label_names, head_hidden=8, class_weights="auto"
    )
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 2 and dm.label_names == ["angry", "happy", "neutral", "sad"]
    counts = dm.train_label_counts()
    assert sum(counts) == len(dm.datasets["train"])
    assert torch.allclose(model.loss_fn.weight, torch.tensor([sum(counts) / (4 * c) for c in counts]))  # inverse frequency
    trainer.test(model, datamodule=dm, verbose=False)
    assert model.test_results["all"]["n"] > 0 and model.test_results["source"] == model.test_results["all"]


def test_inverse_frequency_weights_refuse_an_empty_class():
    assert inverse_frequency_weights([2, 6], ["a", "b"]).tolist() == pytest.approx([2.0, 2 / 3])
    with pytest.raises(ValueError, match=r"classes \['b'\] have no training utterance"):
        inverse_frequency_weights([3, 0], ["a", "b"])


def test_cross_lingual_study_fit_with_the_four_corpora(trees, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    base = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 1,
            "limit_train_batches": 3,
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "log_every_n_steps": 1,
            "logger": {"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": "logs", "name": "study"}},
        },
        "model": {
            "backbone": {"class_path": "ser_lightning.models.CNNLSTM", "init_args": {"n_mels": 16, "channels": [4], "lstm_hidden": 8}},
            "head_hidden": 8,
        },
        "data": {"class_path": "ser_lightning.data.SyntheticDataModule", "init_args": {"batch_size": 8}},  # replaced by study/corpora.yaml
    }
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    roots = json.dumps({name: str(trees[name]) for name in STUDY})
    cli = main(
        ["fit", "--config", "base.yaml", "--config", "study/corpora.yaml", "--config", "study/target_urdu.yaml", "--data.init_args.roots", roots]
    )

    dm = cli.datamodule
    assert [c.name for c in dm.corpora] == ["iemocap", "emodb", "emovo"] and [c.name for c in dm.targets] == ["urdu"]
    assert dm.batch_size == 8  # kept from the first config although the DataModule class changed
    results = cli.model.test_results
    assert results["target"]["n"] == 25 and results["ur"] == results["target"]  # every URDU file is a target
    assert {"en", "de", "it", "source"} <= set(results)
    train = dm.datasets["train"].utterances
    assert {u.corpus for u in train} == {"iemocap", "emodb", "emovo"} and "excited" not in {u.label for u in train}
    assert "target" in capsys.readouterr().out
    assert (tmp_path / "checkpoints" / "study" / "version_0" / "last.ckpt").is_file()  # beside logs/study/version_0
    # a second seed composed with the same target file is a run of its own, never written into the first one's folders
    main(["fit", "--config", "base.yaml", "--config", "study/corpora.yaml", "--config", "study/target_urdu.yaml", "--data.init_args.roots", roots,
          "--seed_everything", "1", "--test_after_fit", "false"])  # fmt: skip
    assert (tmp_path / "checkpoints" / "study" / "version_1" / "last.ckpt").is_file()
    assert json.loads((tmp_path / "logs" / "study" / "version_0" / "results.json").read_text())["config"]["seed_everything"] == 0

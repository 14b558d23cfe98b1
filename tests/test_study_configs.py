"""The study's composed configs parse (``--print_config``) and merge as intended: one roots file, one file per target."""

from __future__ import annotations

import pytest
import yaml

from ser_lightning.cli import main

STUDY = ("iemocap", "emodb", "emovo", "urdu")


def printed_config(capsys, *configs: str) -> dict:
    args = ["fit"] + [arg for config in configs for arg in ("--config", config)] + ["--print_config"]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


@pytest.mark.parametrize("target", STUDY)
def test_each_target_config_parses_on_the_shipped_model_config(capsys, target):
    config = printed_config(capsys, "xlsr_fewshot.yaml", "study/corpora.yaml", f"study/target_{target}.yaml")
    data = config["data"]
    assert data["class_path"] == "ser_lightning.data.CrossCorpusDataModule"
    args = data["init_args"]
    assert args["targets"] == [target] and sorted(args["sources"]) == sorted(set(STUDY) - {target})  # lists replaced, not merged
    assert sorted(args["roots"]) == sorted(STUDY) and args["label_space"] == "categorical4"
    assert args["batch_size"] == 8 and args["max_train_seconds"] == 8.0  # kept from xlsr_fewshot.yaml across the class change
    assert config["model"]["backbone"]["init_args"]["name_or_path"] == "facebook/wav2vec2-xls-r-300m"
    assert config["trainer"]["logger"]["init_args"]["name"] == "xlsr_fewshot" and config["trainer"]["logger"]["init_args"]["version"] is None
    assert config["checkpoint"]["dirpath"] is None  # each run its own folder (a seed or k never lands in another run's)


def test_roots_file_alone_is_the_urdu_target_on_the_demo_model(capsys):
    config = printed_config(capsys, "demo.yaml", "study/corpora.yaml")
    args = config["data"]["init_args"]
    assert args["sources"] == ["iemocap", "emodb", "emovo"] and args["targets"] == ["urdu"]
    assert args["train_augment"][0]["init_args"]["min_snr_db"] == 5.0  # the demo's noise augmentation carries over


def test_a_corpus_datamodule_replaces_the_demo_data_on_the_command_line(capsys):
    config = printed_config(capsys, "demo.yaml")
    with pytest.raises(SystemExit):
        main(["fit", "--config", "demo.yaml", "--data", "EmoDBDataModule", "--data.root", "/data/emodb", "--data.fold", "3", "--print_config"])
    data = yaml.safe_load(capsys.readouterr().out)["data"]
    assert data["class_path"] == "ser_lightning.data.EmoDBDataModule"
    assert data["init_args"]["root"] == "/data/emodb" and data["init_args"]["fold"] == 3 and "sources" not in data["init_args"]
    assert data["init_args"]["batch_size"] == config["data"]["init_args"]["batch_size"]

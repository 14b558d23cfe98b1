"""A wrong value in a config is refused at start-up, before any audio is read, in the refusing class's own words."""

from __future__ import annotations

import json

import pytest

from ser_lightning.cli import main

from .test_cli import CNN_LSTM, write_config


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--data.init_args.val_speakers", "-3", "CrossLingualDataModule: val_speakers=-3 is negative"),
        ("--data.init_args.test_speakers", "1.5", "CrossLingualDataModule: test_speakers=1.5 is neither a whole number of speakers nor a fraction"),
        ("--data.init_args.adaptation_speakers", "-1", "adaptation_speakers=-1 is negative"),
        ("--data.init_args.batch_size", "0", "CrossLingualDataModule: batch_size must be at least 1, got 0."),
        ("--data.init_args.max_train_seconds", "-2", "max_train_seconds must be a positive number of seconds"),
        ("--data.init_args.shots_oversample", "0", "CrossLingualDataModule: shots_oversample must be at least 1, got 0."),
        (
            "--data.init_args.train_augment",
            json.dumps([{"class_path": "audiomentations.AddGaussianSNR", "init_args": {"min_snr_db": 30, "max_snr_db": 5}}]),
            "AddGaussianSNR: min_snr_db must not be greater than max_snr_db",
        ),
        ("--model.backbone.init_args.finetune", "lora", "CNNLSTM"),
    ],
)
def test_a_refused_value_is_one_error_line_naming_the_option(tmp_path, monkeypatch, capsys, option, value, message):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "config.yaml", tmp_path / "no_corpus_here", CNN_LSTM)  # refused before the corpus is looked at
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), option, value])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("error: ") and message in err, err
    assert "Traceback" not in err and "Does not validate against any of the Union subtypes" not in err
    assert not (tmp_path / "no_corpus_here").exists() and not (tmp_path / "checkpoints").exists()


def test_more_held_out_speakers_than_a_language_has_is_one_error_line(small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "config.yaml", small_corpus, CNN_LSTM)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), "--data.init_args.test_speakers", "5"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.startswith("error: ") and "has 3 speakers: too few to hold out" in err and "lower val_speakers/test_speakers" in err, err


def test_a_bug_in_a_constructor_keeps_its_traceback(tmp_path, monkeypatch):
    """Only the package's own validation errors become one line; an AttributeError from a dependency is shown as what it is."""
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "config.yaml", tmp_path / "no_corpus_here", {"class_path": "tests.fault_injection.BackboneWithABug"})
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'config'"):
        main(["fit", "--config", str(config)])


def test_null_test_snrs_tests_the_clean_set(small_corpus):
    from ser_lightning.data import CrossLingualDataModule, SyntheticCorpus

    from .conftest import SMALL_SPEC

    corpus = {k: SMALL_SPEC[k] for k in ("speakers_per_language", "sentences_per_language")}
    dm = CrossLingualDataModule(
        [SyntheticCorpus(str(small_corpus), ["en"], **corpus)], [SyntheticCorpus(str(small_corpus), ["ur"], **corpus)], test_snrs=None
    )
    assert dm.test_snrs == [None]

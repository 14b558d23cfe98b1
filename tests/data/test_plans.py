"""Split plans: the one place a split is decided; roles are a field of the utterance; plans compose and parse from YAML."""

import json
from collections import Counter

import pytest
import yaml

from ser_lightning.data import (
    CorpusFolds,
    CrossLingual,
    CrossLingualDataModule,
    EmoDB,
    SERDataModule,
    SpeakerHoldout,
    SyntheticCorpus,
)
from ser_lightning.data.splits import speaker_key

from ..conftest import SMALL_SPEC

CORPUS = {k: SMALL_SPEC[k] for k in ("speakers_per_language", "sentences_per_language")}


def languages(root, *codes):
    return SyntheticCorpus(str(root), languages=list(codes), **CORPUS)


def plain_load(corpora):
    return [u for corpus in corpora for u in corpus.load(check_samples=False)]


def test_speaker_holdout_marks_every_utterance_source_and_keeps_speakers_apart(small_corpus):
    split = SpeakerHoldout([languages(small_corpus, "en", "de")], val_speakers=1, test_speakers=1).split(plain_load, seed=0)
    assert {u.role for part in (split.train, split.val, split.test) for u in part} == {"source"}
    assert {u.language for u in split.test} == {"en", "de"} and len({speaker_key(u) for u in split.test}) == 2
    split.check_disjoint()
    assert not split.shots and not split.adaptation and not split.unlabelled


def test_cross_lingual_composes_the_sources_plan_and_sets_target_roles(small_corpus):
    plan = CrossLingual(
        SpeakerHoldout([languages(small_corpus, "en", "de", "it")]),
        [languages(small_corpus, "ur")],
        adaptation_speakers=1,
        shots_per_class=1,
        shots_oversample=2,
        unlabelled_target=True,
    )
    split = plan.split(plain_load, seed=3)
    assert Counter(u.role for u in split.train)["target"] == 8 and Counter(u.label for u in split.shots) == Counter(
        {"angry": 1, "happy": 1, "neutral": 1, "sad": 1}
    )
    assert [u for u in split.train if u.role == "target"] == split.shots * 2
    assert {u.language for u in split.test if u.role == "target"} == {"ur"} and {u.language for u in split.test if u.role == "source"} == {
        "en",
        "de",
        "it",
    }
    assert {speaker_key(u) for u in split.unlabelled} == {speaker_key(u) for u in split.adaptation}
    assert not {speaker_key(u) for u in split.adaptation} & {speaker_key(u) for u in split.test}
    summary = plan.summary(split, ["angry", "happy", "neutral", "sad"])
    assert summary["shots"] == {"synthetic/ur": {"angry": 1, "happy": 1, "neutral": 1, "sad": 1}} and summary["shots_oversample"] == 2


def test_a_manifest_role_never_survives_the_plan(small_corpus):
    def load_as_target(corpora):
        return [u.with_(role="target") for u in plain_load(corpora)]

    split = SpeakerHoldout([languages(small_corpus, "en")]).split(load_as_target, seed=0)
    assert {u.role for u in split.train + split.val + split.test} == {"source"}


def test_the_datamodule_alias_and_the_plan_give_the_same_split(small_corpus):
    options = dict(adaptation_speakers=1, shots_per_class=2)
    alias = CrossLingualDataModule(
        sources=[languages(small_corpus, "en", "de", "it")], targets=[languages(small_corpus, "ur")], batch_size=4, **options
    )
    planned = SERDataModule(
        plan=CrossLingual(SpeakerHoldout([languages(small_corpus, "en", "de", "it")]), [languages(small_corpus, "ur")], **options), batch_size=4
    )
    for dm in (alias, planned):
        dm.setup("fit")
    for name in ("train", "val", "test"):
        assert [(u.path, u.role) for u in alias.datasets[name].utterances] == [(u.path, u.role) for u in planned.datasets[name].utterances]
    assert alias.summary == planned.summary


def test_datamodule_refuses_a_plan_given_with_corpora_or_speaker_counts(small_corpus):
    plan = SpeakerHoldout([languages(small_corpus, "en")])
    with pytest.raises(ValueError, match="plan or corpora, not both"):
        SERDataModule(plan=plan, corpora=[languages(small_corpus, "de")])
    with pytest.raises(ValueError, match="plan.init_args.val_speakers"):
        SERDataModule(plan=plan, val_speakers=2)
    with pytest.raises(ValueError, match="Give the split"):
        SERDataModule()


def test_corpus_folds_checks_fold_and_fraction(tmp_path):
    with pytest.raises(ValueError, match="fold must be in 0..9"):
        CorpusFolds(EmoDB(str(tmp_path)), fold=10)
    with pytest.raises(ValueError, match="val_fraction"):
        CorpusFolds(EmoDB(str(tmp_path)), val_fraction=1.5)
    with pytest.raises(ValueError, match="no standard protocol"):
        CorpusFolds(SyntheticCorpus(str(tmp_path)))


def test_a_plan_given_in_yaml_under_data_init_args_plan_fits_and_tests_both_roles(small_corpus, tmp_path, monkeypatch):
    from ser_lightning.cli import main

    def corpus(*codes):
        return {"class_path": "ser_lightning.data.SyntheticCorpus", "init_args": {"root": str(small_corpus), "languages": list(codes), **CORPUS}}

    plan = {
        "class_path": "ser_lightning.data.CrossLingual",
        "init_args": {
            "sources": {"class_path": "ser_lightning.data.SpeakerHoldout", "init_args": {"corpora": [corpus("en", "de", "it")]}},
            "targets": [corpus("ur")],
            "adaptation_speakers": 1,
            "shots_per_class": 1,
        },
    }
    config = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 1,
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "logger": {"class_path": "TensorBoardLogger", "init_args": {"save_dir": "logs", "name": "plan"}},
        },
        "model": {
            "backbone": {"class_path": "ser_lightning.models.CNNLSTM", "init_args": {"n_mels": 32, "channels": [4, 8], "lstm_hidden": 16}},
            "head_hidden": 16,
        },
        "data": {"class_path": "ser_lightning.data.SERDataModule", "init_args": {"batch_size": 8, "plan": plan}},
    }
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(config))
    cli = main(["fit", "--config", "plan.yaml"])
    assert isinstance(cli.datamodule.plan, CrossLingual) and isinstance(cli.datamodule.plan.sources, SpeakerHoldout)
    assert len(cli.datamodule.shots) == 4
    results = json.loads(next((tmp_path / "logs").rglob("results.json")).read_text())
    assert {"test/ua/source", "test/ua/target"} <= set(results["metrics"])
    assert results["data"]["shots"] == {"synthetic/ur": {"angry": 1, "happy": 1, "neutral": 1, "sad": 1}}

"""Every corpus's default protocol is speaker-independent in every fold; folds partition the speakers as documented."""

from __future__ import annotations

from collections import Counter

import pytest

from ser_lightning.data import CORPORA, CORPUS_DATAMODULES, PROTOCOLS, URDU, ManifestError
from ser_lightning.data.protocols import fold_test_speakers, protocol_split


@pytest.mark.parametrize("name", sorted(CORPUS_DATAMODULES))
def test_every_fold_of_the_default_protocol_is_speaker_independent(trees, name):
    datamodule_class = CORPUS_DATAMODULES[name]
    folds = PROTOCOLS[name].folds
    tested = []
    for fold in range(folds):
        dm = datamodule_class(root=str(trees[name]), fold=fold, label_space="native")
        split = dm.make_split()
        roles = [u.role for u in split.test]
        train, val, test = ({u.speaker for u in getattr(split, part)} for part in ("train", "val", "test"))
        assert train and val and test and roles == ["source"] * len(split.test)
        assert not test & (train | val), f"fold {fold} tests on speakers it trains or validates on"
        if name != "tess":  # TESS validates on held-out words of its single training speaker
            assert not train & val
        assert len(split.train) + len(split.val) + len(split.test) == len(dm.load(dm.corpora))
        tested.append(test)
    assert sorted(s for fold in tested for s in fold) == sorted(set().union(*tested)), "a speaker is tested in two folds"
    assert set().union(*tested) == {u.speaker for u in CORPORA[name](str(trees[name])).parse()}, "a speaker is never tested"
    with pytest.raises(ValueError, match="fold must be in"):
        datamodule_class(root=str(trees[name]), fold=folds)


def test_iemocap_folds_are_its_sessions(trees):
    folds = fold_test_speakers(CORPORA["iemocap"](str(trees["iemocap"])).parse(), PROTOCOLS["iemocap"])
    assert folds == [{f"Ses0{n}F", f"Ses0{n}M"} for n in range(1, 6)]


def test_urdu_folds_balance_files_not_speaker_counts(trees):
    utterances = URDU(str(trees["urdu"])).parse()
    folds = fold_test_speakers(utterances, PROTOCOLS["urdu"])
    assert folds == [{"SM5"}, {"SM1", "SM3"}, {"SM24", "SF9"}, {"SF1", "SM2"}, {"SF10", "SM23"}]
    files = Counter(u.speaker for u in utterances)
    assert [sum(files[s] for s in fold) for fold in folds] == [8, 5, 4, 4, 4]


def test_ravdess_folds_hold_two_actresses_and_two_actors(trees):
    utterances = CORPORA["ravdess"](str(trees["ravdess"])).parse()
    for fold in fold_test_speakers(utterances, PROTOCOLS["ravdess"]):
        assert sorted(int(s) % 2 for s in fold) == [0, 0, 1, 1]


def test_esd_folds_hold_both_languages(trees):
    utterances = CORPORA["esd"](str(trees["esd"])).parse()
    language = {u.speaker: u.language for u in utterances}
    for fold in fold_test_speakers(utterances, PROTOCOLS["esd"]):
        assert sorted(language[s] for s in fold) == ["en", "en", "zh", "zh"]


def test_tess_validates_on_held_out_words_of_the_training_speaker(trees):
    utterances = CORPORA["tess"](str(trees["tess"])).parse()
    split = protocol_split(utterances, PROTOCOLS["tess"], fold=0, val_fraction=0.25, seed=0)
    assert {u.speaker for u in split.test} == {"OAF"} and {u.speaker for u in split.train} == {u.speaker for u in split.val} == {"YAF"}
    assert not {u.extra["word"] for u in split.train} & {u.extra["word"] for u in split.val}


def test_validation_carve_out_is_seeded_and_sized_in_files(trees):
    utterances = CORPORA["emodb"](str(trees["emodb"])).parse()
    first, again, other = (protocol_split(utterances, PROTOCOLS["emodb"], fold=0, val_fraction=0.2, seed=s) for s in (0, 0, 1))
    assert first.val == again.val and {u.speaker for u in first.val} != {u.speaker for u in other.val}
    assert len({u.speaker for u in first.val}) == 2  # 2 of 9 training speakers reach 20% of the training files


def test_a_corpus_missing_speakers_cannot_fill_the_protocol(trees):
    utterances = [u for u in CORPORA["emovo"](str(trees["emovo"])).parse() if u.speaker != "m3"]
    with pytest.raises(ManifestError, match="needs 6 non-empty folds"):
        protocol_split(utterances, PROTOCOLS["emovo"], fold=0)


def test_folds_do_not_depend_on_the_label_space(trees):
    def test_speakers(space: str) -> list[set[str]]:
        folds = []
        for fold in range(PROTOCOLS["cremad"].folds):
            split = CORPUS_DATAMODULES["cremad"](root=str(trees["cremad"]), fold=fold, label_space=space).make_split()
            folds.append({u.speaker for u in split.test})
        return folds

    assert test_speakers("categorical4") == test_speakers("native") == test_speakers("arousal")

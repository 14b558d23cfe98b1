"""Label spaces on real corpora: IEMOCAP's four classes, valence and arousal as documented, native sets, custom spaces."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from ser_lightning.data import IEMOCAP, EmoDB, EmoDBDataModule, IEMOCAPDataModule, SERDataModule, Utterance, build_label_space
from ser_lightning.data.labels import NATIVE_CODES, native_labels


def words(*labels: str) -> list[Utterance]:
    return [Utterance(f"{i}.wav", label, "s", "en", "c") for i, label in enumerate(labels)]


def test_iemocap_categorical4_merges_excited_into_happy_and_drops_the_rest(trees):
    kept, dropped = build_label_space("categorical4").apply(IEMOCAP(str(trees["iemocap"])).parse())
    assert Counter(u.label for u in kept) == {"angry": 6, "happy": 10, "neutral": 10, "sad": 10}
    assert dropped == {"frustrated": 5, "other": 1, "no_agreement": 1, "surprise": 1}
    merged = [u for u in kept if u.extra["code"] == "exc"]
    assert len(merged) == 5 and {u.label for u in merged} == {"happy"}


@pytest.mark.parametrize(
    ("neutral", "expected"),
    [
        (
            "drop",
            {
                "angry": "negative",
                "sad": "negative",
                "fear": "negative",
                "disgust": "negative",
                "boredom": "negative",
                "frustrated": "negative",
                "happy": "positive",
                "excited": "positive",
                "pleasant_surprise": "positive",
                "calm": "positive",
            },
        ),
        ("positive", {"neutral": "positive", "happy": "positive", "sad": "negative"}),
        ("negative", {"neutral": "negative", "happy": "positive", "angry": "negative"}),
    ],
)
def test_binary_valence_maps_as_documented_with_neutral_on_the_chosen_side(neutral, expected):
    space = build_label_space("binary_valence", neutral_valence=neutral)
    assert space.names == ("negative", "positive")
    for word, valence in expected.items():
        assert space.map_label(word) == valence, word
    assert space.map_label("surprise") is None  # valence unknown: dropped and counted
    assert (space.map_label("neutral") is None) == (neutral == "drop")


def test_arousal_maps_as_documented():
    space = build_label_space("arousal")
    assert space.names == ("high", "low")
    high = ["angry", "happy", "fear", "surprise", "disgust", "excited", "pleasant_surprise"]
    low = ["sad", "neutral", "boredom", "calm"]
    kept, dropped = space.apply(words(*high, *low, "frustrated", "other"))
    assert [u.label for u in kept] == ["high"] * len(high) + ["low"] * len(low)
    assert dropped == {"frustrated": 1, "other": 1}


def test_every_native_word_is_placed_or_dropped_on_purpose():
    everything = {word for table in NATIVE_CODES.values() for word in table.values()}
    valence, arousal = build_label_space("binary_valence", neutral_valence="positive"), build_label_space("arousal")
    assert {w for w in everything if valence.map_label(w) is None} == {"surprise", "other", "no_agreement"}
    assert {w for w in everything if arousal.map_label(w) is None} == {"frustrated", "other", "no_agreement"}
    assert {w for w in everything if build_label_space("categorical4").map_label(w)} == {"angry", "happy", "excited", "neutral", "sad"}


def test_native_space_is_the_union_of_the_corpora_s_own_words(trees):
    dm = SERDataModule(corpora=[EmoDB(str(trees["emodb"])), IEMOCAP(str(trees["iemocap"]))], label_space="native")
    assert dm.label_names == sorted({*native_labels("emodb"), *native_labels("iemocap")})
    assert "boredom" in dm.label_names and "excited" in dm.label_names and "no_agreement" not in dm.label_names
    assert EmoDBDataModule(root=str(trees["emodb"]), label_space="native").label_names == [
        "angry",
        "boredom",
        "disgust",
        "fear",
        "happy",
        "neutral",
        "sad",
    ]


def test_a_mapping_extends_a_named_space_and_label_names_make_a_custom_one():
    space = build_label_space("categorical4", label_mapping={"calm": "neutral"})
    assert space.map_label("calm") == "neutral" and space.map_label("excited") == "happy"
    custom = build_label_space(label_names=["angry", "sad", "other_emotion"], label_mapping={"fear": "other_emotion"})
    assert custom.names == ("angry", "sad", "other_emotion") and custom.map_label("fear") == "other_emotion"
    with pytest.raises(ValueError, match="cannot be combined with label_space 'arousal'"):
        build_label_space("arousal", label_names=["a", "b"])
    with pytest.raises(ValueError, match="choose one of"):
        build_label_space("valence")
    with pytest.raises(ValueError, match="needs label_names"):
        build_label_space("custom")


def test_a_bad_label_space_fails_when_the_datamodule_is_built(trees):
    with pytest.raises(ValueError, match="neutral_valence"):
        IEMOCAPDataModule(root=str(trees["iemocap"]), label_space="binary_valence", neutral_valence="sideways")


def test_drops_are_logged_per_corpus_and_label(trees, caplog):
    dm = IEMOCAPDataModule(root=str(trees["iemocap"]), label_space="arousal")
    with caplog.at_level(logging.INFO):
        dm.setup("fit")
    line = next(r.getMessage() for r in caplog.records if "left out" in r.getMessage())
    assert "IEMOCAP(root=" in line and "left out 7 utterances" in line and "'frustrated': 5" in line and "'no_agreement': 1" in line
    assert dm.label_names == ["high", "low"]
    assert sorted(dm.train_label_counts()) == sorted(Counter(u.label for u in dm.datasets["train"].utterances).values())

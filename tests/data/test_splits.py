import pytest

from ser_lightning.data.manifest import Utterance
from ser_lightning.data.splits import Split, speaker_split


def corpus(languages=("en", "de"), speakers=5, per_speaker=4, name="c"):
    return [
        Utterance(f"{name}/{lang}/{s}/{i}.wav", ("angry", "sad")[i % 2], f"{lang}{s}", lang, name)
        for lang in languages
        for s in range(speakers)
        for i in range(per_speaker)
    ]


def test_no_speaker_in_two_splits_and_every_utterance_used():
    utts = corpus()
    split = speaker_split(utts, val_speakers=1, test_speakers=2, seed=3)
    assert not split.speakers("train") & split.speakers("test")
    assert not split.speakers("train") & split.speakers("val")
    assert not split.speakers("val") & split.speakers("test")
    assert sorted(u.path for u in split.train + split.val + split.test) == sorted(u.path for u in utts)


def test_each_language_holds_out_its_own_speakers():
    split = speaker_split(corpus(), val_speakers=1, test_speakers=2, seed=0)
    for lang in ("en", "de"):
        assert len({u.speaker for u in split.test if u.language == lang}) == 2
        assert len({u.speaker for u in split.val if u.language == lang}) == 1
        assert len({u.speaker for u in split.train if u.language == lang}) == 2


def test_seeded_and_seed_sensitive():
    utts = corpus(speakers=10)
    first, again = speaker_split(utts, seed=1), speaker_split(utts, seed=1)
    assert first.speakers("test") == again.speakers("test")
    tests = {frozenset(speaker_split(utts, seed=s).speakers("test")) for s in range(6)}
    assert len(tests) > 1


def test_fractions_of_speakers():
    split = speaker_split(corpus(languages=("en",), speakers=10), val_speakers=0.1, test_speakers=0.2)
    assert (len(split.speakers("val")), len(split.speakers("test")), len(split.speakers("train"))) == (1, 2, 7)


def test_same_speaker_id_in_two_corpora_is_two_people():
    utts = corpus(languages=("en",), speakers=3, name="a") + corpus(languages=("en",), speakers=3, name="b")
    split = speaker_split(utts, group_by=("corpus",))
    assert len(split.speakers("test")) == 2


def test_too_few_speakers_is_a_clear_error():
    with pytest.raises(ValueError, match="too few"):
        speaker_split(corpus(speakers=2), val_speakers=1, test_speakers=1)


def test_check_disjoint_catches_a_leak():
    utt = corpus(speakers=1, per_speaker=1)[0]
    with pytest.raises(ValueError, match="both train and test"):
        Split(train=[utt], test=[utt]).check_disjoint()


def test_a_bilingual_speaker_goes_to_one_split_with_all_their_utterances():
    utts = corpus(languages=("en",), speakers=4, per_speaker=4) + [
        Utterance(f"de/{s}/{i}.wav", "sad", f"en{s}", "de", "c") for s in range(4) for i in range(2)
    ]
    for seed in range(10):
        split = speaker_split(utts, seed=seed)
        split.check_disjoint()
        assert len(split.train) + len(split.val) + len(split.test) == len(utts)
        assert len({u.speaker for u in split.test}) == 1


@pytest.mark.parametrize("option", ["val_speakers", "test_speakers"])
@pytest.mark.parametrize("value, message", [(-3, "is negative"), (1.5, "neither a whole number"), ("2", "give a number")])
def test_negative_or_fractional_speaker_counts_are_refused_naming_the_option(option, value, message):
    with pytest.raises(ValueError, match=f"{option}=.*{message}"):
        speaker_split(corpus(), **{option: value})


def test_one_file_under_two_speakers_in_two_splits_is_a_leak():
    utts = corpus(speakers=4, per_speaker=2)
    split = speaker_split(utts, val_speakers=1, test_speakers=1, seed=0)
    trained = split.train[0]
    split.test.append(trained.with_(speaker="someone_else"))
    with pytest.raises(ValueError, match=f"{trained.path}.*both train and test.*one file is one utterance"):
        split.check_disjoint()

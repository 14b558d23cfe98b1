"""Few-shot target data: set-aside speakers, k shots per class, nesting across k, seeds, saved lists, errors."""

from collections import Counter

import pytest

from ser_lightning.data import CrossLingualDataModule, ManifestError, SyntheticCorpus, Utterance, read_manifest
from ser_lightning.data.fewshot import adaptation_split, check_adaptation_options, draw_shots
from ser_lightning.data.splits import speaker_key

from ..conftest import SMALL_SPEC

CORPUS = {k: SMALL_SPEC[k] for k in ("speakers_per_language", "sentences_per_language")}


def fewshot(root, **kwargs) -> CrossLingualDataModule:
    dm = CrossLingualDataModule(
        sources=[SyntheticCorpus(str(root), languages=["en", "de", "it"], **CORPUS)],
        targets=[SyntheticCorpus(str(root), languages=["ur"], **CORPUS)],
        batch_size=4,
        **kwargs,
    )
    dm.setup("fit")
    return dm


def target_test_speakers(dm) -> set:
    test = dm.datasets["test"]
    return {speaker_key(u) for u, role in zip(test.utterances, test.roles) if role == "target"}


def test_k_shots_per_class_come_only_from_set_aside_speakers_never_tested(small_corpus):
    dm = fewshot(small_corpus, adaptation_speakers=1, shots_per_class=2)
    assert Counter(u.label for u in dm.shots) == {"angry": 2, "happy": 2, "neutral": 2, "sad": 2}
    shot_speakers = {speaker_key(u) for u in dm.shots}
    assert shot_speakers <= {speaker_key(u) for u in dm.adaptation} and len({speaker_key(u) for u in dm.adaptation}) == 1
    assert not shot_speakers & target_test_speakers(dm) and len(target_test_speakers(dm)) == 2
    train = dm.datasets["train"]
    assert [u for u, role in zip(train.utterances, train.roles) if role == "target"] == dm.shots
    assert dm.train_label_counts() == [c + 2 for c in fewshot(small_corpus).train_label_counts()]


def test_the_target_test_set_is_the_same_for_every_k_and_smaller_draws_are_subsets(small_corpus):
    runs = {k: fewshot(small_corpus, adaptation_speakers=1, shots_per_class=k) for k in (0, 1, 2)}
    assert len({frozenset(target_test_speakers(dm)) for dm in runs.values()}) == 1
    assert {u.path for u in runs[1].shots} < {u.path for u in runs[2].shots} and runs[0].shots == []
    assert [u.path for u in runs[2].datasets["test"].utterances] == [u.path for u in runs[0].datasets["test"].utterances]


def test_shots_are_seeded(small_corpus):
    first = fewshot(small_corpus, adaptation_speakers=1, shots_per_class=1, seed=3)
    again = fewshot(small_corpus, adaptation_speakers=1, shots_per_class=1, seed=3)
    assert [u.path for u in first.shots] == [u.path for u in again.shots]
    others = [fewshot(small_corpus, adaptation_speakers=1, shots_per_class=1, seed=s).shots for s in (4, 5, 6)]
    assert any([u.path for u in shots] != [u.path for u in first.shots] for shots in others)


def test_oversampling_repeats_shots_and_source_replay_thins_the_sources(small_corpus):
    joint = fewshot(small_corpus, adaptation_speakers=1, shots_per_class=1, shots_oversample=3)
    assert Counter(r for r in joint.datasets["train"].roles)["target"] == 12
    stage_two = fewshot(small_corpus, adaptation_speakers=1, shots_per_class=1, source_replay=0.0)
    assert stage_two.datasets["train"].utterances == stage_two.shots
    half = fewshot(small_corpus, adaptation_speakers=1, shots_per_class=1, source_replay=0.5)
    assert Counter(half.datasets["train"].roles)["source"] == 12  # of 24 source training utterances


def test_a_fraction_of_the_set_aside_utterances(small_corpus):
    dm = fewshot(small_corpus, adaptation_speakers=1, shots_fraction=0.5)
    assert Counter(u.label for u in dm.shots) == {"angry": 1, "happy": 1, "neutral": 1, "sad": 1}


def test_asking_for_more_shots_than_there_are_says_how_many_there_are(small_corpus):
    with pytest.raises(
        ManifestError,
        match=(
            r"shots_per_class=3: the 1 adaptation speaker\(s\) of synthetic \(ur\) \(\w+\) have angry 2, happy 2, "
            r"neutral 2, sad 2 utterances, too few of angry, happy, neutral, sad"
        ),
    ):
        fewshot(small_corpus, adaptation_speakers=1, shots_per_class=3)
    with pytest.raises(ValueError, match="set adaptation_speakers"):
        fewshot(small_corpus, shots_per_class=1)
    with pytest.raises(ValueError, match="too few to hold out .* lower adaptation_speakers"):
        fewshot(small_corpus, adaptation_speakers=3, shots_per_class=1)
    with pytest.raises(ValueError, match="not both"):
        draw_shots([], per_class=1, fraction=0.5)


def test_the_shot_list_is_saved_in_the_runs_log_folder(small_corpus, tmp_path):
    import lightning as L

    from ser_lightning.models import CNNLSTM, EmotionRecognizer
    from ser_lightning.run_files import RunRecorder

    dm = CrossLingualDataModule(
        sources=[SyntheticCorpus(str(small_corpus), languages=["en", "de", "it"], **CORPUS)],
        targets=[SyntheticCorpus(str(small_corpus), languages=["ur"], **CORPUS)],
        batch_size=8, adaptation_speakers=1, shots_per_class=2,
    )  # fmt: skip
    model = EmotionRecognizer(CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8), num_classes=4, head_hidden=0)
    trainer = L.Trainer(
        max_steps=1, log_every_n_steps=1, default_root_dir=tmp_path, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[RunRecorder()],  # a plain Trainer writes the run's files with the CLI's recorder
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    saved = read_manifest(tmp_path / "lightning_logs" / "version_0" / "shots.jsonl")
    assert [(u.path, u.label, u.speaker) for u in saved] == [(u.path, u.label, u.speaker) for u in dm.shots]


# URDU as released: speaker -> utterances per class (29 speaker ids; no speaker has all four emotions).
URDU_SPEAKERS = {
    "angry": {"SM1": 22, "SM2": 28, "SM3": 2, "SM4": 48},
    "happy": {
        "SF1": 12,
        "SF2": 2,
        "SF3": 2,
        "SF4": 4,
        "SF5": 4,
        "SF6": 14,
        "SF7": 6,
        "SF8": 2,
        "SM17": 2,
        "SM18": 2,
        "SM19": 2,
        "SM3": 2,
        "SM5": 8,
        "SM6": 10,
        "SM7": 28,
    },
    "neutral": {"SF9": 4, "SM20": 10, "SM21": 4, "SM22": 2, "SM3": 8, "SM5": 72},
    "sad": {"SF10": 2, "SF11": 4, "SM23": 6, "SM24": 38, "SM25": 40, "SM26": 2, "SM27": 4, "SM6": 4},
}


def urdu_like() -> list[Utterance]:
    """Records (no audio) with URDU's real confound of emotions and speakers: 400 utterances, 100 per class."""
    return [
        Utterance(f"/urdu/{label.title()}/{speaker}_F{i}_{label[0].upper()}{i:02d}.wav", label, speaker, "ur", "urdu")
        for label, speakers in URDU_SPEAKERS.items()
        for speaker, count in speakers.items()
        for i in range(count)
    ]


def test_urdu_like_data_has_urdus_confound():
    utterances = urdu_like()
    assert len(utterances) == 400 and Counter(u.label for u in utterances) == {"angry": 100, "happy": 100, "neutral": 100, "sad": 100}
    assert len({u.speaker for u in utterances}) == 29


def test_a_draw_never_drops_a_class_the_set_aside_speakers_lack():
    """Two random URDU speakers rarely hold all four emotions: the draw refuses with the numbers instead of
    training "k = 2 per class" on one or two classes (what the earlier draw did, silently)."""
    target = urdu_like()
    for seed in range(8):
        adaptation, _ = adaptation_split(target, 2, seed)
        with pytest.raises(
            ManifestError,
            match=(
                r"shots_per_class=2: the 2 adaptation speaker\(s\) of urdu \(ur\) \(.+\) have angry \d+, happy \d+, "
                r"neutral \d+, sad \d+ utterances, too few of .*adaptation_speakers: cover"
            ),
        ):
            draw_shots(adaptation, per_class=2, seed=seed, population=target)
    with pytest.raises(ManifestError, match="too few of"):
        draw_shots([u for u in target if u.label != "sad"], per_class=1, population=target)
    with pytest.raises(ManifestError, match=r"shots_fraction=0.5: .* too few of sad; every class needs at least 1"):
        draw_shots([u for u in target if u.label != "sad"], fraction=0.5, population=target)


@pytest.mark.parametrize("k", [5, 20])
def test_cover_sets_aside_speakers_holding_k_of_every_class_and_tests_every_class_on_the_others(k):
    target = urdu_like()
    seen = set()
    for seed in range(3):
        adaptation, test = adaptation_split(target, "cover", seed, cover_per_class=20)
        shots = draw_shots(adaptation, per_class=k, seed=seed, population=target)
        assert Counter(u.label for u in shots) == {label: k for label in URDU_SPEAKERS}
        assert not {u.speaker for u in adaptation} & {u.speaker for u in test}
        assert {u.label for u in test} == set(URDU_SPEAKERS) and len(adaptation) + len(test) == len(target)
        seen.add(frozenset(u.speaker for u in adaptation))
    assert len(seen) == 3  # each seed its own adaptation speakers


def test_cover_keeps_the_test_set_of_a_seed_for_every_k_and_nests_the_shots():
    target = urdu_like()
    adaptation, test = adaptation_split(target, "cover", 4, cover_per_class=20)
    again, test_again = adaptation_split(target, "cover", 4, cover_per_class=20)
    assert test == test_again and adaptation == again
    small, large = (draw_shots(adaptation, per_class=k, seed=4, population=target) for k in (5, 20))
    assert {u.path for u in small} < {u.path for u in large}


def test_cover_is_minimal_and_refuses_with_numbers_when_impossible():
    target = urdu_like()
    adaptation, _ = adaptation_split(target, "cover", 0, cover_per_class=20)
    per_speaker = {s: Counter(u.label for u in adaptation if u.speaker == s) for s in {u.speaker for u in adaptation}}
    for speaker in per_speaker:  # every chosen speaker is needed: without it some class falls below 20
        rest = sum((c for s, c in per_speaker.items() if s != speaker), Counter())
        assert any(rest[label] < 20 for label in URDU_SPEAKERS)
    with pytest.raises(ManifestError, match=r"cover with 100 per class: urdu \(ur\) has angry 100, happy 100, neutral 100, sad 100 utterances"):
        adaptation_split(target, "cover", 0, cover_per_class=100)
    with pytest.raises(ManifestError, match="leaves every class a test speaker"):
        adaptation_split(target, "cover", 0, cover_per_class=99)  # 100 of each class, but every speaker has at least 2
    with pytest.raises(ValueError, match="cover_per_class"):
        check_adaptation_options("cover", None, 0)
    with pytest.raises(ValueError, match="more than cover_per_class"):
        check_adaptation_options("cover", 5, 20)


def test_cover_in_the_datamodule_and_its_summary(small_corpus):
    dm = fewshot(small_corpus, adaptation_speakers="cover", cover_per_class=2, shots_per_class=1)
    assert Counter(u.label for u in dm.shots) == {"angry": 1, "happy": 1, "neutral": 1, "sad": 1}
    summary = dm.summary
    assert summary["shots"] == {"synthetic/ur": {"angry": 1, "happy": 1, "neutral": 1, "sad": 1}}
    tested = summary["splits"]["test"]["target:synthetic/ur"]
    assert tested["speakers"] == len(target_test_speakers(dm)) and sum(tested["classes"].values()) == Counter(dm.datasets["test"].roles)["target"]
    assert summary["splits"]["train"]["target:synthetic/ur"]["classes"] == {"angry": 1, "happy": 1, "neutral": 1, "sad": 1}
    assert summary["adaptation_speakers"]["synthetic/ur"] == sorted({u.speaker for u in dm.adaptation})


def test_the_data_seed_follows_seed_everything_unless_given(small_corpus, monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "5")
    follows = fewshot(small_corpus, adaptation_speakers=1, shots_per_class=1)
    fixed = fewshot(small_corpus, adaptation_speakers=1, shots_per_class=1, seed=5)
    assert follows.seed == 5 and [u.path for u in follows.shots] == [u.path for u in fixed.shots]
    monkeypatch.setenv("PL_GLOBAL_SEED", "6")
    assert fewshot(small_corpus, adaptation_speakers=1, shots_per_class=1, seed=5).seed == 5

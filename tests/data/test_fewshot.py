"""Few-shot target data: set-aside speakers, k shots per class, nesting across k, seeds, saved lists, errors."""

from collections import Counter

import pytest

from ser_lightning.data import CrossLingualDataModule, ManifestError, SyntheticCorpus, read_manifest
from ser_lightning.data.fewshot import draw_shots
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
    with pytest.raises(ManifestError, match=r"shots_per_class=3 but the 1 adaptation speaker\(s\) of synthetic \(ur\) have only 2 'angry' utterances"):
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

    dm = CrossLingualDataModule(
        sources=[SyntheticCorpus(str(small_corpus), languages=["en", "de", "it"], **CORPUS)],
        targets=[SyntheticCorpus(str(small_corpus), languages=["ur"], **CORPUS)],
        batch_size=8, adaptation_speakers=1, shots_per_class=2,
    )  # fmt: skip
    model = EmotionRecognizer(CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8), num_classes=4, head_hidden=0)
    trainer = L.Trainer(max_steps=1, log_every_n_steps=1, default_root_dir=tmp_path, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=dm)
    saved = read_manifest(tmp_path / "lightning_logs" / "version_0" / "shots.jsonl")
    assert [(u.path, u.label, u.speaker) for u in saved] == [(u.path, u.label, u.speaker) for u in dm.shots]

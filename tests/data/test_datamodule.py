import shutil

import pytest
import torch
from audiomentations import AddGaussianSNR

from ser_lightning.data import CrossLingualDataModule, ManifestCorpus, ManifestError, SERDataModule, SyntheticCorpus, SyntheticDataModule
from ser_lightning.data.audio import AudioError, load_audio
from ser_lightning.data.splits import speaker_key

from ..conftest import SMALL_SPEC


def cross_lingual(root, **kwargs):
    return CrossLingualDataModule(
        sources=[SyntheticCorpus(str(root), languages=["en", "de", "it"], speakers_per_language=3, sentences_per_language=2)],
        targets=[SyntheticCorpus(str(root), languages=["ur"], speakers_per_language=3, sentences_per_language=2)],
        batch_size=4,
        **kwargs,
    )


def test_cross_lingual_roles_languages_and_speaker_independence(small_corpus):
    dm = cross_lingual(small_corpus)
    dm.prepare_data()
    dm.setup("fit")
    train, val, test = (dm.datasets[name] for name in ("train", "val", "test"))
    assert {u.language for u in train.utterances} == {"en", "de", "it"}
    assert {u.language for u in val.utterances} == {"en", "de", "it"}
    targets = [u for u, role in zip(test.utterances, test.roles) if role == "target"]
    assert {u.language for u in targets} == {"ur"} and len({u.speaker for u in targets}) == 3
    assert {u.language for u, role in zip(test.utterances, test.roles) if role == "source"} == {"en", "de", "it"}
    trained = {speaker_key(u) for u in train.utterances}
    assert not trained & {speaker_key(u) for u in val.utterances + test.utterances}
    assert dm.test_group_values("role") == ["source", "target"]
    assert dm.test_group_values("language") == ["de", "en", "it", "ur"]
    assert dm.num_classes == 4 and dm.label_names == ["angry", "happy", "neutral", "sad"]


def test_batches_hold_waves_lengths_labels_and_meta(small_corpus):
    dm = cross_lingual(small_corpus)
    dm.setup("fit")
    batch = next(iter(dm.test_dataloader()))
    assert batch["waves"].dtype == torch.float32 and batch["waves"].shape[0] == 4
    assert int(batch["lengths"].max()) == batch["waves"].shape[1]
    assert set(batch["labels"].tolist()) <= {0, 1, 2, 3}
    assert set(batch["meta"]) == {"path", "speaker", "language", "corpus", "role"}


def test_train_crop_limits_length(small_corpus):
    dm = cross_lingual(small_corpus, max_train_seconds=0.5)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["waves"].shape[1] <= 8000


def test_noise_augmentation_touches_training_audio_only(small_corpus):
    dm = cross_lingual(small_corpus, train_augment=[AddGaussianSNR(min_snr_db=5.0, max_snr_db=5.0, p=1.0)])
    dm.setup("fit")
    train, test = dm.datasets["train"], dm.datasets["test"]
    clean = load_audio(train.utterances[0].path, 16000)
    noisy = train[0]["wave"]
    assert noisy.shape == clean.shape and not torch.allclose(noisy, clean)
    snr = 10 * torch.log10(clean.pow(2).mean() / (noisy - clean).pow(2).mean())
    assert abs(float(snr) - 5.0) < 0.5
    assert torch.equal(test[0]["wave"], load_audio(test.utterances[0].path, 16000))


def test_a_target_speaker_that_is_also_trained_on_is_an_error(small_corpus):
    dm = CrossLingualDataModule(
        sources=[SyntheticCorpus(str(small_corpus), **SMALL_SPEC)],
        targets=[SyntheticCorpus(str(small_corpus), languages=["ur"], **SMALL_SPEC)],
    )
    with pytest.raises(ManifestError, match="also source speakers"):
        dm.setup("fit")


def test_epochs_reshuffle_and_a_resumed_epoch_matches_an_uninterrupted_one(small_corpus):
    dm = cross_lingual(small_corpus)
    dm.setup("fit")
    loader = dm.train_dataloader()
    orders = []
    for epoch in range(3):
        loader.batch_sampler.sampler.set_epoch(epoch)  # what Lightning does at every epoch start
        orders.append(list(loader.batch_sampler))
    assert orders[0] != orders[1] != orders[2]
    fresh = cross_lingual(small_corpus)
    fresh.setup("fit")
    resumed = fresh.train_dataloader()
    resumed.batch_sampler.sampler.set_epoch(2)
    assert list(resumed.batch_sampler) == orders[2]


def test_synthetic_datamodule_generates_on_first_use(tmp_path):
    dm = SyntheticDataModule(root=str(tmp_path / "syn"), languages=["en"], speakers_per_language=3, sentences_per_language=1, batch_size=2)
    dm.prepare_data()
    assert (tmp_path / "syn" / "manifest.jsonl").is_file()
    dm.setup("fit")
    assert sum(len(d) for d in dm.datasets.values()) == 12


def test_synthetic_corpus_refuses_a_tree_made_with_other_settings(small_corpus):
    corpus = SyntheticCorpus(str(small_corpus), speakers_per_language=SMALL_SPEC["speakers_per_language"], sentences_per_language=2, seed=7)
    with pytest.raises(ManifestError, match="another `root`"):
        corpus.prepare()


def test_empty_corpus_folder_is_named(tmp_path):
    empty = tmp_path / "empty_corpus"
    empty.mkdir()
    dm = SERDataModule(corpora=[ManifestCorpus(str(empty))])
    with pytest.raises(ManifestError, match="empty_corpus"):
        dm.prepare_data()
    (empty / "manifest.jsonl").write_text("")
    with pytest.raises(ManifestError, match="empty_corpus.*no utterances"):
        dm.setup("fit")


def test_missing_root_is_named(tmp_path):
    with pytest.raises(ManifestError, match="not_here"):
        ManifestCorpus(str(tmp_path / "not_here")).prepare()


@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_missing_or_unreadable_audio_fails_at_setup_naming_the_file(small_corpus, tmp_path, damage):
    root = tmp_path / "copy"
    shutil.copytree(small_corpus, root)
    victim = sorted(root.glob("ur/*/*.wav"))[0]
    if damage == "delete":
        victim.unlink()
    else:
        victim.write_bytes(b"RIFF garbage")
    dm = cross_lingual(root)
    with pytest.raises(AudioError, match=victim.name):
        dm.setup("fit")


def test_labels_outside_the_space_are_dropped_and_an_empty_space_is_an_error(small_corpus):
    dm = SERDataModule(corpora=[SyntheticCorpus(str(small_corpus), **SMALL_SPEC)], label_names=["angry", "sad"])
    dm.setup("fit")
    assert {u.label for d in dm.datasets.values() for u in d.utterances} == {"angry", "sad"}
    dm = SERDataModule(corpora=[SyntheticCorpus(str(small_corpus), **SMALL_SPEC)], label_names=["fear", "disgust"])
    with pytest.raises(ManifestError, match="no utterance has a label"):
        dm.setup("fit")


def test_an_empty_split_fails_every_setup_call(small_corpus):
    dm = SERDataModule(corpora=[SyntheticCorpus(str(small_corpus), **SMALL_SPEC)], val_speakers=0)
    for stage in ("fit", "test"):  # nothing half-built is left behind for the next stage's setup
        with pytest.raises(ManifestError, match="val split is empty"):
            dm.setup(stage)


def test_the_seconds_budget_and_class_balanced_batches_reach_the_loaders(small_corpus):
    dm = cross_lingual(small_corpus, max_batch_seconds=4.0)
    dm.prepare_data()
    dm.setup("fit")
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        for batch in loader:
            assert len(batch["lengths"]) == 1 or len(batch["lengths"]) * int(batch["lengths"].max()) <= 4.0 * 16000
    assert dm.train_dataloader().batch_sampler.labels is not None
    plain = cross_lingual(small_corpus, balance_batches=False)
    plain.setup("fit")
    assert plain.train_dataloader().batch_sampler.labels is None
    with pytest.raises(ValueError, match="max_batch_seconds must be positive"):
        cross_lingual(small_corpus, max_batch_seconds=0)


def test_a_fixed_test_noise_seed_gives_an_utterance_the_same_noise_in_every_seeds_runs(small_corpus):
    def noisy_targets(seed, **kwargs):
        dm = cross_lingual(small_corpus, seed=seed, test_snrs=[10], **kwargs)
        dm.prepare_data()
        dm.setup("test")
        test = dm.datasets["test"]
        return {u.path: test[i]["wave"] for i, (u, role) in enumerate(zip(test.utterances, test.roles)) if role == "target"}

    first, second = noisy_targets(0, test_noise_seed=7), noisy_targets(1, test_noise_seed=7)
    assert first.keys() == second.keys() and all(torch.equal(first[path], second[path]) for path in first)  # Urdu is tested whole by both
    following = noisy_targets(1)  # null follows the data seed: other noise
    assert not any(torch.equal(first[path], following[path]) for path in first)

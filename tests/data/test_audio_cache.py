"""DecodedAudio: decoded waves kept in memory between epochs, up to a size, and read again when their file changes."""

import os
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch
from audiomentations import AddGaussianSNR

from ser_lightning.data.audio import load_audio
from ser_lightning.data.audio_cache import DecodedAudio

from .test_datamodule import cross_lingual


def tone(path, seconds=0.5, rate=48000, level=0.3, hz=220.0):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (level * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)
    return path


@pytest.fixture
def decodes(monkeypatch):
    """The files DecodedAudio decoded, in order."""
    calls = []

    def counting(path, sample_rate):
        calls.append(os.path.basename(path))
        return load_audio(path, sample_rate)

    monkeypatch.setattr("ser_lightning.data.audio_cache.load_audio", counting)
    return calls


def test_a_kept_wave_is_served_without_decoding_until_its_file_changes(tmp_path, decodes):
    path = tone(tmp_path / "a.wav")
    audio = DecodedAudio(16000, max_mb=10)
    first = audio.load(path)
    assert torch.equal(first, load_audio(path, 16000)) and first.shape == (8000,)
    assert torch.equal(audio.load(path), first) and decodes == ["a.wav"]
    tone(path, level=0.6)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000))
    changed = audio.load(path)
    assert decodes == ["a.wav", "a.wav"] and torch.allclose(changed, 2 * first, atol=1e-3)
    assert (audio.hits, audio.misses, len(audio)) == (1, 2, 1)


def test_what_a_reader_changes_never_reaches_the_kept_wave(tmp_path):
    path = tone(tmp_path / "a.wav")
    audio = DecodedAudio(16000, max_mb=10)
    audio.load(path).mul_(0.0)
    served = audio.load(path)
    served[:100] = 5.0
    assert torch.equal(audio.load(path), load_audio(path, 16000))


def test_waves_are_kept_as_first_read_until_the_megabytes_are_spent(tmp_path, decodes):
    paths = [tone(tmp_path / f"{name}.wav") for name in "abc"]  # 8000 float32 samples = 32 kB each
    audio = DecodedAudio(16000, max_mb=0.07)  # room for two
    for index in (0, 1, 2, 0, 1, 2, 2):
        audio.load(paths[index])
    assert decodes == ["a.wav", "b.wav", "c.wav", "c.wav", "c.wav"]  # a and b stay; c is read every time
    assert len(audio) == 2 and audio.bytes == 64000 <= audio.max_bytes


def test_a_file_copied_over_a_kept_one_with_its_size_and_times_is_read_again(tmp_path, decodes):
    """As ``cp -p`` or ``rsync -a`` would leave it: same size, same modification time, other samples."""
    path, other = tone(tmp_path / "a.wav"), tone(tmp_path / "b.wav", level=0.6)
    audio = DecodedAudio(16000, max_mb=10)
    first = audio.load(path)
    times = os.stat(path)
    os.replace(other, path)
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert os.stat(path).st_size == times.st_size and os.stat(path).st_mtime_ns == times.st_mtime_ns
    assert torch.allclose(audio.load(path), 2 * first, atol=1e-3) and decodes == ["a.wav", "a.wav"]


def test_a_file_that_breaks_after_it_was_kept_is_skipped_as_without_the_cache(small_corpus, tmp_path):
    import shutil

    root = tmp_path / "corpus"
    shutil.copytree(small_corpus, root)
    dm = cross_lingual(root, on_bad_audio="skip")
    dm.setup("fit")
    train = dm.datasets["train"]
    assert train[(0, 0, 0)] is not None and len(dm.audio) == 1
    broken = train.utterances[0].path
    with open(broken, "r+b") as handle:
        handle.truncate(44)  # a header without samples
    with pytest.warns(UserWarning, match="Skipped while training"):
        assert train[(1, 0, 0)] is None
    assert len(dm.audio) == 0


def test_pickling_carries_the_settings_not_the_waves(tmp_path):
    import copy
    import pickle

    audio = DecodedAudio(16000, max_mb=10)
    audio.load(tone(tmp_path / "a.wav"))
    for clone in (pickle.loads(pickle.dumps(audio)), copy.deepcopy(audio)):
        assert (len(clone), clone.bytes, clone.max_bytes, clone.sample_rate) == (0, 0, audio.max_bytes, 16000)
    assert len(audio) == 1


def test_zero_megabytes_keeps_nothing_and_a_negative_size_is_refused(tmp_path, decodes):
    path = tone(tmp_path / "a.wav")
    audio = DecodedAudio(16000, max_mb=0)
    audio.load(path)
    audio.load(path)
    assert decodes == ["a.wav", "a.wav"] and len(audio) == 0
    for bad in (-1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="audio_cache_mb must be 0"):
            DecodedAudio(16000, max_mb=bad)


def test_dataloader_workers_share_the_megabytes(tmp_path, monkeypatch, decodes):
    paths = [tone(tmp_path / f"{name}.wav") for name in "ab"]
    monkeypatch.setattr("ser_lightning.data.audio_cache.get_worker_info", lambda: SimpleNamespace(num_workers=2))
    audio = DecodedAudio(16000, max_mb=0.07)  # two waves in one process, one per worker of two
    for path in paths + paths:
        audio.load(path)
    assert decodes == ["a.wav", "b.wav", "b.wav"] and len(audio) == 1


def test_a_loader_with_two_workers_gives_the_same_batches(small_corpus):
    """Workers start from the DataModule's (empty) cache and keep their own share; batches equal the uncached ones."""
    cached, plain = cross_lingual(small_corpus, num_workers=2), cross_lingual(small_corpus, num_workers=2, audio_cache_mb=0)
    for dm in (cached, plain):
        dm.setup("fit")
    for _ in range(2):
        for with_cache, without in zip(cached.val_dataloader(), plain.val_dataloader()):
            assert torch.equal(with_cache["waves"], without["waves"]) and with_cache["meta"]["path"] == without["meta"]["path"]


def test_a_missing_file_is_named_as_without_the_cache(tmp_path):
    from ser_lightning.data.audio import AudioError

    with pytest.raises(AudioError, match="gone.wav does not exist"):
        DecodedAudio(16000, max_mb=10).load(tmp_path / "gone.wav")


def test_a_datamodules_items_are_the_same_with_and_without_the_cache(small_corpus):
    """Crops, augmentation and test noise are drawn on a copy: every item of two epochs equals the uncached one."""
    options = dict(max_train_seconds=0.6, train_augment=[AddGaussianSNR(min_snr_db=5.0, max_snr_db=15.0, p=1.0)], test_snrs=[None, 10])
    cached, plain = cross_lingual(small_corpus, **options), cross_lingual(small_corpus, audio_cache_mb=0, **options)
    for dm in (cached, plain):
        dm.setup("fit")
    for split in ("train", "val", "test"):
        cached_set, plain_set = cached.datasets[split], plain.datasets[split]
        for epoch in (0, 1):
            for index in range(len(plain_set)):
                key = (epoch, index, index) if split == "train" else index
                assert torch.equal(cached_set[key]["wave"], plain_set[key]["wave"]), (split, epoch, index)
    assert cached.audio.misses == len({u.path for name in ("train", "val", "test") for u in cached.datasets[name].utterances})
    assert cached.audio.hits > cached.audio.misses and len(plain.audio) == 0

import numpy as np
import pytest
import soundfile as sf
import torch

from ser_lightning.data.audio import AudioError, load_audio, probe, random_crop


def test_stereo_44k_becomes_mono_16k(tmp_path):
    t = np.arange(44100) / 44100
    left = np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / "s.wav", np.stack([left, np.zeros_like(left)], axis=1) * 0.8, 44100)
    wave = load_audio(tmp_path / "s.wav", 16000)
    assert wave.dtype == torch.float32
    assert wave.ndim == 1 and abs(wave.shape[0] - 16000) <= 1
    assert float(wave[100:-100].abs().max()) == pytest.approx(0.4, abs=0.02)  # the mean of both channels
    assert probe(tmp_path / "s.wav") == pytest.approx((1.0, 44100))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(AudioError, match="gone.wav"):
        load_audio(tmp_path / "gone.wav", 16000)
    with pytest.raises(AudioError, match="gone.wav"):
        probe(tmp_path / "gone.wav")


def test_unreadable_file_is_named(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"not a wav at all")
    with pytest.raises(AudioError, match="bad.wav"):
        load_audio(tmp_path / "bad.wav", 16000)
    with pytest.raises(AudioError, match="bad.wav"):
        probe(tmp_path / "bad.wav")


def test_random_crop_bounds():
    wave = torch.arange(100.0)
    crop = random_crop(wave, 30, generator=torch.Generator().manual_seed(0))
    assert crop.shape[0] == 30 and crop[-1] - crop[0] == 29
    assert random_crop(wave, 200) is wave

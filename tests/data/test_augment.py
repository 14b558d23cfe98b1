"""Training augmentation pipeline and deterministic evaluation noise at fixed SNRs."""

import numpy as np
import pytest
import soundfile as sf
import torch
from audiomentations import AddGaussianSNR, Gain

from ser_lightning.data.augment import EvaluationNoise, add_noise, compose_augmentations
from ser_lightning.naming import snr_tag


def measured_snr(clean: torch.Tensor, noisy: torch.Tensor) -> float:
    return float(10 * torch.log10(clean.pow(2).mean() / (noisy - clean).pow(2).mean()))


def test_white_evaluation_noise_hits_the_snr_and_depends_only_on_utterance_snr_and_seed():
    wave = torch.sin(torch.arange(16000) / 10.0) * 0.3
    noise = EvaluationNoise(16000)
    first = noise(wave, "c/s/a.wav", 10.0)
    assert abs(measured_snr(wave, first) - 10.0) < 1e-3
    assert torch.equal(first, EvaluationNoise(16000)(wave, "c/s/a.wav", 10.0))
    assert not torch.equal(first - wave, (noise(wave, "c/s/b.wav", 10.0) - wave))
    assert not torch.equal(first, EvaluationNoise(16000, seed=1)(wave, "c/s/a.wav", 10.0))
    assert abs(measured_snr(wave, noise(wave, "c/s/a.wav", 0.0)) - 0.0) < 1e-3


def test_evaluation_noise_from_files_picks_a_seeded_file_and_offset(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("babble.wav", "street.flac"):
        sf.write(tmp_path / name, rng.standard_normal(4000).astype(np.float32) * 0.1, 8000)  # 0.5 s at 8 kHz: resampled and looped
    (tmp_path / "notes.txt").write_text("not audio")
    noise = EvaluationNoise(16000, str(tmp_path))
    assert [p.rsplit("/", 1)[1] for p in noise.files] == ["babble.wav", "street.flac"]
    wave = torch.randn(24000) * 0.2
    noisy = noise(wave, "c/s/a.wav", 5.0)
    assert abs(measured_snr(wave, noisy) - 5.0) < 1e-3
    assert torch.equal(noisy, EvaluationNoise(16000, str(tmp_path))(wave, "c/s/a.wav", 5.0))


def test_a_bad_noise_folder_is_refused_with_the_option_named(tmp_path):
    with pytest.raises(ValueError, match="test_noise_dir .* is not a folder"):
        EvaluationNoise(16000, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="test_noise_dir .* holds no audio files"):
        EvaluationNoise(16000, str(tmp_path))


def test_silence_stays_silent_and_tags_name_snrs():
    assert torch.equal(add_noise(torch.zeros(100), torch.randn(100), 10.0), torch.zeros(100))
    assert [snr_tag(s) for s in (None, 20, 7.5, 0.0)] == ["clean", "20", "7.5", "0"]


def test_the_training_pipeline_applies_each_transform_with_its_probability():
    pipeline = compose_augmentations([Gain(min_gain_db=6.0, max_gain_db=6.0, p=1.0), AddGaussianSNR(min_snr_db=40.0, max_snr_db=40.0, p=0.0)])
    samples = np.full(100, 0.1, dtype=np.float32)
    assert np.allclose(pipeline(samples=samples, sample_rate=16000), 0.1 * 10 ** (6 / 20), atol=1e-6)
    assert compose_augmentations(None) is None and compose_augmentations([]) is None

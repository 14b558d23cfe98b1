import numpy as np
import pytest
import soundfile as sf
import torch

from ser_lightning.data.audio import AudioError, load_audio, probe, random_crop, wav_header


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


def test_a_rate_without_a_small_common_ratio_resamples_exactly(tmp_path):
    """TESS's 24,414 Hz: a 440 Hz tone comes out as the same tone at 16 kHz (soxr; torchaudio's kernel would be 8,000 x 12,207)."""
    t = np.arange(24414) / 24414
    sf.write(tmp_path / "tess.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 24414, subtype="FLOAT")
    wave = load_audio(tmp_path / "tess.wav", 16000)
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    assert wave.dtype == torch.float32 and abs(wave.shape[0] - 16000) <= 1
    assert np.abs(wave.numpy()[200:-200] - expected[200 : wave.shape[0] - 200]).max() < 1e-3


@pytest.mark.parametrize(
    ("fmt", "subtype", "channels", "rate"),
    [("WAV", "PCM_16", 1, 16000), ("WAV", "PCM_24", 2, 44100), ("WAV", "FLOAT", 1, 24414), ("WAV", "PCM_U8", 1, 8000), ("WAVEX", "PCM_16", 2, 48000)],
)
def test_the_fast_wav_header_reader_agrees_with_soundfile(tmp_path, fmt, subtype, channels, rate):
    path = tmp_path / "x.wav"
    with sf.SoundFile(path, "w", rate, channels, subtype=subtype, format=fmt) as handle:
        handle.title = "a LIST chunk before the data"
        handle.write(np.zeros((1234, channels)))
    info = sf.info(path)
    assert wav_header(path) == (info.frames, info.samplerate) == (1234, rate)


def test_truncated_or_compressed_wavs_fall_back_to_soundfile(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, np.zeros(1000), 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:-500])  # the data chunk claims more than the file holds
    assert wav_header(path) is None and probe(path) == pytest.approx((750 / 16000, 16000))
    adpcm = tmp_path / "adpcm.wav"
    sf.write(adpcm, np.zeros(2000), 16000, subtype="IMA_ADPCM")
    assert wav_header(adpcm) is None and probe(adpcm)[1] == 16000
    flac = tmp_path / "x.flac"
    sf.write(flac, np.zeros(800), 16000)
    assert probe(flac) == pytest.approx((0.05, 16000))

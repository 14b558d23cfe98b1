"""Speech segments by Silero VAD on generated long recordings: found where the truth says, fitted to the window,
the same as the package's streaming model, offline, and refused settings named."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ser_lightning.data.audio_files import AudioFiles
from ser_lightning.data.long_recordings import boundary_errors, make_long_recordings
from ser_lightning.data.manifest import read_manifest
from ser_lightning.data.segments import SpeechDetector, _sequence_model, fit_to_window


@pytest.fixture(scope="module")
def recording(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    """One generated long recording: 10 utterances of the small corpus, pauses of 0.8-2.5 s, pink noise at 20 dB SNR."""
    utterances = read_manifest(small_corpus / "manifest.jsonl")
    return make_long_recordings(utterances, tmp_path_factory.mktemp("long"), per_recording=10, snr_db=20.0, seed=3)[0]


def found_spans(data: AudioFiles) -> list[tuple[float, float]]:
    data.setup("predict")
    data.predict_dataloader()
    return [(w.start / w.file_rate, w.stop / w.file_rate) for w in data.dataset.windows]


def test_vad_finds_every_utterance_of_a_generated_long_recording_within_a_fraction_of_a_second(recording):
    found = found_spans(AudioFiles(recording.path, segment="vad"))
    errors = boundary_errors(recording.segments, found)
    assert (errors.found, errors.missed, errors.extra) == (10, 0, 0)
    assert errors.median_start < 0.25 and errors.median_end < 0.35
    for (start, end), truth in zip(found, recording.segments):  # each found segment holds its utterance's middle
        assert start < (truth.start + truth.end) / 2 < end


def test_a_shorter_window_cuts_long_segments_into_equal_parts_that_fit(recording):
    found = found_spans(AudioFiles(recording.path, segment="vad", window_seconds=1.0))
    assert len(found) > 10 and max(end - start for start, end in found) <= 1.0 + 1e-3
    assert fit_to_window([(0.0, 2.5), (3.0, 3.4)], 1.0) == [(0.0, 2.5 / 3), (2.5 / 3, 5.0 / 3), (5.0 / 3, 2.5), (3.0, 3.4)]
    assert fit_to_window([(0.0, 2.0)], 1.0) == [(0.0, 1.0), (1.0, 2.0)] and fit_to_window([(0.0, 9.0)], None) == [(0.0, 9.0)]


@pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning")  # inside silero_vad's loader
def test_the_sequence_model_finds_what_the_streaming_onnx_model_finds(recording):
    import silero_vad

    wave, rate = sf.read(recording.path, dtype="float32")
    detector = SpeechDetector(min_silence_seconds=0.3, padding_seconds=0.05)
    streaming = silero_vad.get_speech_timestamps(
        torch.from_numpy(wave), silero_vad.load_silero_vad(onnx=True), min_silence_duration_ms=300, speech_pad_ms=50
    )
    assert detector.find(wave, rate) == [(stamp["start"] / rate, stamp["end"] / rate) for stamp in streaming]


def test_the_vad_runs_without_a_network(recording, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    _sequence_model.cache_clear()
    wave, rate = sf.read(recording.path, dtype="float32")
    assert len(SpeechDetector().find(wave, rate)) == 10


def test_a_file_without_speech_is_named_in_one_warning_and_gets_no_segment(recording, tmp_path):
    quiet = tmp_path / "hum.wav"
    sf.write(quiet, (0.01 * np.random.default_rng(0).standard_normal(48000)).astype(np.float32), 16000)
    with pytest.warns(UserWarning, match=r"no speech in 1 of 2 files.*hum\.wav.*vad_threshold"):
        found = found_spans(AudioFiles([recording.path, str(quiet)], segment="vad"))
    assert len(found) == 10


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [("vad_threshold", 1.5, "vad_threshold must be a probability"), ("vad_min_silence_seconds", -1.0, "vad_min_silence_seconds must be")],
)
def test_vad_settings_out_of_range_are_refused_naming_the_option(option, value, match):
    with pytest.raises(ValueError, match=match):
        AudioFiles("x.wav", segment="vad", **{option: value})

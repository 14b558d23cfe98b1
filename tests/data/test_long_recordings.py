"""The long-recording generator writes what its truth says, and the scores of a segmentation are what they should be."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_lightning.data.long_recordings import Segment, boundary_errors, make_long_recordings, segment_labels, unweighted_accuracy
from ser_lightning.data.manifest import read_manifest


def level_db(wave: np.ndarray) -> float:
    return 20 * math.log10(float(np.sqrt(np.mean(wave**2))) + 1e-12)


def test_generated_recordings_hold_speech_where_the_truth_says_and_noise_between(small_corpus: Path, tmp_path):
    utterances = read_manifest(small_corpus / "manifest.jsonl")
    made = make_long_recordings(utterances, tmp_path, recordings=2, per_recording=6, pause_seconds=(1.0, 1.5), snr_db=15.0, seed=1)
    rows = list(csv.DictReader((tmp_path / "segments.csv").open()))
    assert len(made) == 2 and len(rows) == 12 and {row["recording"] for row in rows} == {r.path for r in made}
    for recording in made:
        wave, rate = sf.read(recording.path)
        assert len(wave) / rate == pytest.approx(recording.duration, abs=1e-3)
        assert len({s.source for s in recording.segments}) == 6  # no utterance twice in one recording
        gaps = [b.start - a.end for a, b in zip(recording.segments, recording.segments[1:])]
        assert all(1.0 - 1e-3 <= gap <= 1.5 + 1e-3 for gap in gaps)
        speech = np.concatenate([wave[int(s.start * rate) : int(s.end * rate)] for s in recording.segments])
        pairs = zip(recording.segments, recording.segments[1:])
        pauses = np.concatenate([wave[int((a.end + 0.2) * rate) : int((b.start - 0.2) * rate)] for a, b in pairs])
        assert level_db(speech) - level_db(pauses) == pytest.approx(15.0, abs=1.5)  # the noise sits at the SNR asked for
    with pytest.raises(ValueError, match="at least one utterance"):
        make_long_recordings([], tmp_path)


def test_boundary_errors_and_segment_labels_score_a_known_segmentation():
    truth = [Segment(1.0, 2.0, "sad", "a"), Segment(4.0, 6.0, "angry", "b"), Segment(8.0, 9.0, "sad", "c")]
    found = [(0.9, 2.2), (4.1, 6.0), (10.0, 11.0)]
    errors = boundary_errors(truth, found)
    assert (errors.missed, errors.extra, errors.truth, errors.found) == (1, 1, 3, 3)
    assert errors.median_start == pytest.approx(0.1) and errors.median_end == pytest.approx(0.1)
    assert errors.start_offsets == pytest.approx((-0.1, 0.1)) and errors.end_offsets == pytest.approx((0.2, 0.0))  # found - true
    both = errors + boundary_errors(truth[:1], [(1.5, 2.0)])
    assert (both.truth, both.found, both.missed) == (4, 4, 1) and both.start_offsets == pytest.approx((-0.1, 0.1, 0.5))
    rows = [(0.0, 3.0, [0.2, 0.8]), (3.0, 5.0, [0.9, 0.1]), (5.0, 8.5, [0.3, 0.7])]  # classes angry, sad
    labels = segment_labels(truth, rows, ["angry", "sad"])
    assert labels == ["sad", "angry", "sad"]  # 4-6 s: half of each of two rows, (0.9 + 0.3) / 2 for angry
    assert segment_labels(truth, [(20.0, 21.0, [1.0, 0.0])], ["angry", "sad"]) == [None, None, None]
    assert unweighted_accuracy(["sad", "angry", "sad"], ["sad", "sad", None]) == pytest.approx(0.25)

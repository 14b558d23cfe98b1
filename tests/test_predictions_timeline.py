"""The timeline picture: overlapping windows share their overlap, a 10-minute file and a file limit draw, PNG and SVG."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from ser_lightning.predictions_timeline import TAB10, _colours, _tick_step, draw_timeline, own_spans

LABELS = ["angry", "happy", "neutral", "sad"]


def test_overlapping_windows_meet_halfway_between_their_centres_and_segments_keep_their_span():
    assert own_spans([(0.0, 8.0), (4.0, 12.0), (8.0, 16.0)]) == [(0.0, 6.0), (6.0, 10.0), (10.0, 16.0)]
    assert own_spans([(1.0, 2.5), (4.0, 6.0)]) == [(1.0, 2.5), (4.0, 6.0)]


def test_a_ten_minute_file_and_more_files_than_the_limit_draw_legibly_as_png_and_svg(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for name, minutes in (("a.wav", 10), ("b.wav", 1), ("c.wav", 1)):
        start = 0.5
        while start < 60 * minutes - 3:
            end = start + rng.uniform(1.0, 3.0)
            rows.append((name, start, end, list(rng.dirichlet(np.ones(4)))))
            start = end + rng.uniform(0.5, 2.0)
    assert draw_timeline(rows, LABELS, tmp_path / "t.png", max_files=2) == 2
    image = imread(tmp_path / "t.png")
    assert image.shape[1] >= 1500 and image.shape[0] >= 2 * 2.4 * 110  # 14 in wide, 2.4 in a file at 110 dpi
    assert draw_timeline(rows, LABELS, tmp_path / "t.svg") == 3
    assert "<svg" in (tmp_path / "t.svg").read_text()[:500]
    assert _tick_step(600) == 60 and _tick_step(67) == 5  # minutes on a 10-minute file, 5 s on a minute


@pytest.mark.parametrize("names", [LABELS, ["calm", "surprised", "angry"], [f"c{i}" for i in range(9)]])
def test_every_class_gets_its_own_colour_and_emotions_their_usual_ones(names):
    colours = _colours(names)
    assert len(set(colours)) == len(names) and set(colours) <= set(TAB10)
    if "angry" in names:
        assert colours[names.index("angry")] == "#d62728"

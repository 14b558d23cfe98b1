"""Whisper's input window: a batch of 3 s clips through ``WhisperBackbone`` with the 30 s pre-training window versus a 3 s window.

The encoder is whisper-base-shaped with random weights (``backbone_speed.WHISPER``; no download),
forward only (a frozen probe, or inference), batch 4. The 3 s window is the shortest that holds the
clips, what ``window_seconds: 3`` gives. Each forward is timed and its peak memory taken as the rise of
the process's peak RSS (reset before the forward through ``/proc/self/clear_refs``) over the RSS before
it; windows alternate, the first round is warm-up, and medians are compared. The wider table of
shapes and windows stays in backbone_speed.py.
"""

from __future__ import annotations

import statistics
import time

import torch
from backbone_speed import WHISPER
from memory import rss
from report import Figure, figure, spread

from ser_lightning.models import WhisperBackbone
from tests.models.tiny import TINY_WHISPER

CLIP_SECONDS = 3.0
WINDOWS = (30.0, CLIP_SECONDS)


def peak_rss() -> int:
    """Peak resident bytes since the last :func:`reset_peak`."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmHWM"))


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def forward(backbone: WhisperBackbone, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[float, int]:
    """Seconds and peak memory (bytes above the RSS before it) of one forward."""
    before = rss()
    reset_peak()
    start = time.perf_counter()
    with torch.no_grad():
        backbone(waves, lengths)
    return time.perf_counter() - start, peak_rss() - before


def figures(quick: bool = False) -> list[Figure]:
    shape, batch, rounds = ("tests' tiny", 2, 2) if quick else ("whisper-base", 4, 4)
    config = TINY_WHISPER if quick else {"model_type": "whisper", "num_mel_bins": 80, "decoder_layers": 1, **WHISPER[shape]}
    torch.manual_seed(0)
    backbones = {w: WhisperBackbone(None, pretrained=False, config=config, window_seconds=w).eval() for w in WINDOWS}
    waves = 0.1 * torch.randn(batch, int(CLIP_SECONDS * 16000))
    lengths = torch.full((batch,), waves.shape[1])
    times: dict[float, list[float]] = {w: [] for w in WINDOWS}
    peaks: dict[float, list[float]] = {w: [] for w in WINDOWS}
    for r in range(rounds):
        for w in WINDOWS if r % 2 == 0 else WINDOWS[::-1]:
            seconds, peak = forward(backbones[w], waves, lengths)
            if r:
                times[w].append(seconds)
                peaks[w].append(peak / 2**20)
    full, short = WINDOWS
    speed = statistics.median(times[full]) / statistics.median(times[short])
    memory = statistics.median(peaks[full]) / statistics.median(peaks[short])
    sizes = (
        f"{shape}-shaped random encoder, forward only, batch {batch} of {CLIP_SECONDS:g} s clips, {rounds - 1} alternating repeats after a warm-up"
    )
    return [
        figure(
            f"whisper: time, {full:g} s window / {short:g} s window",
            speed,
            "x",
            detail=(
                f"{full:g} s: {spread(times[full])} s per batch; {short:g} s: {spread(times[short])} s; {sizes} "
                "(WhisperBackbone's docstring: 5-10x at 4-8 s)"
            ),
        ),
        figure(
            f"whisper: peak memory, {full:g} s window / {short:g} s window",
            memory,
            "x",
            detail=f"peak RSS rise during the forward: {full:g} s: {spread(peaks[full])} MiB; {short:g} s: {spread(peaks[short])} MiB; {sizes}",
        ),
    ]

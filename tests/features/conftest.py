"""Fixtures for the feature cache: a small corpus of short WAVs written in tmp_path, and a frozen probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ser_lightning.data import ManifestCorpus, SERDataModule
from ser_lightning.models import CNNLSTM, EmotionRecognizer

LABELS = ("angry", "happy", "neutral", "sad")


def write_corpus(root: Path, speakers: int = 3, per_label: int = 2, sample_rate: int = 16000, seed: int = 0) -> Path:
    """``speakers`` x 4 emotions x ``per_label`` WAVs of 0.3-0.9 s (a tone per emotion plus noise) and their manifest."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    records = []
    for speaker in range(speakers):
        for label_index, label in enumerate(LABELS):
            for take in range(per_label):
                seconds = rng.uniform(0.3, 0.9)
                t = np.arange(int(seconds * sample_rate)) / sample_rate
                wave = 0.3 * np.sin(2 * np.pi * (150 + 100 * label_index + 20 * speaker) * t) + 0.05 * rng.standard_normal(t.size)
                name = f"s{speaker}_{label}_{take}.wav"
                sf.write(root / name, wave.astype(np.float32), sample_rate)
                records.append({"path": name, "label": label, "speaker": f"s{speaker}", "language": "en", "corpus": "tones"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "tones")


def datamodule(root: Path, **kwargs) -> SERDataModule:
    """One train, one val and one test speaker; batches of 4."""
    return SERDataModule([ManifestCorpus(str(root))], batch_size=4, **kwargs)


def probe(seed: int = 0, **kwargs) -> EmotionRecognizer:
    """A frozen CNN-LSTM (its weights drawn from ``seed``) under a small head, in training mode (frozen parts in eval mode)."""
    torch.manual_seed(seed)
    backbone = CNNLSTM(n_mels=32, channels=(4, 8), lstm_hidden=8, finetune="frozen")
    return EmotionRecognizer(backbone, num_classes=4, head_hidden=8, lr_head=1e-2, warmup=0, **kwargs).train()

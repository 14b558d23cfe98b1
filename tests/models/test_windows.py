"""One windowing rule: a clip longer than the backbone's window gets the same calibrated probabilities in test rows,
in ``predict`` and in ``probabilities``: the mean over its windows of ``softmax(logits / T)``."""

from __future__ import annotations

import lightning as L
import numpy as np
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from ser_lightning.data.batching import collate_utterances
from ser_lightning.models import EmotionRecognizer, WhisperBackbone
from ser_lightning.models.windows import window_starts, windowed_probabilities

from .tiny import TINY_WHISPER


def whisper_model() -> EmotionRecognizer:
    torch.manual_seed(0)
    backbone = WhisperBackbone(name_or_path=None, pretrained=False, config=TINY_WHISPER, window_seconds=2.0)
    model = EmotionRecognizer(backbone, num_classes=4, label_names=["angry", "happy", "neutral", "sad"], head_hidden=8).eval()
    model.temperature.fill_(2.5)
    return model


def test_windows_cover_the_clip_and_the_last_ends_at_its_end():
    assert window_starts(100, 40) == [0, 40, 60] and window_starts(40, 40) == [0] and window_starts(10, 40) == [0]


def test_a_long_clip_gets_the_mean_of_its_windows_calibrated_probabilities():
    model = whisper_model()
    wave = 0.1 * torch.randn(1, 5 * 16000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        calibrated, plain = windowed_probabilities(model, wave, torch.tensor([wave.shape[1]]), model.backbone.window_samples, model.temperature)
        windows = [wave[:, start : start + 32000] for start in window_starts(wave.shape[1], 32000)]
        logits = torch.cat([model(piece, torch.tensor([piece.shape[1]])) for piece in windows])
    assert torch.allclose(calibrated[0], (logits / 2.5).softmax(-1).mean(0), atol=1e-6)
    assert torch.allclose(plain[0], logits.softmax(-1).mean(0), atol=1e-6)


def test_a_long_clip_has_the_same_calibrated_probabilities_in_test_rows_and_in_predict(tmp_path):
    model = whisper_model()
    generator = np.random.default_rng(2)
    paths = []
    for name, seconds in (("long.wav", 5.3), ("short.wav", 1.5)):
        sf.write(tmp_path / name, (0.1 * generator.standard_normal(int(seconds * 16000))).astype("float32"), 16000)
        paths.append(str(tmp_path / name))
    items = [
        {"wave": torch.from_numpy(sf.read(path, dtype="float32")[0]), "label": 0, "meta": {"path": path, "role": "source", "language": "en"}}
        for path in paths
    ]
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.test(model, DataLoader(items, batch_size=2, collate_fn=collate_utterances), verbose=False)
    rows = model.test_rows
    predicted = {p.path: p for p in model.predict_files(paths, window_seconds=None, accelerator="cpu")}
    for i, path in enumerate(rows.meta["path"]):
        assert np.allclose(list(predicted[path].probabilities.values()), rows.probabilities[i], atol=1e-5), path
    assert not np.allclose(rows.probabilities, rows.uncalibrated)  # T = 2.5 is applied before the windows are averaged

"""Calibrated probabilities: temperature scaling on validation logits, ECE before and after, and T kept with the model."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from ser_lightning.data.batching import collate_utterances
from ser_lightning.models import CNNLSTM, EmotionRecognizer
from ser_lightning.models.calibration import expected_calibration_error, fit_temperature


def over_confident(n: int = 2000, accuracy: float = 0.7, scale: float = 12.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits that are right ``accuracy`` of the time but say so with near certainty (a softmax of about 1)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=generator)
    wrong = (labels + torch.randint(1, 4, (n,), generator=generator)) % 4
    predicted = torch.where(torch.rand(n, generator=generator) < accuracy, labels, wrong)
    logits = scale * torch.nn.functional.one_hot(predicted, 4).float() + torch.randn(n, 4, generator=generator)
    return logits, labels


def test_temperature_scaling_lowers_the_ece_of_an_over_confident_model():
    logits, labels = over_confident()
    held_out_logits, held_out_labels = over_confident(seed=1)
    temperature = fit_temperature(logits, labels)
    before = expected_calibration_error(held_out_logits.softmax(-1), held_out_labels)
    after = expected_calibration_error((held_out_logits / temperature).softmax(-1), held_out_labels)
    assert temperature > 2 and before > 0.25 and after < 0.05, (temperature, before, after)
    assert torch.equal((held_out_logits / temperature).argmax(-1), held_out_logits.argmax(-1))  # no prediction changes


def test_an_under_confident_model_gets_a_temperature_below_one_and_no_data_keeps_one():
    logits, labels = over_confident(scale=12.0)
    assert fit_temperature(logits / 40, labels) < 1
    with torch.inference_mode():  # as Lightning's validation hooks run
        assert fit_temperature(logits / 40, labels) < 1
    assert fit_temperature(torch.empty(0, 4), torch.empty(0, dtype=torch.long)) == 1.0


def tiny_backbone() -> CNNLSTM:
    torch.manual_seed(0)
    return CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8)


def batches(n: int = 16, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    items = [{"wave": torch.randn(4000, generator=generator), "label": i % 4, "meta": {"role": "source", "language": "en"}} for i in range(n)]
    return DataLoader(items, batch_size=4, collate_fn=collate_utterances)


def test_fit_keeps_the_validation_temperature_and_test_reports_ece_before_and_after(tmp_path):
    L.seed_everything(0, verbose=False)
    model = EmotionRecognizer(tiny_backbone(), num_classes=4, head_hidden=8, lr_head=1e-2)
    trainer = L.Trainer(max_epochs=3, logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, batches(), batches(n=24, seed=1))
    temperature = float(model.temperature)
    assert temperature != 1.0 and "val/temperature" in trainer.callback_metrics
    trainer.test(model, batches(seed=2), verbose=False)
    row = model.test_results["all"]
    assert {"ece", "ece_uncalibrated"} <= set(row) and 0 <= row["ece"] <= 1 and row["ece"] != row["ece_uncalibrated"]
    checkpoint = next(tmp_path.rglob("*.ckpt"))
    reloaded = EmotionRecognizer.load_from_checkpoint(checkpoint, backbone=tiny_backbone())
    assert float(reloaded.temperature) == pytest.approx(float(torch.load(checkpoint, weights_only=True)["state_dict"]["temperature"]))
    waves, lengths = torch.randn(2, 4000), torch.tensor([4000, 3000])
    reloaded.eval()
    with torch.no_grad():
        expected = (reloaded(waves, lengths) / reloaded.temperature).softmax(-1)
        assert torch.allclose(reloaded.probabilities(waves, lengths), expected)
        batch = {"waves": waves, "lengths": lengths, "meta": {"path": ["a", "b"]}}
        assert torch.allclose(reloaded.predict_step(batch, 0)["probabilities"], expected)


def test_a_checkpoint_written_before_calibration_loads_uncalibrated(tmp_path):
    model = EmotionRecognizer(tiny_backbone(), num_classes=4, head_hidden=8)
    trainer = L.Trainer(
        max_steps=1, logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, limit_val_batches=0
    )
    trainer.fit(model, batches())
    path = tmp_path / "old.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["state_dict"]["temperature"]
    torch.save(checkpoint, path)
    assert float(EmotionRecognizer.load_from_checkpoint(path, backbone=tiny_backbone()).temperature) == 1.0


def test_calibrate_false_keeps_the_plain_softmax(tmp_path):
    L.seed_everything(0, verbose=False)
    model = EmotionRecognizer(tiny_backbone(), num_classes=4, head_hidden=8, lr_head=1e-2, calibrate=False)
    trainer = L.Trainer(max_epochs=2, logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, batches(), batches(seed=1))
    trainer.test(model, batches(seed=2), verbose=False)
    row = model.test_results["all"]
    assert float(model.temperature) == 1.0 and row["ece"] == pytest.approx(row["ece_uncalibrated"])


def test_a_validation_split_without_every_class_or_with_few_utterances_keeps_the_temperature_and_says_why(tmp_path):
    one_class = [{"wave": torch.randn(4000), "label": 0, "meta": {"role": "source", "language": "en"}} for _ in range(24)]
    for validation, reason in ((DataLoader(one_class, batch_size=4, collate_fn=collate_utterances), "1 of 4 classes"), (batches(n=8), "8 utterance")):
        L.seed_everything(0, verbose=False)
        model = EmotionRecognizer(tiny_backbone(), num_classes=4, head_hidden=8, lr_head=1e-2)
        trainer = L.Trainer(max_epochs=2, logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
        with pytest.warns(UserWarning, match=f"Temperature scaling not fit: the validation split has {reason}"):
            trainer.fit(model, batches(), validation)
        assert float(model.temperature) == 1.0 and "val/temperature" not in trainer.callback_metrics


def test_calibrate_false_at_predict_applies_no_temperature_to_a_calibrated_checkpoint():
    model = EmotionRecognizer(tiny_backbone(), num_classes=4, head_hidden=8).eval()
    model.temperature.fill_(3.0)
    waves, lengths = torch.randn(2, 4000), torch.tensor([4000, 3000])
    batch = {"waves": waves, "lengths": lengths, "meta": {"path": ["a", "b"]}}
    with torch.no_grad():
        logits = model(waves, lengths)
        assert torch.allclose(model.predict_step(batch, 0)["probabilities"], (logits / 3.0).softmax(-1))
        model.hparams.calibrate = False  # what `predict --model.calibrate false` gives the checkpoint's model
        assert torch.allclose(model.predict_step(batch, 0)["probabilities"], logits.softmax(-1))
        assert torch.allclose(model.probabilities(waves, lengths), logits.softmax(-1))

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from ser_lightning.data.batching import collate_utterances
from ser_lightning.models import CNNLSTM, AttentiveStatisticsPooling, EmotionRecognizer


def tiny_model(**kwargs) -> EmotionRecognizer:
    return EmotionRecognizer(CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8), num_classes=4, head_hidden=8, **kwargs)


def batches(n=8):
    items = [{"wave": torch.randn(4000), "label": i % 4, "meta": {"role": "source", "language": "en"}} for i in range(n)]
    return DataLoader(items, batch_size=4, collate_fn=collate_utterances)


def test_hyperparameters_are_plain_data_without_modules():
    model = tiny_model(label_names=["a", "b", "c", "d"], class_weights=[1.0, 2.0, 1.0, 1.0])
    assert "backbone" not in model.hparams and model.hparams.pooling is None
    assert model.hparams.num_classes == 4 and list(model.hparams.label_names) == ["a", "b", "c", "d"]
    assert model.loss_fn.weight.tolist() == [1.0, 2.0, 1.0, 1.0]


def test_optimizer_has_separate_learning_rates_and_warms_up():
    model = tiny_model(lr_backbone=1e-4, lr_head=1e-2, warmup=2)
    trainer = L.Trainer(max_steps=10, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, batches(), batches())
    optimizer = trainer.optimizers[0]
    lrs = sorted(group["initial_lr"] for group in optimizer.param_groups)
    assert lrs == [1e-4, 1e-2]
    head_group = next(g for g in optimizer.param_groups if g["initial_lr"] == 1e-2)
    assert {id(p) for p in head_group["params"]} == {id(p) for p in list(model.head.parameters()) + list(model.pooling.parameters())}


@pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`")
def test_time_limited_training_without_epoch_count_uses_a_constant_schedule():
    class StopAfterThreeSteps(L.Callback):  # the time limit decides the schedule; three steps show it (on any machine)
        def on_train_batch_end(self, trainer, *args):
            trainer.should_stop = trainer.global_step >= 3

    model = tiny_model(warmup=0.1)
    trainer = L.Trainer(
        max_epochs=-1, max_time={"seconds": 60}, limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        callbacks=[StopAfterThreeSteps()],
    )  # fmt: skip
    trainer.fit(model, batches())
    assert trainer.global_step == 3
    assert trainer.optimizers[0].param_groups[0]["lr"] == model.hparams.lr_head


def test_test_metrics_per_group_without_a_datamodule():
    model = tiny_model()
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.test(model, batches(), verbose=False)
    assert set(model.test_results) == {"all", "source", "en"}
    assert model.test_results["en"]["n"] == 8


def test_the_head_takes_its_width_from_the_pooling():
    model = EmotionRecognizer(CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8), num_classes=4, head_hidden=0, pooling=AttentiveStatisticsPooling())
    assert model.head[-1].in_features == 2 * model.backbone.hidden_size
    assert model(torch.randn(2, 8000), torch.tensor([8000, 4000])).shape == (2, 4)


@pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`")
def test_a_non_finite_loss_stops_training_naming_the_batch_files():
    items = [{"wave": torch.randn(4000), "label": i % 4, "meta": {"path": f"clip{i}.wav", "role": "source", "language": "en"}} for i in range(8)]
    model = tiny_model()
    with torch.no_grad():
        model.head[-1].bias[0] = float("nan")  # as weights become after one step on a NaN sample
    trainer = L.Trainer(
        max_steps=3, limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    with pytest.raises(FloatingPointError, match=r"loss is nan at step 0 .* held clip0.wav, clip1.wav, clip2.wav, clip3.wav"):
        trainer.fit(model, DataLoader(items, batch_size=4, collate_fn=collate_utterances))


def test_a_batch_moves_its_tensors_and_leaves_meta_untouched():
    from ser_lightning.models import CNNLSTM, EmotionRecognizer

    model = EmotionRecognizer(CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8), num_classes=4)
    meta = {"path": ["a.wav", "b.wav"], "speaker": ["s1", None]}
    batch = {"waves": torch.zeros(2, 10), "meta": meta, "unlabelled": {"waves": torch.ones(1, 5), "meta": meta}}
    moved = model.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert moved["meta"] is meta and moved["unlabelled"]["meta"] is meta
    assert moved["waves"].device.type == "meta" and moved["unlabelled"]["waves"].device.type == "meta"

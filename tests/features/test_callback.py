import json
import logging

import lightning as L
import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import AutoConfig, AutoModel

from ser_lightning.data.dataset import UtteranceDataset
from ser_lightning.features import FeatureCache
from ser_lightning.models import CNNLSTM, AttentiveStatisticsPooling, EmotionRecognizer, HFBackbone, WeightedLayerPooling

from ..models.tiny import TINY_WAV2VEC2
from .conftest import datamodule, probe


def trainer(*callbacks, epochs=2, **kwargs) -> L.Trainer:
    options = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    return L.Trainer(max_epochs=epochs, callbacks=list(callbacks), **{**options, **kwargs})


def fit_and_predict(model, data, cache=None, **kwargs) -> torch.Tensor:
    """Fit, then the class probabilities of the test split."""
    L.seed_everything(0, verbose=False)
    callbacks = [cache] if cache is not None else []
    trainer(*callbacks, **kwargs).fit(model, datamodule=data)
    out = trainer(*callbacks).predict(model, datamodule=data)
    return torch.cat([batch["probabilities"] for batch in out])


def chunks(folder) -> set:
    return {path.name for path in folder.rglob("*.npy")}


def test_miss_then_hit_and_identical_training_to_the_uncached_probe(corpus, tmp_path):
    folder = tmp_path / "features"
    cache = FeatureCache(enabled=True, folder=str(folder))
    cached_model, data = probe(), datamodule(corpus)
    cached = fit_and_predict(cached_model, data, cache)
    assert cache.computed == 8 and cache.reused == 0  # the last run: predict on the 8 test utterances
    written = chunks(folder)
    assert written and all(type(d) is UtteranceDataset for d in data.datasets.values())  # the originals are back

    again = fit_and_predict(probe(), datamodule(corpus), FeatureCache(enabled=True, folder=str(folder)))
    assert chunks(folder) == written  # every utterance came from the cache
    plain_model = probe()
    plain = fit_and_predict(plain_model, datamodule(corpus))
    assert torch.allclose(cached, plain, atol=1e-6) and torch.allclose(again, plain, atol=1e-6)
    for (name, a), b in zip(cached_model.state_dict().items(), plain_model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name


def test_a_changed_audio_file_or_backbone_is_computed_again(corpus, tmp_path):
    folder = tmp_path / "features"
    data = datamodule(corpus)
    cache = FeatureCache(enabled=True, folder=str(folder))
    trainer(cache, epochs=1).fit(probe(), datamodule=data)
    assert cache.computed == 16  # train and val
    assert len(data.audio) == 0 and data.audio.misses == 0  # waves read to fill the store are not kept in memory
    path = data.datasets["val"].utterances[0].path
    sf.write(path, np.random.default_rng(1).uniform(-0.3, 0.3, 8000).astype(np.float32), 16000)
    trainer(cache, epochs=1).fit(probe(), datamodule=datamodule(corpus))
    assert (cache.computed, cache.reused) == (1, 15)
    trainer(cache, epochs=1).fit(probe(seed=1), datamodule=datamodule(corpus))  # other backbone weights
    assert (cache.computed, cache.reused) == (16, 0) and len(list(folder.iterdir())) == 2


def test_a_corrupt_chunk_is_ignored_and_recomputed(corpus, tmp_path, caplog):
    folder = tmp_path / "features"
    cache = FeatureCache(enabled=True, folder=str(folder))
    trainer(cache).test(probe(), datamodule=datamodule(corpus), verbose=False)
    (chunk,) = folder.rglob("*.npy")
    with open(chunk, "r+b") as handle:
        handle.truncate(200)
    with pytest.warns(UserWarning, match="ignoring 1 incomplete or corrupt chunk"):
        trainer(cache).test(probe(), datamodule=datamodule(corpus), verbose=False)
    assert cache.computed == 8


def test_random_crops_bypass_the_cache_for_training_only(corpus, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    cache = FeatureCache(enabled=True, folder=str(tmp_path / "features"))
    data = datamodule(corpus, max_train_seconds=0.4)
    trainer(cache, epochs=1).fit(probe(), datamodule=data)
    assert "the train split is read from audio: max_train_seconds crops it at random" in caplog.text
    assert cache.computed == 8  # val only
    assert len(data.audio) == len(data.datasets["train"].utterances)  # the cropped split keeps its waves; val's are features


def all_training(backbone):
    """Every sub-module in training mode (nn.Module.train, bypassing Backbone.train, which keeps frozen parts in eval mode)."""
    for module in backbone.modules():
        module.training = True
    return backbone


@pytest.mark.parametrize(
    "backbone, reason",
    [
        (lambda: CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8, finetune="encoder"), "trainable parameters"),
        (lambda: all_training(CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8, finetune="frozen")), "in training mode"),
    ],
)
def test_a_backbone_that_changes_turns_the_cache_off_with_a_reason(corpus, tmp_path, caplog, backbone, reason):
    caplog.set_level(logging.INFO)
    cache = FeatureCache(enabled=True, folder=str(tmp_path / "features"))
    trainer(cache, epochs=1).fit(EmotionRecognizer(backbone(), num_classes=4, head_hidden=8), datamodule=datamodule(corpus))
    assert "Feature cache off" in caplog.text and reason in caplog.text
    assert not (tmp_path / "features").exists()


def test_a_backbone_unfrozen_during_training_stops_the_run(corpus, tmp_path):
    class Unfreeze(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            pl_module.backbone.lstm.requires_grad_(True)

    with pytest.raises(RuntimeError, match="trainable parameters at epoch 1"):
        trainer(FeatureCache(enabled=True, folder=str(tmp_path)), Unfreeze()).fit(probe(), datamodule=datamodule(corpus))


def test_pooled_features_refuse_a_pooling_that_weighs_frames(corpus, tmp_path):
    cache = FeatureCache(enabled=True, folder=str(tmp_path), store="pooled")
    with pytest.raises(ValueError, match="feature_cache.store: frames"):
        trainer(cache).fit(probe(pooling=AttentiveStatisticsPooling()), datamodule=datamodule(corpus))


def test_disabled_does_nothing(corpus, tmp_path):
    data = datamodule(corpus)
    trainer(FeatureCache(folder=str(tmp_path / "features")), epochs=1).fit(probe(), datamodule=data)
    assert not (tmp_path / "features").exists()


def test_noisy_test_copies_are_cached_per_snr_and_a_cached_runs_checkpoint_tests_without_the_cache(corpus, tmp_path):
    cache = FeatureCache(enabled=True, folder=str(tmp_path / "features"))
    model = probe()
    run = trainer(cache, epochs=1, enable_checkpointing=True, default_root_dir=tmp_path)
    run.fit(model, datamodule=datamodule(corpus, test_snrs=[None, 5]))
    checkpoint = run.checkpoint_callback.best_model_path
    assert any(key.startswith("backbone.") for key in torch.load(checkpoint, weights_only=True)["state_dict"])
    trainer(cache).test(model, datamodule=datamodule(corpus, test_snrs=[None, 5]), verbose=False)
    assert cache.computed == 16  # 8 test utterances, clean and at 5 dB
    with_cache = dict(model.test_results)
    restored = EmotionRecognizer.load_from_checkpoint(checkpoint, backbone=probe().backbone)
    trainer().test(restored, datamodule=datamodule(corpus, test_snrs=[None, 5]), verbose=False)
    assert restored.test_results.keys() == with_cache.keys()
    assert all(restored.test_results[k] == pytest.approx(v) for k, v in with_cache.items())


@pytest.mark.parametrize("store, pooling", [("frames", None), ("pooled", WeightedLayerPooling())])
def test_a_tiny_hf_backbone_gives_the_uncached_logits(corpus, tmp_path, store, pooling):
    AutoModel.from_config(AutoConfig.for_model(**TINY_WAV2VEC2)).save_pretrained(tmp_path / "w2v2")

    def model():
        torch.manual_seed(0)
        return EmotionRecognizer(HFBackbone(str(tmp_path / "w2v2"), finetune="frozen"), num_classes=4, head_hidden=8, pooling=pooling)

    cache = FeatureCache(enabled=True, folder=str(tmp_path / "features"), store=store, batch_size=3)
    cached = fit_and_predict(model(), datamodule(corpus), cache, epochs=1)
    plain = fit_and_predict(model(), datamodule(corpus), epochs=1)
    assert cache.computed == 8 and torch.allclose(cached, plain, atol=1e-5)


def test_dataloader_workers_get_features_filled_after_they_started(corpus, tmp_path):
    # Lightning starts the training loader's workers (estimated_stepping_batches) before the weights are final
    # and the cache is filled; the features are attached in the main process, so the workers need none.
    cache = FeatureCache(enabled=True, folder=str(tmp_path / "features"))
    cached = fit_and_predict(probe(), datamodule(corpus, num_workers=1), cache, epochs=1)
    plain = fit_and_predict(probe(), datamodule(corpus), epochs=1)
    assert cache.computed == 8 and torch.allclose(cached, plain, atol=1e-6)


@pytest.mark.ddp
def test_ddp_ranks_compute_disjoint_shares_and_read_them_all(corpus, tmp_path):
    folder = tmp_path / "features"
    run = trainer(FeatureCache(enabled=True, folder=str(folder)), epochs=1, strategy="ddp_spawn", accelerator="cpu", devices=2)
    run.fit(probe(), datamodule=datamodule(corpus))
    indexes = [json.loads(path.read_text()) for path in folder.rglob("frames-*.json")]
    sizes = sorted(len(index["entries"]) for index in indexes)
    assert sizes == [4, 4, 4, 4]  # train and val: 8 utterances each, half per rank
    assert len({key for index in indexes for key in index["entries"]}) == 16


@pytest.mark.slow  # two whole CLI fits
def test_one_cli_flag_turns_the_cache_on_for_an_unchanged_config(small_corpus, tmp_path, monkeypatch):
    from ser_lightning.cli import main

    from ..test_cli import CNN_LSTM, write_config

    monkeypatch.chdir(tmp_path)
    frozen = {**CNN_LSTM, "init_args": {**CNN_LSTM["init_args"], "finetune": "frozen"}}
    config = str(write_config(tmp_path / "probe.yaml", small_corpus, frozen, epochs=2))
    plain = main(["fit", "--config", config, "--checkpoint.dirpath", "checkpoints/plain"]).model.test_results
    folder = tmp_path / "features"
    flags = ["--feature_cache.enabled", "true", "--feature_cache.folder", str(folder)]
    for run in ("cached", "again"):
        cli = main(["fit", "--config", config, "--checkpoint.dirpath", f"checkpoints/{run}", *flags])
        cache = next(c for c in cli.trainer.callbacks if isinstance(c, FeatureCache))
        assert cache.enabled and chunks(folder)
        assert (cache.computed, cache.reused) == ((48, 0) if run == "cached" else (0, 48))  # the test after fit: 48 utterances
        assert cli.model.test_results.keys() == plain.keys()
        assert all(cli.model.test_results[k] == pytest.approx(v) for k, v in plain.items())

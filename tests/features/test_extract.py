import numpy as np
import torch

from ser_lightning.data import ManifestCorpus
from ser_lightning.data.dataset import UtteranceDataset
from ser_lightning.features import FeatureStore, estimate_bytes, extract_features
from ser_lightning.features.extract import feature_shape
from ser_lightning.models import CNNLSTM


def test_size_estimate_is_rows_times_layers_times_width_times_bytes():
    assert estimate_bytes([1.0, 0.5], 50, 3, 4, "frames", "float32") == (50 + 25) * 3 * 4 * 4
    assert estimate_bytes([1.0, 0.5], 50, 3, 4, "pooled", "float16") == 2 * 3 * 4 * 2


def test_extracted_frames_are_each_utterance_alone_in_eval_mode(corpus, tmp_path):
    torch.manual_seed(0)
    backbone = CNNLSTM(n_mels=32, channels=(4, 8), lstm_hidden=8, finetune="frozen")
    for module in backbone.modules():  # all in training mode: extraction must not be, and must give the modes back
        module.training = True
    source = UtteranceDataset(ManifestCorpus(str(corpus)).load()[:5], ["angry", "happy", "neutral", "sad"], 16000)
    rate, layers, width = feature_shape(backbone, 16000, torch.device("cpu"))
    assert (rate, layers, width) == (24.0, 1, 16)  # 98 uncentred 10 ms frames, two 2x max-pools; a BiLSTM of 2 x 8
    frames, pooled = FeatureStore(tmp_path, "frames"), FeatureStore(tmp_path, "pooled")
    state = torch.get_rng_state()
    for store in (frames, pooled):
        with store.writer() as writer:
            extract_features(backbone, source, [(i, f"k{i}") for i in range(5)], writer, store.layout, torch.device("cpu"), batch_size=3)
        store.refresh()
    assert torch.equal(torch.get_rng_state(), state) and backbone.training and backbone.blocks.training
    backbone.eval()
    for i in range(5):
        wave = source[i]["wave"]
        hidden, lengths = backbone(wave[None], torch.tensor([len(wave)]))
        alone = hidden[0][0, : int(lengths[0])]
        assert np.allclose(frames.rows(f"k{i}")[:, 0], alone.detach().numpy(), atol=1e-6)
        assert np.allclose(pooled.rows(f"k{i}")[0, 0], alone.mean(0).detach().numpy(), atol=1e-6)

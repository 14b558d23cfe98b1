import os

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import AutoConfig, AutoModel

from ser_lightning.data.audio import AudioError
from ser_lightning.data.augment import EvaluationNoise
from ser_lightning.data.dataset import UtteranceDataset
from ser_lightning.data.manifest import Utterance
from ser_lightning.features.keys import backbone_identity, utterance_keys
from ser_lightning.models import CNNLSTM, HFBackbone

from ..models.tiny import TINY_WAV2VEC2


def clips(tmp_path, n=2):
    paths = []
    for i in range(n):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, np.full(1600, 0.1 * (i + 1), dtype=np.float32), 16000)
        paths.append(path)
    return paths


def dataset(paths, **kwargs):
    utterances = [Utterance(str(p), "happy", f"s{i}", "en", "c", duration=0.1) for i, p in enumerate(paths)]
    return UtteranceDataset(utterances, ["happy"], kwargs.pop("sample_rate", 16000), **kwargs)


def test_audio_keys_are_stable_and_change_when_a_file_changes(tmp_path):
    paths = clips(tmp_path)
    first = utterance_keys(dataset(paths))
    assert first == utterance_keys(dataset(paths)) and len(set(first)) == 2
    stat = os.stat(paths[0])
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # touched
    touched = utterance_keys(dataset(paths))
    assert touched[0] != first[0] and touched[1] == first[1]
    sf.write(paths[1], np.zeros(800, dtype=np.float32), 16000)  # rewritten
    assert utterance_keys(dataset(paths))[1] != first[1]
    assert utterance_keys(dataset(paths, sample_rate=8000)) != touched


def test_noisy_copies_are_keyed_on_snr_and_noise_seed(tmp_path):
    paths = clips(tmp_path)
    keys = utterance_keys(dataset(paths, snrs=[None, 10, 5], noise=EvaluationNoise(16000, seed=0)))
    assert len(set(keys)) == 6
    reseeded = utterance_keys(dataset(paths, snrs=[None, 10, 5], noise=EvaluationNoise(16000, seed=1)))
    assert reseeded[:2] == keys[:2] and not set(reseeded[2:]) & set(keys[2:])


def test_random_crops_and_augmentation_are_refused_and_missing_files_named(tmp_path):
    paths = clips(tmp_path)
    with pytest.raises(ValueError, match="crops"):
        utterance_keys(dataset(paths, max_seconds=0.05))
    with pytest.raises(AudioError, match="gone.wav"):
        utterance_keys(dataset([tmp_path / "gone.wav"]))


def cnn(seed=0, **kwargs):
    torch.manual_seed(seed)
    return CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8, finetune="frozen", **kwargs)


def test_backbone_identity_follows_weights_settings_and_precision():
    same = backbone_identity(cnn(0), "32-true")
    assert same == backbone_identity(cnn(0), "32-true")
    assert backbone_identity(cnn(1), "32-true")["weights"] != same["weights"]
    assert backbone_identity(cnn(0, normalize=True), "32-true")["settings"] != same["settings"]
    assert backbone_identity(cnn(0), "bf16-mixed") != same
    backbone = cnn(0)
    with torch.no_grad():
        backbone.blocks[0][1].running_mean += 1  # a buffer, not a parameter
    assert backbone_identity(backbone, "32-true")["weights"] != same["weights"]


def test_a_saved_hf_model_has_one_identity_across_loads_and_forward_passes(tmp_path):
    AutoModel.from_config(AutoConfig.for_model(**TINY_WAV2VEC2)).save_pretrained(tmp_path / "w2v2")
    first = HFBackbone(str(tmp_path / "w2v2"), finetune="frozen")
    first(torch.randn(1, 8000), torch.tensor([8000]))
    identity = backbone_identity(first, "32-true")
    assert identity == backbone_identity(HFBackbone(str(tmp_path / "w2v2"), finetune="frozen"), "32-true")
    assert identity != backbone_identity(HFBackbone(str(tmp_path / "w2v2"), finetune="frozen", normalize=False), "32-true")

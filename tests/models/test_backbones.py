import pytest
import torch
from transformers import AutoConfig, AutoModel, BertConfig

from ser_lightning.models import HFBackbone

from .tiny import TINY_WAV2VEC2


@pytest.fixture
def saved_tiny(tmp_path):
    model = AutoModel.from_config(AutoConfig.for_model(**TINY_WAV2VEC2))
    model.save_pretrained(tmp_path / "tiny-w2v2")
    return tmp_path / "tiny-w2v2", model


def test_from_pretrained_round_trip_restores_weights_in_train_mode(saved_tiny):
    path, original = saved_tiny
    backbone = HFBackbone(str(path), pretrained=True)
    loaded = backbone.model.state_dict()
    for name, tensor in original.state_dict().items():
        assert torch.equal(loaded[name], tensor), name
    assert backbone.model.training and all(m.training for m in backbone.model.modules())
    assert not any(p.requires_grad for p in backbone.model.feature_extractor.parameters())
    assert any(p.requires_grad for p in backbone.model.encoder.parameters())


def test_untrained_from_the_saved_config_differs_from_the_weights(saved_tiny):
    path, original = saved_tiny
    torch.manual_seed(1)
    backbone = HFBackbone(str(path), pretrained=False)
    name = "encoder.layers.0.attention.q_proj.weight"
    assert backbone.model.state_dict()[name].shape == original.state_dict()[name].shape
    assert not torch.equal(backbone.model.state_dict()[name], original.state_dict()[name])


def test_forward_gives_all_hidden_states_and_frame_lengths():
    backbone = HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2, freeze_feature_encoder=False)
    waves = torch.randn(2, 16000)
    hidden, frames = backbone(waves, torch.tensor([16000, 8000]))
    assert len(hidden) == backbone.num_layers == 3
    assert all(h.shape[0] == 2 and h.shape[2] == backbone.hidden_size == 32 for h in hidden)
    assert frames[0] == hidden[-1].shape[1] and frames[1] < frames[0]
    assert all(p.requires_grad for p in backbone.parameters())


def test_freeze_encoder_freezes_everything():
    backbone = HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2, freeze_encoder=True)
    assert not any(p.requires_grad for p in backbone.parameters())


def test_a_text_model_is_refused_with_a_clear_message(tmp_path):
    AutoModel.from_config(BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8)).save_pretrained(tmp_path / "bert")
    with pytest.raises(ValueError, match="wav2vec2 family"):
        HFBackbone(str(tmp_path / "bert"))


def test_untrained_needs_an_architecture():
    with pytest.raises(ValueError, match="model_type"):
        HFBackbone(None, pretrained=False)


def test_layerdrop_is_off_by_default_and_refused_when_asked_for(saved_tiny):
    path, _ = saved_tiny
    assert HFBackbone(str(path)).model.config.layerdrop == 0.0
    with pytest.raises(ValueError, match="layerdrop must be 0"):
        HFBackbone(str(path), config={"layerdrop": 0.1})

import pytest
import torch
from transformers import AutoConfig, AutoModel, BertConfig, Wav2Vec2FeatureExtractor

from ser_lightning.models import HFBackbone
from ser_lightning.models.pooling import masked_mean

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
    frozen = set(backbone.model.feature_extractor.modules())
    assert backbone.model.training and all(m.training for m in backbone.model.modules() if m not in frozen)
    assert not any(m.training for m in frozen)  # frozen parts run as fixed feature extractors
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
    backbone = HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2, finetune="full")
    waves = torch.randn(2, 16000)
    hidden, frames = backbone(waves, torch.tensor([16000, 8000]))
    assert len(hidden) == backbone.num_layers == 3
    assert all(h.shape[0] == 2 and h.shape[2] == backbone.hidden_size == 32 for h in hidden)
    assert frames[0] == hidden[-1].shape[1] and frames[1] < frames[0]
    assert all(p.requires_grad for p in backbone.parameters())


def test_a_frozen_probe_trains_nothing_and_runs_in_eval_mode():
    backbone = HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2, finetune="frozen").train()
    assert not any(p.requires_grad for p in backbone.parameters())
    assert not backbone.model.training and not any(m.training for m in backbone.model.modules())
    waves = torch.randn(2, 8000)
    first, _ = backbone(waves, torch.tensor([8000, 8000]))
    second, _ = backbone(waves, torch.tensor([8000, 8000]))
    assert torch.equal(first[-1], second[-1])  # no dropout, no SpecAugment


def test_preprocessing_follows_the_checkpoints_feature_extractor_unless_overridden(saved_tiny):
    path, _ = saved_tiny
    assert HFBackbone(str(path)).normalize and HFBackbone(str(path)).use_attention_mask  # no extractor saved: HF's rule for layer norm
    Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=False).save_pretrained(path)
    backbone = HFBackbone(str(path))
    assert not backbone.normalize and not backbone.use_attention_mask
    backbone = HFBackbone(str(path), normalize=True, attention_mask=True)
    assert backbone.normalize and backbone.use_attention_mask


def pooled_alone_and_padded(backbone: HFBackbone) -> tuple[torch.Tensor, torch.Tensor]:
    """The masked-mean pooled last layer of a 0.5 s utterance alone, and padded beside a 1 s one."""
    backbone.eval()
    short, long = torch.randn(8000), torch.randn(16000)
    with torch.no_grad():
        hidden, frames = backbone(short[None], torch.tensor([8000]))
        alone = masked_mean(hidden[-1], frames)[0]
        batch = torch.stack([torch.nn.functional.pad(short, (0, 8000)), long])
        hidden, frames = backbone(batch, torch.tensor([8000, 16000]))
        padded = masked_mean(hidden[-1], frames)[0]
    return alone, padded


def test_padding_never_reaches_a_layer_norm_model_with_an_attention_mask():
    alone, padded = pooled_alone_and_padded(HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2))
    assert torch.allclose(alone, padded, atol=1e-5)


def test_padding_reaches_a_group_norm_model_that_was_trained_without_an_attention_mask():
    group_norm = {**TINY_WAV2VEC2, "feat_extract_norm": "group", "do_stable_layer_norm": False}
    backbone = HFBackbone(None, pretrained=False, config=group_norm)
    assert not backbone.use_attention_mask  # wav2vec2-base style: HF's rule, and what the checkpoints' extractors say
    alone, padded = pooled_alone_and_padded(backbone)
    assert not torch.allclose(alone, padded, atol=1e-3)  # group norm's statistics (and attention) include the zeros
    alone, padded = pooled_alone_and_padded(HFBackbone(None, pretrained=False, config=group_norm, attention_mask=True))
    assert not torch.allclose(alone, padded, atol=1e-3)  # a mask hides padding from attention, not from the conv group norm


@pytest.mark.parametrize(
    "mode, trainable",
    [
        ("full", lambda name: True),
        ("encoder", lambda name: not name.startswith("model.feature_extractor.")),
        ("top_layers", lambda name: name.startswith(("model.encoder.layers.1.", "model.encoder.layer_norm."))),
        ("frozen", lambda name: False),
        ("lora", lambda name: "lora_" in name),
    ],
)
def test_finetune_modes_train_only_the_intended_parameters(mode, trainable):
    backbone = HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2, finetune=mode, trainable_layers=1)
    names = {name: param.requires_grad for name, param in backbone.named_parameters()}
    assert names == {name: trainable(name) for name in names}
    if mode == "lora":
        assert any("q_proj.lora_A" in name for name in names) and any("out_proj.lora_B" in name for name in names)


def test_an_unknown_finetune_mode_or_layer_count_is_refused():
    with pytest.raises(ValueError, match="choose one of full, encoder, top_layers, frozen, lora"):
        HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2, finetune="probe")
    with pytest.raises(ValueError, match="trainable_layers=5 must be between 1 and the backbone's 2 layers"):
        HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2, finetune="top_layers", trainable_layers=5)


def test_a_text_model_is_refused_with_a_clear_message(tmp_path):
    AutoModel.from_config(BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8)).save_pretrained(
        tmp_path / "bert"
    )
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


@pytest.mark.parametrize("layer", [1, -1])
def test_pooling_a_lower_layer_leaves_no_trainable_parameter_without_a_gradient(layer):
    """Plain DDP refuses parameters that get no gradient: the layers above the pooled one are frozen at construction."""
    from ser_lightning.models import EmotionRecognizer, HFBackbone, MeanPooling, WhisperBackbone

    from .tiny import TINY_WAV2VEC2, TINY_WHISPER

    backbones = [
        HFBackbone(name_or_path=None, pretrained=False, config={**TINY_WAV2VEC2, "mask_time_prob": 0.0}, finetune="full"),
        WhisperBackbone(name_or_path=None, pretrained=False, config=TINY_WHISPER, window_seconds=2.0, finetune="full"),
    ]
    for backbone in backbones:
        model = EmotionRecognizer(backbone, num_classes=4, pooling=MeanPooling(layer=layer), head_hidden=0)
        model.train()
        model.loss_fn(model(torch.randn(2, 16000), torch.tensor([16000, 12000])), torch.tensor([0, 1])).backward()
        trainable = [name for name, p in model.named_parameters() if p.requires_grad]
        assert trainable and all(dict(model.named_parameters())[name].grad is not None for name in trainable), type(backbone).__name__
        frozen = {name.split("layers.")[1].split(".")[0] for name, p in backbone.named_parameters() if not p.requires_grad and "layers." in name}
        assert frozen == ({"1"} if layer == 1 else set())  # of 2 layers, the second is unused when pooling hidden state 1


def test_input_shorter_than_one_frame_is_padded_by_the_backbone_itself():
    backbone = HFBackbone(name_or_path=None, pretrained=False, config=TINY_WAV2VEC2).eval()
    short = 0.1 * torch.randn(2, backbone.min_samples // 2)
    hidden, frames = backbone(short, torch.tensor([short.shape[1], short.shape[1] // 2]))
    assert hidden[-1].shape[1] >= 1 and frames.tolist() == [1, 1]

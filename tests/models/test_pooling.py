import pytest
import torch

from ser_lightning.models import CNNLSTM, AttentiveStatisticsPooling, HFBackbone, MeanPooling, WeightedLayerPooling

from .tiny import TINY_WAV2VEC2


def test_masked_mean_ignores_padding_values():
    states = torch.randn(2, 6, 4)
    lengths = torch.tensor([6, 3])
    pooled = MeanPooling()([states], lengths)
    assert torch.allclose(pooled[1], states[1, :3].mean(0))
    states[1, 3:] = float("nan")
    assert torch.allclose(MeanPooling()([states], lengths)[1], pooled[1])


def test_layer_choice():
    first, last = torch.zeros(1, 2, 3), torch.ones(1, 2, 3)
    assert MeanPooling(layer=0)([first, last], torch.tensor([2])).sum() == 0
    assert MeanPooling()([first, last], torch.tensor([2])).sum() == 3


def pooled_alone_and_padded(backbone, pooling):
    torch.manual_seed(0)
    backbone.eval()
    pooling.build(backbone.num_layers, backbone.hidden_size)
    short, long = torch.randn(16000) * 0.1, torch.randn(40000) * 0.1
    batch = torch.zeros(2, 40000)
    batch[0, :16000], batch[1] = short, long
    with torch.no_grad():
        alone = pooling(*backbone(short[None], torch.tensor([16000])))
        padded = pooling(*backbone(batch, torch.tensor([16000, 40000])))
    return alone[0], padded[0]


HEADS = [MeanPooling, WeightedLayerPooling, AttentiveStatisticsPooling]


@pytest.mark.parametrize("head", HEADS)
def test_padding_invariance_with_a_wav2vec2_backbone(head):
    alone, padded = pooled_alone_and_padded(HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2), head())
    assert torch.allclose(alone, padded, atol=1e-5)


@pytest.mark.parametrize("head", HEADS)
def test_padding_invariance_with_the_cnn_lstm_baseline(head):
    alone, padded = pooled_alone_and_padded(CNNLSTM(n_mels=32, channels=(4, 8), lstm_hidden=8), head())
    assert torch.allclose(alone, padded, atol=1e-5)


def test_weighted_layers_start_as_the_mean_of_layers_and_learn_weights():
    pooling = WeightedLayerPooling()
    assert pooling.build(3, 4) == 4
    layers = [torch.full((1, 2, 4), float(i)) for i in range(3)]
    assert torch.allclose(pooling(layers, torch.tensor([2])), torch.ones(1, 4))
    assert pooling.layer_weights.requires_grad and pooling.layer_weights.shape == (3,)
    with pytest.raises(ValueError, match="2 hidden states for 3"):
        pooling(layers[:2], torch.tensor([2]))


def test_attentive_statistics_give_mean_and_std_of_real_frames_only():
    pooling = AttentiveStatisticsPooling(attention_hidden=4)
    assert pooling.build(1, 3) == 6
    torch.nn.init.zeros_(pooling.attention[-1].weight)  # uniform attention: plain mean and std
    states = torch.tensor([[[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [float("nan")] * 3]])
    pooled = pooling([states], torch.tensor([2]))
    assert torch.allclose(pooled, torch.tensor([[2.0, 2.0, 2.0, 1.0, 1e-3, 1.0]]), atol=1e-3)


def test_a_layer_the_backbone_lacks_is_a_clear_error():
    with pytest.raises(ValueError, match="layer=5"):
        MeanPooling(layer=5).build(3, 8)

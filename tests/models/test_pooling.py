import torch

from ser_lightning.models import CNNLSTM, HFBackbone, MeanPooling

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


def pooled_alone_and_padded(backbone):
    torch.manual_seed(0)
    backbone.eval()
    short, long = torch.randn(16000) * 0.1, torch.randn(40000) * 0.1
    batch = torch.zeros(2, 40000)
    batch[0, :16000], batch[1] = short, long
    with torch.no_grad():
        alone = MeanPooling()(*backbone(short[None], torch.tensor([16000])))
        padded = MeanPooling()(*backbone(batch, torch.tensor([16000, 40000])))
    return alone[0], padded[0]


def test_padding_invariance_with_a_wav2vec2_backbone():
    alone, padded = pooled_alone_and_padded(HFBackbone(None, pretrained=False, config=TINY_WAV2VEC2))
    assert torch.allclose(alone, padded, atol=1e-5)


def test_padding_invariance_with_the_cnn_lstm_baseline():
    alone, padded = pooled_alone_and_padded(CNNLSTM(n_mels=32, channels=(4, 8), lstm_hidden=8))
    assert torch.allclose(alone, padded, atol=1e-5)

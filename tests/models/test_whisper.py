import numpy as np
import pytest
import torch
from transformers import AutoConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from ser_lightning.models import MeanPooling, WhisperBackbone

from .tiny import TINY_WAV2VEC2, TINY_WHISPER


@pytest.fixture(scope="module")
def saved_whisper(tmp_path_factory):
    path = tmp_path_factory.mktemp("whisper") / "tiny-whisper"
    model = WhisperForConditionalGeneration(AutoConfig.for_model(**TINY_WHISPER))  # the hub's layout (keys under "model.")
    model.save_pretrained(path)
    return path, model.model


def test_log_mels_match_the_hugging_face_feature_extractor():
    backbone = WhisperBackbone(None, pretrained=False, config=TINY_WHISPER)
    wave = np.random.default_rng(0).standard_normal(3 * 16000).astype(np.float32) * 0.1
    expected = WhisperFeatureExtractor(feature_size=80)(wave, sampling_rate=16000, return_tensors="pt").input_features
    padded = torch.nn.functional.pad(torch.from_numpy(wave)[None], (0, backbone.window_samples - wave.shape[0]))
    assert torch.allclose(backbone.log_mel(padded), expected, atol=1e-4)


def test_from_pretrained_keeps_only_the_trained_encoder_in_train_mode(saved_whisper):
    path, original = saved_whisper
    backbone = WhisperBackbone(str(path), pretrained=True)
    encoder_state = original.get_encoder().state_dict()
    for name, tensor in backbone.encoder.state_dict().items():
        assert torch.equal(tensor, encoder_state[name]), name
    assert not any("decoder" in name for name, _ in backbone.named_parameters())
    assert backbone.encoder.training
    assert not backbone.encoder.conv1.weight.requires_grad and backbone.encoder.layers[0].fc1.weight.requires_grad


@pytest.mark.parametrize("window", [30.0, 4.0])
def test_frames_window_and_padding_invariance(saved_whisper, window):
    path, original = saved_whisper
    backbone = WhisperBackbone(str(path), pretrained=True, window_seconds=window).eval()
    torch.manual_seed(0)
    short, long = torch.randn(16000) * 0.1, torch.randn(48000) * 0.1
    batch = torch.zeros(2, 48000)
    batch[0, :16000], batch[1] = short, long
    with torch.no_grad():
        hidden, frames = backbone(batch, torch.tensor([16000, 48000]))
        alone = MeanPooling()(*backbone(short[None], torch.tensor([16000])))
    assert len(hidden) == backbone.num_layers == 3 and hidden[-1].shape[1] == int(window * 50)
    assert frames.tolist() == [50, min(150, int(window * 50))]
    assert torch.allclose(MeanPooling()(hidden, frames)[0], alone[0], atol=1e-5)
    if window < 30:  # the trimmed window keeps the first rows of the pre-trained positions
        full = original.get_encoder().embed_positions.weight
        assert torch.equal(backbone.encoder.embed_positions.weight, full[: int(window * 50)])


def test_runs_after_a_cast_to_bfloat16_with_a_trimmed_window(saved_whisper):
    path, _ = saved_whisper
    backbone = WhisperBackbone(str(path), pretrained=True, window_seconds=2.0).to(torch.bfloat16).eval()
    with torch.no_grad():
        hidden, frames = backbone(torch.randn(2, 16000) * 0.1, torch.tensor([16000, 8000]))
    assert hidden[-1].dtype == torch.bfloat16 and frames.tolist() == [50, 25]


def test_an_encoder_only_checkpoint_is_refused_rather_than_loaded_as_random_weights(tmp_path):
    WhisperEncoder(AutoConfig.for_model(**TINY_WHISPER)).save_pretrained(tmp_path / "encoder-only")
    with pytest.raises(ValueError, match="no trained weights"):
        WhisperBackbone(str(tmp_path / "encoder-only"), pretrained=True)


def test_bad_window_and_wrong_model_are_clear_errors():
    with pytest.raises(ValueError, match="encoder_layerdrop"):
        WhisperBackbone(None, pretrained=False, config={**TINY_WHISPER, "encoder_layerdrop": 0.1})
    with pytest.raises(ValueError, match="window_seconds"):
        WhisperBackbone(None, pretrained=False, config=TINY_WHISPER, window_seconds=31)
    with pytest.raises(ValueError, match="not a Whisper model"):
        WhisperBackbone(None, pretrained=False, config=TINY_WAV2VEC2)


def test_evaluation_hears_clips_longer_than_a_trimmed_window_whole():
    """A 5 s clip with a 2 s window: evaluated as three windows (0-2, 2-4, 3-5 s), probabilities averaged."""
    from ser_lightning.models import EmotionRecognizer
    from ser_lightning.models.windows import window_starts

    from .tiny import TINY_WHISPER

    assert window_starts(80000, 32000) == [0, 32000, 48000] and window_starts(20000, 32000) == [0]
    backbone = WhisperBackbone(name_or_path=None, pretrained=False, config=TINY_WHISPER, window_seconds=2.0)
    model = EmotionRecognizer(backbone, num_classes=4, head_hidden=0).eval()
    wave = torch.randn(1, 80000)
    batch = {"waves": torch.cat([wave, torch.zeros(1, 0)], 1).repeat(2, 1), "lengths": torch.tensor([80000, 20000])}
    got = model.logits(batch).exp()
    parts = [model(wave[:, s : s + 32000], torch.tensor([32000])).softmax(-1) for s in (0, 32000, 48000)]
    assert torch.allclose(got[0], torch.stack(parts).mean(0)[0], atol=1e-5)
    assert torch.allclose(got[1], model(wave[:, :20000], torch.tensor([20000])).softmax(-1)[0], atol=1e-5)
    assert torch.allclose(got.sum(-1), torch.ones(2), atol=1e-5)

import torch

from ser_lightning.models import CNNLSTM


def test_shapes_and_frame_lengths():
    model = CNNLSTM(n_mels=32, channels=(4, 8), lstm_hidden=8)
    hidden, frames = model(torch.randn(2, 16000), torch.tensor([16000, 8000]))
    assert len(hidden) == model.num_layers == 1
    assert hidden[0].shape == (2, frames[0], model.hidden_size) and model.hidden_size == 16
    assert frames[1] < frames[0]


def test_a_batch_of_very_short_clips_runs():
    model = CNNLSTM(n_mels=32, channels=(4, 8), lstm_hidden=8)
    hidden, frames = model(torch.randn(3, 300), torch.tensor([300, 200, 100]))
    assert torch.isfinite(hidden[0]).all() and (frames >= 1).all()


def test_loudness_survives_without_normalisation():
    torch.manual_seed(0)
    wave = torch.randn(1, 8000) * 0.1
    plain, normalized = CNNLSTM(n_mels=32), CNNLSTM(n_mels=32, normalize=True)
    lengths = torch.tensor([8000])
    assert not torch.allclose(plain.log_mel(wave, lengths)[0], plain.log_mel(wave * 4, lengths)[0])
    assert torch.allclose(normalized.log_mel(wave, lengths)[0], normalized.log_mel(wave * 4, lengths)[0], atol=1e-4)


def test_a_frozen_cnn_lstm_starts_with_its_batch_norm_in_eval_mode():
    """Lightning trains modules in the mode they are in: frozen batch norm must not update its statistics."""
    from torch import nn

    backbone = CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8, finetune="frozen")
    assert all(not m.training for m in backbone.modules() if isinstance(m, nn.BatchNorm2d))


def test_the_exportable_lstm_path_equals_the_packed_one(monkeypatch):
    """Under torch.export (ONNX) the BiLSTM runs unpacked, reading each sequence reversed within its length: same outputs."""
    torch.manual_seed(0)
    model = CNNLSTM(n_mels=32, channels=(4, 8), lstm_hidden=8, lstm_layers=2).eval()
    waves, lengths = torch.randn(3, 24000), torch.tensor([24000, 17000, 9000])
    with torch.no_grad():
        (packed,), frames = model(waves, lengths)
        monkeypatch.setattr(torch.compiler, "is_exporting", lambda: True)
        (unpacked,), same_frames = model(waves, lengths)
    assert torch.equal(frames, same_frames) and unpacked.abs().sum() > 0
    assert torch.allclose(unpacked, packed, atol=1e-6)

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


def test_the_lstm_without_packing_equals_a_packed_one_in_outputs_and_gradients():
    """The BiLSTM runs unpacked (5x faster on CPU, and exportable), reading each sequence reversed within its length:
    outputs and gradients equal those of a packed nn.LSTM on the same padded batch."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    model = CNNLSTM(n_mels=32, channels=(4, 8), lstm_hidden=8, lstm_layers=2)
    x = torch.randn(3, 12, 64, requires_grad=True)
    frames = torch.tensor([12, 7, 2])
    ours = model._masked_lstm(x, frames)
    packed, _ = model.lstm(pack_padded_sequence(x, frames, batch_first=True, enforce_sorted=False))
    reference, _ = pad_packed_sequence(packed, batch_first=True, total_length=12)
    assert ours[2, 2:].abs().sum() == 0 and ours[2, :2].abs().sum() > 0
    assert torch.allclose(ours, reference, atol=1e-6)
    weight = torch.randn_like(reference)
    (grad_ours,) = torch.autograd.grad((ours * weight).sum(), x)
    (grad_reference,) = torch.autograd.grad((reference * weight).sum(), x)
    assert torch.allclose(grad_ours, grad_reference, atol=1e-6)
    assert grad_ours[2, 2:].abs().sum() == 0  # padding never feeds a real frame


def test_an_utterance_gives_the_same_output_alone_and_padded_in_a_batch():
    torch.manual_seed(0)
    model = CNNLSTM(n_mels=32, channels=(4, 8), lstm_hidden=8).eval()
    waves = torch.randn(2, 24000)
    with torch.no_grad():
        (batch,), frames = model(waves, torch.tensor([24000, 9000]))
        (alone,), alone_frames = model(waves[1:, :9000], torch.tensor([9000]))
    assert frames[1] == alone_frames[0]
    assert torch.allclose(batch[1, : frames[1]], alone[0], atol=1e-5)

"""The study's CNN-LSTM baseline on log-mel spectrograms, with the same interface as a foundation backbone."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .backbones import Backbone
from .finetuning import FinetuneMode, apply_finetuning
from .masking import masked_standardize, sample_mask


class CNNLSTM(Backbone):
    """Log-mel front end, 2-D conv blocks (conv, batch norm, ReLU, 2x2 max-pool), then a BiLSTM over time.

    Returns one hidden state (the BiLSTM output, ``hidden_size = 2 * lstm_hidden``) and its frame
    lengths. Frames are computed without centre padding and re-masked after every block, so an
    utterance gives the same output alone or padded in a batch (in eval mode). ``normalize`` scales
    log-mels per utterance to zero mean and unit variance; it is off by default because it removes
    loudness, one of the strongest emotion cues. Trains from scratch in seconds per epoch on CPU.

    Args:
        sample_rate: input sample rate in Hz (the DataModule's ``sample_rate``).
        n_mels: mel bands of the log-mel front end.
        win_ms: analysis window in milliseconds.
        hop_ms: hop between frames in milliseconds (10 ms = 100 frames per second).
        channels: output channels of each conv block; each block halves time and frequency.
        lstm_hidden: hidden units per direction of the BiLSTM (the pooled vector has twice as many).
        lstm_layers: stacked BiLSTM layers.
        dropout: dropout after each conv block.
        normalize: scale log-mels per utterance to zero mean and unit variance (removes loudness).
        finetune: which weights train: ``full`` (default: it is trained from scratch), ``encoder``
            (conv blocks frozen, the BiLSTM trains), ``top_layers`` (the same here: the BiLSTM is its one
            top layer), or ``frozen`` (e.g. a second, head-only stage); LoRA does not apply.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 64,
        win_ms: float = 25.0,
        hop_ms: float = 10.0,
        channels: Sequence[int] = (16, 32),
        lstm_hidden: int = 64,
        lstm_layers: int = 1,
        dropout: float = 0.1,
        normalize: bool = False,
        finetune: FinetuneMode = "full",
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.hop = int(sample_rate * hop_ms / 1000)
        self.win = int(sample_rate * win_ms / 1000)
        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=self.win, hop_length=self.hop, n_mels=n_mels, center=False)
        self.blocks = nn.ModuleList()
        in_ch = 1
        for out_ch in channels:
            conv = [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(dropout)]
            self.blocks.append(nn.Sequential(*conv))
            in_ch = out_ch
        self.pool_factor = 2 ** len(channels)
        self.min_samples = self.win + self.hop * (self.pool_factor - 1)  # one frame after every max-pool
        self.lstm = nn.LSTM(in_ch * (n_mels // self.pool_factor), lstm_hidden, lstm_layers, batch_first=True, bidirectional=True)
        self.hidden_size = 2 * lstm_hidden
        self.num_layers = 1
        apply_finetuning(self, finetune, feature_encoder=self.blocks, layers=[self.lstm], trainable_layers=1)
        self.train()  # frozen parts in eval mode from the start: Lightning trains modules in the mode they are in

    def log_mel(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-mels [B, n_mels, F] and real frame counts [B]; padded frames are zero."""
        if waves.shape[-1] < self.min_samples:
            waves = F.pad(waves, (0, self.min_samples - waves.shape[-1]))
        with torch.autocast(device_type=waves.device.type, enabled=False):
            spec = torch.log(self.mel(waves.float()) + 1e-6)
        frames = ((lengths - self.win).clamp_min(0) // self.hop + 1).clamp(max=spec.shape[-1])
        mask = sample_mask(frames, spec.shape[-1])[:, None, :]
        if self.normalize:
            return masked_standardize(spec, mask, dims=(1, 2), eps=1e-5), frames
        return spec.masked_fill(~mask, 0.0), frames

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        x, frames = self.log_mel(waves, lengths)
        x = x.unsqueeze(1)  # [B, 1, n_mels, F]
        for block in self.blocks:
            x = block(x)
            frames = frames // 2
            x = x.masked_fill(~sample_mask(frames, x.shape[-1])[:, None, None, :], 0.0)
        x = x.flatten(1, 2).transpose(1, 2)  # [B, F', C * M']
        frames = frames.clamp(1, x.shape[1])
        if x.is_cuda and not torch.compiler.is_exporting():  # cuDNN runs packed batches natively, from its flat weights
            packed = pack_padded_sequence(x, frames.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
            return [out], frames
        return [self._masked_lstm(x, frames)], frames

    def _masked_lstm(self, x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """A packed bidirectional LSTM's output, computed without packing: the backward direction reads each sequence
        reversed within its own length, so padding never reaches a real frame; padded frames are zero, as packing
        leaves them. Used on CPU, where packing is about 5x slower (oneDNN runs padded batches whole, packed ones step by
        step), and under torch.export (ONNX), which cannot trace packing's data-dependent shapes; CUDA packs."""
        steps = torch.ones_like(x[..., 0], dtype=torch.long).cumsum(1) - 1  # positions from the tensor itself, not from a traced shape
        valid = steps < frames[:, None]
        reverse = torch.where(valid, frames[:, None] - 1 - steps, steps)[..., None]  # a permutation of each row
        lstm, out = self.lstm, x
        train = torch.is_grad_enabled()  # cuDNN's backward needs its training kernel (dropout is 0 either way)
        for layer in range(lstm.num_layers):
            directions = []
            for suffix in ("", "_reverse"):
                weights = [getattr(lstm, f"{name}_l{layer}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                state = out.new_zeros(1, out.shape[0], lstm.hidden_size)
                source = out if not suffix else out.gather(1, reverse + torch.zeros_like(out, dtype=torch.long))
                y = torch.lstm(source, (state, state), weights, True, 1, 0.0, train, False, True)[0]
                directions.append(y if not suffix else y.gather(1, reverse + torch.zeros_like(y, dtype=torch.long)))
            out = torch.cat(directions, dim=-1)
        return out.masked_fill(~valid[..., None], 0.0)

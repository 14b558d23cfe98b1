"""Speech encoders behind one interface: ``forward(waves, lengths) -> (hidden_states, frame_lengths)``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig


def sample_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Boolean [B, max_len] mask, True on real (non-padded) positions."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_standardize(x: torch.Tensor, mask: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    """Zero mean, unit variance per item over ``dims``, counting only positions where ``mask`` is True.

    ``mask`` broadcasts to ``x``; masked positions come out as zero, so padding never enters the statistics.
    """
    mask = mask.expand_as(x)
    count = mask.sum(dims, keepdim=True).clamp_min(1)
    mean = x.masked_fill(~mask, 0.0).sum(dims, keepdim=True) / count
    var = (x - mean).masked_fill(~mask, 0.0).pow(2).sum(dims, keepdim=True) / count
    return ((x - mean) / torch.sqrt(var + eps)).masked_fill(~mask, 0.0)


def normalize_waves(waves: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Zero mean, unit variance per utterance over its real samples; padding stays zero.

    This is what Hugging Face's ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does, computed on the
    batch so that padding never enters the statistics.
    """
    return masked_standardize(waves, sample_mask(lengths, waves.shape[-1]), dims=(-1,), eps=eps)


def resolve_config(name_or_path: str | None, pretrained: bool, overrides: dict[str, Any], layerdrop_key: str, example: str) -> PretrainedConfig:
    """A Hugging Face config from a hub name or folder plus overrides, or from overrides alone (``model_type``).

    LayerDrop (``layerdrop_key``) defaults to 0 and may not be switched on: skipped layers change which
    hidden states exist from step to step, and which parameters DDP sees used.
    """
    overrides = {layerdrop_key: 0.0, **overrides}
    if overrides[layerdrop_key]:
        raise ValueError(f"{layerdrop_key} must be 0: skipped layers change which hidden states exist from step to step (and break DDP).")
    if name_or_path:
        return AutoConfig.from_pretrained(name_or_path, **overrides)
    if pretrained:
        raise ValueError(f"pretrained=True needs `name_or_path` (a hub name such as {example} or a local folder).")
    if "model_type" in overrides:
        return AutoConfig.for_model(**overrides)
    raise ValueError("pretrained=False needs `name_or_path` or a `config` with a `model_type`.")


class Backbone(nn.Module):
    """A speech encoder for the pooling head.

    ``forward(waves [B, T], lengths [B]) -> (hidden_states, frame_lengths)``: a list of ``num_layers``
    tensors [B, T', hidden_size] and the number of real frames per utterance. Subclasses hide
    everything model-specific (feature extraction, attention masks, input windows).
    """

    hidden_size: int
    num_layers: int


class HFBackbone(Backbone):
    """A Hugging Face speech encoder of the wav2vec2 family (wav2vec2, XLS-R, MMS, HuBERT, WavLM, data2vec-audio).

    ``pretrained=True`` loads weights with ``AutoModel.from_pretrained(name_or_path)`` (hub name or a
    local folder written by ``save_pretrained``). ``pretrained=False`` builds the same architecture with
    random weights (the "no self-supervised pre-training" ablation); ``config`` then gives or overrides
    the architecture (``{"model_type": "wav2vec2", "hidden_size": 64, ...}`` needs no download).
    The model is put in train mode (``from_pretrained`` returns it in eval mode, which silently
    disables dropout and SpecAugment) and its convolutional feature encoder is frozen by default.
    LayerDrop is switched off (many checkpoints ship 0.1): with it, the set of hidden states and of
    used parameters changes from step to step, which breaks layer choice and DDP.
    """

    def __init__(
        self,
        name_or_path: str | None = "facebook/wav2vec2-xls-r-300m",
        pretrained: bool = True,
        config: dict[str, Any] | None = None,
        freeze_feature_encoder: bool = True,
        freeze_encoder: bool = False,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        hf_config = resolve_config(name_or_path, pretrained, dict(config or {}), "layerdrop", "facebook/wav2vec2-xls-r-300m")
        self.model = AutoModel.from_pretrained(name_or_path, config=hf_config) if pretrained else AutoModel.from_config(hf_config)
        if not hasattr(self.model, "_get_feat_extract_output_lengths"):
            raise ValueError(
                f"{type(self.model).__name__} ({name_or_path or hf_config.model_type}) is not a raw-waveform encoder of the "
                "wav2vec2 family; HFBackbone supports wav2vec2, XLS-R, MMS, HuBERT, WavLM and data2vec-audio "
                "(use ser_lightning.models.WhisperBackbone for Whisper)."
            )
        self.model.train()
        cfg = self.model.config
        self.hidden_size = cfg.hidden_size
        self.num_layers = cfg.num_hidden_layers + 1
        self.normalize = normalize
        # wav2vec2-base style models (group norm in the feature encoder) were trained without attention masks.
        self.use_attention_mask = getattr(cfg, "feat_extract_norm", "layer") == "layer"
        if freeze_feature_encoder or freeze_encoder:
            self.model.freeze_feature_encoder()
        if freeze_encoder:
            for param in self.model.parameters():
                param.requires_grad = False

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        if self.normalize:
            waves = normalize_waves(waves, lengths)
        mask = sample_mask(lengths, waves.shape[-1]).long() if self.use_attention_mask else None
        out = self.model(waves, attention_mask=mask, output_hidden_states=True)
        frame_lengths = self.model._get_feat_extract_output_lengths(lengths).clamp(1, out.last_hidden_state.shape[1])
        return list(out.hidden_states), frame_lengths

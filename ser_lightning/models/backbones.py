"""Speech encoders behind one interface: ``forward(waves, lengths) -> (hidden_states, frame_lengths)``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, PretrainedConfig

from .finetuning import FinetuneMode, apply_finetuning, freeze_idle_modules
from .hub import hub_options, load_failure
from .masking import normalize_waves, sample_mask
from .standalone import architecture


def resolve_config(
    name_or_path: str | None, pretrained: bool, overrides: dict[str, Any], layerdrop_key: str, example: str, hub: dict[str, Any] | None = None
) -> PretrainedConfig:
    """A Hugging Face config from a hub name or folder plus overrides, or from overrides alone (``model_type``).

    LayerDrop (``layerdrop_key``) defaults to 0 and may not be switched on: skipped layers change which
    hidden states exist from step to step, and which parameters DDP sees used. ``hub`` holds the
    ``from_pretrained`` options of :func:`~ser_lightning.models.hub.hub_options`.
    """
    overrides = {layerdrop_key: 0.0, **overrides}
    if overrides[layerdrop_key]:
        raise ValueError(f"{layerdrop_key} must be 0: skipped layers change which hidden states exist from step to step (and break DDP).")
    if name_or_path:
        try:
            return AutoConfig.from_pretrained(name_or_path, **(hub or {}), **overrides)
        except OSError as error:
            raise load_failure(name_or_path, error) from None
    if pretrained:
        raise ValueError(f"pretrained=True needs `name_or_path` (a hub name such as {example} or a local folder).")
    if "model_type" in overrides:
        return AutoConfig.for_model(**overrides)
    raise ValueError("pretrained=False needs `name_or_path` or a `config` with a `model_type`.")


class Backbone(nn.Module):
    """A speech encoder for the pooling head.

    ``forward(waves [B, T], lengths [B]) -> (hidden_states, frame_lengths)``: a list of ``num_layers``
    tensors [B, T', hidden_size] and the number of real frames per utterance. Subclasses hide
    everything model-specific (feature extraction, attention masks, input windows). Sub-modules whose
    parameters are all frozen stay in eval mode when the backbone trains (see ``finetune``).
    """

    hidden_size: int
    num_layers: int
    min_samples: int = 1  # the shortest input that yields one real output frame; forward pads shorter input to it itself

    def layer_stack(self) -> list[nn.Module]:
        """The modules that make the hidden states (transformer layers, a final norm): where pooling one layer can leave
        parameters without a gradient. Empty for backbones without such a stack."""
        return []

    def freeze_unused(self, layer: int) -> int:
        """Freeze the parameters of :meth:`layer_stack` that cannot reach hidden state ``layer`` (the layers above it,
        a final norm that the hidden states do not include) and return how many there were: they would never get a
        gradient, which plain DDP refuses. Found by one evaluation-mode pass on a short random input (the random
        state is left as it was), since which norm a hidden state includes differs between transformers releases."""
        candidates = [p for module in self.layer_stack() for p in module.parameters() if p.requires_grad]
        if not candidates:
            return 0
        training = self.training
        with torch.random.fork_rng(devices=[]):
            self.eval()
            samples = max(4 * self.min_samples, 1600)
            hidden, _ = self(0.1 * torch.randn(1, samples), torch.tensor([samples]))
            grads = torch.autograd.grad(hidden[layer].float().sum(), candidates, allow_unused=True)
        unused = [p for p, grad in zip(candidates, grads) if grad is None]
        for parameter in unused:
            parameter.requires_grad_(False)
        self.train(training)  # modules now fully frozen run in eval mode
        return sum(p.numel() for p in unused)

    def standalone_args(self) -> dict[str, Any] | None:
        """Init arguments that rebuild this backbone's architecture and preprocessing without reading a hub or a
        folder (its weights come from the checkpoint), or None when it reads nothing (see ``models/standalone.py``)."""
        return None

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        if mode:
            freeze_idle_modules(self)
        return self


def enable_gradient_checkpointing(model: nn.Module) -> None:
    """transformers' gradient (activation) checkpointing of every encoder layer, non-reentrant so frozen inputs and LoRA
    work (``activation_checkpointing_enable`` since transformers 5.2x, ``gradient_checkpointing_enable`` before)."""
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise ValueError(f"{type(model).__name__} does not support gradient checkpointing in this transformers version.")
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def is_checkpointing(model: nn.Module) -> bool:
    """Whether transformers' gradient checkpointing is on for ``model`` (under either of its names)."""
    return bool(model.is_activation_checkpointing if hasattr(type(model), "is_activation_checkpointing") else model.is_gradient_checkpointing)


def receptive_field(kernels: list[int], strides: list[int]) -> int:
    """Samples a stack of 1-D convolutions needs for one output frame (400 for wav2vec2's 25 ms front end)."""
    samples = 1
    for kernel, stride in zip(reversed(kernels), reversed(strides)):
        samples = (samples - 1) * stride + kernel
    return samples


def checkpoint_preprocessing(name_or_path: str | None, hub: dict[str, Any] | None = None) -> dict[str, Any]:
    """``do_normalize`` and ``return_attention_mask`` from a checkpoint's feature-extractor config ({} when it has none)."""
    if not name_or_path:
        return {}
    try:
        extractor = AutoFeatureExtractor.from_pretrained(name_or_path, **(hub or {}))
    except (OSError, ValueError):
        return {}
    return {key: getattr(extractor, key) for key in ("do_normalize", "return_attention_mask") if hasattr(extractor, key)}


class HFBackbone(Backbone):
    """A Hugging Face speech encoder of the wav2vec2 family (wav2vec2, XLS-R, MMS, HuBERT, WavLM, data2vec-audio).

    The model is put in train mode (``from_pretrained`` returns it in eval mode, which silently disables
    dropout and SpecAugment). LayerDrop is switched off (many checkpoints ship 0.1): with it, the set of
    hidden states and of used parameters changes from step to step, which breaks layer choice and DDP.

    Input preprocessing follows the checkpoint: ``do_normalize`` and ``return_attention_mask`` of its
    feature-extractor config (``preprocessor_config.json``), else the rule Hugging Face documents:
    normalise, and pass an attention mask only to layer-norm models (``feat_extract_norm: layer``).
    Group-norm models (wav2vec2-base style) were pre-trained without one, so zero-padding reaches
    their features: an utterance padded in a batch pools to a slightly different vector than alone.

    Args:
        name_or_path: a hub name (``facebook/wav2vec2-xls-r-300m``, ``facebook/mms-300m``,
            ``microsoft/wavlm-base-plus``, ...) or a local folder written by ``save_pretrained``.
            ``null`` with ``pretrained: false`` builds the architecture from ``config`` alone.
        pretrained: load the checkpoint's weights; ``false`` builds the same architecture with random
            weights (the "no self-supervised pre-training" ablation).
        config: overrides of the model config (e.g. ``{mask_time_prob: 0}``), or a whole architecture with
            ``model_type`` when ``name_or_path`` is null (``{model_type: wav2vec2, hidden_size: 64, ...}``).
        finetune: which weights train: ``encoder`` (default: the convolutional feature encoder is frozen,
            the transformer trains), ``full``, ``top_layers`` (the last ``trainable_layers`` transformer
            layers), ``frozen`` (a probe: nothing trains, the encoder runs in eval mode) or ``lora``
            (LoRA adapters on the attention projections; needs ``peft``).
        trainable_layers: transformer layers that train with ``finetune: top_layers``.
        lora_rank: rank of the LoRA updates (``finetune: lora``).
        lora_alpha: LoRA scale numerator; updates are scaled by ``lora_alpha / lora_rank``.
        lora_dropout: dropout on the LoRA branch.
        normalize: scale each utterance to zero mean and unit variance over its real samples;
            ``null`` (default) follows the checkpoint's ``do_normalize`` (true when unknown).
        attention_mask: pass an attention mask so padding is ignored; ``null`` (default) follows the
            checkpoint's ``return_attention_mask``, else true only for ``feat_extract_norm: layer`` models.
        trust_remote_code: run model code that a hub repository ships (off: only architectures
            transformers itself implements load).
        gradient_checkpointing: recompute each transformer layer's activations in the backward pass instead of
            keeping them: much less GPU memory for fine-tuning (about a third more compute); same outputs and gradients.
        attn_implementation: transformers' attention kernel: ``sdpa`` (PyTorch's fused attention, where the model
            has it), ``eager``, or ``flash_attention_2`` (needs the flash-attn package); null lets transformers choose.
            WavLM has no SDPA path (eager attention keeps [batch x heads, T, T] weights per layer).
    """

    def __init__(
        self,
        name_or_path: str | None = "facebook/wav2vec2-xls-r-300m",
        pretrained: bool = True,
        config: dict[str, Any] | None = None,
        finetune: FinetuneMode = "encoder",
        trainable_layers: int = 2,
        lora_rank: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.0,
        normalize: bool | None = None,
        attention_mask: bool | None = None,
        trust_remote_code: bool = False,
        gradient_checkpointing: bool = False,
        attn_implementation: str | None = None,
    ) -> None:
        super().__init__()
        hub = hub_options(name_or_path, trust_remote_code) if name_or_path else {"trust_remote_code": trust_remote_code}
        hf_config = resolve_config(name_or_path, pretrained, dict(config or {}), "layerdrop", "facebook/wav2vec2-xls-r-300m", hub)
        attention = {"attn_implementation": attn_implementation} if attn_implementation else {}
        try:
            if pretrained:
                self.model = AutoModel.from_pretrained(name_or_path, config=hf_config, **hub, **attention)
            else:
                self.model = AutoModel.from_config(hf_config, trust_remote_code=trust_remote_code, **attention)
        except OSError as error:
            raise load_failure(str(name_or_path), error) from None
        if not hasattr(self.model, "_get_feat_extract_output_lengths"):
            raise ValueError(
                f"{type(self.model).__name__} ({name_or_path or hf_config.model_type}) is not a raw-waveform encoder of the "
                "wav2vec2 family; HFBackbone supports wav2vec2, XLS-R, MMS, HuBERT, WavLM and data2vec-audio "
                "(use ser_lightning.models.WhisperBackbone for Whisper)."
            )
        cfg = self.model.config
        self.hidden_size = cfg.hidden_size
        self.num_layers = cfg.num_hidden_layers + 1
        self.min_samples = receptive_field(cfg.conv_kernel, cfg.conv_stride)
        preprocessing = checkpoint_preprocessing(name_or_path, hub)
        self.normalize = preprocessing.get("do_normalize", True) if normalize is None else normalize
        layer_norm = getattr(cfg, "feat_extract_norm", "layer") == "layer"
        self.use_attention_mask = preprocessing.get("return_attention_mask", layer_norm) if attention_mask is None else attention_mask
        encoder = self.model.encoder
        apply_finetuning(
            self.model, finetune, feature_encoder=[self.model.feature_extractor], layers=encoder.layers,
            top=[encoder.layer_norm] if getattr(cfg, "do_stable_layer_norm", False) else [],
            trainable_layers=trainable_layers, lora_rank=lora_rank, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
        )  # fmt: skip
        if gradient_checkpointing:
            enable_gradient_checkpointing(self.model)
        self.train()

    def layer_stack(self) -> list[nn.Module]:
        return [self.model.encoder]

    def standalone_args(self) -> dict[str, Any]:
        return {
            "name_or_path": None,
            "pretrained": False,
            "config": architecture(self.model.config),
            "normalize": self.normalize,
            "attention_mask": self.use_attention_mask,
        }

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        if waves.shape[-1] < self.min_samples:  # shorter than one frame's receptive field: padded, as s3prl's upstreams do
            waves = nn.functional.pad(waves, (0, self.min_samples - waves.shape[-1]))
        lengths = lengths.clamp(min=self.min_samples)  # a clip shorter than one frame is heard with its padding
        if self.normalize:
            waves = normalize_waves(waves, lengths)
        mask = sample_mask(lengths, waves.shape[-1]).long() if self.use_attention_mask else None
        out = self.model(waves, attention_mask=mask, output_hidden_states=True)
        frame_lengths = self.model._get_feat_extract_output_lengths(lengths).clamp(1, out.last_hidden_state.shape[1])
        return list(out.hidden_states), frame_lengths

"""Gradient checkpointing (an option of both transformer backbones) changes memory, not results: equal outputs and gradients."""

from __future__ import annotations

import pytest
import torch

from ser_lightning.models import HFBackbone, WhisperBackbone
from ser_lightning.models.backbones import is_checkpointing

from .tiny import TINY_WAV2VEC2, TINY_WHISPER

NO_DROPOUT = {
    "wav2vec2": {"hidden_dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "feat_proj_dropout": 0.0, "mask_time_prob": 0.0},
    "whisper": {"dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0},
}


def build(kind: str, checkpointing: bool, attention: str | None = None):
    torch.manual_seed(0)
    if kind == "wav2vec2":
        return HFBackbone(name_or_path=None, pretrained=False, config={**TINY_WAV2VEC2, **NO_DROPOUT[kind]}, finetune="full",
                          gradient_checkpointing=checkpointing, attn_implementation=attention)  # fmt: skip
    return WhisperBackbone(name_or_path=None, pretrained=False, config={**TINY_WHISPER, **NO_DROPOUT[kind]}, window_seconds=2.0, finetune="full",
                           gradient_checkpointing=checkpointing, attn_implementation=attention)  # fmt: skip


@pytest.mark.parametrize("kind", ["wav2vec2", "whisper"])
def test_checkpointing_gives_the_same_outputs_and_gradients(kind):
    plain, checkpointed = build(kind, False), build(kind, True)
    checkpointed.load_state_dict(plain.state_dict())
    inner = checkpointed.model if kind == "wav2vec2" else checkpointed.encoder
    assert is_checkpointing(inner) and not is_checkpointing(plain.model if kind == "wav2vec2" else plain.encoder)
    waves, lengths = torch.randn(2, 24000), torch.tensor([24000, 16000])
    results = []
    for backbone in (plain, checkpointed):
        backbone.train()
        hidden, frames = backbone(waves, lengths)
        loss = sum(h.pow(2).mean() for h in hidden)
        loss.backward()
        results.append((hidden, frames, {n: p.grad.clone() for n, p in backbone.named_parameters() if p.grad is not None}))
    (h1, f1, g1), (h2, f2, g2) = results
    assert torch.equal(f1, f2) and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(h1, h2))
    assert g1.keys() == g2.keys() and len(g1) > 10
    assert all(torch.allclose(g1[name], g2[name], atol=1e-5, rtol=1e-4) for name in g1)


@pytest.mark.parametrize("kind", ["wav2vec2", "whisper"])
def test_the_attention_kernel_is_chosen_by_the_option(kind):
    eager = build(kind, False, "eager")
    inner = eager.model if kind == "wav2vec2" else eager.encoder
    assert inner.config._attn_implementation == "eager"
    sdpa = build(kind, False, "sdpa")
    sdpa.load_state_dict(eager.state_dict())
    waves, lengths = torch.randn(2, 16000), torch.tensor([16000, 12000])
    a, _ = eager.eval()(waves, lengths)
    b, _ = sdpa.eval()(waves, lengths)
    assert torch.allclose(a[-1], b[-1], atol=1e-4)

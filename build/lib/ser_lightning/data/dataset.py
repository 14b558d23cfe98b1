"""The map-style Dataset: one manifest record in, one mono waveform at the model's rate out."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .audio import load_audio, random_crop
from .manifest import Utterance

Augment = Callable[..., np.ndarray]


class UtteranceDataset(Dataset):
    """Loads utterances as float32 mono waves at ``sample_rate`` with integer labels.

    ``roles`` tags each utterance for evaluation (``source``: held-out speakers of a training
    corpus, ``target``: a corpus or language never trained on). ``max_seconds`` crops long
    utterances at random (training only); ``augment`` is an audiomentations-style callable
    ``augment(samples=..., sample_rate=...)``.
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        label_names: Sequence[str],
        sample_rate: int,
        roles: Sequence[str] | str = "source",
        max_seconds: float | None = None,
        augment: Augment | None = None,
    ) -> None:
        self.utterances = list(utterances)
        self.label_index = {name: i for i, name in enumerate(label_names)}
        self.sample_rate = sample_rate
        self.roles = [roles] * len(self.utterances) if isinstance(roles, str) else list(roles)
        if len(self.roles) != len(self.utterances):
            raise ValueError(f"Got {len(self.roles)} roles for {len(self.utterances)} utterances.")
        self.max_samples = int(max_seconds * sample_rate) if max_seconds else None
        self.augment = augment

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def durations(self) -> list[float]:
        """Durations in seconds after cropping, for length-aware batching."""
        cap = self.max_samples / self.sample_rate if self.max_samples else float("inf")
        return [min(u.duration, cap) for u in self.utterances]

    def __getitem__(self, index: int) -> dict[str, Any]:
        utt = self.utterances[index]
        wave = load_audio(utt.path, self.sample_rate)
        if self.max_samples:
            wave = random_crop(wave, self.max_samples)
        if self.augment is not None:
            wave = torch.from_numpy(np.ascontiguousarray(self.augment(samples=wave.numpy(), sample_rate=self.sample_rate), dtype=np.float32))
        meta = {"path": utt.path, "speaker": utt.speaker, "language": utt.language, "corpus": utt.corpus, "role": self.roles[index]}
        return {"wave": wave, "label": self.label_index[utt.label], "meta": meta}

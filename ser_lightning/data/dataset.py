"""The map-style Dataset: one manifest record in, one mono waveform at the model's rate out."""

from __future__ import annotations

import contextlib
import hashlib
import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..naming import snr_tag
from .audio import AudioError, load_audio, random_crop
from .audio_cache import DecodedAudio
from .augment import EvaluationNoise
from .batching import collate_utterances
from .manifest import Utterance

Augment = Callable[..., np.ndarray]


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one training item's random crop and augmentation: a function of (seed, epoch, index) alone."""
    digest = hashlib.sha256(f"{seed}|{epoch}|{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@contextlib.contextmanager
def seeded_globals(seed: int) -> Iterator[None]:
    """Seed Python's and numpy's global random state (which audiomentations draws from) for a block, then restore it."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def noise_key(utt: Utterance) -> str:
    """A machine-independent name of an utterance for its evaluation noise (corpus, speaker, file name)."""
    return f"{utt.corpus}/{utt.speaker}/{Path(utt.path).name}"


def item_meta(utt: Utterance, snr: float | None, tagged: bool) -> dict[str, Any]:
    """What a batch carries about one utterance besides its wave and label (the evaluation rows' columns).

    The SNR tag is set where the dataset holds several test copies (``tagged``) or this one is noisy.
    """
    meta: dict[str, Any] = {
        "path": utt.path,
        "speaker": utt.speaker,
        "language": utt.language,
        "corpus": utt.corpus,
        "role": utt.role,
    }
    if tagged or snr is not None:
        meta["snr"] = snr_tag(snr)
    return meta


class UtteranceDataset(Dataset):
    """Loads utterances as float32 mono waves at ``sample_rate`` with integer labels.

    Each utterance's ``role`` (set by the split plan) tags it for evaluation (``source``: held-out speakers of a
    training corpus, ``target``: a corpus or language never trained on). ``max_seconds`` crops long
    utterances at random (training only); ``augment`` is an audiomentations-style callable
    ``augment(samples=..., sample_rate=...)``. With ``snrs`` every utterance appears once per SNR
    (None = clean) with ``noise`` added at that SNR, and its ``meta`` carries ``snr``. Indexed with
    ``(epoch, index)`` (as the DataModule's training batches are), the crop and augmentation of an item
    are drawn from :func:`item_seed` of ``seed``, epoch and index: the same on any number of workers or
    ranks, and after a resume. An unlabelled
    dataset (``labelled=False``) drops the labels when it is built and yields label -1. With
    ``skip_bad`` a file that fails to load (it changed since setup checked it) is left out of its
    batch with a warning instead of stopping the run. ``audio`` keeps decoded waves in memory between epochs (a
    :class:`~ser_lightning.data.audio_cache.DecodedAudio` at the same ``sample_rate``, shared by a DataModule's
    datasets); None decodes every read.
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        label_names: Sequence[str],
        sample_rate: int,
        max_seconds: float | None = None,
        augment: Augment | None = None,
        snrs: Sequence[float | None] = (None,),
        noise: EvaluationNoise | None = None,
        labelled: bool = True,
        skip_bad: bool = False,
        seed: int = 0,
        audio: DecodedAudio | None = None,
    ) -> None:
        if audio is not None and audio.sample_rate != sample_rate:
            raise ValueError(f"The audio cache holds waves at {audio.sample_rate} Hz, not the dataset's {sample_rate} Hz.")
        self.utterances = list(utterances) if labelled else [u.with_(label="") for u in utterances]
        self.labelled = labelled
        self.label_index = {name: i for i, name in enumerate(label_names)}
        self.sample_rate = sample_rate
        self.max_samples = int(max_seconds * sample_rate) if max_seconds else None
        self.augment = augment
        self.snrs = list(snrs) or [None]
        if any(snr is not None for snr in self.snrs) and noise is None:
            raise ValueError("Noisy evaluation needs an EvaluationNoise.")
        self.noise = noise
        self.skip_bad = skip_bad
        self.seed = seed
        self.audio = audio

    def __len__(self) -> int:
        return len(self.utterances) * len(self.snrs)

    @property
    def durations(self) -> list[float]:
        """Durations in seconds after cropping, for length-aware batching (repeated once per SNR)."""
        cap = self.max_samples / self.sample_rate if self.max_samples else float("inf")
        return [min(u.duration, cap) for u in self.utterances] * len(self.snrs)

    @property
    def roles(self) -> list[str]:
        """The role of each utterance (``source``, ``target``), as its split plan set it."""
        return [u.role for u in self.utterances]

    @property
    def labels(self) -> list[str]:
        """The label of each item, aligned with :attr:`durations` (repeated once per SNR)."""
        return [u.label for u in self.utterances] * len(self.snrs)

    def collate(self, items: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
        """:func:`collate_utterances` of the items that loaded (None when none did)."""
        loaded = [item for item in items if item is not None]
        return collate_utterances(loaded) if loaded else None

    def __getitem__(self, index: int | tuple[int, int, int]) -> dict[str, Any] | None:
        epoch, index, position = index if isinstance(index, tuple) else (None, index, None)
        snr = self.snrs[index // len(self.utterances)]
        utt = self.utterances[index % len(self.utterances)]
        try:
            wave = self.audio.load(utt.path) if self.audio is not None else load_audio(utt.path, self.sample_rate)
        except AudioError as error:
            if not self.skip_bad:
                raise
            warnings.warn(f"Skipped while training: {error}", stacklevel=1)
            return None
        seed = item_seed(self.seed, epoch, index) if epoch is not None else None
        if self.max_samples:
            wave = random_crop(wave, self.max_samples, torch.Generator().manual_seed(seed) if seed is not None else None)
        if self.augment is not None:
            with seeded_globals(seed) if seed is not None else contextlib.nullcontext():
                augmented = self.augment(samples=wave.numpy(), sample_rate=self.sample_rate)
            wave = torch.from_numpy(np.ascontiguousarray(augmented, dtype=np.float32))
        if snr is not None:
            wave = self.noise(wave, noise_key(utt), snr)
        meta = item_meta(utt, snr, tagged=len(self.snrs) > 1)
        if position is not None:
            meta["train_position"] = (epoch, position)  # the batch's place in its epoch (see ResumableBatches)
        label = self.label_index[utt.label] if self.labelled else -1
        return {"wave": wave, "label": label, "meta": meta}

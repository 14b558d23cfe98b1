"""LightningDataModules: one shared base, a cross-lingual composition, and one thin class per corpus."""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, SequentialSampler

from .augment import noise_augmentation
from .batching import DurationBatchSampler, EpochShuffleSampler, collate_utterances
from .corpora import Corpus, SyntheticCorpus
from .dataset import UtteranceDataset
from .labels import CATEGORICAL4, LabelSpace
from .manifest import ManifestError, Utterance
from .splits import Split, speaker_key, speaker_split
from .synthetic import LANGUAGES


class SERDataModule(LightningDataModule):
    """Speaker-independent train/val/test over one or more corpora, with length-aware batches.

    Within each language of each corpus, ``val_speakers`` and ``test_speakers`` speakers (counts, or
    fractions of that group's speakers) are held out; everything else trains. Test utterances carry a
    ``role`` (``source`` here) and a ``language``; :attr:`test_groups` lists the groups that metrics
    are reported for.
    """

    def __init__(
        self,
        corpora: Sequence[Corpus],
        label_names: Sequence[str] = CATEGORICAL4,
        label_mapping: dict[str, str] | None = None,
        sample_rate: int = 16000,
        batch_size: int = 16,
        num_workers: int = 0,
        val_speakers: int | float = 1,
        test_speakers: int | float = 1,
        seed: int = 0,
        max_train_seconds: float | None = None,
        train_noise_snr: tuple[float, float] | None = None,
        train_noise_p: float = 0.5,
    ) -> None:
        super().__init__()
        if not corpora:
            raise ValueError("Give at least one corpus to train on.")
        self.corpora = list(corpora)
        self.label_space = LabelSpace(tuple(label_names), dict(label_mapping or {}))
        self.sample_rate = sample_rate
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_speakers = val_speakers
        self.test_speakers = test_speakers
        self.seed = seed
        self.max_train_seconds = max_train_seconds
        self.train_noise = noise_augmentation(*train_noise_snr, p=train_noise_p) if train_noise_snr else None
        self.datasets: dict[str, UtteranceDataset] = {}

    @property
    def num_classes(self) -> int:
        return self.label_space.num_classes

    @property
    def label_names(self) -> list[str]:
        return list(self.label_space.names)

    def all_corpora(self) -> list[Corpus]:
        """Every corpus this module reads (sources and, in subclasses, targets)."""
        return self.corpora

    def prepare_data(self) -> None:
        for corpus in self.all_corpora():
            corpus.prepare()

    def _load(self, corpora: Sequence[Corpus]) -> list[Utterance]:
        utterances: list[Utterance] = []
        for corpus in corpora:
            kept, dropped = self.label_space.apply(corpus.load(), source=repr(corpus))
            if dropped:
                rank_zero_info(f"{corpus!r}: left out {sum(dropped.values())} utterances with labels outside {self.label_names}: {dict(dropped)}")
            utterances.extend(kept)
        return utterances

    def make_split(self) -> tuple[Split, list[str]]:
        """The speaker-independent split and the role of each test utterance."""
        split = speaker_split(self._load(self.corpora), self.val_speakers, self.test_speakers, seed=self.seed)
        return split, ["source"] * len(split.test)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        split, test_roles = self.make_split()
        names = self.label_names
        datasets = {
            "train": UtteranceDataset(split.train, names, self.sample_rate, max_seconds=self.max_train_seconds, augment=self.train_noise),
            "val": UtteranceDataset(split.val, names, self.sample_rate),
            "test": UtteranceDataset(split.test, names, self.sample_rate, roles=test_roles),
        }
        for name, dataset in datasets.items():
            if len(dataset) == 0:
                raise ManifestError(f"The {name} split is empty; check the corpora's languages and the val/test speaker counts.")
        self.datasets = datasets
        rank_zero_info(self.describe())

    def test_group_values(self, key: str) -> list[str]:
        """The values of a batch ``meta`` key (``role``, ``language``, ``corpus``, ``speaker``) in the test set.

        Metrics are reported per value; every rank must know them before testing starts (DDP sync).
        """
        test = self.datasets["test"]
        values = test.roles if key == "role" else [getattr(u, key) for u in test.utterances]
        return sorted(set(values))

    def describe(self) -> str:
        """A short table of utterances and speakers per split and language."""
        lines = ["split  language  utterances  speakers"]
        for name, dataset in self.datasets.items():
            per_language = Counter(u.language for u in dataset.utterances)
            for language, count in sorted(per_language.items()):
                speakers = {speaker_key(u) for u in dataset.utterances if u.language == language}
                lines.append(f"{name:<6} {language:<9} {count:>10}  {len(speakers):>8}")
        return "\n".join(lines)

    def _loader(self, dataset: UtteranceDataset, train: bool) -> DataLoader:
        sampler = EpochShuffleSampler(len(dataset), self.seed) if train else SequentialSampler(dataset)
        batches = DurationBatchSampler(sampler, dataset.durations, self.batch_size, drop_last=False, shuffle=train, seed=self.seed)
        return DataLoader(
            dataset,
            batch_sampler=batches,
            collate_fn=collate_utterances,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["train"], train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["val"], train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["test"], train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["test"], train=False)


class CrossLingualDataModule(SERDataModule):
    """Train on ``sources``; test on their held-out speakers and on every speaker of ``targets``.

    Source and target entries may be two language filters of one multilingual corpus. A speaker
    that would be both trained on and tested as a target is an error.
    """

    def __init__(self, sources: Sequence[Corpus], targets: Sequence[Corpus], **kwargs: Any) -> None:
        super().__init__(corpora=sources, **kwargs)
        if not targets:
            raise ValueError("Give at least one target corpus (the language or corpus never trained on).")
        self.targets = list(targets)

    def all_corpora(self) -> list[Corpus]:
        return self.corpora + self.targets

    def make_split(self) -> tuple[Split, list[str]]:
        split, roles = super().make_split()
        target = self._load(self.targets)
        trained = split.speakers("train") | split.speakers("val")
        leaked = sorted({speaker_key(u) for u in target} & trained)
        if leaked:
            raise ManifestError(f"Target speakers {leaked[:5]} are also source speakers; give sources and targets disjoint languages or corpora.")
        split.test.extend(target)
        return split, roles + ["target"] * len(target)


class SyntheticDataModule(SERDataModule):
    """A DataModule for in-corpus experiments on the demo corpus (:class:`SyntheticCorpus`, written under ``root`` on first use).

    The generation arguments are those of :class:`SyntheticCorpus` (``synth_seed`` is its ``seed``;
    ``languages`` are generated and all used); the rest go to :class:`SERDataModule`.
    """

    def __init__(
        self,
        root: str = "data/synthetic",
        languages: Sequence[str] = LANGUAGES,
        speakers_per_language: int = 6,
        sentences_per_language: int = 12,
        shift: float = 1.0,
        remap: float = 0.6,
        synth_seed: int = 0,
        noise_floor_db: tuple[float, float] | None = (45.0, 60.0),
        **kwargs: Any,
    ) -> None:
        corpus = SyntheticCorpus(
            root,
            synth_languages=languages,
            speakers_per_language=speakers_per_language,
            sentences_per_language=sentences_per_language,
            shift=shift,
            remap=remap,
            seed=synth_seed,
            noise_floor_db=noise_floor_db,
        )
        super().__init__(corpora=[corpus], **kwargs)

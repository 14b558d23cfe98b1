"""The LightningDataModule: a split plan's utterances loaded, checked, turned into datasets and served in length-aware batches."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import torch
from audiomentations.core.transforms_interface import BaseWaveformTransform
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader, SequentialSampler
from typing_extensions import override

from ..naming import snr_tag
from .audio_cache import DecodedAudio
from .augment import EvaluationNoise, compose_augmentations
from .batching import DurationBatchSampler, EpochShuffleSampler, collate_utterances
from .corpora import Corpus
from .dataset import UtteranceDataset
from .labels import LabelSpace, LabelSpaceName, NeutralValence, build_label_space
from .manifest import ManifestError, Utterance
from .plans import SpeakerHoldout, SplitPlan
from .resume import ResumableBatches
from .splits import Split
from .summary import count_classes, describe_summary


@dataclass(frozen=True)
class DataRecord:
    """What a set-up DataModule holds for the run's files: the summary (``split.json``), the shots drawn, and the files
    left out (path -> reason: ``on_bad_audio: skip`` and the corpus parsers)."""

    summary: dict[str, Any]
    shots: list[Utterance]
    bad_audio: dict[str, str]
    skipped_files: dict[str, str]


STAGE_SPLITS: dict[str, tuple[str, ...]] = {  # the datasets each trainer function reads
    "fit": ("train", "unlabelled", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": ("test",),
}


class SERDataModule(LightningDataModule):
    """A split plan's train/val/test utterances, loaded, checked and served in length-aware batches.

    The ``plan`` (:mod:`~ser_lightning.data.plans`: ``SpeakerHoldout``, ``CorpusFolds``, ``CrossLingual``) decides
    the split and every utterance's ``role``; this module loads the corpora it names (label space, bad-audio
    policy), builds the datasets and loaders and keeps the place in the epoch for exact resume. ``corpora`` is
    the shorthand for ``plan: SpeakerHoldout``: within each language of each corpus, ``val_speakers`` and
    ``test_speakers`` speakers are held out. :meth:`test_group_values` lists the groups that metrics are reported
    for. Utterances outside the label space are dropped and counted in the log, per corpus and label.

    Args:
        plan: the split plan (``class_path: ser_lightning.data.CrossLingual`` and its ``init_args``); or give ``corpora``.
        corpora: shorthand for ``plan: SpeakerHoldout`` over these corpora (``class_path`` entries: ``SyntheticCorpus``,
            ``ManifestCorpus``, or a real-corpus parser such as ``EmoDB``).
        label_space: the classes: ``categorical4`` (angry, happy, neutral, sad; IEMOCAP's excited counts
            as happy), ``native`` (every emotion word of the corpora read), ``binary_valence`` (negative,
            positive), ``arousal`` (high, low), or ``custom`` (``label_names``); tables in ``data/labels.py``.
        label_names: class names of a custom space (given with the default ``categorical4``, they replace it).
        label_mapping: corpus word -> class, added to the space's own mapping, e.g. ``{calm: neutral}``.
        neutral_valence: neutral's side in ``binary_valence``: ``drop``, ``positive`` or ``negative``.
        sample_rate: rate in Hz that every file is resampled to (16000 for wav2vec2-family and Whisper models).
        batch_size: utterances per batch; batches group utterances of similar duration.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_speakers: with ``corpora``: speakers held out for validation in each language of each corpus: a count (1),
            or a fraction of that group's speakers (0.2).
        test_speakers: with ``corpora``: speakers held out for testing per language of each corpus, as ``val_speakers``.
        seed: seed of the speaker split, the few-shot draw, the batch order and the evaluation noise; null (default)
            follows ``seed_everything``, so ``--seed_everything 1`` varies the split and the shots as well as the model;
            a number fixes the data while ``seed_everything`` varies the model alone.
        max_train_seconds: randomly crop longer training utterances to this many seconds; null keeps them whole.
        train_augment: audiomentations transforms applied in order to training utterances, each with its own
            probability ``p``, e.g. ``AddGaussianSNR`` (white noise at an SNR range in dB),
            ``AddBackgroundNoise`` (a folder of noise files such as MUSAN), ``Gain``; null for none.
        test_snrs: test once per entry: null is the clean set, a number adds noise at that SNR in dB
            (e.g. ``[null, 20, 10, 5, 0]``); metrics are logged per SNR as ``test/ua/<group>/snr10``.
        test_noise_dir: folder of evaluation noise recordings for ``test_snrs``; null adds white noise.
            Noise is the same for an utterance and SNR on every run, whatever the workers or ranks.
        test_noise_seed: the seed of that noise; null (default) follows ``seed``. A number gives an utterance the same
            noise in every seed's runs (the noisy test set is one condition, not part of the split), so a frozen
            backbone's cached features of noisy copies serve every seed that tests the utterance.
        on_bad_audio: what a bad audio file does: ``error`` (default: the run stops before training and names
            every bad file) or ``skip`` (bad files are left out and listed with their reasons in
            ``bad_audio.csv`` in the run's log folder: :class:`~ser_lightning.run_files.RunRecorder`, which the CLI
            adds, writes it). Bad means missing, unreadable, empty, shorter than ``min_seconds``, or (with
            ``check_samples``) NaN/Inf samples, floats far outside [-1, 1], silence,
            or stereo channels that cancel in the mono mix. Odd but sound files (any bit depth, rate,
            channel count, FLAC/OGG/MP3) are converted, never rejected.
        check_samples: decode every file once at setup to check its samples (cached per file, so only new or
            changed files are decoded again); false checks headers only, and faulty samples then stop the
            run when the file is first read.
        min_seconds: files shorter than this are bad audio (0: none is; a backbone pads input shorter than one of its
            frames itself).
        max_batch_seconds: budget of padded seconds per batch (rows x longest utterance) on top of
            ``batch_size``, so long utterances come in smaller batches and short ones fill them; an
            utterance longer than it is a batch of its own; null: the count alone limits a batch.
        balance_batches: training buckets hold the same duration slice of every class, so each batch
            keeps the training set's class mix even where duration tracks emotion (acted corpora: sad is
            slow, angry fast); costs padding where classes differ in length. false groups by duration alone.
        audio_cache_mb: megabytes of decoded, resampled waves kept in memory, so that epochs after the first skip
            decoding and resampling (an hour of 16 kHz audio is 230 MB); a file that changed is read again; 0 decodes
            every read. Per process: each DDP rank has its own, the workers of a DataLoader share it (so with
            ``num_workers`` > 0 it serves less; see :class:`~ser_lightning.data.audio_cache.DecodedAudio`).
    """

    def __init__(
        self,
        plan: SplitPlan | None = None,
        corpora: Sequence[Corpus] | None = None,
        label_space: LabelSpaceName = "categorical4",
        label_names: Sequence[str] | None = None,
        label_mapping: dict[str, str] | None = None,
        neutral_valence: NeutralValence = "drop",
        sample_rate: int = 16000,
        batch_size: int = 16,
        num_workers: int = 0,
        val_speakers: int | float = 1,
        test_speakers: int | float = 1,
        seed: int | None = None,
        max_train_seconds: float | None = None,
        train_augment: Sequence[BaseWaveformTransform] | None = None,
        test_snrs: Sequence[float | None] | None = (None,),
        test_noise_dir: str | None = None,
        test_noise_seed: int | None = None,
        on_bad_audio: Literal["error", "skip"] = "error",
        check_samples: bool = True,
        min_seconds: float = 0.0,
        max_batch_seconds: float | None = None,
        balance_batches: bool = True,
        audio_cache_mb: float = 1024.0,
    ) -> None:
        super().__init__()
        self.plan = _plan_of(plan, corpora, val_speakers, test_speakers)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if num_workers < 0:
            raise ValueError(f"num_workers must be 0 (load in the main process) or more, got {num_workers}.")
        if max_train_seconds is not None and max_train_seconds <= 0:
            raise ValueError(f"max_train_seconds must be a positive number of seconds (or null to keep utterances whole), got {max_train_seconds}.")
        if max_batch_seconds is not None and max_batch_seconds <= 0:
            raise ValueError(
                "max_batch_seconds must be positive (seconds of padded audio per batch: rows x longest utterance), or "
                f"null for no budget; got {max_batch_seconds}."
            )
        self.max_batch_seconds = max_batch_seconds
        self.balance_batches = balance_batches
        if on_bad_audio not in ("error", "skip"):
            raise ValueError(f"on_bad_audio must be 'error' or 'skip', got {on_bad_audio!r}.")
        self.on_bad_audio = on_bad_audio
        self.check_samples = check_samples
        self.min_seconds = min_seconds
        self.bad_audio: dict[str, str] = {}
        self.skipped_files: dict[str, str] = {}  # odd names of real releases that the parsers could not read
        self.corpora = self.plan.corpora()
        self._label_spec = dict(name=label_space, label_names=label_names, label_mapping=label_mapping, neutral_valence=neutral_valence)
        if label_space != "native":
            build_label_space(**self._label_spec)  # a bad name or mapping fails here, not at setup
        self.sample_rate = sample_rate
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.audio = DecodedAudio(sample_rate, audio_cache_mb)  # one for every split, so the megabytes are the module's
        self._seed = seed
        self.max_train_seconds = max_train_seconds
        self.train_augment = compose_augmentations(train_augment)
        self.test_snrs = list(test_snrs or ()) or [None]  # null or [] test the clean set once
        self.test_noise_dir = test_noise_dir
        self.test_noise_seed = test_noise_seed
        EvaluationNoise(sample_rate, test_noise_dir)  # a bad folder fails here, not at test time
        self.datasets: dict[str, UtteranceDataset] = {}
        self._audio_datasets: dict[str, UtteranceDataset] = {}  # the audio of splits read from other inputs (use_inputs)
        self._inputs: Any = None
        self.summary: dict[str, Any] = {}
        self.split = Split()  # the plan's split, after setup

    @property
    def seed(self) -> int:
        """The data seed: ``seed``, or ``seed_everything``'s when ``seed`` is null."""
        return self._seed if self._seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))

    @cached_property
    def label_space(self) -> LabelSpace:
        """The classes the model predicts; ``native`` collects the words of every corpus this module reads."""
        native = [word for corpus in self.all_corpora() for word in corpus.native_labels()] if self._label_spec["name"] == "native" else ()
        return build_label_space(**self._label_spec, native=native)

    @property
    def num_classes(self) -> int:
        return self.label_space.num_classes

    @property
    def label_names(self) -> list[str]:
        return list(self.label_space.names)

    def all_corpora(self) -> list[Corpus]:
        """Every corpus this module reads (the plan's sources and targets)."""
        return self.plan.corpora()

    @property
    def shots(self) -> list[Utterance]:
        """The labelled few-shot target utterances drawn (after ``setup``; each once)."""
        return self.split.shots

    @property
    def adaptation(self) -> list[Utterance]:
        """The utterances of the target speakers set aside for adaptation (after ``setup``; never tested)."""
        return self.split.adaptation

    def prepare_data(self) -> None:
        for corpus in self.all_corpora():
            corpus.prepare()

    def load(self, corpora: Sequence[Corpus]) -> list[Utterance]:
        """The utterances of ``corpora`` in the label space (drops counted in the log), bad audio checked: the plan's loader."""
        utterances: list[Utterance] = []
        faults: dict[str, str] | None = {} if self.on_bad_audio == "skip" else None
        for corpus in corpora:
            loaded = corpus.load(check_samples=self.check_samples, min_seconds=self.min_seconds, faults=faults)
            self.skipped_files |= corpus.skipped
            kept, dropped = self.label_space.apply(loaded, source=repr(corpus))
            if dropped:
                rank_zero_info(f"{corpus!r}: left out {sum(dropped.values())} utterances with labels outside {self.label_names}: {dict(dropped)}")
            utterances.extend(kept)
        if faults:
            self.bad_audio |= faults
            rank_zero_warn(f"Left out {len(faults)} bad audio file(s) (on_bad_audio: skip); e.g. {next(iter(faults.values()))}")
        return utterances

    def make_split(self) -> Split:
        """The plan's split of the corpora as loaded (``setup`` uses it; call it to inspect a split without datasets)."""
        return self.plan.split(self.load, self.seed)

    def make_datasets(self, split: Split) -> dict[str, UtteranceDataset]:
        """The train/val/test (and unlabelled) datasets of a split."""
        names, skip_bad = self.label_names, self.on_bad_audio == "skip"
        noise_seed = self.test_noise_seed if self.test_noise_seed is not None else self.seed
        noise = EvaluationNoise(self.sample_rate, self.test_noise_dir, seed=noise_seed)
        train_options = dict(max_seconds=self.max_train_seconds, skip_bad=skip_bad, audio=self.audio)
        datasets = {
            "train": UtteranceDataset(split.train, names, self.sample_rate, augment=self.train_augment, seed=self.seed, **train_options),
            "val": UtteranceDataset(split.val, names, self.sample_rate, skip_bad=skip_bad, audio=self.audio),
            "test": UtteranceDataset(split.test, names, self.sample_rate, snrs=self.test_snrs, noise=noise, skip_bad=skip_bad, audio=self.audio),
        }
        if split.unlabelled:
            datasets["unlabelled"] = UtteranceDataset(split.unlabelled, names, self.sample_rate, labelled=False, seed=self.seed + 1, **train_options)
        return datasets

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        split = self.make_split()
        for note in split.notes:
            rank_zero_info(note)
        datasets = self.make_datasets(split)
        for name, dataset in datasets.items():
            if len(dataset) == 0:
                raise ManifestError(f"The {name} split is empty; check the corpora's languages and the val/test speaker counts.")
        self.split, self.datasets = split, datasets
        self.summary = self.split_summary()
        rank_zero_info(describe_summary(self.summary))
        if self.trainer is not None and stage in ("fit", None):
            self._log_effective_batch()  # part of the summary (split.json)
        if split.adaptation:
            self._describe_shots()

    def record(self) -> DataRecord:
        """What this DataModule trained and tests on (after ``setup``), for the run's files (:class:`~ser_lightning.run_files.RunRecorder`)."""
        return DataRecord(self.summary, list(self.split.shots), dict(self.bad_audio), dict(self.skipped_files))

    def _describe_shots(self) -> None:
        speakers = sorted({u.speaker for u in self.split.adaptation})
        message = f"Adaptation: {len(speakers)} target speaker(s) set aside and never tested ({', '.join(speakers)})"
        if self.split.shots:
            message += f"; {len(self.split.shots)} shots ({self.summary['shots']}), each seen {self.summary['shots_oversample']}x per epoch"
        rank_zero_info(message + ".")

    def _log_effective_batch(self) -> None:
        """Utterances per optimizer step: ``devices: auto`` on a bigger node changes it while learning rates stay put."""
        world, accumulate = self.trainer.world_size, self.trainer.accumulate_grad_batches
        per_step = self.batch_size * accumulate * world
        self.summary["effective_batch"] = {
            "batch_size": self.batch_size,
            "accumulate_grad_batches": accumulate,
            "processes": world,
            "utterances": per_step,
        }
        budget = f" (at most; max_batch_seconds {self.max_batch_seconds:g} s caps each batch)" if self.max_batch_seconds else ""
        rank_zero_info(
            f"Effective batch: {self.batch_size} utterances x {accumulate} accumulated x {world} process(es) = {per_step} per optimizer step"
            f"{budget}; learning rates are not scaled with it: pin trainer.devices, or adjust lr and accumulate_grad_batches together."
        )

    def split_summary(self) -> dict[str, Any]:
        """Utterances per class and speakers of every split, role and language (after ``setup``), as plain data."""
        splits = {name: count_classes(d.utterances, self.label_names) for name, d in self.datasets.items() if d.labelled}
        return {"seed": self.seed, "label_names": self.label_names, "splits": splits} | self.plan.summary(self.split, self.label_names)

    def train_label_counts(self) -> list[int]:
        """Training utterances per class, in class order (after ``setup``): for ``class_weights: auto``."""
        if "train" not in self.datasets:
            raise RuntimeError("train_label_counts() needs the training split: call setup('fit') first.")
        counts = Counter(u.label for u in self.datasets["train"].utterances)
        return [counts[name] for name in self.label_names]

    def test_group_values(self, key: str) -> list[str]:
        """The values of a batch ``meta`` key (``role``, ``language``, ``corpus``, ``speaker``) in the test set.

        Metrics are reported per value; every rank must know them before testing starts (DDP sync).
        """
        test = self.datasets["test"]
        if key == "snr":
            return [snr_tag(snr) for snr in test.snrs]
        values = test.roles if key == "role" else [getattr(u, key) for u in test.utterances]
        return sorted(set(values))

    def use_inputs(self, inputs: Any, stage: str) -> dict[str, str]:
        """Read the splits of ``stage`` from ``inputs`` instead of audio where they allow it, e.g. a frozen backbone's
        cached features (:class:`~ser_lightning.features.inputs.CachedInputs`: ``why_not(dataset)``, ``wrap(dataset)``
        and ``attach(batch)``). Returns ``{split: reason}`` for the splits that stay audio (random crops, augmentation).
        :meth:`use_audio` goes back to audio."""
        kept: dict[str, str] = {}
        for name in STAGE_SPLITS.get(stage, ()):
            if name not in self.datasets:
                continue
            audio = self._audio_datasets.get(name, self.datasets[name])
            reason = inputs.why_not(audio)
            if reason is not None:
                kept[name] = reason
                continue
            self._audio_datasets[name] = audio
            self.datasets[name] = inputs.wrap(audio)
        self._inputs = inputs
        return kept

    def use_audio(self) -> None:
        """Read every split from audio again (after :meth:`use_inputs`)."""
        self.datasets.update(self._audio_datasets)
        self._audio_datasets, self._inputs = {}, None

    @override
    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Give batches of cached splits their features (:meth:`use_inputs`), and note the place in its epoch of each
        training batch as it goes to the model (the batch carries it)."""
        if self._inputs is not None:
            batch = self._inputs.attach(batch)
        labelled = batch.get("labelled", batch) if isinstance(batch, dict) else None
        position = (labelled.get("meta") or {}).get("train_position") if isinstance(labelled, dict) else None
        if position and self.trainer is not None and self.trainer.training:
            epoch, number = position[0]
            self._trained_position = (int(epoch), int(number) + 1)
        return batch

    @override
    def state_dict(self) -> dict[str, Any]:
        """Where training stands in its epoch (saved in every checkpoint): the epoch and how many of its batches went to
        the model, so a resumed run continues with the next batch."""
        trainer = self.trainer
        position = getattr(self, "_trained_position", None) or getattr(self, "_resume_position", None)
        if trainer is None or trainer.state.fn != "fit" or position is None:
            return {}
        return {"train_position": {"epoch": position[0], "batches": position[1]}}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        position = state_dict.get("train_position")
        self._resume_position = (int(position["epoch"]), int(position["batches"])) if position else None

    def _loader(self, dataset: UtteranceDataset, train: bool) -> DataLoader:
        options = dict(drop_last=False, seed=self.seed, max_seconds=self.max_batch_seconds)
        if not train:
            batches = DurationBatchSampler(SequentialSampler(dataset), dataset.durations, self.batch_size, shuffle=False, **options)
        else:
            sampler = EpochShuffleSampler(len(dataset), self.seed)
            options["labels"] = dataset.labels if self.balance_batches and dataset.labelled else None
            batches = ResumableBatches(sampler, dataset.durations, self.batch_size, shuffle=True, **options)
            position = getattr(self, "_resume_position", None)
            if position is not None and position[1] % len(batches):  # mid-epoch; after a whole epoch the next one starts afresh
                batches = ResumableBatches(
                    sampler, dataset.durations, self.batch_size, shuffle=True, start=(position[0], position[1] % len(batches)), **options
                )
        return DataLoader(
            dataset,
            batch_sampler=batches,
            collate_fn=getattr(dataset, "collate", collate_utterances),  # a dataset of cached features pads its own way
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),  # page-locked host batches copy to the GPU asynchronously
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        loader = self._loader(self.datasets["train"], train=True)
        self._resume_position = None  # used once: the resumed epoch
        return loader

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["val"], train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["test"], train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["test"], train=False)


def _plan_of(
    plan: SplitPlan | Sequence[Corpus] | None, corpora: Sequence[Corpus] | None, val_speakers: int | float, test_speakers: int | float
) -> SplitPlan:
    """The plan given, or ``SpeakerHoldout`` over ``corpora`` (a list given as ``plan``, as in ``SERDataModule([corpus])``, counts as corpora)."""
    if isinstance(plan, (list, tuple)):
        plan, corpora = None, plan if corpora is None else corpora
    if plan is None:
        if not corpora:
            raise ValueError("Give the split: plan (e.g. class_path: ser_lightning.data.SpeakerHoldout) or corpora, the corpora to train on.")
        return SpeakerHoldout(corpora, val_speakers, test_speakers)
    if corpora:
        raise ValueError("Give plan or corpora, not both: the corpora belong inside the plan (plan.init_args.corpora, sources or targets).")
    if (val_speakers, test_speakers) != (1, 1):
        raise ValueError(
            "val_speakers/test_speakers go with corpora; with a plan, set them where it splits speakers "
            "(plan.init_args.val_speakers of SpeakerHoldout, or of the sources plan of CrossLingual)."
        )
    if not isinstance(plan, SplitPlan):
        raise ValueError(f"plan must be a split plan (SpeakerHoldout, CorpusFolds, CrossLingual), got {type(plan).__name__}.")
    return plan

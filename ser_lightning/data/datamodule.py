"""LightningDataModules: one shared base, a cross-lingual composition, and one thin class per corpus."""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import torch
from audiomentations.core.transforms_interface import BaseWaveformTransform
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader, SequentialSampler
from typing_extensions import override

from .augment import EvaluationNoise, compose_augmentations, snr_tag
from .batching import DurationBatchSampler, EpochShuffleSampler, collate_utterances
from .corpora import Corpus, SyntheticCorpus
from .dataset import UtteranceDataset
from .fewshot import COVER, AdaptationSpeakers, adaptation_split, check_adaptation_options, check_shot_options, draw_shots, replay_subset
from .labels import LabelSpace, LabelSpaceName, NeutralValence, build_label_space
from .manifest import ManifestError, Utterance, write_manifest
from .resume import ResumableBatches
from .splits import Split, check_speaker_count, speaker_key, speaker_split
from .summary import count_classes, describe_summary, shot_counts, write_summary
from .synthetic import LANGUAGES


class SERDataModule(LightningDataModule):
    """Speaker-independent train/val/test over one or more corpora, with length-aware batches.

    Within each language of each corpus, ``val_speakers`` and ``test_speakers`` speakers (counts, or
    fractions of that group's speakers) are held out; everything else trains. Test utterances carry a
    ``role`` (``source`` here) and a ``language``; :meth:`test_group_values` lists the groups that
    metrics are reported for. Utterances outside the label space are dropped and counted in the log,
    per corpus and label.

    Args:
        corpora: the corpora to split and train on (``class_path`` entries: ``SyntheticCorpus``,
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
        val_speakers: speakers held out for validation in each language of each corpus: a count (1),
            or a fraction of that group's speakers (0.2).
        test_speakers: speakers held out for testing per language of each corpus, as ``val_speakers``.
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
        on_bad_audio: what a bad audio file does: ``error`` (default: the run stops before training and names
            every bad file) or ``skip`` (bad files are left out and listed with their reasons in
            ``bad_audio.csv`` in the run's log folder). Bad means missing, unreadable, empty, shorter than
            ``min_seconds``, or (with ``check_samples``) NaN/Inf samples, floats far outside [-1, 1], silence,
            or stereo channels that cancel in the mono mix. Odd but sound files (any bit depth, rate,
            channel count, FLAC/OGG/MP3) are converted, never rejected.
        check_samples: decode every file once at setup to check its samples (cached per file, so only new or
            changed files are decoded again); false checks headers only, and faulty samples then stop the
            run when the file is first read.
        min_seconds: files shorter than this are bad audio; the CLI raises it to the backbone's minimum input.
        max_batch_seconds: budget of padded seconds per batch (rows x longest utterance) on top of
            ``batch_size``, so long utterances come in smaller batches and short ones fill them; an
            utterance longer than it is a batch of its own; null: the count alone limits a batch.
        balance_batches: training buckets hold the same duration slice of every class, so each batch
            keeps the training set's class mix even where duration tracks emotion (acted corpora: sad is
            slow, angry fast); costs padding where classes differ in length. false groups by duration alone.
    """

    def __init__(
        self,
        corpora: Sequence[Corpus],
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
        on_bad_audio: Literal["error", "skip"] = "error",
        check_samples: bool = True,
        min_seconds: float = 0.0,
        max_batch_seconds: float | None = None,
        balance_batches: bool = True,
    ) -> None:
        super().__init__()
        if not corpora:
            raise ValueError("Give at least one corpus to train on.")
        check_speaker_count(val_speakers, "val_speakers")
        check_speaker_count(test_speakers, "test_speakers")
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
        self.corpora = list(corpora)
        self._label_spec = dict(name=label_space, label_names=label_names, label_mapping=label_mapping, neutral_valence=neutral_valence)
        if label_space != "native":
            build_label_space(**self._label_spec)  # a bad name or mapping fails here, not at setup
        self.sample_rate = sample_rate
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_speakers = val_speakers
        self.test_speakers = test_speakers
        self._seed = seed
        self.max_train_seconds = max_train_seconds
        self.train_augment = compose_augmentations(train_augment)
        self.test_snrs = list(test_snrs or ()) or [None]  # null or [] test the clean set once
        self.test_noise_dir = test_noise_dir
        EvaluationNoise(sample_rate, test_noise_dir)  # a bad folder fails here, not at test time
        self.datasets: dict[str, UtteranceDataset] = {}
        self.summary: dict[str, Any] = {}

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
        """Every corpus this module reads (sources and, in subclasses, targets)."""
        return self.corpora

    def prepare_data(self) -> None:
        for corpus in self.all_corpora():
            corpus.prepare()

    def _load(self, corpora: Sequence[Corpus]) -> list[Utterance]:
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

    def make_split(self) -> tuple[Split, list[str]]:
        """The speaker-independent split and the role of each test utterance."""
        split = speaker_split(self._load(self.corpora), self.val_speakers, self.test_speakers, seed=self.seed)
        return split, ["source"] * len(split.test)

    def train_roles(self, split: Split) -> list[str]:
        """The role of each training utterance (``source``; subclasses add ``target`` shots)."""
        return ["source"] * len(split.train)

    def make_datasets(self, split: Split, test_roles: Sequence[str]) -> dict[str, UtteranceDataset]:
        """The train/val/test datasets of a split."""
        names = self.label_names
        noise = EvaluationNoise(self.sample_rate, self.test_noise_dir, seed=self.seed)
        return {
            "train": UtteranceDataset(
                split.train,
                names,
                self.sample_rate,
                roles=self.train_roles(split),
                max_seconds=self.max_train_seconds,
                augment=self.train_augment,
                skip_bad=self.on_bad_audio == "skip",
                seed=self.seed,
            ),
            "val": UtteranceDataset(split.val, names, self.sample_rate, skip_bad=self.on_bad_audio == "skip"),
            "test": UtteranceDataset(
                split.test, names, self.sample_rate, roles=test_roles, snrs=self.test_snrs, noise=noise, skip_bad=self.on_bad_audio == "skip"
            ),
        }

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        split, test_roles = self.make_split()
        datasets = self.make_datasets(split, test_roles)
        for name, dataset in datasets.items():
            if len(dataset) == 0:
                raise ManifestError(f"The {name} split is empty; check the corpora's languages and the val/test speaker counts.")
        self.datasets = datasets
        self.summary = self.split_summary()
        rank_zero_info(describe_summary(self.summary))
        if self.trainer is not None and stage in ("fit", None):
            self._log_effective_batch()  # before split.json is written: it records it
        log_dir = self._log_dir()
        if log_dir is not None and self.trainer.loggers:  # without a logger, log_dir is the working directory
            write_summary(log_dir, self.summary)
        self._write_listing("bad_audio.csv", self.bad_audio, "skipped bad audio file(s)")
        self._write_listing("skipped_files.csv", self.skipped_files, "file(s) the corpus parsers skipped")

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

    def _log_dir(self) -> str | None:
        """The run's log folder on the global-zero process (None elsewhere, or without a trainer).

        Every rank must call it: ``trainer.log_dir`` is a broadcast under DDP."""
        if self.trainer is None:
            return None
        log_dir = getattr(self.trainer, "log_dir", None)
        return log_dir if self.trainer.is_global_zero else None

    def split_summary(self) -> dict[str, Any]:
        """Utterances per class and speakers of every split, role and language (after ``setup``), as plain data."""
        splits = {name: count_classes(d.utterances, d.roles, self.label_names) for name, d in self.datasets.items() if d.labelled}
        return {"seed": self.seed, "label_names": self.label_names, "splits": splits}

    def _write_listing(self, name: str, files: dict[str, str], what: str) -> None:
        """``name`` (path, reason) in the run's log folder, e.g. the files ``on_bad_audio: skip`` left out."""
        log_dir = self._log_dir()  # on every rank: a broadcast under DDP
        if not files or not log_dir:
            return
        path = Path(log_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "reason"])
            writer.writerows(sorted(files.items()))
        rank_zero_info(f"The {len(files)} {what} are listed in {path}.")

    def shortest_utterance(self) -> Utterance | None:
        """The shortest utterance of any split (after ``setup``), for the model's minimum-input check."""
        utterances = [u for dataset in self.datasets.values() for u in dataset.utterances]
        return min(utterances, key=lambda u: u.duration, default=None)

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

    @override
    def state_dict(self) -> dict[str, Any]:
        """Where training stands in its epoch (saved in every checkpoint), so a resumed run continues with the next batch."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return {}
        return {"train_position": {"epoch": trainer.current_epoch, "batches": trainer.fit_loop.epoch_loop.batch_progress.current.processed}}

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


class CrossLingualDataModule(SERDataModule):
    """Train on ``sources``; test on their held-out speakers and on the speakers of ``targets``.

    Source and target entries may be two language filters of one multilingual corpus. A speaker
    that would be both trained on and tested as a target is an error.

    Few-shot adaptation: ``adaptation_speakers`` target speakers (per language of each target corpus)
    are set aside and never tested; labelled shots come only from them (``shots_per_class`` or
    ``shots_fraction``), exactly k of every class of the target group, or an error naming the classes
    that fall short. ``adaptation_speakers: cover`` chooses them per seed so that they hold
    ``cover_per_class`` utterances of every class (real corpora confound emotions with speakers: URDU's
    *angry* comes from 4 of its 29 speakers). The set-aside speakers depend on ``seed`` (and
    ``cover_per_class``) alone, so every k of one seed (k = 0 included) is tested on the same target
    speakers, and a smaller k's shots are a subset of a larger one's. The shots are written to ``shots.jsonl``
    in the run's log folder (a manifest: audit or reuse it). Joint training mixes the shots into the source data
    (``shots_oversample`` repeats them); a second stage fine-tunes a source model (``model.init_from``) on the
    shots with ``source_replay`` of the source data. ``unlabelled_target`` adds a second training loader with
    the set-aside speakers' audio and no labels, for domain-adversarial training (``model.domain_adversarial``).

    Args:
        sources: corpora to train on; their held-out speakers are tested with ``role: source``.
        targets: corpora (or languages) never trained on, tested with ``role: target``.
        adaptation_speakers: target speakers set aside for adaptation in each language of each target
            corpus: a count (2), a fraction of its speakers (0.3), or ``cover`` (speakers chosen per seed to hold
            ``cover_per_class`` utterances of every class, every class keeping test speakers); 0 sets none
            aside (pure zero-shot).
        cover_per_class: with ``adaptation_speakers: cover``, the utterances of every class the set-aside
            speakers must hold: the largest k of a sweep, so k = 0, 5 and 20 of one seed test on the same
            speakers; null takes ``shots_per_class``.
        shots_per_class: k labelled target utterances per class from the set-aside speakers (0: none).
        shots_fraction: instead of k, this fraction (0-1] of each class's set-aside utterances.
        shots_oversample: how many times each shot appears per training epoch (1: once).
        source_replay: fraction of the source training utterances kept in training (1: all, joint
            training; 0: shots only, e.g. a second stage from ``model.init_from``; 0.2: some replay
            against forgetting).
        unlabelled_target: also serve the set-aside speakers' audio without labels (``unlabelled`` batches).
        **kwargs: the options of :class:`SERDataModule`.
    """

    def __init__(
        self,
        sources: Sequence[Corpus],
        targets: Sequence[Corpus],
        adaptation_speakers: AdaptationSpeakers = 0,
        cover_per_class: int | None = None,
        shots_per_class: int = 0,
        shots_fraction: float | None = None,
        shots_oversample: int = 1,
        source_replay: float = 1.0,
        unlabelled_target: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(corpora=sources, **kwargs)
        if not targets:
            raise ValueError("Give at least one target corpus (the language or corpus never trained on).")
        if shots_oversample < 1:
            raise ValueError(f"shots_oversample must be at least 1, got {shots_oversample}.")
        if (shots_per_class or shots_fraction or unlabelled_target) and not adaptation_speakers:
            raise ValueError("Shots and unlabelled target audio come from speakers set aside for adaptation: set adaptation_speakers (e.g. 2).")
        check_shot_options(shots_per_class, shots_fraction, source_replay)
        check_adaptation_options(adaptation_speakers, cover_per_class, shots_per_class)
        if adaptation_speakers != COVER:
            check_speaker_count(adaptation_speakers, "adaptation_speakers")
        self.targets = list(targets)
        self.adaptation_speakers = adaptation_speakers
        self.cover_per_class = cover_per_class if cover_per_class is not None else shots_per_class
        self.shots_per_class = shots_per_class
        self.shots_fraction = shots_fraction
        self.shots_oversample = shots_oversample
        self.source_replay = source_replay
        self.unlabelled_target = unlabelled_target
        self.shots: list[Utterance] = []
        self.adaptation: list[Utterance] = []

    def all_corpora(self) -> list[Corpus]:
        return self.corpora + self.targets

    def make_split(self) -> tuple[Split, list[str]]:
        split, roles = super().make_split()
        target = self._load(self.targets)
        trained = split.speakers("train") | split.speakers("val")
        leaked = sorted({speaker_key(u) for u in target} & trained)
        if leaked:
            raise ManifestError(f"Target speakers {leaked[:5]} are also source speakers; give sources and targets disjoint languages or corpora.")
        shared = sorted({os.path.abspath(u.path) for u in target} & (split.files("train") | split.files("val") | split.files("test")))
        if shared:
            raise ManifestError(
                f"Audio files {shared[:3]} are listed both in a source and in a target corpus; one file is one utterance: give them to one side."
            )
        self.adaptation, target_test = adaptation_split(target, self.adaptation_speakers, self.seed, self.cover_per_class)
        self.shots = draw_shots(self.adaptation, self.shots_per_class, self.shots_fraction, self.seed, population=target)
        split.train = replay_subset(split.train, self.source_replay, self.seed) + self.shots * self.shots_oversample
        if not split.train:
            raise ManifestError("Nothing to train on: source_replay is 0 and there are no shots; set shots_per_class or source_replay.")
        split.test.extend(target_test)
        return split, roles + ["target"] * len(target_test)

    def train_roles(self, split: Split) -> list[str]:
        shots = len(self.shots) * self.shots_oversample
        return ["source"] * (len(split.train) - shots) + ["target"] * shots

    def make_datasets(self, split: Split, test_roles: Sequence[str]) -> dict[str, UtteranceDataset]:
        datasets = super().make_datasets(split, test_roles)
        if self.unlabelled_target:
            datasets["unlabelled"] = UtteranceDataset(
                self.adaptation,
                self.label_names,
                self.sample_rate,
                roles="target",
                max_seconds=self.max_train_seconds,
                labelled=False,
                skip_bad=self.on_bad_audio == "skip",
                seed=self.seed + 1,
            )
        return datasets

    def split_summary(self) -> dict[str, Any]:
        summary = super().split_summary()
        if self.adaptation:
            summary["adaptation_speakers"] = {
                f"{corpus}/{language}": sorted({u.speaker for u in self.adaptation if (u.corpus, u.language) == (corpus, language)})
                for corpus, language in sorted({(u.corpus, u.language) for u in self.adaptation})
            }
        summary["shots"] = shot_counts(self.shots, self.label_names)
        summary["shots_oversample"] = self.shots_oversample
        return summary

    def setup(self, stage: str | None = None) -> None:
        fresh = not self.datasets
        super().setup(stage)
        if fresh and self.adaptation:
            self._record_shots()

    def _record_shots(self) -> None:
        speakers = sorted({u.speaker for u in self.adaptation})
        message = f"Adaptation: {len(speakers)} target speaker(s) set aside and never tested ({', '.join(speakers)})"
        if self.shots:
            message += f"; {len(self.shots)} shots ({self.summary['shots']}), each seen {self.shots_oversample}x per epoch"
            log_dir = self._log_dir()
            if log_dir:
                message += f"; listed in {write_manifest(self.shots, Path(log_dir) / 'shots.jsonl')}"
        rank_zero_info(message + ".")

    def train_dataloader(self) -> DataLoader | dict[str, DataLoader]:
        if "unlabelled" not in self.datasets:
            return super().train_dataloader()
        unlabelled = self._loader(self.datasets["unlabelled"], train=True)  # cycles ("max_size_cycle"): resumes at batches % its length
        return {"labelled": super().train_dataloader(), "unlabelled": unlabelled}


class SyntheticDataModule(SERDataModule):
    """A DataModule for in-corpus experiments on the demo corpus (:class:`SyntheticCorpus`, written under ``root`` on first use).

    Args:
        root: folder of the generated corpus.
        languages: languages to generate and use (en, de, it, ur).
        speakers_per_language: speakers generated per language (at most 8: each has its own voice).
        sentences_per_language: sentences each speaker says in every emotion.
        shift: strength of the per-language expression shift (0: every language expresses emotions alike).
        remap: strength of Urdu's exchange of rate and volume between angry and happy (0: none, 1: full).
        synth_seed: seed of the generated corpus (not of the split: that is ``seed``).
        noise_floor_db: range [low, high] of each speaker's recording noise floor in dB below its speech;
            null writes exact digital silence between words instead.
        **kwargs: the options of :class:`SERDataModule`.
    """

    def __init__(
        self,
        root: str = "data/synthetic",
        languages: Sequence[str] = LANGUAGES,
        speakers_per_language: int = 6,
        sentences_per_language: int = 12,
        shift: float = 1.0,
        remap: float = 1.0,
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

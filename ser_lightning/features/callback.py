"""FeatureCache: a Lightning callback that runs a frozen backbone once per utterance and serves its features from disk."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.dropout import _DropoutNd
from transformers import PreTrainedModel
from typing_extensions import override

from ..cache import cache_root
from ..data.dataset import UtteranceDataset
from ..models.finetuning import count_parameters
from ..models.pooling import MeanPooling, WeightedLayerPooling
from .dataset import CachedFeatureDataset
from .extract import estimate_bytes, extract_features, feature_shape
from .inputs import CachedInputs
from .keys import backbone_identity
from .store import FeatureStore, Layout, StoreDtype

SAFE_PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed")  # the head runs in float32 (under autocast): it takes float32 features
TRAINING_SENSITIVE = (_DropoutNd, _NormBase, nn.RNNBase, nn.MultiheadAttention, PreTrainedModel)  # behave otherwise in training mode
POOLED_EXACT = (MeanPooling, WeightedLayerPooling)  # a (learned) mix of layers commutes with the mean over frames


def _size(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1000:
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1000
    return f"{nbytes:.3g} TB"


def stochastic_modules(backbone: nn.Module) -> list[str]:
    """Sub-modules of ``backbone`` in training mode whose output then changes from pass to pass (dropout, batch
    statistics, SpecAugment). Lightning trains modules in the mode they are in; ``Backbone.train()`` puts frozen parts in eval mode."""
    return [name or "." for name, module in backbone.named_modules() if module.training and isinstance(module, TRAINING_SENSITIVE)]


class FeatureCache(Callback):
    """Compute a frozen backbone's hidden states once per utterance and reuse them across epochs, seeds and runs.

    At ``setup`` the DataModule is asked to read its splits from cached features
    (``SERDataModule.use_inputs`` with :class:`~ser_lightning.features.inputs.CachedInputs`: stand-in datasets that read
    no audio); once the model's weights are final (after ``init_from`` and ``ckpt_path``), at the start of training,
    validation, testing or prediction, every utterance not yet cached is run through the backbone (a size estimate is
    logged first) and the store is handed to those inputs, which give each batch its ``features`` (the model then skips
    the backbone). The DataModule reads audio again at ``teardown``, and checkpoints are unchanged (they hold the
    backbone), so a checkpoint tests and predicts alike with or without the cache. The callback only fills the store.

    Entries are keyed on the backbone (class, settings such as normalisation and input window, a hash of
    its weights, the trainer's precision) and on each utterance's input (absolute path, size, modification
    time, sample rate, and the SNR and noise of noisy test copies): a changed file or backbone is computed
    again. Under DDP each rank computes a share of the missing utterances, then all read all of them (the
    folder must be shared by the ranks). The cache turns itself off, with a log line saying why, when the
    backbone has trainable parameters or parts that run in training mode, and splits that crop or augment
    at random (``max_train_seconds``, ``train_augment``) are read from audio. Deleting the folder is safe.

    Args:
        enabled: turn the cache on; off, the callback does nothing (the same configs run with and without it).
        folder: where the features live (one sub-folder per backbone); null is ``features/`` in the project's
            cache folder (``$SER_LIGHTNING_CACHE``, else the user's cache folder: see ``ser_lightning.cache``).
        store: ``frames`` keeps every frame of every layer (any pooling; large: frames x layers x width per
            utterance), ``pooled`` keeps each layer's mean over frames (one row per utterance: for
            ``MeanPooling`` and ``WeightedLayerPooling``, which it pools exactly).
        dtype: how features are stored: ``float32`` (exact) or ``float16`` (half the disk, ~1e-3 relative error).
        batch_size: utterances per backbone batch while filling the cache (1 avoids all padding).
    """

    def __init__(
        self,
        enabled: bool = False,
        folder: str | None = None,
        store: Layout = "frames",
        dtype: StoreDtype = "float32",
        batch_size: int = 16,
    ) -> None:
        if store not in ("frames", "pooled"):
            raise ValueError(f"feature_cache.store must be frames or pooled, got {store!r}.")
        if dtype not in ("float16", "float32"):
            raise ValueError(f"feature_cache.dtype must be float16 or float32, got {dtype!r}.")
        if batch_size < 1:
            raise ValueError(f"feature_cache.batch_size must be at least 1, got {batch_size}.")
        self.enabled = enabled
        self.folder = folder
        self.store = store
        self.dtype = dtype
        self.batch_size = batch_size
        self.computed = 0  # utterances computed / reused in the last trainer run
        self.reused = 0
        self._datamodule: Any = None
        self._inputs = CachedInputs()
        self._cached: list[str] = []  # the splits the DataModule reads from the cache in this run
        self._filled: set[str] = set()
        self._features: FeatureStore | None = None

    @property
    def root(self) -> Path:
        """The folder holding one sub-folder per backbone."""
        return Path(self.folder) if self.folder else cache_root() / "features"

    def _off_reason(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> str | None:
        if not callable(getattr(trainer.datamodule, "use_inputs", None)):
            return "the run has no DataModule that reads other inputs than audio (use_inputs: a SERDataModule)"
        backbone = getattr(pl_module, "backbone", None)
        if not isinstance(backbone, nn.Module):
            return f"{type(pl_module).__name__} has no `backbone` module"
        trainable, _ = count_parameters(backbone)
        if trainable:
            return f"the backbone has {trainable:,} trainable parameters; the cache serves frozen backbones (finetune: frozen)"
        stochastic = stochastic_modules(backbone) if stage == "fit" else []
        if stochastic:
            return (
                f"backbone module(s) {', '.join(stochastic[:3])} are in training mode (dropout, batch statistics), so their output changes on "
                "every pass; call the backbone's train() before fit, which puts its frozen parts in eval mode"
            )
        if str(trainer.precision) not in SAFE_PRECISIONS:
            return (
                f"precision {trainer.precision} runs the head in another dtype than the cached float32 features; use 32-true, 16-mixed or bf16-mixed"
            )
        return None

    def _check_pooling(self, pl_module: LightningModule) -> None:
        pooling = getattr(pl_module, "pooling", None)
        if self.store == "pooled" and type(pooling) not in POOLED_EXACT:
            raise ValueError(
                f"feature_cache.store: pooled keeps each layer's mean over frames, which pools exactly for MeanPooling and "
                f"WeightedLayerPooling only, not for {type(pooling).__name__} (it weighs frames); set feature_cache.store: frames, "
                "or use one of those poolings."
            )

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.computed = self.reused = 0
        if not self.enabled:
            return
        stage = str(getattr(stage, "value", stage))
        reason = self._off_reason(trainer, pl_module, stage)
        if reason is not None:
            rank_zero_info(f"Feature cache off: {reason}.")
            return
        self._check_pooling(pl_module)
        self._datamodule = trainer.datamodule
        self._inputs = CachedInputs()
        for name, reason in self._datamodule.use_inputs(self._inputs, stage).items():
            rank_zero_info(f"Feature cache: the {name} split is read from audio: {reason}.")
        self._cached = [name for name, dataset in self._datamodule.datasets.items() if isinstance(dataset, CachedFeatureDataset)]

    def _restore(self) -> None:
        if self._datamodule is not None:
            self._datamodule.use_audio()
        self._cached, self._filled, self._features, self._datamodule = [], set(), None, None

    @override
    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._restore()

    @override
    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._restore()

    def _check_frozen(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Cached features stay valid only while the backbone neither trains nor draws at random."""
        if not self._cached:
            return
        trainable, _ = count_parameters(pl_module.backbone)
        stochastic = stochastic_modules(pl_module.backbone) if trainer.training else []
        if trainable or stochastic:
            change = f"has {trainable:,} trainable parameters" if trainable else f"runs {', '.join(stochastic[:3])} in training mode"
            raise RuntimeError(
                f"The backbone {change} at epoch {trainer.current_epoch} (did a callback unfreeze it?), but its features come from the "
                "feature cache; turn feature_cache off for runs that change the backbone."
            )

    def _fill(self, trainer: Trainer, pl_module: LightningModule, names: tuple[str, ...]) -> None:
        """Compute what ``names`` need and is not cached yet (shared out over the ranks), then read every chunk."""
        names = tuple(name for name in names if name in self._cached and name not in self._filled)
        if not names:
            return
        if self._features is None:  # the weights are final now (init_from, ckpt_path): hash them once per run
            identity = backbone_identity(pl_module.backbone, str(trainer.precision))
            self._features = self._inputs.store = FeatureStore.for_backbone(self.root, identity, self.store, self.dtype)
        features = self._features
        wanted: dict[str, tuple[UtteranceDataset, int]] = {}
        for name in names:
            cached = self._datamodule.datasets[name]
            for index, key in enumerate(cached.keys):
                wanted.setdefault(key, (cached.source, index))
        features.refresh()
        if features.ignored:
            rank_zero_warn(
                f"Feature cache: ignoring {len(features.ignored)} incomplete or corrupt chunk(s) in {features.folder} "
                f"({features.ignored[0]}); their utterances are computed again."
            )
        missing = features.missing(wanted)
        trainer.strategy.barrier("feature_cache_listed")  # every rank shares out the same list before any rank writes
        if missing:
            self._compute(trainer, pl_module, features, [(key, *wanted[key]) for key in missing])
        trainer.strategy.barrier("feature_cache_written")
        features.refresh()
        lost = features.missing(wanted)
        if lost:
            raise RuntimeError(
                f"Feature cache: {len(lost)} utterances computed by other ranks are not in {features.folder}; the ranks must share "
                "that folder (set feature_cache.folder to a shared filesystem, or $SER_LIGHTNING_CACHE)."
            )
        self.computed += len(missing)
        self.reused += len(wanted) - len(missing)
        self._filled.update(names)
        rank_zero_info(
            f"Feature cache ({', '.join(names)}): {len(wanted) - len(missing)} of {len(wanted)} utterances reused, "
            f"{len(missing)} computed; {features.folder}"
        )

    def _compute(self, trainer: Trainer, pl_module: LightningModule, features: FeatureStore, items: list[tuple[str, UtteranceDataset, int]]) -> None:
        backbone, device, context = pl_module.backbone, pl_module.device, trainer.precision_plugin.forward_context
        frame_rate, layers, width = feature_shape(backbone, items[0][1].sample_rate, device, context)
        durations = [dataset.durations[index] for _, dataset, index in items]
        size = estimate_bytes(durations, frame_rate, layers, width, self.store, self.dtype)
        shape = f"{layers} layers x {width} dims" + (f" x ~{frame_rate:.0f} frames/s" if self.store == "frames" else "")
        rank_zero_info(
            f"Feature cache: computing {len(items)} utterances ({sum(durations) / 60:.1f} min of audio), about {_size(size)} "
            f"({self.store}, {self.dtype}: {shape}) in {features.folder}"
        )
        free = shutil.disk_usage(features.folder).free
        if size > free:
            raise OSError(
                f"The feature cache needs about {_size(size)}, but {features.folder} has {_size(free)} free; set feature_cache.store: pooled, "
                "feature_cache.dtype: float16, or another feature_cache.folder."
            )
        share = items[trainer.global_rank :: trainer.world_size]
        start = time.perf_counter()
        with features.writer() as writer:
            for dataset in {id(dataset): dataset for _, dataset, _ in share}.values():
                mine = [(index, key) for key, source, index in share if source is dataset]
                extract_features(
                    backbone, dataset, mine, writer, self.store, device, context,
                    batch_size=self.batch_size, num_workers=getattr(self._datamodule, "num_workers", 0),
                )  # fmt: skip
        rank_zero_info(f"Feature cache: computed in {time.perf_counter() - start:.1f} s.")

    @override
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._fill(trainer, pl_module, ("train", "unlabelled"))

    @override
    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._check_frozen(trainer, pl_module)

    @override
    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._check_frozen(trainer, pl_module)
        self._fill(trainer, pl_module, ("val",))

    @override
    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._fill(trainer, pl_module, ("test",))

    @override
    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._fill(trainer, pl_module, ("test",))

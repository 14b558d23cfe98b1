"""The one LightningModule: backbone -> pooling -> classifier, with SER losses, metrics and optimisers."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn
from torchmetrics.classification import MulticlassConfusionMatrix
from typing_extensions import override

from ..evaluation import EvaluationRows, Group, group_metrics, groups_by_name, logged_metrics
from ..evaluation.metrics import confusion
from .adversarial import DomainClassifier, ganin_coefficient
from .backbones import Backbone
from .calibration import TemperatureFit, calibrated
from .class_weights import inverse_frequency_weights
from .confusion import confusion_image, per_class_recall
from .finetuning import log_trainable_parameters
from .metrics import confusion_markdown, ser_metrics
from .optim import adamw_with_warmup, batch_seed
from .pooling import MeanPooling, Pooling
from .standalone import CHECKPOINT_KEY, configured_backbone, make_standalone
from .transfer import load_initial_weights
from .windows import windowed_logits, windowed_probabilities

if TYPE_CHECKING:
    from ..data.batching import Batch
    from ..predictions import FilePrediction


# EmotionRecognizer moves its own batches (transfer_batch_to_device, below) whatever DataModule feeds it; Lightning
# warns about that on every fit with a DataModule, although the module's hook is the one it then uses, as intended.
warnings.filterwarnings("ignore", message=r"You have overridden `transfer_batch_to_device` in `LightningModule` but have passed in a")


class EmotionRecognizer(LightningModule):
    """Speech emotion recognition: any :class:`Backbone`, a pooling head and a small classifier.

    Logs ``train/loss``, ``val/{loss,ua,wa,f1}``, ``test/{ua,wa,f1,ece}`` and the same per test group
    (``test/ua/ur``, ``test/ua/target``). A test keeps one row per utterance and SNR (:attr:`test_rows`: label,
    calibrated and plain probabilities, speaker, language, role, ...), gathered from every DDP rank; every test
    metric is computed from those rows (:func:`ser_lightning.evaluation.group_metrics`), per value of each
    ``group_by`` field. AdamW with separate learning rates for backbone and head, linear warm-up then cosine decay.

    Args:
        backbone: the speech encoder (``HFBackbone``, ``WhisperBackbone``, ``CNNLSTM``, or any ``Backbone``).
        num_classes: number of emotion classes; linked from the DataModule by the CLI.
        label_names: class names in index order; linked from the DataModule and stored in checkpoints.
        pooling: how frame-level hidden states become one vector (default: ``MeanPooling`` of the last layer).
        head_hidden: width of the hidden layer of the classifier; 0 for a linear classifier.
        dropout: dropout before each layer of the classifier.
        lr_backbone: peak learning rate of the backbone's trainable parameters.
        lr_head: peak learning rate of the pooling head and classifier.
        weight_decay: AdamW weight decay (both groups).
        warmup: linear warm-up before cosine decay: a fraction of all training steps when below 1
            (0.1 = the first 10%), else a number of steps.
        class_weights: cross-entropy weight per class (in ``label_names`` order); ``auto`` for inverse class
            frequencies of the training split (``N / (C * n_c)``, computed when fit starts); null for none.
        group_by: batch metadata keys whose values get their own test metrics
            (``role``: source/target, ``language``, ``corpus``, ``speaker``). With the DataModule's
            ``test_snrs`` each group is also reported per SNR (``test/ua/target/snr10``). The per-utterance rows
            hold every key, so other groupings can be computed afterwards from ``test_predictions.csv.gz``.
        init_from: a checkpoint whose weights start this model (weights only: a second stage of
            training; a resumed run restores its own checkpoint instead). A classifier for other classes
            is re-initialised, the same classes in another order are re-ordered; both are logged.
        domain_adversarial: weight of the domain-adversarial loss (source vs target language, behind a
            gradient-reversal layer; needs the DataModule's ``unlabelled_target``); 0 turns it off.
        domain_schedule: the reversal strength over training: ``ganin`` (0 rising to 1, as in Ganin &
            Lempitsky 2015) or ``constant`` (1 throughout).
        domain_hidden: width of the domain classifier's hidden layer.
        calibrate: fit a temperature on each validation epoch's logits (kept in its checkpoint; predict and exports give
            ``softmax(logits / T)``); false applies T = 1, the plain softmax, also to a checkpoint that holds a fitted T
            (``predict --model.calibrate false``). The fit needs every class and at least
            :data:`~ser_lightning.models.calibration.MIN_CALIBRATION_UTTERANCES` validation utterances, else T stays as
            it is and the log says why. Test reports ECE before and after either way.
    """

    def __init__(
        self,
        backbone: Backbone,
        num_classes: int,
        label_names: Sequence[str] | None = None,
        pooling: Pooling | None = None,
        head_hidden: int = 256,
        dropout: float = 0.1,
        lr_backbone: float = 5e-5,
        lr_head: float = 1e-3,
        weight_decay: float = 0.01,
        warmup: float = 0.1,
        class_weights: Sequence[float] | Literal["auto"] | None = None,
        group_by: Sequence[str] = ("role", "language"),
        init_from: str | None = None,
        domain_adversarial: float = 0.0,
        domain_schedule: Literal["ganin", "constant"] = "ganin",
        domain_hidden: int = 64,
        calibrate: bool = True,
    ) -> None:
        super().__init__()
        with warnings.catch_warnings():  # Lightning warns about modules in hparams; they are dropped just below
            warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`")
            self.save_hyperparameters()
        for key in ("backbone", "pooling"):  # the CLI passes plain class_path dicts, which let load_from_checkpoint rebuild them;
            if isinstance(self.hparams.get(key), nn.Module):  # module objects would break weights_only loading
                del self.hparams[key]
        if label_names is not None and len(label_names) != num_classes:
            raise ValueError(f"Got {len(label_names)} label names for {num_classes} classes.")
        if class_weights is not None and class_weights != "auto" and len(class_weights) != num_classes:
            raise ValueError(f"Got {len(class_weights)} class weights for {num_classes} classes.")
        self.backbone = backbone
        self.pooling = pooling if pooling is not None else MeanPooling()
        width = pooled_width = self.pooling.build(backbone.num_layers, backbone.hidden_size)
        pooled_layer = getattr(self.pooling, "layer", None)  # one layer: what lies above it never gets a gradient
        frozen = backbone.freeze_unused(pooled_layer) if pooled_layer is not None else 0
        if frozen:
            rank_zero_info(
                f"Pooling hidden state {pooled_layer}: {frozen:,} backbone parameters cannot reach it and are frozen (plain DDP refuses unused ones)."
            )
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if head_hidden:
            layers += [nn.Linear(width, head_hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = head_hidden
        self.head = nn.Sequential(*layers, nn.Linear(width, num_classes))
        if domain_adversarial < 0:
            raise ValueError(f"domain_adversarial must be 0 (off) or a positive loss weight, got {domain_adversarial}.")
        self.domain_classifier = DomainClassifier(pooled_width, domain_hidden) if domain_adversarial else None
        if class_weights == "auto":
            weights = torch.ones(num_classes)  # filled from the training split in on_fit_start; saved with the weights
        else:
            weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
        self.loss_fn = nn.CrossEntropyLoss(weight=weights)
        self.label_names = list(label_names) if label_names is not None else [str(i) for i in range(num_classes)]
        self.train_metrics = ser_metrics(num_classes).clone(prefix="train/")
        self.val_metrics = ser_metrics(num_classes).clone(prefix="val/")
        self.val_confusion = MulticlassConfusionMatrix(num_classes)
        self.test_rows: EvaluationRows | None = None  # the last test's rows: one per utterance and SNR, every rank's
        self.test_results: dict[str, dict[str, float]] = {}  # computed from test_rows, per group name (``target/snr10``)
        self._test_parts: list[EvaluationRows] = []
        self.register_buffer("temperature", torch.ones(()))  # softmax(logits / T): fit on each validation epoch, saved with the weights
        self._temperature_fit = TemperatureFit()
        self._initialised_from: str | None = None

    @override
    def setup(self, stage: str) -> None:
        if stage == "fit" and self.hparams.init_from and not self._initialised_from:
            messages = load_initial_weights(self, self.hparams.init_from, self.label_names, classifier=f"head.{len(self.head) - 1}")
            self._initialised_from = self.hparams.init_from
            rank_zero_info(f"Weights from {self.hparams.init_from} (weights only)" + "".join(f"; {m}" for m in messages) + ".")

    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        make_standalone(checkpoint, self.backbone, getattr(self, "_configured_backbone", None))  # loading needs no hub or base folder

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint.get("state_dict", {}).setdefault("temperature", torch.ones(()))  # written before calibration: uncalibrated
        self._configured_backbone = configured_backbone(checkpoint) if CHECKPOINT_KEY in checkpoint else None

    @override
    def on_fit_start(self) -> None:
        log_trainable_parameters(self)
        if self.hparams.class_weights == "auto":
            counts = getattr(self.trainer.datamodule, "train_label_counts", None)
            if counts is None:
                raise ValueError(
                    "class_weights: auto needs a DataModule with train_label_counts() (any SERDataModule); give the weights as a list instead."
                )
            weights = inverse_frequency_weights(counts(), self.label_names)
            self.loss_fn.weight.copy_(weights)
            rank_zero_info("Class weights from the training split: " + ", ".join(f"{n} {w:.3f}" for n, w in zip(self.label_names, weights.tolist())))

    def embed(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Pooled utterance vectors [B, D] for zero-padded waves [B, T] with their lengths [B]."""
        hidden_states, frame_lengths = self.backbone(waves, lengths)
        return self.pooling(hidden_states, frame_lengths)

    def embed_batch(self, batch: Batch) -> torch.Tensor:
        """Pooled vectors of a batch: from its ``waves``, or from cached backbone ``features`` [B, T', L, D]
        (``lengths`` then counts frames), which skip the backbone (see :mod:`ser_lightning.features`)."""
        if "features" in batch:
            return self.pooling(list(batch["features"].float().unbind(2)), batch["lengths"])
        return self.embed(batch["waves"], batch["lengths"])

    @override
    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class logits [B, num_classes] for zero-padded waves [B, T] with their lengths [B]."""
        return self.head(self.embed(waves, lengths))

    @classmethod
    def from_pretrained(cls, name_or_path: str, **hub_options: Any) -> EmotionRecognizer:
        """A model written by ``python -m ser_lightning export``, from its folder (offline) or hub repository (``user/repo``)."""
        from ..sharing import load_pretrained  # hub_options (revision, token, ...) go to huggingface_hub

        return load_pretrained(name_or_path, **hub_options)

    @property
    def applied_temperature(self) -> torch.Tensor:
        """The temperature probabilities are given with: the fitted one, or 1 with ``calibrate: false``."""
        return self.temperature if self.hparams.calibrate else torch.ones_like(self.temperature)

    def probabilities(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities [B, num_classes]: ``softmax(logits / T)`` (what predict and exports give)."""
        return calibrated(self(waves, lengths), self.applied_temperature)

    def batch_probabilities(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Calibrated and plain (T = 1) class probabilities [B, C] of a batch, as test and predict give them. A clip longer
        than the backbone's input window (Whisper's) is heard whole: the mean over its windows (:mod:`.windows`)."""
        window = getattr(self.backbone, "window_samples", None)
        if window and "waves" in batch and int(batch["lengths"].max()) > window:
            return windowed_probabilities(self, batch["waves"], batch["lengths"], window, self.applied_temperature)
        logits = self.head(self.embed_batch(batch)).float()
        return calibrated(logits, self.applied_temperature), calibrated(logits, 1.0)

    def logits(self, batch: Batch) -> torch.Tensor:
        """Class logits [B, num_classes] of a batch (waves or cached features). Outside training, clips longer than the
        backbone's input window (Whisper's) are heard whole: windows covering them, probabilities averaged."""
        window = getattr(self.backbone, "window_samples", None)
        if not self.training and window and "waves" in batch and int(batch["lengths"].max()) > window:
            return windowed_logits(self, batch["waves"], batch["lengths"], window)
        return self.head(self.embed_batch(batch))

    def _step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.logits(batch)
        return logits, self.loss_fn(logits.float(), batch["labels"])

    def _domain_loss(self, labelled: Batch, unlabelled: Batch | None, pooled: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the domain classifier on source (0) and target (1) vectors, gradient reversed."""
        if unlabelled is None:
            raise ValueError(
                "domain_adversarial needs unlabelled target audio: set the DataModule's unlabelled_target: true (and adaptation_speakers)."
            )
        progress = self.global_step / max(1.0, float(self.trainer.estimated_stepping_batches)) if self._trainer else 0.0
        coefficient = ganin_coefficient(progress) if self.hparams.domain_schedule == "ganin" else 1.0
        target = self.embed_batch(unlabelled)
        domains = torch.tensor([role == "target" for role in labelled["meta"]["role"]] + [True] * len(target), device=pooled.device).long()
        logits = self.domain_classifier(torch.cat([pooled, target]), coefficient)
        loss = nn.functional.cross_entropy(logits.float(), domains)
        self.log_dict({"train/domain_loss": loss, "train/domain_coefficient": coefficient}, batch_size=len(domains))
        return loss

    @override
    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Move a batch's tensors; its ``meta`` (lists of paths, speakers, languages) stays on the host untouched.

        Lightning's generic move walks every string of ``meta`` on every step (about 4% of a small model's step).
        """
        if isinstance(batch, dict):
            return {key: value if key == "meta" else self.transfer_batch_to_device(value, device, dataloader_idx) for key, value in batch.items()}
        if isinstance(batch, torch.Tensor):
            return batch.to(device, non_blocking=True)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    @override
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Dropout and SpecAugment draw from torch's global generator; seeding it per batch (from seed_everything's seed,
        # the batch's number in the whole fit, and the rank) makes each step's randomness independent of everything
        # before it, so a run resumed from a checkpoint takes exactly the steps the uninterrupted run takes.
        seed = os.environ.get("PL_GLOBAL_SEED")
        if seed is not None:
            torch.manual_seed(batch_seed(int(seed), self.trainer.fit_loop.total_batch_idx, self.global_rank))

    @override
    def training_step(self, batch: Batch | dict[str, Batch] | None, batch_idx: int) -> torch.Tensor | None:
        labelled, unlabelled = (batch["labelled"], batch.get("unlabelled")) if batch and "labelled" in batch else (batch, None)
        if labelled is None:  # every file of the batch was skipped as bad audio
            return None
        pooled = self.embed_batch(labelled)
        logits = self.head(pooled)
        loss = self.loss_fn(logits.float(), labelled["labels"])
        if not torch.isfinite(loss):
            files = ", ".join(labelled["meta"]["path"][:8])
            raise FloatingPointError(
                f"The training loss is {loss.item()} at step {self.global_step} (epoch {self.current_epoch}); the batch held {files}. "
                "Check those files for NaN/Inf samples (the DataModule's check_samples: true finds them before training), or lower the learning rate."
            )
        self.train_metrics.update(logits, labelled["labels"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(logits))
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=len(logits))
        if self.domain_classifier is not None:
            loss = loss + self.hparams.domain_adversarial * self._domain_loss(labelled, unlabelled, pooled)
        return loss

    @override
    def validation_step(self, batch: Batch | None, batch_idx: int) -> None:
        if batch is None:
            return
        logits, loss = self._step(batch)
        self.val_metrics.update(logits, batch["labels"])
        self.val_confusion.update(logits, batch["labels"])
        if self._calibrating():
            self._temperature_fit.update(logits, batch["labels"])
        self.log("val/loss", loss, batch_size=len(logits), sync_dist=True)
        self.log_dict(self.val_metrics, prog_bar=True, batch_size=len(logits))

    @override
    def on_validation_epoch_end(self) -> None:
        confusion = self.val_confusion.compute()
        self.val_confusion.reset()
        # every rank fits (it gathers the ranks' logits); the checkpoint of this epoch keeps its own T
        temperature = self._temperature_fit.fit(self.hparams.num_classes) if self._calibrating() else self._temperature_fit.reset()
        if self._temperature_fit.refused and not getattr(self, "_refusal_told", False):
            rank_zero_warn(f"{self._temperature_fit.refused}; the temperature stays {float(self.temperature):.3f}.")
            self._refusal_told = True
        if not self.trainer.sanity_checking:
            self._log_confusion("val", confusion)
            if temperature is not None:
                self.temperature.fill_(temperature)
                self.log("val/temperature", temperature, sync_dist=True)

    def _calibrating(self) -> bool:
        """Whether this validation epoch fits the temperature: ``calibrate`` on, during ``fit``, not its sanity check."""
        return self.hparams.calibrate and self.trainer.state.fn == "fit" and not self.trainer.sanity_checking

    def _log_confusion(self, stage: str, confusion: torch.Tensor) -> None:
        """``<stage>/recall/<label>`` per class, and the matrix as an image and a Markdown table in TensorBoard."""
        recall = {f"{stage}/recall/{self.label_names[i]}": value for i, value in per_class_recall(confusion).items()}
        self.log_dict(recall, sync_dist=True)  # already synced by torchmetrics; silences the DDP warning
        if isinstance(self.logger, TensorBoardLogger) and self.trainer.is_global_zero:
            title = f"{stage}, epoch {self.current_epoch}"
            self.logger.experiment.add_image(
                f"{stage}/confusion", confusion_image(confusion, self.label_names, title), self.global_step, dataformats="HWC"
            )
            self.logger.experiment.add_text(f"{stage}/confusion", confusion_markdown(confusion, self.label_names), self.global_step)

    @override
    def on_test_epoch_start(self) -> None:
        self._test_parts = []

    @override
    def test_step(self, batch: Batch | None, batch_idx: int) -> None:
        if batch is None:
            return
        probs, plain = self.batch_probabilities(batch)
        labels = batch["labels"].cpu().numpy()
        self._test_parts.append(EvaluationRows.from_batch(self.label_names, batch["meta"], labels, probs.cpu().numpy(), plain.cpu().numpy()))

    @override
    def on_test_epoch_end(self) -> None:
        rows = EvaluationRows.concat(self._test_parts, self.label_names)
        self._test_parts = []
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            shards: list = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(shards, rows)  # every rank computes the same metrics from every row
            rows = EvaluationRows.concat(shards, self.label_names)
        self.test_rows = rows.unique()
        self.test_results = groups_by_name(group_metrics(self.test_rows, self.hparams.group_by))
        if not self.test_results:
            return
        self.log_dict(logged_metrics(self.test_results), sync_dist=True)  # equal on every rank; silences the DDP warning
        clean = self.test_rows.select(Group().mask(self.test_rows))
        if len(clean):
            self._log_confusion("test", torch.as_tensor(confusion(clean.labels, clean.predictions, self.hparams.num_classes)))

    @override
    def on_test_end(self) -> None:
        # The HPARAMS tab keeps the first hyper-parameter summary of a run, so it is written once, here, with the final
        # test metrics (the CLI turns off TensorBoardLogger's `default_hp_metric` placeholder written at the start).
        if isinstance(self.logger, TensorBoardLogger):
            metrics = {key: float(value) for key, value in self.trainer.callback_metrics.items() if key.startswith("test/")}
            datamodule = getattr(self.trainer, "datamodule", None)
            params = {**self.hparams_initial, **(datamodule.hparams_initial if datamodule is not None else {})}
            self.logger.log_hyperparams({k: v for k, v in params.items() if not k.startswith("_")}, metrics, step=self.global_step)

    @override
    def predict_step(self, batch: Batch, batch_idx: int) -> dict[str, Any]:
        probs, _ = self.batch_probabilities(batch)
        return {
            "path": batch["meta"]["path"],
            "start": batch["meta"].get("start", [0.0] * len(probs)),  # window start (s) of long files cut by AudioFiles
            "end": batch["meta"].get("end", [None] * len(probs)),  # and its end (s); None: the whole utterance
            "prediction": [self.label_names[i] for i in probs.argmax(-1).tolist()],
            "probabilities": probs.cpu(),
        }

    def predict_files(
        self,
        files: str | Path | Sequence[str | Path],
        window_seconds: float | None = 8.0,
        hop_seconds: float | None = None,
        batch_size: int = 8,
        sample_rate: int = 16000,
        accelerator: str = "auto",
    ) -> list[FilePrediction]:
        """Label audio files (no labels, speakers or manifest needed); what ``predict --data AudioFiles`` writes.

        Files longer than ``window_seconds`` are cut into windows every ``hop_seconds`` (default: half a window),
        and each file's class probabilities are the mean over its windows. ``files`` is a folder (searched
        recursively), an audio file, a text file listing paths, or a list of these. Returns one
        :class:`~ser_lightning.predictions.FilePrediction` per file, sorted by path.
        """
        from ..predictions import predict_files

        return predict_files(self, files, window_seconds, hop_seconds, batch_size, sample_rate, accelerator)

    @override
    def configure_optimizers(self) -> dict[str, Any]:
        return adamw_with_warmup(self)

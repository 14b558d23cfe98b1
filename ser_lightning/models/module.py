"""The one LightningModule: backbone -> pooling -> classifier, with SER losses, metrics and optimisers."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.loggers import TensorBoardLogger
from typing_extensions import override
from torch import nn
from torchmetrics.classification import MulticlassConfusionMatrix
from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

from .backbones import Backbone
from .confusion import confusion_image, per_class_recall
from .metrics import SCALARS, confusion_markdown, ser_metrics
from .pooling import MeanPooling, Pooling

if TYPE_CHECKING:
    from ..predictions import FilePrediction


class EmotionRecognizer(LightningModule):
    """Speech emotion recognition: any :class:`Backbone`, a pooling head and a small classifier.

    Logs ``train/loss``, ``val/{loss,ua,wa,f1}``, ``test/{ua,wa,f1}`` and the same per test group
    (``test/ua/ur``, ``test/ua/target``): one group per value of each ``group_by`` key of the batch
    metadata, taken from the DataModule's ``test_group_values`` so every DDP rank knows them up front.
    AdamW with separate learning rates for backbone and head, linear warm-up then cosine decay.
    ``num_classes`` and ``label_names`` are linked from the DataModule by the CLI.
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
        warmup: float = 0.1,  # a fraction of all steps (< 1) or a number of steps
        class_weights: Sequence[float] | None = None,
        group_by: Sequence[str] = ("role", "language"),
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
        if class_weights is not None and len(class_weights) != num_classes:
            raise ValueError(f"Got {len(class_weights)} class weights for {num_classes} classes.")
        self.backbone = backbone
        self.pooling = pooling if pooling is not None else MeanPooling()
        width = self.pooling.build(backbone.num_layers, backbone.hidden_size)
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if head_hidden:
            layers += [nn.Linear(width, head_hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = head_hidden
        self.head = nn.Sequential(*layers, nn.Linear(width, num_classes))
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
        self.loss_fn = nn.CrossEntropyLoss(weight=weights)
        self.label_names = list(label_names) if label_names is not None else [str(i) for i in range(num_classes)]
        self.train_metrics = ser_metrics(num_classes).clone(prefix="train/")
        self.val_metrics = ser_metrics(num_classes).clone(prefix="val/")
        self.val_confusion = MulticlassConfusionMatrix(num_classes)
        self.test_metrics = nn.ModuleDict()
        self.test_results: dict[str, dict[str, float]] = {}

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class logits [B, num_classes] for zero-padded waves [B, T] with their lengths [B]."""
        hidden_states, frame_lengths = self.backbone(waves, lengths)
        return self.head(self.pooling(hidden_states, frame_lengths))

    def _step(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["waves"], batch["lengths"])
        return logits, self.loss_fn(logits.float(), batch["labels"])

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        logits, loss = self._step(batch)
        self.train_metrics.update(logits, batch["labels"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(logits))
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=len(logits))
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logits, loss = self._step(batch)
        self.val_metrics.update(logits, batch["labels"])
        self.val_confusion.update(logits, batch["labels"])
        self.log("val/loss", loss, batch_size=len(logits), sync_dist=True)
        self.log_dict(self.val_metrics, prog_bar=True, batch_size=len(logits))

    @override
    def on_validation_epoch_end(self) -> None:
        confusion = self.val_confusion.compute()
        self.val_confusion.reset()
        if not self.trainer.sanity_checking:
            self._log_confusion("val", confusion)

    def _log_confusion(self, stage: str, confusion: torch.Tensor) -> None:
        """``<stage>/recall/<label>`` per class, and the matrix as an image and a Markdown table in TensorBoard."""
        recall = {f"{stage}/recall/{self.label_names[i]}": value for i, value in per_class_recall(confusion).items()}
        self.log_dict(recall, sync_dist=True)  # already synced by torchmetrics; silences the DDP warning
        if isinstance(self.logger, TensorBoardLogger) and self.trainer.is_global_zero:
            title = f"{stage}, epoch {self.current_epoch}"
            self.logger.experiment.add_image(f"{stage}/confusion", confusion_image(confusion, self.label_names, title), self.global_step, dataformats="HWC")
            self.logger.experiment.add_text(f"{stage}/confusion", confusion_markdown(confusion, self.label_names), self.global_step)

    def on_test_epoch_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        groups = ["all"]
        if hasattr(datamodule, "test_group_values"):
            groups += [value for key in self.hparams.group_by for value in datamodule.test_group_values(key) if value not in groups]
        self.test_metrics = nn.ModuleDict({g: ser_metrics(self.hparams.num_classes, confusion=True) for g in groups}).to(self.device)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logits = self(batch["waves"], batch["lengths"])
        labels = batch["labels"]
        self.test_metrics["all"].update(logits, labels)
        for key in self.hparams.group_by:
            values = batch["meta"].get(key)
            if values is None:
                continue
            for group in sorted(set(values)):
                if group not in self.test_metrics:
                    if self.trainer.world_size > 1:
                        raise RuntimeError(f"Test group {group!r} ({key}) was not announced by the DataModule; under DDP every rank must know the groups before testing.")
                    self.test_metrics[group] = ser_metrics(self.hparams.num_classes, confusion=True).to(self.device)
                rows = torch.tensor([v == group for v in values], device=labels.device)
                self.test_metrics[group].update(logits[rows], labels[rows])

    def on_test_epoch_end(self) -> None:
        self.test_results = {}
        for group, collection in self.test_metrics.items():
            values = collection.compute()
            confusion = values.pop("confusion")
            if confusion.sum() == 0:
                continue
            self.test_results[group] = {name: float(values[name]) for name in SCALARS} | {"n": float(confusion.sum())}
            suffix = "" if group == "all" else f"/{group}"
            self.log_dict({f"test/{name}{suffix}": values[name] for name in SCALARS}, sync_dist=True)  # already synced; silences the DDP warning
            if group == "all":
                self._log_confusion("test", confusion)
            collection.reset()

    @override
    def on_test_end(self) -> None:
        # The HPARAMS tab keeps the first hyper-parameter summary of a run, so it is written once, here, with the final
        # test metrics (the CLI turns off TensorBoardLogger's `default_hp_metric` placeholder written at the start).
        if isinstance(self.logger, TensorBoardLogger):
            metrics = {key: float(value) for key, value in self.trainer.callback_metrics.items() if key.startswith("test/")}
            datamodule = getattr(self.trainer, "datamodule", None)
            params = {**self.hparams_initial, **(datamodule.hparams_initial if datamodule is not None else {})}
            self.logger.log_hyperparams({k: v for k, v in params.items() if not k.startswith("_")}, metrics, step=self.global_step)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        probs = self(batch["waves"], batch["lengths"]).float().softmax(-1)
        return {
            "path": batch["meta"]["path"],
            "start": batch["meta"].get("start", [0.0] * len(probs)),  # window start (s) of long files cut by AudioFiles
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
        from lightning.pytorch import Trainer

        from ..data.files import AudioFiles
        from ..predictions import aggregate_windows, prediction_rows

        data = AudioFiles(files, sample_rate=sample_rate, window_seconds=window_seconds, hop_seconds=hop_seconds, batch_size=batch_size)
        trainer = Trainer(accelerator=accelerator, devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        batches = trainer.predict(self, datamodule=data, return_predictions=True)
        return aggregate_windows(prediction_rows(batches or []), self.label_names)

    def configure_optimizers(self) -> dict[str, Any]:
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        head = [p for module in (self.pooling, self.head) for p in module.parameters() if p.requires_grad]
        groups = [{"params": head, "lr": self.hparams.lr_head, "name": "head"}]
        if backbone:
            groups.append({"params": backbone, "lr": self.hparams.lr_backbone, "name": "backbone"})
        optimizer = torch.optim.AdamW(groups, weight_decay=self.hparams.weight_decay)
        total = self.trainer.estimated_stepping_batches
        warmup = self.hparams.warmup
        if math.isfinite(total):
            warmup_steps = int(warmup * total) if warmup < 1 else int(warmup)
            scheduler = get_cosine_schedule_with_warmup(optimizer, warmup_steps, max(1, int(total)))
        else:  # e.g. --trainer.max_epochs -1 with max_time: no length to decay over
            warmup_steps = int(warmup) if warmup >= 1 else 0
            scheduler = get_constant_schedule_with_warmup(optimizer, warmup_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

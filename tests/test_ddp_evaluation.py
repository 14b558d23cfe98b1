"""A 2-process DDP test (CPU, gloo) of a saved checkpoint counts every utterance once: the same results as 1 process."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
from lightning.pytorch.callbacks import Callback

from ser_lightning.data import CrossLingualDataModule
from ser_lightning.data.corpora import ManifestCorpus
from ser_lightning.evaluation import group_metrics, groups_by_name, read_rows, write_rows
from ser_lightning.models import CNNLSTM, EmotionRecognizer

pytestmark = pytest.mark.ddp


LABELS = ["angry", "happy", "neutral", "sad"]


class RecordTest(Callback):
    """Writes each rank's served test files, and rank 0's ``test_results``, under ``folder``."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.paths: list[str] = []

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self.paths += batch["meta"]["path"]

    def on_test_end(self, trainer, pl_module) -> None:
        Path(self.folder, f"paths_{trainer.global_rank}.json").write_text(json.dumps(self.paths))
        if trainer.is_global_zero:
            Path(self.folder, "results.json").write_text(json.dumps(pl_module.test_results))
            write_rows(pl_module.test_rows, Path(self.folder, "rows.csv.gz"))


def datamodule(manifest: Path, audio_root: Path) -> CrossLingualDataModule:
    corpus = lambda languages: ManifestCorpus(str(manifest), languages=languages, audio_root=str(audio_root))
    return CrossLingualDataModule(sources=[corpus(["en", "de", "it"])], targets=[corpus(["ur"])], batch_size=16, val_speakers=1, test_speakers=1)


def tiny_model() -> EmotionRecognizer:
    return EmotionRecognizer(CNNLSTM(n_mels=32, channels=(4,), lstm_hidden=8), num_classes=4, label_names=LABELS, head_hidden=8, lr_head=1e-2)


def trainer(devices: int, folder: Path, **kwargs) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy="ddp_spawn" if devices > 1 else "auto",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(folder),
        **kwargs,
    )


def test_two_process_test_of_a_checkpoint_equals_one_process_group_by_group(small_corpus, tmp_path):
    lines = (small_corpus / "manifest.jsonl").read_text().splitlines()
    urdu = [line for line in lines if json.loads(line)["language"] == "ur"]
    manifest = tmp_path / "manifest.jsonl"  # one Urdu file fewer: 24 source + 23 target test utterances, odd
    manifest.write_text("\n".join(line for line in lines if line != urdu[0]) + "\n")

    L.seed_everything(0)
    fit = trainer(1, tmp_path, max_epochs=2, limit_val_batches=0)
    fit.fit(tiny_model(), datamodule=datamodule(manifest, small_corpus))
    checkpoint = tmp_path / "tiny.ckpt"
    fit.save_checkpoint(checkpoint)

    results = {}
    for devices in (1, 2):
        folder = tmp_path / f"devices{devices}"
        folder.mkdir()
        tester = trainer(devices, folder, callbacks=[RecordTest(str(folder))])
        tester.test(tiny_model(), datamodule=datamodule(manifest, small_corpus), ckpt_path=str(checkpoint), verbose=False)  # the checkpoint's weights
        results[devices] = json.loads((folder / "results.json").read_text())
        served = [json.loads((folder / f"paths_{rank}.json").read_text()) for rank in range(devices)]
        everything = sorted(path for paths in served for path in paths)
        assert len(everything) == len(set(everything)) == 47  # every test utterance exactly once, over all ranks
        if devices == 2:
            assert set(served[0]).isdisjoint(served[1]) and served[0] and served[1]

        rows = read_rows(folder / "rows.csv.gz")  # every rank's rows, gathered: the metrics are computed from them
        assert len(rows) == 47 and sorted(rows.meta["path"]) == everything
        assert groups_by_name(group_metrics(rows)) == results[devices]

    single, distributed = results[1], results[2]
    assert set(single) == set(distributed) == {"all", "source", "target", "en", "de", "it", "ur"}
    assert single["all"]["n"] == 47 and single["target"]["n"] == 23
    for group, values in single.items():
        assert distributed[group]["n"] == values["n"], group
        for name in ("ua", "wa", "f1"):
            assert distributed[group][name] == pytest.approx(values[name], abs=1e-6), (group, name)

"""Fine-tuning throughput: ``EmotionRecognizer`` in Lightning versus Hugging Face ``Trainer`` with ``Wav2Vec2ForSequenceClassification``.

Both fine-tune the same tiny random wav2vec2 architecture (the tests' config, feature encoder frozen,
SpecAugment at the config's default) with a classifier of the same size (width 32 -> 256 -> 4), for the
same steps over the same batches: the DataModule's epoch-0 batches, collated once and held in memory
(so neither side pays for decoding). Hugging Face gets them as its feature extractor would prepare them
(``input_values`` normalised per utterance, zero padding, ``attention_mask``); ours normalises on the
batch inside the backbone. Both: fp32, AdamW, linear warm-up then cosine decay, gradients clipped at
norm 1 (``finetune.yaml``'s ``gradient_clip_val``; Hugging Face's default ``max_grad_norm``), no
logging, checkpoints, evaluation or progress bar. Utterances per second are counted over the steady
steps (after warm-up), paths interleaved per round; medians over rounds are compared.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from corpus import datamodule, write_manifest, write_wavs
from overhead import BATCH, SEED, StepClock, bare_trainer, robust_total, seed_draws, step_times, tiny_model
from report import Figure, judged, spread
from torch.utils.data import DataLoader
from transformers import Trainer, TrainerCallback, TrainingArguments, Wav2Vec2Config, Wav2Vec2ForSequenceClassification

from ser_lightning.models.masking import normalize_waves, sample_mask
from tests.models.tiny import TINY_WAV2VEC2


class HFStepClock(TrainerCallback):
    """Wall time at the start of every optimizer step of a Hugging Face Trainer (after its batch is fetched, as ``StepClock``)."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def on_step_begin(self, args: TrainingArguments, state: Any, control: Any, **kwargs: Any) -> None:
        self.starts.append(time.perf_counter())


class FixedBatchTrainer(Trainer):
    """A Trainer fed ready-made batches, in order (its own loader would draw other batches with other padding)."""

    def __init__(self, batches: list[dict[str, torch.Tensor]], **kwargs: Any) -> None:
        super().__init__(train_dataset=batches, **kwargs)
        self.batches = batches

    def get_train_dataloader(self) -> DataLoader:
        return self.accelerator.prepare(DataLoader(self.batches, batch_size=None))


def hf_batch(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A batch as Hugging Face's Wav2Vec2FeatureExtractor and padding collator make it for a layer-norm model."""
    return {
        "input_values": normalize_waves(batch["waves"], batch["lengths"]),
        "attention_mask": sample_mask(batch["lengths"], batch["waves"].shape[1]).long(),
        "labels": batch["labels"],
    }


def run_hf(batches: list[dict[str, torch.Tensor]], output: str, steps: int) -> HFStepClock:
    config = Wav2Vec2Config(**{k: v for k, v in TINY_WAV2VEC2.items() if k != "model_type"}, layerdrop=0.0, num_labels=4, classifier_proj_size=256)
    torch.manual_seed(SEED)
    model = Wav2Vec2ForSequenceClassification(config)
    model.freeze_feature_encoder()
    args = TrainingArguments(
        output_dir=output, max_steps=steps, per_device_train_batch_size=BATCH, learning_rate=5e-5, weight_decay=0.01, lr_scheduler_type="cosine",
        warmup_steps=int(0.1 * steps), max_grad_norm=1.0, optim="adamw_torch", use_cpu=True, seed=SEED, dataloader_num_workers=0,
        logging_strategy="no", save_strategy="no", eval_strategy="no", report_to="none", disable_tqdm=True,
    )  # fmt: skip
    clock = HFStepClock()
    threads = torch.get_num_threads()
    trainer = FixedBatchTrainer(batches, model=model, args=args, callbacks=[clock])
    torch.set_num_threads(threads)  # the same threads as our side, whatever Trainer set up
    seed_draws()
    trainer.train()
    return clock


def run_ours(batches: list[dict[str, Any]], label_names: list[str], steps: int) -> StepClock:
    model = tiny_model(label_names)
    clock = StepClock()
    trainer = bare_trainer(steps, clock, gradient_clip_val=1.0)
    seed_draws()
    trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None))
    return clock


def figures(quick: bool = False) -> list[Figure]:
    steps, warmup, rounds = (6, 2, 1) if quick else (24, 4, 5)
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(SEED + 1)
        files = int(steps * BATCH / 0.6) + BATCH
        paths = write_wavs(Path(tmp) / "wav", rng.uniform(1.0, 2.0, files).tolist(), [16000])
        dm = datamodule(write_manifest(paths, Path(tmp) / "manifest.jsonl"), BATCH)
        dm.setup("fit")
        batches = [batch for batch, _ in zip(dm.train_dataloader(), range(steps))]
        hf_batches = [hf_batch(batch) for batch in batches]
        runs: dict[str, list[list[float]]] = {"ours": [], "hf": []}
        for r in range(rounds):
            for name in ["ours", "hf"] if r % 2 == 0 else ["hf", "ours"]:
                clock = run_ours(batches, dm.label_names, steps) if name == "ours" else run_hf(hf_batches, str(Path(tmp) / "hf"), steps)
                runs[name].append(step_times(clock.starts, warmup))
    utterances = sum(len(batch["labels"]) for batch in batches[warmup : steps - 1])  # the steps timed start to start
    rates = {name: utterances / robust_total(times) for name, times in runs.items()}
    per_round = {name: spread([utterances / sum(t) for t in times]) for name, times in runs.items()}
    ratio = rates["ours"] / rates["hf"]
    ratios = [sum(hf) / sum(ours) for ours, hf in zip(runs["ours"], runs["hf"])]  # per round: the time ratio is the rate ratio inverted
    return [
        judged(
            "fine-tuning throughput: ours / Hugging Face Trainer",
            ratios,
            "x",
            ">= 1.0x",
            lambda value: value >= 1.0,
            f"per-round ratios; over all rounds (each step's median) {ratio:.3f}; "
            f"EmotionRecognizer(HFBackbone) in Trainer.fit: {rates['ours']:.1f} utt/s (per round {per_round['ours']}); "
            "Wav2Vec2ForSequenceClassification "
            f"in transformers.Trainer: {rates['hf']:.1f} utt/s (per round {per_round['hf']}); tiny random wav2vec2 (2 "
            "layers, width 32, feature encoder "
            f"frozen), head 32->256->4, batch {BATCH} of 1-2 s clips at 16 kHz, the same {steps} batches ({warmup} "
            "warm-up) from memory, fp32, clip norm 1, "
            f"{rounds} interleaved rounds; rates from each step's median over rounds",
        )
    ]

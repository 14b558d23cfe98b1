"""Grouped metrics from evaluation rows equal torchmetrics' (and the project's UA) on the same predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassCalibrationError, MulticlassF1Score

from ser_lightning.evaluation import EvaluationRows, Group, group_metrics, groups_by_name, logged_metrics, read_rows, scores, write_rows
from ser_lightning.models.metrics import UnweightedAverageRecall

LABELS = ["angry", "happy", "neutral", "sad"]


def random_rows(n: int, seed: int, classes: int = 4, present: list[int] | None = None) -> EvaluationRows:
    generator = np.random.default_rng(seed)
    logits = generator.normal(size=(n, classes)) * generator.uniform(0.1, 4)
    labels = generator.choice(present if present is not None else classes, size=n)
    logits[np.arange(n), labels] += generator.uniform(0, 2)  # better than chance
    probabilities = torch.from_numpy(logits).float().softmax(-1).numpy()
    plain = torch.from_numpy(logits / 1.7).float().softmax(-1).numpy()
    meta = {
        "path": [f"f{i}.wav" for i in range(n)],
        "speaker": [f"s{i % 5}" for i in range(n)],
        "language": ["ur" if i % 3 == 0 else "en" for i in range(n)],
        "role": ["target" if i % 3 == 0 else "source" for i in range(n)],
        "corpus": ["c"] * n,
        "snr": ["clean"] * n,
    }
    return EvaluationRows(LABELS[:classes], meta, labels, probabilities, plain)


def torchmetrics_scores(rows: EvaluationRows) -> dict[str, float]:
    classes = len(rows.label_names)
    probs, plain, labels = torch.from_numpy(rows.probabilities), torch.from_numpy(rows.uncalibrated), torch.from_numpy(rows.labels)
    predictions = probs.argmax(-1)
    values = {}
    reference = {
        "ua": UnweightedAverageRecall(classes),
        "wa": MulticlassAccuracy(classes, average="micro"),
        "f1": MulticlassF1Score(classes, average="macro"),
    }
    for name, metric in reference.items():
        metric.update(predictions, labels)
        values[name] = float(metric.compute())
    for name, source in (("ece", probs), ("ece_uncalibrated", plain)):
        ece = MulticlassCalibrationError(classes, n_bins=15, norm="l1")
        ece.update(source, labels)
        values[name] = float(ece.compute())
    return values


@pytest.mark.parametrize("seed", range(40))
def test_scores_equal_torchmetrics_on_random_predictions(seed):
    n = [1, 2, 7, 50, 400][seed % 5]
    present = [[0, 1, 2, 3], [2], [0, 3], [1, 2, 3]][seed % 4]
    rows = random_rows(n, seed, present=present)
    ours, reference = scores(rows), torchmetrics_scores(rows)
    for name, value in reference.items():
        assert ours[name] == pytest.approx(value, abs=2e-6), (name, n, present)
    assert ours["n"] == n


def test_a_class_predicted_but_absent_counts_in_f1_but_not_in_ua():
    meta = {"path": ["a", "b", "c", "d"]}
    one_hot = np.eye(4, dtype=np.float32)
    rows = EvaluationRows(LABELS, meta, [0, 0, 1, 1], one_hot[[0, 2, 1, 1]], one_hot[[0, 2, 1, 1]])  # neutral predicted, never true
    result = scores(rows)
    assert result["ua"] == pytest.approx(0.75) and result["wa"] == pytest.approx(0.75)
    assert result["f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)  # angry, happy and neutral: the classes seen on either side


def test_groups_are_structured_per_field_and_snr_and_a_shared_name_never_merges_two_groups():
    rows = random_rows(30, 0)
    rows.meta["speaker"] = ["en" if i < 3 else "s" for i in range(30)]  # a speaker named like a language
    rows.meta["snr"] = ["clean" if i % 2 else "10" for i in range(30)]
    results = group_metrics(rows, by=("role", "language", "speaker"))
    assert Group("role", "target", "10") in results and Group(None, None, "clean") in results
    named = groups_by_name(results)
    assert {"all", "snr10", "target", "target/snr10", "en", "speaker:en", "speaker:en/snr10"} <= set(named)
    assert named["en"]["n"] == sum(1 for i in range(30) if rows.meta["language"][i] == "en" and i % 2)
    assert named["speaker:en"]["n"] + named["speaker:en/snr10"]["n"] == 3
    metrics = logged_metrics(named)
    assert metrics["test/ua"] == named["all"]["ua"] and metrics["test/ece/target/snr10"] == named["target/snr10"]["ece"]


def test_rows_read_back_from_their_file_give_the_same_metrics(tmp_path):
    rows = random_rows(300, 3)
    path = write_rows(rows, tmp_path / "test_predictions.csv.gz")
    again = read_rows(path)
    assert again.label_names == rows.label_names and again.meta == rows.meta
    assert np.array_equal(again.probabilities, rows.probabilities) and np.array_equal(again.uncalibrated, rows.uncalibrated)
    assert groups_by_name(group_metrics(again)) == groups_by_name(group_metrics(rows))


def test_a_damaged_rows_file_is_named(tmp_path):
    path = tmp_path / "test_predictions.csv.gz"
    path.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="test_predictions.csv.gz is not a readable test-predictions file"):
        read_rows(path)


def test_repeated_rows_of_padded_shards_are_counted_once():
    rows = random_rows(6, 1)
    doubled = EvaluationRows.concat([rows, rows.select(np.arange(6) < 2)], LABELS)
    assert len(doubled) == 8 and len(doubled.unique()) == 6
    assert scores(doubled.unique()) == scores(rows)

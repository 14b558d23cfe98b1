"""Aggregation and tables from hand-made run records (no training); the figures are tested in test_plots.py."""

from __future__ import annotations

import math

import pytest

from ser_lightning.experiments.collect import RunRecord, aggregate, default_replicates, factor_columns, load_records, tidy_rows, write_tidy_csv
from ser_lightning.experiments.tables import study_tables
from ser_lightning.naming import parse_metric_key
from ser_lightning.results import study_fields, write_results


def config(backbone: str, pretrained: bool | None, k: int, seed: int, sources: list[str], targets: list[str]) -> dict:
    """A resolved CLI config with the fields a study reads (the rest of a real config does not matter here)."""
    init_args = {"name_or_path": backbone, "pretrained": pretrained} if pretrained is not None else {"n_mels": 64}
    class_path = "ser_lightning.models.HFBackbone" if pretrained is not None else "ser_lightning.models.CNNLSTM"
    corpus = lambda languages: {"class_path": "ser_lightning.data.SyntheticCorpus", "init_args": {"root": "data/synthetic", "languages": languages}}
    return {
        "seed_everything": seed,
        "model": {"backbone": {"class_path": class_path, "init_args": init_args}, "lr_head": 1e-3},
        "data": {
            "class_path": "ser_lightning.data.CrossLingualDataModule",
            "init_args": {"sources": [corpus(sources)], "targets": [corpus(targets)], "seed": seed, "shots_per_class": k, "test_snrs": [None, 10, 0]},
        },
    }


def record(name: str, backbone: str, pretrained: bool | None, k: int, seed: int, ua: dict[str, float], snr_drop: float = 0.1) -> RunRecord:
    metrics = {}
    for group, value in ua.items():
        suffix = "" if group == "all" else f"/{group}"
        metrics[f"test/ua{suffix}"] = value
        metrics[f"test/ua{suffix}/snr10"] = value - snr_drop
        metrics[f"test/ua{suffix}/snr0"] = value - 2 * snr_drop
    metrics["test/wa"] = 0.5
    metrics["test/recall/angry"] = 0.9
    groups = {group: {"ua": value, "wa": 0.5, "f1": 0.5, "n": 48.0} for group, value in ua.items()}
    results = {"metrics": metrics, "groups": groups, "config": config(backbone, pretrained, k, seed, ["en", "de", "it"], ["ur"])}
    return RunRecord(name, {"k": str(k), "seed_everything": str(seed)}, results)


@pytest.fixture
def records() -> list[RunRecord]:
    out = []
    for backbone, pretrained, base in (
        ("facebook/wav2vec2-base", True, 0.6),
        ("facebook/wav2vec2-base", False, 0.4),
        ("microsoft/wavlm-base-plus", True, 0.7),
    ):
        for k in (0, 5):
            for seed, jitter in ((0, -0.02), (1, 0.0), (2, 0.02)):
                target = base - 0.2 + 0.02 * k + jitter
                ua = {"all": base, "source": base + jitter, "target": target, "en": base, "de": base, "it": base, "ur": target}
                out.append(record(f"{backbone}-{pretrained}-{k}-{seed}", backbone, pretrained, k, seed, ua))
    return out


def test_metric_keys_give_metric_group_and_snr():
    assert parse_metric_key("test/ua") == ("ua", "all", None)
    assert parse_metric_key("test/ua/ur") == ("ua", "ur", None)
    assert parse_metric_key("test/ua/target/snr10") == ("ua", "target", 10.0)
    assert parse_metric_key("test/f1/snr-5") == ("f1", "all", -5.0)
    assert parse_metric_key("test/recall/angry/snr2.5") == ("recall/angry", "all", 2.5)
    assert parse_metric_key("val/ua") is None


def test_study_fields_come_from_the_resolved_config():
    fields = study_fields(config("facebook/wav2vec2-xls-r-300m", False, 5, 3, ["en", "de"], ["ur"]))
    assert fields == {
        "backbone": "wav2vec2-xls-r-300m",
        "pretrained": False,
        "train": "en+de",
        "test": "ur",
        "k": 5,
        "seed": 3,
        "split_seed": 3,
        "test_snrs": [None, 10, 0],
    }
    registry_names = study_fields(
        {"data": {"class_path": "x.CrossCorpusDataModule", "init_args": {"sources": ["iemocap", "emodb"], "targets": ["urdu"]}}}
    )
    assert registry_names["train"] == "iemocap+emodb" and registry_names["test"] == "urdu" and registry_names["k"] == 0


def test_study_fields_read_a_plan_given_under_data_init_args_plan():
    flat = config("facebook/wav2vec2-base", True, 5, 1, ["en", "de"], ["ur"])
    args = flat["data"]["init_args"]
    holdout = {"class_path": "ser_lightning.data.SpeakerHoldout", "init_args": {"corpora": args["sources"]}}
    plan = {"class_path": "ser_lightning.data.CrossLingual", "init_args": {"sources": holdout, "targets": args["targets"], "shots_per_class": 5}}
    planned = flat | {"data": {"class_path": "ser_lightning.data.SERDataModule", "init_args": {"plan": plan, "seed": 1, "test_snrs": [None, 10, 0]}}}
    assert study_fields(planned) == study_fields(flat)
    folds = {
        "class_path": "ser_lightning.data.CorpusFolds",
        "init_args": {"corpus": {"class_path": "ser_lightning.data.EmoDB", "init_args": {"root": "x"}}},
    }
    assert study_fields({"data": {"class_path": "ser_lightning.data.SERDataModule", "init_args": {"plan": folds}}})["train"] == "emodb"


def test_k_is_what_was_drawn_and_the_data_seed_follows_seed_everything():
    fraction = {"seed_everything": 4, "data": {"class_path": "x.CrossLingualDataModule", "init_args": {"shots_fraction": 0.5, "seed": None}}}
    drawn = {"seed": 4, "shots": {"urdu/ur": {"angry": 11, "happy": 25, "neutral": 14, "sad": 50}}}
    fields = study_fields(fraction, drawn)
    assert fields["k"] == 25 and fields["split_seed"] == 4  # the mean of 11, 25, 14 and 50 shots per class; not 0
    assert study_fields(fraction)["k"] == 0 and study_fields(fraction)["split_seed"] == 4  # an older results.json without `data`
    assert study_fields(fraction, {"seed": 4, "shots": {}})["k"] == 0


def test_tidy_rows_and_mean_std_over_seeds(records, tmp_path):
    rows = tidy_rows(records)
    # 18 runs x (7 groups x 3 SNRs of UA + WA + recall)
    assert len(rows) == 18 * (7 * 3 + 2)
    one = next(r for r in rows if r["run"] == records[0].name and r["group"] == "ur" and r["snr"] == "10")
    assert one["metric"] == "ua" and one["backbone"] == "wav2vec2-base" and one["pretrained"] is True and one["k"] == 0 and one["n"] is None
    assert next(r for r in rows if r["group"] == "ur" and r["snr"] == "clean")["n"] == 48
    replicates = default_replicates(["k", "seed_everything"])
    assert replicates == ["seed_everything"]
    assert factor_columns(rows, replicates) == ["backbone", "pretrained", "train", "test", "k"]
    cells = aggregate([r for r in rows if r["metric"] == "ua"], ["backbone", "pretrained", "k", "group", "snr"])
    cell = cells[("wavlm-base-plus", True, 5, "target", "clean")]
    assert cell.n == 3 and cell.mean == pytest.approx(0.6) and cell.std == pytest.approx(0.02)
    assert cells[("wavlm-base-plus", True, 5, "target", "0")].mean == pytest.approx(0.4)
    single = aggregate([{"value": 0.5, "g": 1}, {"value": math.nan, "g": 1}], ["g"])[(1,)]
    assert (single.n, single.std) == (1, 0.0)

    path = write_tidy_csv(rows, tmp_path / "results.csv")
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:6] == ["run", "backbone", "pretrained", "train", "test", "k"] and len(lines) == len(rows) + 1


def test_markdown_table_has_the_study_shape(records):
    rows = tidy_rows(records)
    text = study_tables(rows, "ua", ["seed_everything"], title="demo")
    section = text.split("## backbone=wavlm-base-plus, pretrained=True, k=5, snr=clean\n", 1)[1].split("##")[0]
    header, rule, row = [line for line in section.splitlines() if line.startswith("|")]
    assert header == "| train \\ test | de | en | it | ur | source (held-out speakers) | target (unseen) |"
    assert row.startswith("| en+de+it | 0.700 ± 0.000 (3) |") and row.endswith("| 0.600 ± 0.020 (3) |")
    assert text.count("## ") == 3 * 2 * 3  # backbone/pretrained x k x SNR


def test_results_files_round_trip(tmp_path):
    path = write_results(
        tmp_path / "logs",
        "fit",
        "best.ckpt",
        {"test/ua": 0.5, "test/ua/ur": 0.25},
        {"all": {"ua": 0.5, "n": 10}},
        config("m/x", True, 0, 0, ["en"], ["ur"]),
    )
    (record,) = load_records([("r", {"seed": "0"}, path)])
    assert record.results["study"]["train"] == "en" and record.results["metrics"]["test/ua/ur"] == 0.25
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json"):
        load_records([("r", {}, tmp_path / "broken.json")])

"""Names and colours of a study's models: from the sweep's `labels`, else its grid labels; one colour per model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ser_lightning.experiments.figures import PALETTE, Names
from ser_lightning.experiments.sweep import SweepError, load_sweep

from .studies import LABELS, labelled_copy


def write_sweep(path: Path, **content) -> Path:
    path.write_text(yaml.safe_dump({"configs": ["base.yaml"], **content}, sort_keys=False))
    return path


def test_labels_name_an_axis_by_its_full_or_short_name_and_only_labels_it_has(tmp_path):
    backbones = {"cnn": {"config": "backbones/cnn_lstm.yaml"}, "xlsr": {"config": "backbones/xlsr.yaml"}}
    grid = {"data.init_args.shots_per_class": [0, 5], "backbone": backbones}
    labels = {"k": {"0": "zero-shot"}, "backbone": {"cnn": "CNN-LSTM", "xlsr": "XLS-R"}}
    sweep = load_sweep(write_sweep(tmp_path / "s.yaml", grid=grid, names={"data.init_args.shots_per_class": "k"}, labels=labels))
    assert sweep.labels == {"data.init_args.shots_per_class": {"0": "zero-shot"}, "backbone": {"cnn": "CNN-LSTM", "xlsr": "XLS-R"}}
    by_suffix = load_sweep(write_sweep(tmp_path / "t.yaml", grid=grid, labels={"shots_per_class": {"5": "five"}}))
    assert by_suffix.labels == {"data.init_args.shots_per_class": {"5": "five"}}

    with pytest.raises(SweepError, match=r"labels names axis `modle`, which the grid does not have; axes: data.init_args.shots_per_class, backbone"):
        load_sweep(write_sweep(tmp_path / "u.yaml", grid=grid, labels={"modle": {"cnn": "CNN"}}))
    with pytest.raises(SweepError, match=r"labels.backbone names \['wavlm'\], not labels of axis `backbone` \(cnn, xlsr\)"):
        load_sweep(write_sweep(tmp_path / "v.yaml", grid=grid, labels={"backbone": {"wavlm": "WavLM"}}))
    with pytest.raises(SweepError, match="`labels.backbone` must be a mapping"):
        load_sweep(write_sweep(tmp_path / "w.yaml", grid=grid, labels={"backbone": ["CNN"]}))


def test_models_are_named_by_the_sweeps_labels_else_by_its_grid_labels_never_by_raw_study_fields(tmp_path):
    (tmp_path / "plain").mkdir()
    plain = Names.from_sweep(load_sweep(labelled_copy("real_urdu", tmp_path / "plain", labels={})))  # the shipped file, no labels
    assert plain.model_axes == ["model"]  # not `shots` (data options) nor the seeds
    assert plain.models == ["cnn_lstm", "whisper_base", "whisper_base_untrained", "whisper_tiny_en"]
    run = "model=whisper_base_untrained,shots=k5,seed_everything=1"
    assert plain.model({"run": run, "backbone": "pypi:base", "pretrained": False}) == "whisper_base_untrained"

    labelled = Names.from_sweep(load_sweep(labelled_copy("real_urdu", tmp_path)))
    assert labelled.models == [LABELS["model"][key] for key in plain.models]
    assert labelled.model({"run": run}) == "Whisper base, untrained"
    # a run the sweep does not know (or no sweep): its backbone, and whether it was trained
    assert Names().model({"run": "other", "backbone": "wavlm-base-plus", "pretrained": False}) == "wavlm-base-plus, untrained"


def test_a_model_keeps_its_colour_across_figures_and_across_sweeps_with_the_same_models(tmp_path):
    urdu = Names.from_sweep(load_sweep("real_urdu", tmp_path / "a"))
    cross = Names.from_sweep(load_sweep("real_crosslingual", tmp_path / "b"))  # the same models in another grid order
    assert urdu.models[0] == "CNN-LSTM" and cross.models[0] == "Whisper base"  # both sweeps label their models alike
    assert {m: urdu.colour(m) for m in urdu.models} == {m: cross.colour(m) for m in cross.models}
    assert len(set(urdu.colours.values())) == 4 and set(urdu.colours.values()) <= set(PALETTE)
    assert urdu.colour("CNN-LSTM") == urdu.colour("CNN-LSTM")  # asked again: the same
    known = {urdu.colour(m) for m in urdu.models}
    assert urdu.colour("a model the sweep does not know") not in known


def test_a_pretrained_axis_is_part_of_the_model_and_reads_pre_trained_or_untrained(tmp_path):
    names = Names.from_sweep(load_sweep("pretrained", tmp_path / "p"))
    assert names.model_axes == ["backbone", "pretrained"]
    assert names.models[:2] == ["wav2vec2, pre-trained", "wav2vec2, untrained"] and len(names.models) == 12


def test_conditions_that_follow_from_the_model_or_the_shown_columns_are_not_extra(tmp_path):
    names = Names.from_sweep(load_sweep("real_urdu", tmp_path / "u"))
    rows = [
        {"run": f"model={m},shots=k{k},seed_everything={s}", "backbone": m, "train": "a", "k": k, "model": m, "shots": f"k{k}", "seed": s, "group": g}
        for m in ("cnn_lstm", "whisper_base")
        for k in (0, 5)
        for s in (0, 1)
        for g in ("source", "target")
    ]
    assert names.extra_conditions(rows, ["k", "group"], ["seed_everything"]) == []  # shots follows from k; backbone from the model
    assert names.extra_conditions(rows, ["group"], ["seed_everything"]) == ["shots"]  # the grid's own label before the study field k

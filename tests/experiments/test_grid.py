"""Sweep files -> runs: grid and zip expansion, labelled axes, run names, CLI arguments, and the errors of bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ser_lightning.experiments.check import cli_error, covering_sample
from ser_lightning.experiments.grid import expand, run_name, short_names
from ser_lightning.experiments.sweep import SweepError, load_sweep, shipped_sweeps


def write_sweep(path: Path, **content) -> Path:
    path.write_text(yaml.safe_dump({"configs": ["base.yaml"], **content}, sort_keys=False))
    return path


def test_grid_is_the_product_of_axes_and_zipped_axes_vary_together(tmp_path):
    sweep = load_sweep(
        write_sweep(
            tmp_path / "s.yaml",
            overrides={"trainer.max_epochs": 2},
            grid={
                "data.init_args.shots_per_class": [0, 5],
                "backbone": {"cnn": {"config": "backbones/cnn_lstm.yaml"}, "xlsr": {"config": ["backbones/xlsr.yaml"], "model.lr_backbone": 3e-5}},
            },
            zip={"seed_everything": [0, 1, 2], "data.init_args.seed": [10, 11, 12]},
            names={"data.init_args.shots_per_class": "k"},
        )
    )
    specs = expand(sweep, cwd=tmp_path)
    assert len(specs) == 2 * 2 * 3
    assert [spec.name for spec in specs[:4]] == [
        "k=0,backbone=cnn,seed_everything=0,seed=10",
        "k=0,backbone=cnn,seed_everything=1,seed=11",
        "k=0,backbone=cnn,seed_everything=2,seed=12",
        "k=0,backbone=xlsr,seed_everything=0,seed=10",
    ]
    assert {(s.point["seed_everything"], s.point["seed"]) for s in specs} == {("0", "10"), ("1", "11"), ("2", "12")}
    assert expand(sweep, cwd=tmp_path) == specs  # stable

    args = specs[3].args
    assert args[:7] == ["fit", "--config", "base.yaml", "--config", "backbones/xlsr.yaml", "--trainer.max_epochs", "2"]
    assert args[args.index("--model.lr_backbone") + 1] == "3e-05" and args[args.index("--data.init_args.seed") + 1] == "10"
    folder = tmp_path / "sweeps" / "s" / "runs" / specs[3].name
    assert specs[3].folder == str(folder)
    assert args[args.index("--trainer.logger.init_args.save_dir") + 1] == str(folder.parent)
    assert args[args.index("--trainer.logger.init_args.name") + 1] == specs[3].name
    assert args[args.index("--checkpoint.dirpath") + 1] == str(folder / "checkpoints")
    assert args[-2:] == ["--ckpt_path", "last"]  # an interrupted run resumes
    assert "--ckpt_path" not in expand(load_sweep(write_sweep(tmp_path / "t.yaml", command="test")), cwd=tmp_path)[0].args


def test_run_names_are_filesystem_safe_unique_and_bounded():
    assert (
        run_name([("backbone", "facebook/wav2vec2-base"), ("snrs", "null+20"), ("lr", "1e-05")])
        == "backbone=facebook-wav2vec2-base,snrs=null+20,lr=1e-05"
    )
    assert run_name([]) == "run"
    long_a, long_b = run_name([("x", "a" * 200 + "1")]), run_name([("x", "a" * 200 + "2")])
    assert len(long_a) == 120 and long_a != long_b


def test_axis_names_are_the_shortest_unique_suffix(tmp_path):
    sweep = load_sweep(
        write_sweep(tmp_path / "s.yaml", grid={"data.init_args.seed": [0], "model.init_args.seed": [1], "model.init_args.lr_head": [1e-3]})
    )
    assert short_names(sweep.axes, {}) == {
        "data.init_args.seed": "data.seed",
        "model.init_args.seed": "model.seed",
        "model.init_args.lr_head": "lr_head",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"zip": {"seed_everything": [0, 1], "data.init_args.seed": [0]}}, "equal lengths"),
        ({"grid": {"data.init_args.sources": [{"class_path": "x"}]}}, "give them labels"),
        ({"grid": {"train": {"en": "not a mapping"}}}, "must map to overrides"),
        ({"overrides": {"checkpoint.dirpath": "x"}}, "set by the sweep"),
        ({"launcher": {"cluster": "pbs"}}, "launcher.cluster"),
        ({"gird": {}}, "unknown key"),
        ({"grid": {"a.x": [1, 2]}, "names": {"a.x": "b"}, "zip": {"b": [1, 2]}}, "both shown as"),
    ],
)
def test_bad_sweep_files_fail_with_the_key_named(tmp_path, content, message):
    with pytest.raises(SweepError, match=message):
        expand(load_sweep(write_sweep(tmp_path / "bad.yaml", **content)), cwd=tmp_path)


def test_covering_sample_parses_every_label_once_not_every_run(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path / "s.yaml", grid={"a": [1, 2, 3], "b": [1, 2]}, zip={"seed": [0, 1, 2]}))
    specs = expand(sweep, cwd=tmp_path)
    sample = covering_sample(specs)
    assert len(sample) < len(specs) == 18
    assert {(axis, label) for spec in specs for axis, label in spec.point.items()} == {(a, v) for spec in sample for a, v in spec.point.items()}
    assert (
        cli_error('usage: ...\nerror: Parser key "model.lr_head":\n  Expected a float. Got value: x\n')
        == 'error: Parser key "model.lr_head": Expected a float. Got value: x'
    )


def test_shipped_sweeps_expand_to_their_study_sizes(tmp_path):
    sizes = {path.stem: len(expand(load_sweep(path), cwd=tmp_path)) for path in shipped_sweeps().glob("*.yaml")}
    assert sizes == {
        "demo_fewshot": 9,
        "demo_noise": 3,
        "demo_pretrained": 9,
        "crosslingual": 84,
        "fewshot": 105,
        "noise": 21,
        "pretrained": 36,
        "real_urdu": 60,
        "real_crosslingual": 80,
        "real_finetune": 3,
        "emobox_probes": 36,
        "emobox_speaker_independent": 54,
    }
    assert load_sweep("demo_fewshot").launcher.cluster == "local" and load_sweep("crosslingual").launcher.cluster == "slurm"


def test_launcher_parameters_submitit_refuses_are_a_sweep_error(tmp_path):
    from ser_lightning.experiments.launch import make_executor

    sweep = load_sweep(write_sweep(tmp_path / "s.yaml", launcher={"cluster": "debug", "gpus": 1}))
    with pytest.raises(SweepError, match="gpus"):
        make_executor(sweep.launcher, tmp_path / "submitit", "s")
    assert make_executor(load_sweep(write_sweep(tmp_path / "t.yaml", launcher={"cluster": "debug", "timeout_min": 5})).launcher, tmp_path / "x", "t")

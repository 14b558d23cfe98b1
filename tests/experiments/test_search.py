"""Equal selection budgets and the Optuna search: the sweep file's `budget:` and `search:` blocks, trials on validation
speakers only (a tiny CNN-LSTM, 1-2 epochs, on the session's synthetic corpus), resuming, and the chosen settings in the runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ser_lightning.experiments.__main__ import main as experiments_main
from ser_lightning.experiments.budget import effective_budget
from ser_lightning.experiments.grid import expand
from ser_lightning.experiments.search import run_search, trial_specs
from ser_lightning.experiments.study import run
from ser_lightning.experiments.sweep import SweepError, load_sweep
from ser_lightning.experiments.trial import open_storage

from ..test_cli import CNN_LSTM, scalars, write_config

SPACE = {
    "model.lr_head": {"low": 1.0e-4, "high": 1.0e-2, "log": True},
    "model.lr_backbone": {"low": 1.0e-4, "high": 3.0e-3, "log": True, "only": ["b"]},
}


def sweep_file(tmp_path: Path, corpus: Path | None = None, **content) -> Path:
    if corpus is not None:
        write_config(tmp_path / "tiny.yaml", corpus, CNN_LSTM, epochs=1)
    body = {
        "name": "s",
        "output": "out",
        "configs": ["tiny.yaml"],
        "grid": {"model": {"a": {}, "b": {"model.dropout": 0.2}}},
        "zip": {"seed_everything": [0]},
        "budget": {"max_epochs": 2, "patience": 1},
        "search": {"per": "model", "trials": 2, "seeds": [0], "space": SPACE, "pruning": False},
        "launcher": {"cluster": "debug"},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**body, **content}, sort_keys=False))
    return path


def option(args: list[str], key: str) -> str:
    return args[len(args) - 1 - args[::-1].index(key) + 1]  # the last occurrence wins, as in the CLI


def test_the_budget_reaches_every_run_as_max_epochs_and_early_stopping_on_val_ua(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, search=None, grid={"model": {"a": {}, "b": {"config": "backbones/cnn_lstm.yaml"}}}))
    budgets = [effective_budget(spec.args, tmp_path) for spec in expand(sweep, cwd=tmp_path)]
    assert [(b["max_epochs"], b["patience"]) for b in budgets] == [(2, 1), (2, 1)]
    stopping = json.loads(option(expand(sweep, cwd=tmp_path)[0].args, "--trainer.callbacks+"))
    assert stopping == {"class_path": "lightning.pytorch.callbacks.EarlyStopping", "init_args": {"monitor": "val/ua", "mode": "max", "patience": 1}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"grid": {"model": {"a": {}, "b": {"trainer.max_epochs": 6}}}}, "label `b` of axis `model` sets `trainer.max_epochs`, but the budget"),
        ({"grid": {"model": {"a": {"trainer": {"max_epochs": 6}}, "b": {}}}}, "label `a` of axis `model` sets `trainer.max_epochs`"),
        ({"grid": {"model": {"a": {}, "b": {"trainer.callbacks+": []}}}}, "label `b` of axis `model` sets `trainer.callbacks\\+`"),
        ({"grid": {"model": {"a": {"model.lr_head": 0.1}, "b": {}}}}, "label `a` of axis `model` sets `model.lr_head`, but the search chooses it"),
        ({"overrides": {"trainer.max_epochs": 3}}, "`overrides` sets `trainer.max_epochs`"),
        ({"search": {"per": "model", "trials": 2, "space": {"model.lr_head": {"low": "1e-4", "high": 0.1}}}}, "YAML reads 1e-4 as text"),
        ({"search": {"per": "modle", "trials": 2, "space": SPACE}}, "`search.per` names axis 'modle'"),
        ({"search": {"per": "model", "trials": 2, "at": {"seed_everything": 1}, "space": SPACE}}, "seed_everything is '1'|has labels 0"),
        ({"search": {"per": "model", "trials": 2, "space": {"model.lr_head": [0.1], "trainer.max_epochs": [2, 3]}}}, "part of the budget"),
        (
            {"search": {"per": "model", "trials": 2, "space": {"model.lr_backbone": {"low": 0.1, "high": 1.0, "only": ["c"]}}}},
            "only` names \\['c'\\]",
        ),
        ({"search": {"per": "model", "trials": 2, "space": {"model.lr_backbone": {"low": 0.1, "high": 1.0, "only": ["b"]}}}}, "applies to a;"),
        ({"search": {"per": "model", "trials": 2, "seeds": [0, 1], "space": SPACE}}, "set `pruning: false`"),
        ({"budget": None}, "a search needs a `budget:` block"),
        ({"budget": {"max_epochs": 2}}, "`budget` needs `patience`"),
        ({"command": "test"}, "it needs `command: fit`"),
    ],
)
def test_a_label_that_sets_a_budget_or_searched_key_and_bad_search_blocks_are_refused(tmp_path, content, message):
    with pytest.raises(SweepError, match=message) as error:
        load_sweep(sweep_file(tmp_path, **content))
    assert str(tmp_path / "sweep.yaml") in str(error.value) and "\n" not in str(error.value)


def test_trials_run_at_the_search_point_with_their_seed_no_test_and_the_sweeps_budget(tmp_path, monkeypatch):
    grid = {"model": {"a": {}, "b": {"model.dropout": 0.2}}, "shots": {"k0": {"model.warmup": 0.0}, "k5": {"model.warmup": 0.5}}}
    zipped = {"seed_everything": [0, 1, 2], "data.init_args.seed": [10, 11, 12]}
    search = {"per": "model", "trials": 3, "at": {"shots": "k5"}, "seeds": [1], "space": SPACE}
    sweep = load_sweep(sweep_file(tmp_path, grid=grid, zip=zipped, search=search))
    assert sweep.search.at == {"shots": "k5"} and sweep.search.pruning.warmup == 1  # warmup defaults to the patience
    monkeypatch.chdir(tmp_path)
    (spec,) = trial_specs(sweep, "b", 4, {"model.lr_head": 0.003, "model.lr_backbone": 0.0002})
    args = spec.args
    assert option(args, "--model.warmup") == "0.5" and option(args, "--model.dropout") == "0.2"  # at shots=k5, label b
    assert option(args, "--seed_everything") == "1" and option(args, "--data.init_args.seed") == "11"  # the zipped seed moves too
    assert option(args, "--model.lr_head") == "0.003" and option(args, "--test_after_fit") == "false"
    assert effective_budget(args, tmp_path)["max_epochs"] == 2 and effective_budget(args, tmp_path)["patience"] == 1
    callback = json.loads(option(args, "--trainer.callbacks+"))
    assert callback["class_path"] == "ser_lightning.experiments.trial.SearchTrial"
    assert (
        callback["init_args"]["trial"] == 4
        and callback["init_args"]["study_name"] == "b"
        and callback["init_args"]["storage"].endswith("search/b.db")
    )
    assert spec.folder == str(tmp_path / "out" / "search" / "b" / "trial=004,seed=1")


@pytest.mark.slow
def test_no_selection_step_reads_a_test_metric(small_corpus, tmp_path, monkeypatch):
    """Trials with a test split that cannot be read and a test step that raises: the search still completes, no trial
    writes test results, and each objective is the run's own logged best val/ua."""
    from ser_lightning.data.datamodule import SERDataModule
    from ser_lightning.models import EmotionRecognizer

    def no_test(*args, **kwargs):
        raise AssertionError("a selection step read the test split")

    monkeypatch.setattr(SERDataModule, "test_dataloader", no_test)
    monkeypatch.setattr(EmotionRecognizer, "test_step", no_test)
    monkeypatch.chdir(tmp_path)
    grid = {"model": {"a": {}}}
    search = {"per": "model", "trials": 2, "space": {"model.lr_head": SPACE["model.lr_head"]}, "pruning": False}
    sweep = load_sweep(sweep_file(tmp_path, small_corpus, grid=grid, search=search))
    summary = run_search(sweep, report=lambda line: None)
    assert summary["a"]["complete"] == 2 and summary["a"]["failed"] == 0

    import optuna

    study = optuna.load_study(study_name="a", storage=open_storage(tmp_path / "out" / "search" / "a.db"))
    for trial in study.trials:
        (folder,) = [Path(run) for run in trial.user_attrs["runs"]]
        logged = scalars(folder / "logs")
        assert not any(tag.startswith("test/") for tag in logged)
        assert trial.value == pytest.approx(max(event.value for event in logged["val/ua"]))
        assert not list(folder.rglob("results.json"))
    assert summary["a"]["best_val_ua"] == max(t.value for t in study.trials)


@pytest.mark.slow
def test_an_interrupted_search_resumes_where_it_stopped_and_the_runs_take_the_chosen_settings(small_corpus, tmp_path, monkeypatch):
    import ser_lightning.experiments.launch as launch

    monkeypatch.chdir(tmp_path)
    path = sweep_file(tmp_path, small_corpus)
    sweep = load_sweep(path)
    real_execute = launch.execute

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(launch, "execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_search(sweep, report=lambda line: None)
    import optuna

    def trials(label: str) -> list[optuna.trial.FrozenTrial]:
        return optuna.load_study(study_name=label, storage=open_storage(tmp_path / "out" / "search" / f"{label}.db")).trials

    asked = {label: [dict(t.params) for t in trials(label)] for label in ("a", "b")}
    assert {label: len(found) for label, found in asked.items()} == {"a": 1, "b": 1}  # one round asked, none ran

    monkeypatch.setattr(launch, "execute", real_execute)
    lines: list[str] = []
    summary = run_search(sweep, report=lines.append)
    for label in ("a", "b"):
        found = trials(label)
        assert len(found) == 2 and dict(found[0].params) == asked[label][0]  # the interrupted trial ran with its own parameters
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in found)
        assert ("model.lr_backbone" in found[0].params) == (label == "b")  # `only: [b]`
    # every compared label got the same selection budget: trials, epochs at most, patience
    assert {label: found["trials"] for label, found in summary.items()} == {"a": 2, "b": 2}
    trial_runs = sorted((tmp_path / "out" / "search").glob("*/trial=*/run.json"))
    assert len(trial_runs) == 4
    budgets = {(b["max_epochs"], b["patience"]) for b in (effective_budget(json.loads(p.read_text())["args"], tmp_path) for p in trial_runs)}
    assert budgets == {(2, 1)}

    chosen = json.loads((tmp_path / "out" / "search" / "chosen.json").read_text())
    assert set(chosen["labels"]) == {"a", "b"} and chosen["budget"] == {"max_epochs": 2, "patience": 1}
    for label, found in chosen["labels"].items():
        assert found["params"] == summary[label]["params"] and found["complete"] + found["pruned"] + found["failed"] == 2
        assert found["epochs"] >= 2 and found["seconds"] > 0
    table = (tmp_path / "out" / "search" / "search.md").read_text()
    assert "| a |" in table and "| b |" in table and "2: 2 / 0 / 0" in table

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "search").glob("*/trial=*/done.json")}
    lines.clear()
    run_search(sweep, report=lines.append)  # nothing left: no new trial
    assert not any("search round" in line for line in lines) and len(trials("a")) == len(trials("b")) == 2
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}

    outcomes, _ = run(sweep, report=lines.append)  # the search is complete: straight to the grid
    assert [o["state"] for o in outcomes.values()] == ["done", "done"]
    for spec in expand(sweep, cwd=tmp_path):
        label = spec.point["model"]
        for key, value in chosen["labels"][label]["params"].items():
            assert float(option(spec.args, f"--{key}")) == pytest.approx(value)
        recorded = json.loads((Path(spec.folder) / "run.json").read_text())["args"]
        assert effective_budget(recorded, tmp_path) == effective_budget(spec.args, tmp_path)
    assert experiments_main(["plan", str(path)]) == 0


def test_a_models_search_stays_the_same_search_when_another_model_or_its_option_joins_the_sweep(tmp_path):
    """Each model's Optuna study is checked against the options searched for it alone: adding the CNN-LSTM (and its
    backbone learning rate) to a sweep of probes keeps the probes' finished trials; a change to a probe's own space does not."""
    both = load_sweep(sweep_file(tmp_path)).search
    (tmp_path / "alone").mkdir()
    space_a = {"model.lr_head": SPACE["model.lr_head"]}
    alone = load_sweep(sweep_file(tmp_path / "alone", grid={"model": {"a": {}}}, search={**both.declared, "space": space_a})).search
    assert both.fingerprint("a") == alone.fingerprint("a") and both.fingerprint() != alone.fingerprint()
    assert both.fingerprint("b") != both.fingerprint("a")  # b also searches its backbone's learning rate
    wider = {"model.lr_head": {**SPACE["model.lr_head"], "high": 0.1}}
    changed = load_sweep(sweep_file(tmp_path / "alone", grid={"model": {"a": {}}}, search={**both.declared, "space": wider})).search
    assert changed.fingerprint("a") != alone.fingerprint("a")


def test_a_study_that_an_earlier_release_fingerprinted_whole_is_taken_as_the_same_search(tmp_path, monkeypatch):
    """Studies stored the whole search's fingerprint before it became per model: an unchanged sweep keeps their trials."""
    from ser_lightning.experiments.search import _open_studies, search_folder, storage_path

    monkeypatch.chdir(tmp_path)
    sweep = load_sweep(sweep_file(tmp_path))
    search_folder(sweep).mkdir(parents=True)
    studies = _open_studies(sweep)
    whole = json.loads(json.dumps(sweep.search.fingerprint()))
    for study in studies.values():
        study.set_user_attr("search", whole)  # as the earlier release wrote it
    reopened = _open_studies(sweep)
    assert {label: study.user_attrs["search"] for label, study in reopened.items()} == {
        label: json.loads(json.dumps(sweep.search.fingerprint(label))) for label in sweep.search.labels
    }
    assert all(storage_path(sweep, label).exists() for label in sweep.search.labels)


def test_plan_says_to_be_searched_until_the_search_has_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = sweep_file(tmp_path)
    assert experiments_main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "budget (every run): at most 2 epochs, early stopping on val/ua (patience 1)" in out
    assert "  a: to be searched" in out and "  b: to be searched" in out and "--model.lr_head" not in out

    sweep = load_sweep(path)
    chosen = {
        "trials": 2,
        "budget": {"max_epochs": 2, "patience": 1},
        "fingerprint": sweep.search.fingerprint(),
        "labels": {"a": {"params": {"model.lr_head": 0.002}}, "b": {"params": {"model.lr_head": 0.004, "model.lr_backbone": 0.001}}},
    }
    (tmp_path / "out" / "search").mkdir(parents=True)
    (tmp_path / "out" / "search" / "chosen.json").write_text(json.dumps(chosen))
    assert experiments_main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  a: model.lr_head=0.002" in out and "--model.lr_head 0.004 --model.lr_backbone 0.001" in out

    changed = sweep_file(tmp_path, budget={"max_epochs": 3, "patience": 1})  # another budget: the search must run again
    assert experiments_main(["plan", str(changed)]) == 0
    assert "  a: to be searched" in capsys.readouterr().out


@pytest.mark.slow
def test_a_pruned_trial_stops_its_run_cleanly_and_records_why(small_corpus, tmp_path, monkeypatch):
    """The pruner compares the trial with a finished one that scored 1.0 at every epoch: the run stops after its first."""
    import optuna

    from ser_lightning.cli import main

    monkeypatch.chdir(tmp_path)
    write_config(tmp_path / "tiny.yaml", small_corpus, CNN_LSTM, epochs=1)
    storage = tmp_path / "study.db"
    study = optuna.create_study(study_name="x", storage=open_storage(storage), direction="maximize")
    study.add_trial(optuna.trial.create_trial(value=1.0, intermediate_values={0: 1.0, 1: 1.0, 2: 1.0}))
    trial = study.ask()
    callback = {
        "class_path": "ser_lightning.experiments.trial.SearchTrial",
        "init_args": {
            "storage": str(storage),
            "study_name": "x",
            "trial": trial.number,
            "summary": str(tmp_path / "trial.json"),
            "pruning_startup": 1,
            "pruning_warmup": 0,
        },
    }
    main(["fit", "--config", "tiny.yaml", "--trainer.max_epochs", "3", "--test_after_fit", "false", "--trainer.callbacks+", json.dumps(callback)])
    outcome = json.loads((tmp_path / "trial.json").read_text())
    assert outcome["pruned"] is True and outcome["epochs"] == 1 and len(outcome["history"]) == 1
    assert optuna.load_study(study_name="x", storage=open_storage(storage)).trials[1].intermediate_values == {0: outcome["best"]}

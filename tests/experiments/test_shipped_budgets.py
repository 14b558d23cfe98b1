"""Every shipped sweep gives the models it compares the same selection budget: the same max_epochs and early stopping on
val/ua for every run (read back from each run's arguments and config files, as the CLI applies them), no label that sets
a budget key itself, and, where it searches, the same trials for every label."""

from __future__ import annotations

import json

import pytest

from ser_lightning.experiments.budget import _budget_key, effective_budget, flat_keys
from ser_lightning.experiments.grid import expand
from ser_lightning.experiments.search import trial_specs
from ser_lightning.experiments.sweep import load_sweep, shipped_sweeps

SHIPPED = sorted(shipped_sweeps().glob("*.yaml"))
# the sweeps that compare models (or settings) and must declare their budget
BUDGETED = ("crosslingual", "demo_fewshot", "demo_noise", "demo_pretrained", "fewshot", "noise", "pretrained", "real_crosslingual", "real_urdu")


def budget_of(args: list[str]) -> tuple:
    found = effective_budget(args)
    return found["max_epochs"], json.dumps(found["patience"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_no_shipped_sweep_gives_two_compared_models_different_selection_budgets(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./configs here: config names resolve to the shipped files, as for a new user
    sweep = load_sweep(path)
    for axis in sweep.axes:
        for label, values in axis.points:
            assert not [key for key in flat_keys(values) if _budget_key(key)], f"{path.stem}: label {label} of {axis.name} sets a budget key"
    budgets = {spec.name: budget_of(spec.args) for spec in expand(sweep, cwd=tmp_path)}
    assert len(set(budgets.values())) == 1, f"{path.stem}: runs with different budgets: {budgets}"
    (max_epochs, _patience) = next(iter(budgets.values()))
    assert isinstance(max_epochs, int) and max_epochs > 0
    if sweep.search is not None:
        assert sweep.search.labels == [label for label, _ in next(a for a in sweep.axes if a.name == sweep.search.per).points]
        for label in sweep.search.labels:  # every label's trials: the runs' budget, no test, the same number of trials
            for spec in trial_specs(sweep, label, 0, {}):
                assert budget_of(spec.args) == next(iter(budgets.values()))
                assert spec.args[spec.args.index("--test_after_fit") + 1] == "false"


def test_the_study_sweeps_declare_their_budget_and_the_claims_sweeps_a_search():
    stems = {path.stem for path in SHIPPED}
    assert set(BUDGETED) <= stems
    for name in BUDGETED:
        assert load_sweep(name).budget is not None, name
    urdu, demo = load_sweep("real_urdu"), load_sweep("demo_pretrained")
    assert urdu.search.trials == 6 and urdu.search.at == {"shots": "k0"} and demo.search.trials <= 4
    assert [label for label, _ in next(a for a in urdu.axes if a.name == "seed_everything").points] == ["0", "1", "2", "3", "4"]
    assert urdu.budget.max_epochs == 30 and urdu.budget.patience is not None

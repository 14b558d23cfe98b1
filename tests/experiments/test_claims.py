"""Claims declared in a sweep file, tested on fabricated finished runs (their test rows), with computed verdicts."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from ser_lightning.evaluation import ROWS_FILE, EvaluationRows, write_rows
from ser_lightning.experiments.__main__ import main
from ser_lightning.experiments.claims import ClaimError, parse_claims, verdict
from ser_lightning.experiments.grid import expand
from ser_lightning.experiments.runs import RunFolder
from ser_lightning.experiments.study import claims, collect
from ser_lightning.experiments.sweep import SweepError, load_sweep
from ser_lightning.results import write_results

LABELS = ["angry", "happy", "neutral", "sad"]
# the probability of a right answer per model and shots; target speakers are harder
ACCURACY = {("good", "k0"): 0.75, ("good", "k20"): 0.9, ("poor", "k0"): 0.45, ("poor", "k20"): 0.5}

SWEEP = """
configs: [demo.yaml]
grid:
  model: {good: {model.head_hidden: 8}, poor: {model.head_hidden: 4}}
  shots: {k0: {data.init_args.shots_per_class: 0}, k20: {data.init_args.shots_per_class: 20}}
zip:
  seed_everything: [0, 1, 2]
report: {alpha: 0.05}
claims:
  - name: the good model beats the poor one on the target
    better: {model: good}
    worse: {model: poor}
    where: {shots: k0}
  - name: the poor model beats the good one
    better: {model: poor}
    worse: {model: good}
    where: {shots: k0}
    group: source
  - name: the good model gains more from shots
    better: {model: good}
    worse: {model: poor}
    change: {shots: [k0, k20]}
  - name: noise hurts the good model less
    better: {model: good}
    worse: {model: poor}
    where: {shots: k0}
    change: {snr: [null, 10]}
"""


def fake_rows(model: str, shots: str, seed: int) -> EvaluationRows:
    generator = np.random.default_rng(zlib.crc32(f"{model}{shots}{seed}".encode()))
    meta = {key: [] for key in ("path", "corpus", "language", "speaker", "role", "snr")}
    labels, probabilities = [], []
    for snr, drop in (("clean", 0.0), ("10", 0.0 if model == "good" else 0.3)):
        for role, speakers, harder in (("source", ("a", "b", "c"), 0.0), ("target", tuple(f"u{i}" for i in range(8)), 0.1)):
            for speaker in speakers:
                for i in range(16):
                    label = i % 4
                    right = generator.random() < ACCURACY[model, shots] - harder - drop
                    predicted = label if right else (label + 1 + generator.integers(0, 3)) % 4
                    row = np.full(4, 0.1, dtype=np.float32)
                    row[predicted] = 0.7
                    labels.append(label)
                    probabilities.append(row)
                    meta["path"].append(f"{role}/{speaker}/{i}.wav")
                    meta["corpus"].append("urdu" if role == "target" else "emodb")
                    meta["language"].append("ur" if role == "target" else "de")
                    meta["speaker"].append(f"{speaker}{seed}" if role == "source" else speaker)  # sources: another split per seed
                    meta["role"].append(role)
                    meta["snr"].append(snr)
    return EvaluationRows(LABELS, meta, labels, probabilities, probabilities)


def fabricate(tmp_path: Path, text: str = SWEEP):
    path = tmp_path / "toy.yaml"
    path.write_text(text)
    sweep = load_sweep(path, tmp_path / "out")
    for spec in expand(sweep, tmp_path):
        folder = RunFolder(spec.folder)
        folder.describe(spec.as_dict())
        rows = fake_rows(spec.point["model"], spec.point["shots"], int(spec.point["seed_everything"]))
        write_rows(rows, folder.log_dir / ROWS_FILE)
        groups = {"all": {"ua": 0.5, "n": 1.0}}
        write_results(folder.log_dir, "fit", "best.ckpt", {"test/ua": 0.5}, groups, {"seed_everything": 0}, predictions=ROWS_FILE)
        folder.mark_done(1.0)
    return sweep


def test_declared_claims_get_computed_verdicts_and_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweep = fabricate(tmp_path)
    records = claims(sweep, report=lambda line: None)
    by_name = {record["name"]: record for record in records}
    target = by_name["the good model beats the poor one on the target"]
    assert target["verdict"] == "holds" and target["delta"] > 0.2 and target["low"] > 0 and target["p_holm"] < 0.05
    assert target["speakers"] == 8 and target["seeds"] == 3  # the same 8 URDU speakers in all 3 seeds: 8 clusters
    assert by_name["the poor model beats the good one"]["verdict"] == "does not hold"
    assert by_name["the poor model beats the good one"]["speakers"] == 9  # each seed tests other source speakers
    assert by_name["the good model gains more from shots"]["delta"] == pytest.approx(
        by_name["the good model gains more from shots"]["better_value"] - by_name["the good model gains more from shots"]["worse_value"]
    )
    assert by_name["noise hurts the good model less"]["verdict"] == "holds"
    saved = json.loads((tmp_path / "out" / "claims.json").read_text())
    assert saved["alpha"] == 0.05 and [c["name"] for c in saved["claims"]] == [r["name"] for r in records]
    table = (tmp_path / "out" / "claims.md").read_text()
    assert "| the good model beats the poor one on the target |" in table and "**holds**" in table and "**does not hold**" in table


def test_the_claims_command_prints_the_verdicts_and_collect_computes_intervals(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    fabricate(tmp_path)
    assert main(["claims", str(tmp_path / "toy.yaml"), "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "the good model beats the poor one on the target" in out and "holds" in out and "p (Holm)" in out
    sweep = load_sweep(tmp_path / "toy.yaml", tmp_path / "out")
    outputs = collect(sweep, report=lambda line: None)
    table = outputs.markdown.read_text()
    assert "95% interval" in table and " [0." in table  # every cell with its cluster-bootstrap interval
    assert tmp_path / "out" / "plots" / "confusion.png" in outputs.plots  # the best model's, from its runs' test rows
    from ser_lightning.experiments.report import write_report

    written = write_report(sweep, report=lambda line: None)
    page = written.html.read_text()
    assert "the good model beats the poor one on the target" in page and "holds" in page and "[0." in page
    assert any(drawn.png.name == "confusion.png" for drawn in written.figures)


def test_a_claim_that_names_no_run_or_leaves_an_axis_open_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    open_axis = SWEEP.split("claims:")[0] + "claims:\n  - {name: open, better: {model: good}, worse: {model: poor}}\n"
    fabricate(tmp_path, open_axis)
    assert main(["claims", str(tmp_path / "toy.yaml"), "--output", str(tmp_path / "out")]) == 1
    assert "differ in shots (k0, k20); fix it in `where`" in capsys.readouterr().err
    with pytest.raises(ClaimError, match="claim 1: unknown key"):
        parse_claims([{"name": "x", "better": {}, "worse": {}, "bogus": 1}], Path("s.yaml"))
    with pytest.raises(SweepError, match="change takes one axis and two labels"):
        bad = tmp_path / "bad.yaml"
        bad.write_text("configs: [demo.yaml]\nclaims: [{name: x, better: {a: b}, worse: {a: c}, change: {shots: [k0]}}]\n")
        load_sweep(bad)


def test_a_partly_run_sweep_gives_the_claims_it_can_and_says_which_wait(tmp_path, monkeypatch, capsys):
    """A claim whose side has no finished run is `not run yet` and counts with p = 1 in Holm's correction, so the
    claims already computed are judged against the whole declared family; a label the grid lacks is still refused."""
    monkeypatch.chdir(tmp_path)
    sweep = fabricate(tmp_path)
    full = {record["name"]: record for record in claims(sweep, report=lambda line: None)}
    for spec in expand(sweep, tmp_path):
        if spec.point["shots"] == "k20":
            (RunFolder(spec.folder).log_dir / ROWS_FILE).unlink()  # as if the k20 runs had not finished
    assert main(["claims", str(tmp_path / "toy.yaml"), "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "claims (12 of 12 runs finished)" not in printed  # the rows-less runs do not count
    partial = {record["name"]: record for record in json.loads((tmp_path / "out" / "claims.json").read_text())["claims"]}
    gains = partial["the good model gains more from shots"]
    assert gains["verdict"] == "not run yet" and gains["p_holm"] is None and "shots': 'k20'" in gains["note"]
    target = partial["the good model beats the poor one on the target"]
    assert target["delta"] == pytest.approx(full[target["name"]]["delta"]) and target["verdict"] == "holds"
    assert target["p_holm"] >= full[target["name"]]["p_holm"] - 1e-12  # never less strict than with the whole family
    assert "**not run yet**" in (tmp_path / "out" / "claims.md").read_text()
    typo = SWEEP.split("claims:")[0] + "claims:\n  - {name: typo, better: {model: goood}, worse: {model: poor}, where: {shots: k0}}\n"
    (tmp_path / "toy.yaml").write_text(typo)
    assert main(["claims", str(tmp_path / "toy.yaml"), "--output", str(tmp_path / "out")]) == 1
    assert "model=goood is not a label of the grid (good, poor)" in capsys.readouterr().err


def test_a_claim_short_of_its_declared_runs_is_judged_so_far_never_as_final(tmp_path, monkeypatch):
    """A sweep still running: a claim whose sides have fewer finished runs than the grid declares keeps its computed
    numbers, but its verdict reads `... so far` with the runs it rests on; with every run finished it is final."""
    monkeypatch.chdir(tmp_path)
    sweep = fabricate(tmp_path)
    full = {record["name"]: record for record in claims(sweep, report=lambda line: None)}
    name = "the good model beats the poor one on the target"
    assert full[name]["verdict"] == "holds" and full[name]["runs"] == [6, 6]
    assert full["the good model gains more from shots"]["runs"] == [12, 12]  # both sides at k0 and k20
    for spec in expand(sweep, tmp_path):
        if spec.point == {"model": "poor", "shots": "k0", "seed_everything": "2"}:
            (RunFolder(spec.folder).log_dir / ROWS_FILE).unlink()  # as if that run had not finished
    partial = {record["name"]: record for record in claims(sweep, report=lambda line: None)}
    assert partial[name]["verdict"] == "holds so far" and partial[name]["runs"] == [5, 6] and partial[name]["seeds"] == 2
    assert "provisional: 5 of the 6 runs" in partial[name]["note"]
    assert partial["the good model gains more from shots"]["verdict"].endswith(" so far")
    assert partial["the good model gains more from shots"]["runs"] == [11, 12]
    table = (tmp_path / "out" / "claims.md").read_text()
    assert "**holds so far** (5 of 6 runs)" in table and "**holds** |" not in table.split(name)[1].splitlines()[0]


def test_verdicts():
    assert verdict(0.1, 0.02, 0.2, 0.01, 0.05, 0.0) == "holds"
    assert verdict(0.1, -0.02, 0.2, 0.2, 0.05, 0.0) == "inconclusive"
    assert verdict(-0.1, -0.2, -0.01, 0.99, 0.05, 0.0) == "does not hold"
    assert verdict(0.01, -0.01, 0.03, 0.3, 0.05, 0.05) == "does not hold"  # smaller than the declared margin

"""The benchmark suite: two cheap items at quick sizes write both reports with every figure and field (not timed); a ratio
measured in repeats is judged against its spread; an item that cannot measure says why and the others still run."""

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {"name": str, "value": float, "unit": str, "goal": str, "detail": str, "verdict": str}


@pytest.fixture
def bench(monkeypatch):
    """The benchmarks folder importable (its modules import one another by bare name)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return lambda name: importlib.import_module(name)


@pytest.mark.slow  # the benchmark suite's quick run, in subprocesses
def test_quick_run_writes_every_requested_figure_with_its_fields(tmp_path):
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", "padding", "whisper", "--output", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)  # a busy shared machine: minutes
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    markdown = (tmp_path / "report.md").read_text()
    figures = report["figures"]
    names = [fig["name"] for fig in figures]
    assert {name.split(":")[0] for name in names} == {"padding", "whisper"}
    assert len(names) == 5 and len(set(names)) == 5  # padding: random, grouped, seconds budget; whisper: time, memory
    for fig in figures:
        for field, kind in FIELDS.items():
            assert isinstance(fig[field], kind) or (field == "value" and fig[field] is None and fig.get("status")), (fig["name"], field)
        assert fig["passed"] in (True, False, None)
        assert (fig["passed"] is None) == (not fig["goal"] or fig["verdict"] == "within noise")
        assert fig["value"] is None or math.isfinite(fig["value"])
        assert fig["name"] in markdown
    assert "torch.set_num_threads(1)" in markdown and report["header"]["threads"] in markdown


def test_a_ratio_whose_repeats_straddle_its_goal_is_within_noise_and_one_clear_of_it_passes_or_fails(bench, tmp_path):
    report = bench("report")
    noisy = report.judged("overhead", [1.03, 1.05, 1.07], "x", "<= 1.05x", lambda v: v <= 1.05)
    assert (noisy["passed"], noisy["verdict"], noisy["value"], noisy["low"], noisy["high"]) == (None, "within noise", 1.05, 1.03, 1.07)
    assert report.judged("parity", [1.01, 1.02], "x", ">= 1.0x", lambda v: v >= 1.0)["verdict"] == "pass"
    assert report.judged("parity", [0.97, 0.99], "x", ">= 1.0x", lambda v: v >= 1.0)["passed"] is False
    _, _, markdown = report.write_reports([noisy], tmp_path, {"command": "test"})
    assert "0 of 1 goals passed; within noise (the goal inside the spread of repeats): overhead" in markdown
    assert "| overhead | 1.05 (1.03-1.07) | x | <= 1.05x | within noise |" in markdown


def test_an_item_whose_child_process_fails_says_why_in_its_row_and_the_others_still_run(bench, tmp_path, monkeypatch):
    run = bench("run")
    child = "[sys.executable, '-c', 'import sys; sys.exit(\"MemoryError: no 3 GiB\")']"
    (tmp_path / "broken_child.py").write_text(
        f"import subprocess, sys\ndef figures(quick=False):\n    subprocess.run({child}, check=True, capture_output=True, text=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(run, "HERE", tmp_path)
    monkeypatch.setitem(run.ITEMS, "broken", "broken_child")
    (row,) = run.run_item("broken", quick=True)
    assert row["status"] == "not measured" and row["passed"] is False
    assert row["detail"] == 'its child process (-c import sys; sys.exit("MemoryError: no 3 GiB")) exited with status 1: MemoryError: no 3 GiB'


def test_the_memory_item_names_why_its_child_failed(bench, tmp_path):
    memory, report = bench("memory"), bench("report")
    with pytest.raises(report.NotMeasured, match=r"child process for nowhere .* exited with status 1: .*nowhere"):
        memory.measure(tmp_path / "nowhere" / "manifest.jsonl", 5)

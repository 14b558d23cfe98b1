"""Smoke test of the benchmark suite: two cheap items at quick sizes write both reports with every figure and field (not timed)."""

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {"name": str, "value": float, "unit": str, "goal": str, "detail": str}


def test_quick_run_writes_every_requested_figure_with_its_fields(tmp_path):
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", "padding", "whisper", "--output", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
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
        assert fig["passed"] in (True, False, None) and (fig["passed"] is None) == (not fig["goal"])
        assert fig["value"] is None or math.isfinite(fig["value"])
        assert fig["name"] in markdown
    assert "torch.set_num_threads(1)" in markdown and report["header"]["threads"] in markdown

"""Where export writes: a new or empty folder, or one it wrote itself (replaced whole, no file of the earlier export
kept); never onto an input or into a folder of other files; through a hidden folder renamed at the end, so a killed
export leaves nothing that looks complete; and a card whose test table is the exported checkpoint's own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ser_lightning.sharing.export import EXPORT_KEY, main

from .tiny import tiny_checkpoint

EXPORTED = ["README.md", "config.json", "model.safetensors"]


def export(*args: str) -> Path:
    return main([*args])


def refused(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*args])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.startswith("error: ") and error.count("\n") == 1, error
    return error


def test_a_new_folder_gets_the_files_and_the_exports_record_of_them(tmp_path):
    out = export("--ckpt_path", str(tiny_checkpoint(tmp_path / "a.ckpt")), "--out", str(tmp_path / "new" / "export"))
    assert sorted(p.name for p in out.iterdir()) == EXPORTED
    assert json.loads((out / "config.json").read_text())[EXPORT_KEY] == {"format": 1, "files": EXPORTED, "checkpoint": "a.ckpt"}
    assert [p.name for p in out.parent.iterdir()] == ["export"]  # no temporary folder left beside it


def test_an_earlier_export_is_replaced_whole_and_its_stale_files_go(tmp_path):
    out = tmp_path / "export"
    export("--ckpt_path", str(tiny_checkpoint(tmp_path / "a.ckpt", seed=0)), "--out", str(out))
    config = json.loads((out / "config.json").read_text())
    config[EXPORT_KEY]["files"].append("model.onnx")  # as if that export had run with --onnx
    (out / "config.json").write_text(json.dumps(config))
    (out / "model.onnx").write_bytes(b"the earlier model's graph")
    (out / "README.md").write_text("the card of the earlier model, with its test table")
    export("--ckpt_path", str(tiny_checkpoint(tmp_path / "b.ckpt", seed=1)), "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == EXPORTED and "earlier model" not in (out / "README.md").read_text()
    assert json.loads((out / "config.json").read_text())[EXPORT_KEY]["checkpoint"] == "b.ckpt"


def test_an_export_from_before_the_record_is_recognised_and_replaced(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"hparams": {"num_classes": 4}, "recognizer": "ser_lightning.models.EmotionRecognizer"}))
    for name in ("README.md", "model.safetensors", "model.onnx"):
        (out / name).write_bytes(b"old")
    export("--ckpt_path", str(tiny_checkpoint(tmp_path / "a.ckpt")), "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == EXPORTED


@pytest.mark.parametrize(
    "contents",
    [
        {"config.json": '{"model_type": "bert", "hidden_size": 768}'},  # an unrelated config.json
        {"notes.txt": "mine"},
        {"config.json": '{"hparams": {}, "recognizer": "x"}', "README.md": "", "results.csv": "keep me"},  # an export and more
    ],
)
def test_a_folder_holding_anything_else_is_refused_and_left_as_it_was(contents, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    for name, text in contents.items():
        (out / name).write_text(text)
    error = refused(capsys, "--ckpt_path", str(tiny_checkpoint(tmp_path / "a.ckpt")), "--out", str(out))
    assert f"--out {out} holds files that export did not write" in error and "choose a new or empty folder" in error
    assert {p.name: p.read_text() for p in out.iterdir()} == contents


def test_an_empty_folder_is_taken(tmp_path):
    (tmp_path / "empty").mkdir()
    out = export("--ckpt_path", str(tiny_checkpoint(tmp_path / "a.ckpt")), "--out", str(tmp_path / "empty"))
    assert sorted(p.name for p in out.iterdir()) == EXPORTED


def test_out_is_never_an_input_or_a_folder_holding_one(tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path / "run" / "best.ckpt")
    before = ckpt.read_bytes()
    for out in (ckpt, ckpt.parent, tmp_path):
        assert f"--out {out} is or holds {ckpt}, an input of this export" in refused(capsys, "--ckpt_path", str(ckpt), "--out", str(out))
    results = tmp_path / "logs" / "results.json"
    results.parent.mkdir()
    results.write_text(json.dumps({"metrics": {}, "checkpoint": str(ckpt)}))
    error = refused(capsys, "--ckpt_path", str(ckpt), "--out", str(results.parent), "--results", str(results))
    assert f"is or holds {results}" in error and ckpt.read_bytes() == before and results.is_file()
    (tmp_path / "file").write_text("x")
    assert "is a file, not a folder" in refused(capsys, "--ckpt_path", str(ckpt), "--out", str(tmp_path / "file"))


def test_a_failed_export_leaves_no_folder_and_keeps_an_earlier_export_whole(tmp_path, monkeypatch, capsys):
    from ser_lightning.sharing import onnx

    def broken(recognizer, path, **_):
        Path(path).write_bytes(b"half a graph")
        raise OSError("No space left on device")

    monkeypatch.setattr(onnx, "require_onnx", lambda: None)
    monkeypatch.setattr(onnx, "export_onnx", broken)
    ckpt = tiny_checkpoint(tmp_path / "a.ckpt")
    assert "No space left on device" in refused(capsys, "--ckpt_path", str(ckpt), "--out", str(tmp_path / "new"), "--onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt"]  # neither the folder nor its temporary sibling
    earlier = export("--ckpt_path", str(ckpt), "--out", str(tmp_path / "kept"))
    card = (earlier / "README.md").read_text()
    refused(capsys, "--ckpt_path", str(tiny_checkpoint(tmp_path / "b.ckpt", seed=1)), "--out", str(earlier), "--onnx")
    assert sorted(p.name for p in earlier.iterdir()) == EXPORTED and (earlier / "README.md").read_text() == card


@pytest.mark.slow  # an export in a subprocess, killed
def test_a_killed_export_never_leaves_a_folder_that_looks_complete(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "a.ckpt")
    started = tmp_path / "onnx.started"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from ser_lightning.sharing import onnx
        def slow(recognizer, path, **_):
            Path(path).write_bytes(b"half a graph")
            Path({str(started)!r}).touch()
            time.sleep(600)
        onnx.require_onnx = lambda: None
        onnx.export_onnx = slow
        from ser_lightning.sharing.export import main
        main(["--ckpt_path", {str(ckpt)!r}, "--out", {str(tmp_path / "out")!r}, "--onnx"])
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 300
        while not started.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started.exists(), "the export did not reach its ONNX step"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        process.kill()
    assert not (tmp_path / "out").exists()
    hidden = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    assert len(hidden) == 1 and hidden[0].endswith(".tmp")  # what was written lies in a hidden folder, not at --out


def run_layout(project: Path) -> tuple[Path, Path, Path]:
    """checkpoints/e2e/version_0/{best,last}.ckpt and logs/e2e/version_0/results.json that tested best (named relative
    to the project folder, as the CLI writes it when run there)."""
    best = tiny_checkpoint(project / "checkpoints" / "e2e" / "version_0" / "best-epoch01-ua0.500.ckpt", seed=0)
    last = tiny_checkpoint(project / "checkpoints" / "e2e" / "version_0" / "last.ckpt", seed=1)
    results = write_results(project / "logs" / "e2e" / "version_0", "checkpoints/e2e/version_0/best-epoch01-ua0.500.ckpt", ua=0.5)
    return best, last, results


def write_results(folder: Path, checkpoint: str, ua: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"metrics": {"test/ua": ua}, "checkpoint": checkpoint, "groups": {"target": {"ua": ua, "wa": 0.25, "f1": 0.125, "n": 8}}}
    (folder / "results.json").write_text(json.dumps(record))
    return folder / "results.json"


def test_the_card_holds_the_table_of_the_results_that_tested_the_exported_checkpoint(tmp_path, monkeypatch):
    best, last, results = run_layout(tmp_path / "project")
    monkeypatch.chdir(tmp_path)  # not the project folder: relative names resolve against the run's project
    card = (export("--ckpt_path", str(best), "--out", str(tmp_path / "best")) / "README.md").read_text()
    assert "| target | clean | 0.500 | 0.250 | 0.125 | 8 |" in card


def test_the_card_of_another_checkpoint_of_the_run_says_it_has_no_test_results(tmp_path):
    best, last, results = run_layout(tmp_path / "project")
    card = (export("--ckpt_path", str(last), "--out", str(tmp_path / "last")) / "README.md").read_text()
    assert "| target |" not in card and "No test results of this checkpoint (last.ckpt)" in card and "best-epoch01-ua0.500.ckpt" in card
    write_results(tmp_path / "project" / "logs" / "e2e" / "version_1", str(last), ua=0.75)  # `test --ckpt_path last.ckpt`
    card = (export("--ckpt_path", str(last), "--out", str(tmp_path / "last")) / "README.md").read_text()
    assert "| target | clean | 0.750 |" in card and "0.500" not in card


def test_results_given_for_another_checkpoint_are_refused(tmp_path, capsys):
    best, last, results = run_layout(tmp_path / "project")
    error = refused(capsys, "--ckpt_path", str(last), "--out", str(tmp_path / "x"), "--results", str(results))
    assert f"--results {results} tested 'checkpoints/e2e/version_0/best-epoch01-ua0.500.ckpt', not {last}" in error
    assert "python -m ser_lightning test --ckpt_path" in error and not (tmp_path / "x").exists()

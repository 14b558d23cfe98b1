"""The one atomic writer and the lock between processes (filelock): whole files or none, and a package without fcntl."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ser_lightning.fileio import atomic_file, file_lock, try_lock, write_bytes_atomic, write_text_atomic

PROJECT = Path(__file__).resolve().parent.parent


def test_an_atomic_write_replaces_the_whole_file_and_a_failed_one_leaves_the_old_file(tmp_path):
    path = tmp_path / "deep" / "er" / "status.json"
    assert write_text_atomic(path, "old") == path and path.read_text() == "old"  # the folder is created
    write_bytes_atomic(path, b"new", fsync=True)
    assert path.read_bytes() == b"new"
    write_bytes_atomic(path, lambda handle: handle.write(b"by a writer function"))
    assert path.read_bytes() == b"by a writer function"

    with pytest.raises(OSError, match="disk full"):
        with atomic_file(path, "w") as handle:
            handle.write("half of a new fi")
            raise OSError(28, "disk full")
    assert path.read_bytes() == b"by a writer function"
    assert sorted(p.name for p in path.parent.iterdir()) == ["status.json"]  # no temporary file left behind


def test_writers_racing_on_one_file_leave_one_whole_version(tmp_path):
    path = tmp_path / "shared.txt"
    texts = [str(i) * 100_000 for i in range(8)]
    threads = [threading.Thread(target=write_text_atomic, args=(path, text)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert path.read_text() in texts
    assert [p.name for p in tmp_path.iterdir()] == ["shared.txt"]


def test_a_held_lock_is_refused_at_once_to_another_process_and_taken_after_release(tmp_path):
    path = tmp_path / "locks" / "run.lock"
    held = try_lock(path)
    assert held is not None and try_lock(path) is None  # a second lock object, even in this process
    probe = [sys.executable, "-c", f"from ser_lightning.fileio import try_lock; print(try_lock({str(path)!r}) is not None)"]
    other = subprocess.run(probe, capture_output=True, text=True, cwd=PROJECT, check=True)
    assert other.stdout.strip() == "False"
    held.release()
    other = subprocess.run(probe, capture_output=True, text=True, cwd=PROJECT, check=True)
    assert other.stdout.strip() == "True"
    with file_lock(path):  # the blocking form, as corpus preparation uses it
        assert try_lock(path) is None


def test_the_package_imports_and_locks_where_fcntl_does_not_exist(tmp_path):
    """As on Windows: every module of the package imports with ``fcntl`` unavailable, and the lock still excludes."""
    script = f"""
import sys
sys.modules["fcntl"] = None  # `import fcntl` now raises ImportError
import importlib, pkgutil, warnings
warnings.simplefilter("ignore")
import ser_lightning
failed = []
for module in pkgutil.walk_packages(ser_lightning.__path__, "ser_lightning."):
    try:
        importlib.import_module(module.name)
    except ImportError as error:
        failed.append(f"{{module.name}}: {{error}}")
print("failed:", failed)
from ser_lightning.fileio import try_lock
held = try_lock({str(tmp_path / "x.lock")!r})
print("locked:", held is not None, try_lock({str(tmp_path / "x.lock")!r}) is None)
"""
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT)
    assert found.returncode == 0, found.stderr[-2000:]
    assert "failed: []" in found.stdout and "locked: True True" in found.stdout, found.stdout + found.stderr[-2000:]

"""Run folders reserved by an exclusive mkdir: runs that start together never share a version, unwritable folders are
named before anything runs, and a run that fails at once leaves no folder behind."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ser_lightning import checkpoints
from ser_lightning.checkpoints import RunFolderError, make_folders, remove_folders, reserve_version

PROJECT = Path(__file__).resolve().parent.parent


RACER = """
import sys, time
from pathlib import Path
from ser_lightning.checkpoints import reserve_version
roots, go = [Path(sys.argv[1]), Path(sys.argv[2])], Path(sys.argv[3])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
print(" ".join(reserve_version(roots)[0] for _ in range(5)), flush=True)
"""


def test_threads_reserving_at_once_each_get_their_own_version_in_both_folders(tmp_path):
    roots = [tmp_path / "checkpoints" / "ser", tmp_path / "logs" / "ser"]
    found: list[str] = []
    start = threading.Barrier(12)

    def reserve() -> None:
        start.wait()
        found.append(reserve_version(roots)[0])

    threads = [threading.Thread(target=reserve) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(found, key=lambda v: int(v.split("_")[1])) == [f"version_{n}" for n in range(12)]
    for root in roots:
        assert sorted(p.name for p in root.iterdir()) == sorted(found)


@pytest.mark.slow  # starts several Python processes
def test_processes_reserving_at_once_each_get_their_own_version(tmp_path):
    roots = [tmp_path / "checkpoints" / "ser", tmp_path / "logs" / "ser"]
    go = tmp_path / "go"
    command = [sys.executable, "-c", RACER, *map(str, roots), str(go)]
    racers = [subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    for racer in racers:
        assert racer.stdout.readline().strip() == "ready"
    go.touch()  # all four reserve from here on, at once
    found = [version for racer in racers for version in racer.communicate(timeout=120)[0].split()]
    assert len(found) == 20 and len(set(found)) == 20
    for root in roots:
        assert sorted(p.name for p in root.iterdir()) == sorted(found)


def test_a_version_another_run_took_after_the_listing_is_skipped_and_nothing_is_left_behind(tmp_path, monkeypatch):
    ckpts, logs = tmp_path / "checkpoints", tmp_path / "logs"
    (ckpts / "version_0").mkdir(parents=True)
    (logs / "version_1").mkdir(parents=True)
    monkeypatch.setattr(checkpoints, "_numbers", lambda parents: [])  # as if both were made after this run listed the folders
    version, created = reserve_version([ckpts, logs])
    assert version == "version_2" and created == [ckpts / "version_2", logs / "version_2"]
    assert sorted(p.name for p in ckpts.iterdir()) == ["version_0", "version_2"]  # its own version_1 was given up again
    assert sorted(p.name for p in logs.iterdir()) == ["version_1", "version_2"]


def test_numbering_continues_above_every_version_in_the_folders_counted(tmp_path):
    (tmp_path / "checkpoints" / "version_7").mkdir(parents=True)
    assert reserve_version([tmp_path / "logs"], also=[tmp_path / "checkpoints"])[0] == "version_8"
    assert not (tmp_path / "checkpoints" / "version_8").exists()  # only counted, not made


def test_a_folder_that_cannot_be_written_is_named_with_the_option_that_sets_it(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be: unwritable even for root")
    with pytest.raises(
        RunFolderError,
        match=f"The run folder {blocker / 'ckpts'} cannot be written \\({blocker} is a file, not a folder\\): give --checkpoint.dirpath",
    ):
        make_folders(tmp_path / "fine", blocker / "ckpts", option="--checkpoint.dirpath")
    assert not (tmp_path / "fine").exists()  # the folders made before the failure are removed again
    with pytest.raises(
        RunFolderError, match=f"The run folder {blocker} cannot be written \\({blocker} is a file.*--trainer.logger.init_args.save_dir"
    ):
        reserve_version([tmp_path / "ok", blocker], options=["--checkpoint.dirpath", "--trainer.logger.init_args.save_dir"])
    assert not (tmp_path / "ok").exists()


def test_removing_a_failed_runs_folders_keeps_checkpoints_and_folders_others_use(tmp_path):
    created = make_folders(tmp_path / "checkpoints" / "ser" / "version_0", tmp_path / "logs" / "ser" / "version_0")
    assert created[0] == tmp_path / "checkpoints" and created[-1] == tmp_path / "logs" / "ser" / "version_0"
    (tmp_path / "logs" / "ser" / "version_0" / "events.out.tfevents.1").write_bytes(b"")
    (tmp_path / "logs" / "ser" / "version_9").mkdir()  # another run's folder, made meanwhile
    remove_folders(created)
    assert not (tmp_path / "checkpoints").exists() and sorted(p.name for p in (tmp_path / "logs" / "ser").iterdir()) == ["version_9"]

    created = make_folders(tmp_path / "checkpoints" / "ser" / "version_1")
    (tmp_path / "checkpoints" / "ser" / "version_1" / "last.ckpt").write_bytes(b"weights")
    remove_folders(created)
    assert (tmp_path / "checkpoints" / "ser" / "version_1" / "last.ckpt").is_file()


def test_a_parent_made_for_a_failed_run_keeps_the_folders_other_runs_reserved_in_it(tmp_path):
    created = make_folders(tmp_path / "checkpoints" / "ser")  # made by this run, which then fails before reserving
    version, _ = reserve_version([tmp_path / "checkpoints" / "ser"])  # another run reserves its folder meanwhile
    remove_folders(created)
    assert (tmp_path / "checkpoints" / "ser" / version).is_dir()

"""Writing files that other processes may read or write at the same time: one atomic writer and a lock between processes.

Every file the package writes in place of an older one goes through :func:`atomic_file` (or its shorthands
:func:`write_text_atomic` and :func:`write_bytes_atomic`): a reader never sees half a file, and a crash leaves the
old file or the new one. The lock is :class:`filelock.FileLock` (``flock`` on POSIX, ``msvcrt`` on Windows), so the
package imports on systems without ``fcntl``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal

from filelock import FileLock, Timeout

__all__ = ["FileLock", "Timeout", "atomic_file", "file_lock", "temporary_path", "try_lock", "write_bytes_atomic", "write_text_atomic"]


def temporary_path(path: str | Path) -> Path:
    """A hidden sibling of ``path`` whose name no other process or thread uses (pid and a random part)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: Literal["w", "wb"] = "wb", fsync: bool = False) -> Iterator[IO[Any]]:
    """Open a uniquely named temporary sibling of ``path`` for writing; when the block ends without an error it is
    renamed onto ``path`` (an error removes it and leaves ``path`` as it was).

    Args:
        path: the file to write (its folder is created when missing).
        mode: ``wb`` (bytes) or ``w`` (UTF-8 text).
        fsync: flush the data to the disk before the rename, so a power cut cannot leave an empty file under the new
            name (costs a disk round trip: for caches and data others build on, not for small status files).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str, fsync: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_file`; two writers at once never rename each other's
    temporary file away."""
    with atomic_file(path, "w", fsync=fsync) as handle:
        handle.write(text)
    return Path(path)


def write_bytes_atomic(path: str | Path, data: bytes | Callable[[BinaryIO], Any], fsync: bool = False) -> Path:
    """Write ``data`` (bytes, or a function that writes into the open binary file, e.g. ``lambda f: np.save(f, a)``)
    to ``path`` through :func:`atomic_file`."""
    with atomic_file(path, "wb", fsync=fsync) as handle:
        if callable(data):
            data(handle)
        else:
            handle.write(data)
    return Path(path)


def file_lock(path: str | Path, timeout: float = -1) -> FileLock:
    """An exclusive lock on ``path`` (its folder created when missing) for a ``with`` block: processes on one machine, or
    on a shared filesystem that supports ``flock`` (NFS does), take turns (e.g. two runs preparing one corpus).

    ``timeout``: seconds to wait (-1: as long as it takes; 0: not at all, raising :class:`filelock.Timeout`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, timeout=timeout, thread_local=False)


def try_lock(path: str | Path) -> FileLock | None:
    """The lock on ``path``, held, or None at once when another process (or another lock object) holds it."""
    lock = file_lock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return None
    return lock

"""Writing files so that a crash never leaves a half-written one: write a temporary file beside
the target, fsync it, rename it over the target (atomic on POSIX), then fsync the folder."""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Callable, Iterator


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in the folder ``path`` durable (POSIX: fsync the folder).
    A file system that cannot fsync a folder is left as it is (the file itself was fsynced)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def pid_lock(path: Path, timeout_s: float = 0.0,
             sleep: Callable[[float], None] = time.sleep, *, content: str | None = None,
             mode: int | None = None) -> Iterator[bool]:
    """Hold an exclusive OS file lock on ``path`` for the ``with`` block (released by the kernel
    if the holder dies), with the holder's pid (or ``content``) written into the file for
    messages; yields False if another process still holds it after ``timeout_s``.  ``mode``:
    permissions of the lock file (e.g. 0o666 for a lock folder shared by several users).
    Without flock (Windows) it yields True: not exclusive."""
    try:
        import fcntl
    except ImportError:
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644 if mode is None else mode)
    try:
        if mode is not None:
            with contextlib.suppress(OSError):    # (only the file's owner may change it)
                os.fchmod(fd, mode)
        end = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= end:
                    yield False
                    return
                sleep(0.05)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (str(os.getpid()) if content is None else content).encode(), 0)
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_holder(path: Path) -> str | None:
    """The pid (or content) recorded in a :func:`pid_lock` file by its last holder, if any."""
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def write_durably(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` atomically and durably; ``private``: mode 0600 (keys)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)          # the rename itself survives a power cut

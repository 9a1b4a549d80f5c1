"""Exclusive instrument locks: one run at a time drives an instrument.

Two runs driving the same instruments interleave their commands: one run's calibrator output is
read by the other's DMM, on whatever range that run set (on real hardware: 1000 V on a DMM set
to 100 mV).  So every run holds, for each instrument it drives, two OS file locks (``flock``,
released by the kernel if the holder dies):

    resource-<VISA resource>.lock        taken before the first command is sent
    identity-<maker>_<model>_<serial>.lock   taken right after ``*IDN?`` answers, before any
                                         other command: the same instrument reached through
                                         another resource string (a second LAN address, GPIB
                                         and USB) is caught here

and keeps them until the instrument is in its safe state and closed.  A second run naming a
busy instrument is refused (or waits ``LABAUTO_LOCK_WAIT`` seconds) with a message naming the
run that holds it (run id, pid, host).

The lock folder is machine-wide so that runs from different working folders and lab homes see
each other: ``LABAUTO_LOCK_DIR``, default ``<system temp dir>/labauto-locks`` (e.g.
``/tmp/labauto-locks``, shared by every user: mode 1777).  Locks are re-entrant for the same
run within one process: the Prefect flow holds them for the whole flow run while its tasks
reopen the instruments.  Without ``flock`` (Windows) the locks are not exclusive.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import tempfile
import threading
import time
from contextlib import AbstractContextManager, ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from labauto.errors import LabautoError
from labauto.files import lock_holder, pid_lock

LOCK_DIR_ENV = "LABAUTO_LOCK_DIR"
LOCK_WAIT_ENV = "LABAUTO_LOCK_WAIT"


class InstrumentBusy(LabautoError):
    """Another run holds an instrument this run needs."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock; written into the lock file for the refusal message."""

    run_id: str
    pid: int
    host: str
    since: str

    @classmethod
    def for_run(cls, run_id: str) -> "LockHolder":
        return cls(run_id, os.getpid(), socket.gethostname(),
                   dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on host {self.host}, since {self.since})"


def lock_dir() -> Path:
    """The machine-wide lock folder (created on first use)."""
    explicit = os.environ.get(LOCK_DIR_ENV)
    path = Path(explicit) if explicit else Path(tempfile.gettempdir()) / "labauto-locks"
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        if not explicit:
            try:        # shared by every user of the machine, like /tmp itself
                os.chmod(path, 0o1777)
            except OSError:
                pass
    return path


def lock_wait_s() -> float:
    """How long a run waits for a busy instrument (``LABAUTO_LOCK_WAIT``, default 0: refuse)."""
    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else 0.0
    except ValueError:
        raise LabautoError(f"{LOCK_WAIT_ENV}={raw!r} is not a number of seconds") from None


def canonical_resource(resource: str) -> str:
    """``tcpip::host::5025::SOCKET`` and ``TCPIP0::host::5025::SOCKET`` are one instrument."""
    try:
        from pyvisa.rname import parse_resource_name

        return str(parse_resource_name(resource.strip())).casefold()
    except Exception:  # noqa: BLE001 - an unparsable name is still a name
        return resource.strip().casefold()


def resource_key(resource: str) -> str:
    return "resource-" + _slug(canonical_resource(resource))


def identity_key(manufacturer: str, model: str, serial: str) -> str:
    return "identity-" + _slug(f"{manufacturer.strip()}_{model.strip()}_{serial.strip()}".casefold())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "_", text)[:150]


@dataclass
class _Held:
    holder: LockHolder
    count: int
    lock: AbstractContextManager[bool]


_held: dict[Path, _Held] = {}           # locks this process holds, by file
_registry = threading.Lock()


def read_holder(path: Path) -> LockHolder | None:
    text = lock_holder(path)
    if not text:
        return None
    try:
        return LockHolder(**json.loads(text))
    except (ValueError, TypeError):
        return None


class InstrumentLocks:
    """The instrument locks of one run, released in reverse order by :meth:`close` (or ``with``).

        with InstrumentLocks("20261205-0842-ab12cd") as locks:
            locks.acquire_resource("TCPIP0::10.0.0.5::5025::SOCKET", "the standard")
            ... *IDN? ...
            locks.acquire_identity("Fluke", "5522A", "3456789", "the standard at TCPIP0::...")
    """

    def __init__(self, run_id: str, *, timeout_s: float | None = None,
                 folder: Path | None = None):
        self.holder = LockHolder.for_run(run_id)
        self.timeout_s = lock_wait_s() if timeout_s is None else timeout_s
        self.folder = folder
        self._stack = ExitStack()

    def __enter__(self) -> "InstrumentLocks":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def acquire_resource(self, resource: str, what: str) -> None:
        self._acquire(resource_key(resource), f"{what} at {resource}")

    def acquire_identity(self, manufacturer: str, model: str, serial: str, what: str) -> None:
        self._acquire(identity_key(manufacturer, model, serial),
                      f"{what} ({manufacturer} {model} serial {serial})")

    def _acquire(self, key: str, what: str) -> None:
        path = (self.folder or lock_dir()) / f"{key}.lock"
        deadline = time.monotonic() + self.timeout_s
        while True:
            other = self._try(path)
            if other is None:
                self._stack.callback(_release, path)
                return
            if time.monotonic() >= deadline:
                holder = other.describe() if isinstance(other, LockHolder) else "another labauto run"
                waited = f" after waiting {self.timeout_s:g} s" if self.timeout_s else ""
                raise InstrumentBusy(
                    f"{what} is busy: it is being driven by {holder}{waited}. Two runs on one "
                    "instrument would mix their commands and readings; let that run finish (or "
                    f"stop it), then start this one again, or set {LOCK_WAIT_ENV}=SECONDS to "
                    f"wait (lock file {path})")
            time.sleep(0.1)

    def _try(self, path: Path) -> LockHolder | str | None:
        """None when acquired; otherwise who holds it (a LockHolder, or "?" if unknown)."""
        with _registry:
            mine = _held.get(path)
            if mine is not None:
                if mine.holder.run_id == self.holder.run_id:    # re-entrant for the same run
                    mine.count += 1
                    return None
                return mine.holder
            lock = pid_lock(path, content=json.dumps(asdict(self.holder)), mode=0o666)
            try:
                got = lock.__enter__()
            except OSError as exc:
                raise InstrumentBusy(f"cannot take the instrument lock {path}: {exc.strerror or exc}; "
                                     f"check {LOCK_DIR_ENV} and the folder's permissions") from exc
            if got:
                _held[path] = _Held(self.holder, 1, lock)
                return None
            lock.__exit__(None, None, None)
        return read_holder(path) or "?"


def _release(path: Path) -> None:
    with _registry:
        mine = _held.get(path)
        if mine is None:
            return
        mine.count -= 1
        if mine.count == 0:
            del _held[path]
            mine.lock.__exit__(None, None, None)


def held_locks() -> Iterator[tuple[Path, LockHolder]]:
    """The locks this process holds (for diagnostics and tests)."""
    with _registry:
        items = [(p, h.holder) for p, h in _held.items()]
    return iter(items)


def open_locked(stack: ExitStack, locks: InstrumentLocks, what: str, resource: str, model: Any,
                **options: Any) -> Any:
    """Open ``resource`` (``labauto.drivers.open_instrument``) under ``locks``: the resource lock
    before the first command, the identity lock right after ``*IDN?``.  The instrument is left
    safe and closed when ``stack`` closes; the locks are released by ``locks`` (enter ``locks``
    into the stack first, so they outlive the instrument)."""
    from labauto.drivers import open_instrument

    locks.acquire_resource(resource, what)
    return stack.enter_context(open_instrument(
        resource, model, on_identity=lambda ident: locks.acquire_identity(
            ident.manufacturer, ident.model, ident.serial, f"{what} at {resource}"),
        **options))

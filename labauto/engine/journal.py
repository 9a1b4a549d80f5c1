"""Append-only run journal: every reading reaches the disk before the next one is taken.

One JSON object per line, flushed and fsync'ed on every append, so a crash, a kill or a power
cut loses at most the record being written (a torn last line is detected and ignored; a torn
line anywhere else is corruption and is refused).  Record types::

    run          run id, procedure id/path/sha256, settings, start time (first line)
    instrument   role (item/reference), manufacturer, model, serial, firmware, resource
    point_start  point id, attempt number, set value
    reading      point id, attempt, index, value, unit, timestamp
    point_done   point id, attempt (all readings of the attempt are in)
    point_failed point id, attempt, error text (the readings taken so far stay recorded)
    fault        point id, attempt, reading index/value/unit, instrument, reason: a reading that
                 cannot belong to the point (labauto/engine/plausibility.py); its attempt is
                 never completed, even if a point_done followed
    conditions   ambient conditions read from the environment logger (when, why, values, and
                 any excursion beyond the lab's limits)
    run_end      status

A point counts as completed when a ``point_done`` closes one of its attempts; resuming a run
re-measures only points without one.  Readings of an incomplete attempt stay in the journal
(nothing measured is ever thrown away) but are not mixed with a later attempt: a point's
readings are taken under one settled set-up.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labauto.errors import LabautoError
from labauto.files import fsync_dir


class JournalError(LabautoError):
    """The journal is unreadable or belongs to another procedure/run."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass
class PointRecord:
    point_id: str
    attempts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)   # attempt -> readings
    done_attempt: int | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)     # implausible readings

    @property
    def completed(self) -> bool:
        return self.done_attempt is not None

    @property
    def readings(self) -> list[dict[str, Any]]:
        """Readings of the completed attempt (empty if none completed)."""
        if self.done_attempt is None:
            return []
        return sorted(self.attempts.get(self.done_attempt, []), key=lambda r: r["index"])

    @property
    def next_attempt(self) -> int:
        return max(self.attempts, default=0) + 1


@dataclass
class JournalState:
    header: dict[str, Any]
    points: dict[str, PointRecord]
    ended: dict[str, Any] | None
    torn_tail: bool = False
    instruments: dict[str, dict[str, Any]] = field(default_factory=dict)   # role -> identity record
    conditions: list[dict[str, Any]] = field(default_factory=list)         # environment readings

    def completed_ids(self) -> set[str]:
        return {pid for pid, p in self.points.items() if p.completed}


class RunJournal:
    """Writer/reader of one run's journal file.  Thread-safe appends."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    # -- writing -------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, header: dict[str, Any]) -> "RunJournal":
        j = cls(path)
        if j.path.exists() and j.path.stat().st_size > 0:
            raise JournalError(f"{j.path} already exists; resume the run instead of starting it again")
        j.path.parent.mkdir(parents=True, exist_ok=True)
        j.append({"type": "run", "t": now_iso(), **header})
        fsync_dir(j.path.parent)
        return j

    def append(self, record: dict[str, Any]) -> None:
        """Append one record and fsync it.  The record is on disk whole when this returns;
        otherwise :class:`JournalError` (naming the file) is raised and the file is cut back to
        its length before the append, so a disk that fills mid-record leaves no torn line for
        the next record to be glued onto."""
        data = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")
        with self._lock:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            except OSError as exc:
                raise JournalError(f"{self.path}: cannot open the run journal: {exc}") from exc
            try:
                start = _repair_tail(fd, os.fstat(fd).st_size)
                try:
                    written = 0
                    while written < len(data):     # os.write may write less than asked
                        written += os.write(fd, data[written:])
                    os.fsync(fd)
                except OSError as exc:
                    try:
                        os.ftruncate(fd, start)
                        os.fsync(fd)
                    except OSError:
                        pass
                    raise JournalError(f"{self.path}: cannot record {record.get('type', 'a record')} "
                                       f"(disk full or not writable?): {exc}; the journal is kept as "
                                       "it was before this record") from exc
            finally:
                os.close(fd)

    def point_start(self, point_id: str, attempt: int, **info: Any) -> None:
        self.append({"type": "point_start", "point_id": point_id, "attempt": attempt, "t": now_iso(), **info})

    def reading(self, point_id: str, attempt: int, index: int, value: float, unit: str,
                readback: float | None = None) -> None:
        """One reading; ``readback``: the source under test's own measurement taken with it
        (a readback point), in the same unit."""
        record = {"type": "reading", "point_id": point_id, "attempt": attempt, "index": index,
                  "value": value, "unit": unit, "t": now_iso()}
        if readback is not None:
            record["readback"] = readback
        self.append(record)

    def point_done(self, point_id: str, attempt: int) -> None:
        self.append({"type": "point_done", "point_id": point_id, "attempt": attempt, "t": now_iso()})

    def point_failed(self, point_id: str, attempt: int, error: str) -> None:
        self.append({"type": "point_failed", "point_id": point_id, "attempt": attempt,
                     "error": error, "t": now_iso()})

    def run_end(self, status: str, **info: Any) -> None:
        self.append({"type": "run_end", "status": status, "t": now_iso(), **info})

    # -- reading -------------------------------------------------------------------------
    def read(self) -> JournalState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise JournalError(f"no run journal at {self.path}") from None
        lines = raw.split(b"\n")
        torn = False
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:
            torn = True  # last line has no newline: written partly when the process died
        records = []
        for no, line in enumerate(lines, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if no == len(lines) and torn:
                    continue
                raise JournalError(f"{self.path}:{no}: corrupt journal record") from None
        # (reading never changes the file: another process may be appending this very line;
        # the next append repairs a tail torn by a crash, see _repair_tail)
        return journal_state(records, torn, str(self.path))


def journal_state(records: list[dict[str, Any]], torn: bool = False,
                  where: str = "the journal") -> JournalState:
    """The state of a run from its journal's records, in order (the run header first)."""
    if not records or records[0].get("type") != "run":
        raise JournalError(f"{where}: not a labauto run journal (no run header)")
    points: dict[str, PointRecord] = {}
    instruments: dict[str, dict[str, Any]] = {}
    conditions: list[dict[str, Any]] = []
    ended = None
    for rec in records[1:]:
        kind = rec.get("type")
        if kind == "run_end":
            ended = rec
            continue
        if kind == "instrument":
            instruments.setdefault(rec["role"], rec)
            continue
        if kind == "operator_step":      # a confirmation, not a measurement
            continue
        if kind == "conditions":
            conditions.append(rec)
            continue
        pid = rec.get("point_id")
        if pid is None:
            continue
        p = points.setdefault(pid, PointRecord(pid))
        att = int(rec.get("attempt", 1))
        if kind == "point_start":
            p.attempts.setdefault(att, [])
        elif kind == "reading":
            p.attempts.setdefault(att, []).append(rec)
        elif kind == "point_done":
            if not any(int(f.get("attempt", 1)) == att for f in p.faults):
                p.done_attempt = att
        elif kind == "fault":
            p.faults.append(rec)
        elif kind == "point_failed":
            p.failures.append(rec)
    return JournalState(records[0], points, ended, torn, instruments, conditions)


def _repair_tail(fd: int, size: int) -> int:
    """Before an append: a last line without its newline was torn by a crash mid-record.  If it
    is nevertheless a whole JSON record (only the newline was lost) it is kept and the newline
    added; otherwise the torn bytes are cut off.  Returns the (new) file size."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    chunk = min(size, 1 << 20)
    tail = os.pread(fd, chunk, size - chunk)
    cut = tail.rfind(b"\n") + 1            # start of the torn line within the chunk
    line = tail[cut:]
    try:
        json.loads(line)
    except ValueError:
        os.ftruncate(fd, size - len(line))
        os.fsync(fd)
        return size - len(line)
    os.write(fd, b"\n")
    os.fsync(fd)
    return size + 1

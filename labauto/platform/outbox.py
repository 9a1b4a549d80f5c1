"""The durable publishing outbox: signed DCCs waiting to reach the NQI platform.

Why an outbox: issuing a certificate must never depend on the network.  The signed DCC (with its
PDF and JSON forms) is committed to a local SQLite file *before* any network call; a publisher
(:func:`labauto.platform.publisher.drain`) later delivers the entries in order and records the
platform's answer.  Whatever crashes — this process, the platform, the link between them — the
entry is either still ``pending`` (and will be sent again: the platform is idempotent by content,
so a resend of a document it already stored is answered "already present") or ``acknowledged``.

Model
-----
One row per distinct document (keyed by the SHA-256 of the DCC bytes).  States:

``pending``       not yet acknowledged; ``attempts``, ``last_error`` and ``next_attempt_at``
                  (exponential backoff with jitter, capped) describe the delivery so far;
``acknowledged``  the platform stored it and its stored hash equals ours (final);
``rejected``      the platform refused it permanently (HTTP 4xx) — the reason is kept, the
                  entry is never deleted (:meth:`Outbox.requeue` sends it again, unchanged).

Invariant — *a certificate is never sent twice with different content*: a different document
under a certificate id already in the outbox is refused (:class:`OutboxConflict`) unless it
declares itself an amendment/substitution of that id (``dcc:reportAmendedSubstituted`` with
``replacedUniqueIdentifier`` = that id), which is how the platform accepts a new version too.
Entries are delivered in the order they became due (enqueue order; a retried entry at its retry
time, so one document the platform keeps failing on does not hold up the others), and an entry
waits while an earlier pending entry has its certificate id or is the certificate it replaces,
so versions of a certificate reach the platform in order.

Durability: WAL journal with ``synchronous=FULL`` (every commit is fsynced), so a committed
enqueue survives a process crash or power loss.  Several processes may share the file (SQLite
locking, busy timeout); :meth:`Outbox.drain_lock` lets one publisher at a time deliver.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from labauto.certificate.dcc_xml import DCC_ROOT, DccIdentity, read_identity
from labauto.errors import LabautoError
from labauto.files import lock_holder, pid_lock

STATES = ("pending", "acknowledged", "rejected")
_SCHEMA_VERSION = 1

_SCHEMA = ("""
CREATE TABLE IF NOT EXISTS entries (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    certificate_id   TEXT NOT NULL,
    sha256           TEXT NOT NULL UNIQUE,
    replaces         TEXT,
    type_of_change   TEXT,
    dcc              BLOB NOT NULL,
    pdf              BLOB,
    json             BLOB,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'acknowledged', 'rejected')),
    enqueued_at      REAL NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  REAL,
    acknowledged_at  REAL,
    platform_created INTEGER,
    platform_status  TEXT,
    platform_version INTEGER,
    rejected_at      REAL,
    http_status      INTEGER,
    rejected_stage   TEXT
)""",
           "CREATE INDEX IF NOT EXISTS entries_certificate ON entries (certificate_id)",
           "CREATE INDEX IF NOT EXISTS entries_state ON entries (state, seq)")

_COLUMNS = ("seq, certificate_id, sha256, replaces, type_of_change, state, enqueued_at, attempts, "
            "last_error, next_attempt_at, acknowledged_at, platform_created, platform_status, "
            "platform_version, rejected_at, http_status, rejected_stage, pdf IS NOT NULL, "
            "json IS NOT NULL")

# a pending entry waits while an earlier pending entry has its id or is the certificate it replaces
_UNBLOCKED = """NOT EXISTS (SELECT 1 FROM entries p WHERE p.state = 'pending' AND p.seq < e.seq
                AND (p.certificate_id = e.certificate_id OR p.certificate_id = e.replaces))"""


class OutboxError(LabautoError):
    """The outbox cannot take or update an entry (the message says why and what to do)."""


class OutboxConflict(OutboxError):
    """A different document under a certificate id already in the outbox, not declared as an
    amendment of it: sending it would put two different documents under one id."""


@dataclass(frozen=True)
class Backoff:
    """Delay before retry number ``attempts`` (1 = after the first failure):
    ``min(cap_s, base_s * factor**(attempts-1))``, scaled by a random factor in
    ``[1 - jitter, 1]`` so many labs recovering from one outage do not retry in lockstep."""

    base_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.factor < 1 or self.cap_s < self.base_s or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid backoff {self}: need base_s > 0, factor >= 1, "
                             "cap_s >= base_s and 0 <= jitter < 1")

    def ceiling(self, attempts: int) -> float:
        """The delay before jitter."""
        exponent = min(max(attempts, 1) - 1, 60)     # bounded: no float overflow after many failures
        return min(self.cap_s, self.base_s * self.factor ** exponent)

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        r = (rng or random).random()
        return self.ceiling(attempts) * (1.0 - self.jitter * r)


@dataclass(frozen=True)
class OutboxEntry:
    """One document in the outbox (its bytes stay in the file: :meth:`Outbox.payload`)."""

    seq: int
    certificate_id: str
    sha256: str
    replaces: str | None            # replacedUniqueIdentifier when the DCC declares an amendment
    type_of_change: str | None
    state: str
    enqueued_at: float              # UNIX time
    attempts: int
    last_error: str | None
    next_attempt_at: float | None   # UNIX time; None = due now
    acknowledged_at: float | None
    platform_created: bool | None   # True: stored by our request; False: it was already there
    platform_status: str | None     # valid / superseded / revoked at acknowledgement
    platform_version: int | None
    rejected_at: float | None
    http_status: int | None         # of the rejection
    rejected_stage: str | None      # admission stage the platform named
    has_pdf: bool
    has_json: bool

    @property
    def is_amendment(self) -> bool:
        return self.replaces is not None


def _row_entry(row: tuple) -> OutboxEntry:
    (seq, cid, sha, replaces, toc, state, enq, attempts, err, nxt, ack, created, pstatus, pver,
     rej_at, http, stage, has_pdf, has_json) = row
    return OutboxEntry(seq, cid, sha, replaces, toc, state, enq, attempts, err, nxt, ack,
                       None if created is None else bool(created), pstatus, pver, rej_at, http,
                       stage, bool(has_pdf), bool(has_json))


def dcc_identity(xml: bytes) -> DccIdentity:
    """What the outbox needs to know about a DCC: ``dcc:coreData/dcc:uniqueIdentifier`` and
    ``dcc:reportAmendedSubstituted`` (parsed safely: no entities, DTDs or network)."""
    from labauto.certificate.signing import SignatureError, parse_xml

    if not isinstance(xml, (bytes, bytearray)):
        raise OutboxError(f"the DCC must be given as bytes, not {type(xml).__name__}")
    try:
        root = parse_xml(bytes(xml))
    except SignatureError as exc:
        raise OutboxError(f"the DCC cannot be queued: {exc}") from exc
    if root.tag != DCC_ROOT:
        raise OutboxError(f"the document is not a DCC (root element {root.tag}); only "
                          "dcc:digitalCalibrationCertificate documents are published")
    ident = read_identity(root)
    if not ident.certificate_id:
        raise OutboxError("the DCC has no dcc:administrativeData/dcc:coreData/dcc:uniqueIdentifier; "
                          "a certificate needs its id before it can be published")
    return ident


def _iso(t: float | None) -> str:
    if t is None:
        return "-"
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")


class Outbox:
    """The outbox in the SQLite file ``path`` (created, with its folder, on first use).

    ``clock`` (UNIX seconds) and ``rng`` are injectable so the backoff schedule can be tested.
    One instance may be shared by threads; processes open their own.
    """

    def __init__(self, path: str | os.PathLike, *, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.rng = rng or random.Random()
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            if self._db.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
                self._create()
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"cannot open the outbox {self.path}: {exc} (is it a labauto outbox "
                              "file on a local, writable disk?)") from exc

    # ------------------------------------------------------------------ plumbing

    def _create(self) -> None:
        """Create the tables (once; opening an existing outbox takes no write lock)."""
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise OutboxError(f"the outbox {self.path} was written by a newer labauto "
                                  f"(format {version}); upgrade labauto to use it")
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction (writers serialise at BEGIN, so check-then-insert is atomic)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _entries(self, where: str = "1", params: tuple = (), tail: str = "ORDER BY seq") -> list[OutboxEntry]:
        return [_row_entry(r) for r in self._query(f"SELECT {_COLUMNS} FROM entries e WHERE {where} {tail}",
                                                   params)]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ enqueue

    def enqueue(self, dcc: bytes, pdf: bytes | None = None, json: bytes | None = None) -> OutboxEntry:
        """Commit ``dcc`` (signed DCC XML bytes, sent exactly as given) for publication.

        The identical document again returns its existing entry (attachments of the first
        enqueue are kept).  A different document under a queued certificate id raises
        :class:`OutboxConflict` unless it declares itself an amendment of that id.
        """
        ident = dcc_identity(dcc)
        dcc = bytes(dcc)
        sha = hashlib.sha256(dcc).hexdigest()
        with self._write() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM entries e WHERE sha256 = ?", (sha,)).fetchone()
            if row is not None:
                return _row_entry(row)
            same_id = db.execute(f"SELECT {_COLUMNS} FROM entries e WHERE certificate_id = ? "
                                 "ORDER BY seq DESC LIMIT 1", (ident.certificate_id,)).fetchone()
            if same_id is not None and ident.replaces != ident.certificate_id:
                other = _row_entry(same_id)
                raise OutboxConflict(
                    f"certificate {ident.certificate_id} is already in the outbox {self.path} with a "
                    f"different document (sha256 {other.sha256}, {other.state}, queued "
                    f"{_iso(other.enqueued_at)}); a certificate is never published twice with "
                    "different content. Issue the new document as an amendment "
                    "(dcc:reportAmendedSubstituted with replacedUniqueIdentifier "
                    f"{ident.certificate_id}) or under a new certificate id.")
            cur = db.execute(
                "INSERT INTO entries (certificate_id, sha256, replaces, type_of_change, dcc, pdf, json, "
                "enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ident.certificate_id, sha, ident.replaces, ident.type_of_change, dcc,
                 None if pdf is None else bytes(pdf), None if json is None else bytes(json),
                 self.clock()))
            return _row_entry(db.execute(f"SELECT {_COLUMNS} FROM entries e WHERE seq = ?",
                                         (cur.lastrowid,)).fetchone())

    # ------------------------------------------------------------------ reading

    def entries(self, state: str | None = None) -> list[OutboxEntry]:
        """All entries (or those in ``state``), oldest first."""
        if state is None:
            return self._entries()
        if state not in STATES:
            raise OutboxError(f"unknown outbox state {state!r}; use one of {', '.join(STATES)}")
        return self._entries("state = ?", (state,))

    def pending(self) -> list[OutboxEntry]:
        return self.entries("pending")

    def get(self, certificate_id: str) -> OutboxEntry | None:
        """The newest entry for ``certificate_id`` (an amendment under the same id is newer)."""
        found = self._entries("certificate_id = ?", (certificate_id,), "ORDER BY seq DESC LIMIT 1")
        return found[0] if found else None

    def entry(self, seq: int) -> OutboxEntry:
        found = self._entries("seq = ?", (seq,))
        if not found:
            raise OutboxError(f"no entry {seq} in the outbox {self.path}")
        return found[0]

    def payload(self, entry: OutboxEntry | int) -> tuple[bytes, bytes | None, bytes | None]:
        """The DCC, PDF and JSON bytes of an entry, exactly as queued."""
        seq = entry.seq if isinstance(entry, OutboxEntry) else entry
        rows = self._query("SELECT dcc, pdf, json FROM entries WHERE seq = ?", (seq,))
        if not rows:
            raise OutboxError(f"no entry {seq} in the outbox {self.path}")
        return rows[0]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        out.update(dict(self._query("SELECT state, count(*) FROM entries GROUP BY state")))
        return out

    def next_due(self, now: float | None = None) -> OutboxEntry | None:
        """The pending entry due longest (since its enqueue, or its retry time), among those
        waiting for no earlier version of their certificate."""
        now = self.clock() if now is None else now
        found = self._entries(f"state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
                              f"AND {_UNBLOCKED}", (now,),
                              "ORDER BY coalesce(next_attempt_at, enqueued_at), seq LIMIT 1")
        return found[0] if found else None

    def next_wakeup(self) -> float | None:
        """When the next pending entry becomes due (None: nothing pending)."""
        rows = self._query(f"SELECT count(*), min(coalesce(next_attempt_at, 0)) FROM entries e "
                           f"WHERE state = 'pending' AND {_UNBLOCKED}")
        n, first = rows[0]
        return None if not n else first

    # ------------------------------------------------------------------ outcomes

    def _update(self, seq: int, sql: str, params: tuple) -> OutboxEntry:
        with self._write() as db:
            db.execute(f"UPDATE entries SET {sql} WHERE seq = ? AND state = 'pending'", params + (seq,))
        return self.entry(seq)

    def mark_acknowledged(self, seq: int, *, created: bool, status: str | None = None,
                          version: int | None = None) -> OutboxEntry:
        """The platform stored the document (``created``: by this request) and its stored hash
        was confirmed equal to ours.  Only a pending entry changes."""
        return self._update(seq, "state = 'acknowledged', acknowledged_at = ?, platform_created = ?, "
                            "platform_status = ?, platform_version = ?, next_attempt_at = NULL",
                            (self.clock(), int(bool(created)), status, version))

    def mark_failed(self, seq: int, error: str, *, not_before: float | None = None,
                    count: bool = True) -> OutboxEntry:
        """A transient failure: count the attempt and schedule the next one after the backoff
        delay (or ``not_before``, a UNIX time the platform asked for, if later).
        ``count=False`` only records the error (a configuration problem, not the document's)."""
        if not count:
            return self._update(seq, "last_error = ?", (str(error)[:4000],))
        with self._write() as db:
            row = db.execute("SELECT attempts FROM entries WHERE seq = ? AND state = 'pending'",
                             (seq,)).fetchone()
            if row is not None:
                attempts = row[0] + 1
                when = self.clock() + self.backoff.delay(attempts, self.rng)
                if not_before is not None:
                    when = max(when, not_before)
                db.execute("UPDATE entries SET attempts = ?, last_error = ?, next_attempt_at = ? "
                           "WHERE seq = ?", (attempts, str(error)[:4000], when, seq))
        return self.entry(seq)

    def mark_rejected(self, seq: int, reason: str, *, http_status: int | None = None,
                      stage: str | None = None) -> OutboxEntry:
        """The platform refused the document for good; keep it with the platform's reason."""
        return self._update(seq, "state = 'rejected', attempts = attempts + 1, last_error = ?, "
                            "rejected_at = ?, http_status = ?, rejected_stage = ?, next_attempt_at = NULL",
                            (str(reason)[:4000], self.clock(), http_status, stage))

    def requeue(self, seq: int) -> OutboxEntry:
        """Send a rejected entry again, unchanged (e.g. after the platform registered the lab's
        new signing certificate).  The rejection reason stays in ``last_error`` until then."""
        with self._write() as db:
            db.execute("UPDATE entries SET state = 'pending', next_attempt_at = NULL "
                       "WHERE seq = ? AND state = 'rejected'", (seq,))
        return self.entry(seq)

    def retry_now(self) -> int:
        """Make every pending entry due now (an operator's "try again now"); returns how many."""
        with self._write() as db:
            return db.execute("UPDATE entries SET next_attempt_at = NULL WHERE state = 'pending' "
                              "AND next_attempt_at IS NOT NULL").rowcount

    # ------------------------------------------------------------------ one publisher at a time

    def drain_lock(self, timeout_s: float = 0.0, sleep: Callable[[float], None] = time.sleep
                   ) -> contextlib.AbstractContextManager[bool]:
        """Hold the outbox's publisher lock (an OS file lock beside the database, released by
        the kernel if the holder dies) for the ``with`` block; yields False if another
        publisher still holds it after ``timeout_s``."""
        return pid_lock(self._drain_lock_path, timeout_s, sleep)

    def drain_lock_holder(self) -> str | None:
        """The pid recorded by the last publisher that took the lock (for messages)."""
        return lock_holder(self._drain_lock_path)

    @property
    def _drain_lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".drain-lock")

"""Database engine, sessions and migrations for the platform store.

SQLite (a file, the embedded default) and PostgreSQL (by URL) are both supported.  On SQLite,
WAL mode lets readers run alongside the one writer, ``synchronous=FULL`` makes an acknowledged
publish survive a crash (process or power), every transaction is an explicit ``BEGIN`` (the
driver's implicit transactions are off, so reads see one snapshot), and a write transaction
starts with ``BEGIN IMMEDIATE``: it takes the database's write lock up front, so concurrent
writers — threads, or several server processes — queue on the busy timeout instead of failing
to upgrade a read lock.  Within a process a lock also serialises writers (cheaper than SQLite's
busy polling).

Group commit (:meth:`Database.write_grouped`, the publish path): on SQLite the fsync of a commit
takes milliseconds (more on a busy disk), and with one writer at a time it bounded the ingest
rate.  Writers that arrive while a commit is being written are committed together by the next
one: one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (one fsync) for the group, each writer in its own
``SAVEPOINT`` so that a writer's error rolls back only its own statements and is raised to that
writer alone (a group of one needs no savepoint: its error rolls the transaction back).  Every writer returns only after the COMMIT holding its statements has returned —
with ``synchronous=FULL``, after the fsync — so an acknowledged publication survives a crash as
before; if the COMMIT fails, every writer of the group gets the error and nothing is stored.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Select, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from labauto.platform.server.prepared import first, prepare

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Accept ``postgresql://``/``postgres://`` and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


WRITE = "labauto_write"     # execution option marking a connection of a write session


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=8, max_overflow=8)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            dbapi_conn.isolation_level = None      # no implicit BEGIN: we emit our own below
            cur = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                           "busy_timeout=30000"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:  # noqa: ANN001
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def migrate(engine_or_url: Engine | str) -> None:
    """Bring the database schema to the newest Alembic revision (idempotent)."""
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    with engine.execution_options(**{WRITE: True}).begin() as conn:   # one migrator at a time
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    if isinstance(engine_or_url, str):
        engine.dispose()


class Database:
    """An engine, a session factory, and the write discipline for its backend."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(**{WRITE: True})
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._group = _GroupCommit(self) if self.is_sqlite else None
        path = self.engine.url.database if self.is_sqlite else None
        self._lookups = _SqliteLookups(self.engine, path) if path and path != ":memory:" else None

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        lock = self._write_lock or contextlib.nullcontext()
        with lock, self._write_sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection in a read transaction (hot paths issuing Core statements only: no
        ORM session bookkeeping); rolled back at the end."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """Like :meth:`write` (same lock, ``BEGIN IMMEDIATE`` on SQLite, commit on success,
        rollback on error) with a Core connection instead of an ORM session."""
        lock = self._write_lock or contextlib.nullcontext()
        with lock, self._write_engine.begin() as conn:
            yield conn

    def lookup(self, stmt: Select, **params: Any) -> NamedTuple | None:
        """The first row of a one-statement Core ``SELECT`` (None if it has no row): a hot-path
        read (a token, a replay) that needs no session.  On a SQLite file it runs on the calling
        thread's own read-only DBAPI connection with the statement compiled once (no pool
        checkout, no explicit transaction: a single SELECT reads one snapshot); elsewhere as
        ``read_connection().execute(stmt, params).first()``."""
        if self._lookups is not None:
            return self._lookups.first(stmt, params)
        with self.read_connection() as conn:
            return conn.execute(stmt, params).first()

    def write_grouped(self, fn: Callable[[Connection], T]) -> T:
        """``fn(conn)`` in a write transaction, like ``with write_connection() as conn: fn(conn)``;
        on SQLite committed together with the writers waiting meanwhile (see the module
        docstring).  Returns once its COMMIT has returned; raises ``fn``'s own error."""
        if self._group is None:
            with self.write_connection() as conn:
                return fn(conn)
        return self._group.run(fn)

    def dispose(self) -> None:
        if self._lookups is not None:
            self._lookups.close()
        self.engine.dispose()


def lookup(source: Database | Session | Connection, stmt: Select, **params: Any) -> NamedTuple | None:
    """The first row of a one-statement Core ``SELECT`` (None if it has no row), from a
    :class:`Database` (:meth:`Database.lookup`, no session of its own) or inside the transaction
    of a session or connection the caller holds (:func:`~labauto.platform.server.prepared.first`)."""
    if isinstance(source, Database):
        return source.lookup(stmt, **params)
    return first(source.connection() if isinstance(source, Session) else source, stmt, params)


class _SqliteLookups:
    """One read-only sqlite3 connection per calling thread to the database file (threads of the
    server's pool live long), in autocommit mode; statements compiled once."""

    def __init__(self, engine: Engine, path: str) -> None:
        self.engine = engine
        self.path = os.path.abspath(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            with self._lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def first(self, stmt: Select, params: dict[str, Any]):
        prepared = prepare(stmt, self.engine.dialect, params)
        if prepared is None:                 # not a plain select: as SQLAlchemy runs it
            with self.engine.connect() as conn, conn.begin():
                return conn.execute(stmt, params).first()
        found = prepared.rows(self._connection(), params)
        return found[0] if found else None

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


class _Writer:
    """One writer of a group: its function, then its result or error."""

    def __init__(self, fn: Callable[[Connection], Any]) -> None:
        self.fn, self.done = fn, False
        self.value: Any = None
        self.error: BaseException | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


_SAVEPOINT = "labauto_writer"


class _GroupCommit:
    """Leader/follower group commit: the first waiting writer commits every writer queued so far
    in one transaction; the others wait for it."""

    def __init__(self, db: "Database") -> None:
        self._db = db
        self._cv = threading.Condition()
        self._queue: list[_Writer] = []
        self._committing = False

    def run(self, fn: Callable[[Connection], T]) -> T:
        me = _Writer(fn)
        with self._cv:
            self._queue.append(me)
            while self._committing and not me.done:
                self._cv.wait()
            if me.done:                              # a leader committed it
                return me.result()
            self._committing = True
            group, self._queue = self._queue, []
        try:
            self._commit(group)
        finally:
            with self._cv:
                for w in group:
                    w.done = True
                self._committing = False
                self._cv.notify_all()
        return me.result()

    def _commit(self, group: list[_Writer]) -> None:
        try:
            with self._db.write_connection() as conn:
                if len(group) == 1:
                    # a group of one: the transaction is its writer's own; its error rolls the
                    # transaction back whole (below), so no savepoint is needed
                    group[0].value = group[0].fn(conn)
                    return
                # each writer in a savepoint, set on the driver's connection: SQLAlchemy's
                # begin_nested() costs ~85 µs of CPU per writer, the two statements ~2 µs
                raw = conn.connection.driver_connection
                for w in group:
                    raw.execute(f"SAVEPOINT {_SAVEPOINT}")
                    try:
                        w.value = w.fn(conn)
                    except BaseException as exc:     # this writer's error: undo only its statements
                        raw.execute(f"ROLLBACK TO {_SAVEPOINT}")
                        raw.execute(f"RELEASE {_SAVEPOINT}")
                        w.error = exc
                    else:
                        raw.execute(f"RELEASE {_SAVEPOINT}")
        except BaseException as exc:   # BEGIN or COMMIT (or a lone writer) failed: nothing is stored
            for w in group:
                w.value, w.error = None, exc
            if not isinstance(exc, Exception):
                raise

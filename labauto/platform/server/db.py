"""Database engine, sessions and migrations for the platform store.

SQLite (a file, the embedded default) and PostgreSQL (by URL) are both supported.  On SQLite,
WAL mode lets readers run alongside the one writer, ``synchronous=FULL`` makes an acknowledged
publish survive a crash (process or power), every transaction is an explicit ``BEGIN`` (the
driver's implicit transactions are off, so reads see one snapshot), and a write transaction
starts with ``BEGIN IMMEDIATE``: it takes the database's write lock up front, so concurrent
writers — threads, or several server processes — queue on the busy timeout instead of failing
to upgrade a read lock.  Within a process a lock also serialises writers (cheaper than SQLite's
busy polling).
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


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

    def dispose(self) -> None:
        self.engine.dispose()

"""Database.lookup: the hot-path one-row SELECT (a token, a replay) on a per-thread DBAPI
connection with the statement compiled once; it must give what a session gives (same values,
same types after SQLAlchemy's result processing), see every commit at once, and write nothing."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import DateTime, Integer, MetaData, String, Table, Column, bindparam, select

from labauto.platform.server.db import Database

META = MetaData()
ITEMS = Table("items", META, Column("id", Integer, primary_key=True), Column("name", String(20)),
              Column("at", DateTime(timezone=True)))
BY_NAME = select(ITEMS.c.id, ITEMS.c.name, ITEMS.c.at).where(ITEMS.c.name == bindparam("name"))
AT = dt.datetime(2026, 12, 6, 3, 4, 5, 678901)        # UTC (SQLite gives it back naive)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    # PostgreSQL: the lookup runs through the engine; the results must be the same
    url = f"sqlite:///{tmp_path}/l.sqlite3" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    d = Database(url)
    META.create_all(d.engine)
    yield d
    d.dispose()


def test_lookup_gives_the_row_as_a_session_does(db):
    with db.write_connection() as conn:
        conn.execute(ITEMS.insert(), [{"name": "a", "at": AT}, {"name": "b", "at": None}])
    row = db.lookup(BY_NAME, name="a")
    with db.read_connection() as conn:
        expected = conn.execute(BY_NAME, {"name": "a"}).first()
    assert tuple(row) == tuple(expected)
    assert row[:2] == (1, "a") and row.at.replace(tzinfo=None) == AT
    assert isinstance(row.at, dt.datetime) and row.name == "a"     # DateTime processed, not a string
    assert db.lookup(BY_NAME, name="b").at is None
    assert db.lookup(BY_NAME, name="zz") is None


def test_a_commit_is_seen_by_the_next_lookup_of_every_thread(db):
    assert db.lookup(BY_NAME, name="late") is None            # this thread's connection exists now
    with db.write_connection() as conn:
        conn.execute(ITEMS.insert(), {"name": "late", "at": AT})
    assert db.lookup(BY_NAME, name="late").id == 1
    seen = []
    t = threading.Thread(target=lambda: seen.append(db.lookup(BY_NAME, name="late")))
    t.start()
    t.join(10)
    assert seen[0].name == "late"


def test_lookup_connections_cannot_write(tmp_path):
    d = Database(f"sqlite:///{tmp_path}/ro.sqlite3")
    try:
        META.create_all(d.engine)
        assert d.lookup(BY_NAME, name="x") is None
        conn = d._lookups._local.conn                         # this thread's lookup connection
        with pytest.raises(Exception, match="readonly|read-only|query_only"):
            conn.execute("INSERT INTO items (name) VALUES ('w')")
    finally:
        d.dispose()

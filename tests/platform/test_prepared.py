"""prepared: Core statements of the publish path run on SQLite's DBAPI connection must store and
read exactly what ``Connection.execute`` stores and reads (bind and result processing: dates,
times, JSON, booleans, bytes; RETURNING; a LIMIT the statement carries; executemany), and leave
to SQLAlchemy what it cannot run as compiled (Python-side defaults)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import (JSON, Boolean, Column, Date, DateTime, Integer, LargeBinary, MetaData, String,
                        Table, bindparam, insert, select, update)

from labauto.platform.server import prepared
from labauto.platform.server.db import Database

META = MetaData()
T = Table("t", META, Column("id", Integer, primary_key=True), Column("name", String(20)),
          Column("day", Date), Column("at", DateTime(timezone=True)), Column("flag", Boolean),
          Column("blob", LargeBinary), Column("detail", JSON),
          Column("made", DateTime(timezone=True), default=lambda: dt.datetime(2000, 1, 1)))
INS = insert(T).returning(T.c.id)
BY_NAME = select(T.c.id, T.c.day, T.c.at, T.c.flag, T.c.blob, T.c.detail).where(
    T.c.name == bindparam("name")).order_by(T.c.id.desc()).limit(1)
RENAME = update(T).where(T.c.id == bindparam("row")).values(name=bindparam("new"))
ROW = dict(name="a", day=dt.date(2026, 12, 6), at=dt.datetime(2026, 12, 6, 3, 4, 5, 6), flag=True,
           blob=b"\x00\x01", detail={"k": [1, "ü"]}, made=dt.datetime(2026, 1, 1))


@pytest.fixture
def db(tmp_path):
    d = Database(f"sqlite:///{tmp_path}/p.sqlite3")
    META.create_all(d.engine)
    yield d
    d.dispose()


def test_values_stored_and_read_as_sqlalchemy_does(db):
    with db.write_connection() as conn:
        mine = prepared.first(conn, INS, ROW).id
        theirs = conn.execute(INS, ROW).scalar_one()
        assert prepared.prepare(INS, conn.dialect, ROW) is not None          # it did run compiled
        raw = conn.exec_driver_sql("SELECT name, day, at, flag, blob, detail, made FROM t ORDER BY id").all()
    assert (mine, theirs) == (1, 2)
    assert raw[0] == raw[1]                       # the same stored text, numbers and bytes
    with db.read_connection() as conn:
        got = prepared.first(conn, BY_NAME, {"name": "a"})
        expected = conn.execute(BY_NAME, {"name": "a"}).first()
    assert tuple(got) == tuple(expected)
    assert got.id == 2 and got.day == ROW["day"] and got.at == ROW["at"] and got.flag is True
    assert got.blob == b"\x00\x01" and got.detail == {"k": [1, "ü"]}


def test_update_rowcount_and_executemany(db):
    with db.write_connection() as conn:
        assert prepared.execute(conn, insert(T), [dict(ROW, name=f"n{i}") for i in range(3)]) == 3
        assert prepared.execute(conn, RENAME, {"row": 2, "new": "m"}) == 1
        assert prepared.execute(conn, RENAME, {"row": 99, "new": "m"}) == 0
        names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM t ORDER BY id")]
    assert names == ["n0", "m", "n2"]


def test_python_side_defaults_are_left_to_sqlalchemy(db):
    row = {k: v for k, v in ROW.items() if k != "made"}
    with db.write_connection() as conn:
        assert prepared.prepare(INS, conn.dialect, row) is None
        prepared.first(conn, INS, row)
        made = conn.exec_driver_sql("SELECT made FROM t").scalar()
    assert made.startswith("2000-01-01")           # the column's default was applied

"""Group commit of the platform's SQLite store (Database.write_grouped): writers arriving while a
commit is written share the next COMMIT (one fsync), each in its own savepoint; a writer returns
only after the COMMIT that holds its statements, and its own error undoes only its statements."""
from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import event, text

from labauto.platform.server.db import Database


@pytest.fixture
def db(tmp_path):
    d = Database(f"sqlite:///{tmp_path}/g.sqlite3")
    with d.write_connection() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER UNIQUE NOT NULL)")
    commits = []
    event.listen(d.engine, "commit", lambda conn: commits.append(threading.get_ident()))
    d.commits = commits
    yield d
    d.dispose()


def _rows(db) -> list[int]:
    # a separate sqlite3 connection: sees only what is committed
    with sqlite3.connect(db.engine.url.database) as c:
        return sorted(r[0] for r in c.execute("SELECT x FROM t"))


def test_writers_queued_during_a_commit_share_the_next_one(db):
    """Writer 0 holds the first group open until writers 1-5 are queued; they then commit as one
    group: 6 writers, 2 COMMITs; each writer sees its row committed when it returns."""
    queued = threading.Barrier(6)
    results, seen = {}, {}

    def insert(i):
        def fn(conn):
            conn.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": i})
            return i * 10
        return fn

    def first(conn):
        conn.execute(text("INSERT INTO t (x) VALUES (0)"))
        queued.wait(timeout=10)              # the five others have started
        for _ in range(1000):                # ... and are waiting in the queue
            with db._group._cv:
                if len(db._group._queue) == 5:
                    break
            threading.Event().wait(0.01)
        return 0

    def worker(i):
        if i == 0:
            results[i] = db.write_grouped(first)
        else:
            queued.wait(timeout=10)
            results[i] = db.write_grouped(insert(i))
        seen[i] = i in _rows(db)             # committed before the writer returned

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    threads[0].start()
    threading.Event().wait(0.1)              # writer 0 leads the first group alone
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(20)
    assert results == {0: 0, 1: 10, 2: 20, 3: 30, 4: 40, 5: 50}
    assert all(seen.values()) and len(seen) == 6
    assert len(db.commits) == 2
    assert _rows(db) == [0, 1, 2, 3, 4, 5]


def test_a_writers_error_undoes_only_its_own_statements(db):
    db.write_grouped(lambda conn: conn.execute(text("INSERT INTO t (x) VALUES (999)")))
    gate = threading.Barrier(4)
    errors, done = {}, {}

    def fn_for(i):
        def fn(conn):
            conn.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": 100 + i})
            if i == 2:
                conn.execute(text("INSERT INTO t (x) VALUES (999)"))   # already stored
            return i
        return fn

    def worker(i):
        gate.wait(timeout=10)
        try:
            done[i] = db.write_grouped(fn_for(i))
        except Exception as exc:             # noqa: BLE001 - the test records it
            errors[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert set(errors) == {2} and "UNIQUE" in str(errors[2])
    assert done == {0: 0, 1: 1, 3: 3}
    assert _rows(db) == [100, 101, 103, 999]   # writer 2's first insert (102) was undone too


def test_a_failed_commit_fails_every_writer_of_the_group_and_stores_nothing(db):
    def fail_commit(conn):
        raise RuntimeError("disk full")

    event.listen(db.engine, "commit", fail_commit)
    with pytest.raises(RuntimeError, match="disk full"):
        db.write_grouped(lambda conn: conn.execute(text("INSERT INTO t (x) VALUES (7)")))
    event.remove(db.engine, "commit", fail_commit)
    assert _rows(db) == []
    assert db.write_grouped(lambda conn: conn.execute(text("INSERT INTO t (x) VALUES (7)"))
                            .rowcount) == 1
    assert _rows(db) == [7]


def test_in_a_group_a_failing_writer_is_undone_alone(db):
    """Writers 1-3 queue behind writer 0's open group and then share one commit (savepoints on
    the driver's connection); writer 2 fails after an insert of its own (in whatever order the
    three run): that insert is undone, the others' rows of the same commit stay."""
    queued = threading.Barrier(4)
    results, errors = {}, {}

    def fn_for(i):
        def fn(conn):
            conn.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": 200 + i})
            if i == 2:
                conn.execute(text("INSERT INTO t (x) VALUES (999)"))   # writer 0's row: UNIQUE
            return i
        return fn

    def first(conn):
        conn.execute(text("INSERT INTO t (x) VALUES (999)"))
        queued.wait(timeout=10)
        for _ in range(1000):                # until writers 1-3 wait in the queue
            with db._group._cv:
                if len(db._group._queue) == 3:
                    break
            threading.Event().wait(0.01)
        return 0

    def worker(i):
        if i:
            queued.wait(timeout=10)
        try:
            results[i] = db.write_grouped(first if i == 0 else fn_for(i))
        except Exception as exc:             # noqa: BLE001 - the test records it
            errors[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    threads[0].start()
    threading.Event().wait(0.1)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(20)
    assert results == {0: 0, 1: 1, 3: 3} and set(errors) == {2} and "UNIQUE" in str(errors[2])
    assert len(db.commits) == 2              # writer 0 alone, then 1-3 together
    assert _rows(db) == [201, 203, 999]
    # the connection holds no open savepoint: the next writer's row is committed
    assert db.write_grouped(lambda conn: conn.execute(text("INSERT INTO t (x) VALUES (202)")).rowcount) == 1
    assert _rows(db) == [201, 202, 203, 999]

"""The scope check in-process (SQLite and PostgreSQL): the rows of a scope version are read once
per process and cached by version, never served for another version, a rolled-back import or a
suspension registered since; the status is read on every check."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from labauto.platform.server import scope
from labauto.platform.server.cmc import kind
from labauto.platform.server.db import Database, migrate
from labauto.platform.server.dcc_results import DccResult
from labauto.platform.server.scope_file import parse
from labauto.platform.server.service import Rejected, register_lab

HEAD = "quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k\n"
V1 = HEAD + "DC voltage,100 mV,10 V,,,,2 µV/V + 1 µV,2\n"
V2 = HEAD + "DC voltage,100 mV,10 V,,,,1 µV/V + 0.5 µV,2\n"
LOOSE = HEAD + "DC voltage,100 mV,10 V,,,,100 µV/V,2\n"
WIDE = HEAD + "DC voltage,100 mV,100 V,,,,0.5 µV/V,2\n"
R10 = [DccResult(1, "P1: DCV 10 V", kind("DC voltage"), 10.0, 25e-6, 2.0, None, "V")]


@pytest.fixture
def db(platform_db_url, lab_keys):
    migrate(platform_db_url)
    database = Database(platform_db_url)
    with database.write() as s:
        lab = register_lab(s, "Lab A", "D-K-1", lab_keys.cert_pem.decode())
        body = scope.register_body(s, "DAkkS")
        database.ids = (lab.id, scope.BodyRef(body.id, body.name))
    yield database
    database.dispose()


def _import(session, db, text: str, valid_from: dt.date):
    lab_id, body = db.ids
    return scope.import_scope(session, body, lab_id, parse(text, "s.csv"), source_name="s.csv",
                              source_sha256=hashlib.sha256(text.encode()).hexdigest(), valid_from=valid_from)


def _check(db, on: dt.date, results=R10):
    with db.write_connection() as conn:
        return scope.check(conn, db.ids[0], on, results)


def test_rows_are_cached_by_version_and_status_is_read_each_time(db):
    with db.write() as s:
        _import(s, db, V1, dt.date(2026, 1, 1))
    for _ in range(2):          # read, then from the cache
        (c,) = _check(db, dt.date(2026, 6, 15))
        assert (c.covered, c.note) == (True, "scope version 1, line 2") and c.cmc == pytest.approx(21e-6)
    with db.write() as s:
        _import(s, db, V2, dt.date(2026, 7, 1))
    (c,) = _check(db, dt.date(2026, 7, 2))
    assert (c.covered, c.note) == (True, "scope version 2, line 2") and c.cmc == pytest.approx(10.5e-6)
    (c,) = _check(db, dt.date(2026, 6, 15))                    # v1 still rules its own days
    assert c.note == "scope version 1, line 2" and c.cmc == pytest.approx(21e-6)
    # U = 20 µV is below v1's 21 µV: refused on v1's days, covered on v2's (10.5 µV)
    r20 = [DccResult(1, "P1", kind("DC voltage"), 10.0, 20e-6, 2.0, None, "V")]
    with pytest.raises(Rejected, match="smaller than the accredited CMC 21 µV"):
        _check(db, dt.date(2026, 6, 15), r20)
    assert _check(db, dt.date(2026, 7, 2), r20)[0].covered
    with db.write() as s:
        scope.suspend(s, db.ids[1], db.ids[0], "findings", from_date=dt.date(2026, 8, 1))
    (c,) = _check(db, dt.date(2026, 8, 2))                     # the suspension is never cached
    assert (c.covered, c.note) == (False, "the accreditation was suspended on 2026-08-02")


def test_a_rolled_back_import_never_lends_its_rows(db):
    """SQLite hands a rolled-back version's id to the next import: the cache must not mistake the
    new version for the one it read inside the rolled-back transaction."""
    with db.write() as s:
        _import(s, db, V1, dt.date(2026, 1, 1))
    with pytest.raises(RuntimeError, match="disk full"):
        with db.write() as s:
            gone = _import(s, db, LOOSE, dt.date(2026, 7, 1))
            gone_id = gone.id
            big = [DccResult(1, "P1", kind("DC voltage"), 10.0, 5e-3, 2.0, None, "V")]
            (c,) = scope.check(s.connection(), db.ids[0], dt.date(2026, 7, 2), big)
            assert c.cmc == pytest.approx(1e-3)                  # read (and cached) in there
            raise RuntimeError("disk full")
    with db.write() as s:
        again = _import(s, db, WIDE, dt.date(2026, 7, 1))
        again_id = again.id
    if db.engine.dialect.name == "sqlite":
        assert again_id == gone_id
    (c,) = _check(db, dt.date(2026, 7, 2))
    assert (c.covered, c.note) == (True, "scope version 2, line 2") and c.cmc == pytest.approx(5e-6)
    # 50 V is only in the new version's range
    (c,) = _check(db, dt.date(2026, 7, 2), [DccResult(1, "P", kind("DC voltage"), 50.0, 1e-3, 2.0, None, "V")])
    assert c.covered and c.cmc == pytest.approx(25e-6)


def test_capability_search_evaluates_tables_exactly(db, other_lab_keys):
    """A CMC table is ranked by its smallest point (a lower bound) in SQL; when one is among the
    best rows the search evaluates it at the value and orders by the exact CMC."""
    with db.write() as s:
        lab_b = register_lab(s, "Lab B", "D-K-2", other_lab_keys.cert_pem.decode())
        lab_b_id = lab_b.id
    tables = HEAD + "resistance,1 Ω,10 kΩ,,,,1 Ω: 1 µΩ; 10 kΩ: 30 mΩ,2\nDC voltage,1 V,10 V,,,,2 µV/V + 1 µV,2\n"
    formula = HEAD + "resistance,1 Ω,10 kΩ,,,,1 µΩ/Ω + 5 mΩ,2\nDC voltage,1 V,10 V,,,,1 µV/V,2\n"
    with db.write() as s:
        _import(s, db, tables, dt.date(2026, 1, 1))
        scope.import_scope(s, db.ids[1], lab_b_id, parse(formula, "b.csv"), source_name="b.csv",
                           source_sha256="b" * 64, valid_from=dt.date(2026, 1, 1))

    def labs(value, **kw):
        with db.read_connection() as conn:
            found = scope.capabilities(conn, kw.pop("quantity", "resistance"), value, on=dt.date(2026, 6, 1), **kw)
        return [(i["lab"], round(i["cmc_at_value"], 12)) for i in found["items"]]

    at_5k = 1e-6 + (30e-3 - 1e-6) * (5000 - 1) / (1e4 - 1)          # 15.0 mΩ, interpolated
    assert labs("5 kΩ") == [("Lab B", 10e-3), ("Lab A", round(at_5k, 12))]
    assert labs("5 kΩ", limit=1) == [("Lab B", 10e-3)]                # not Lab A's 1 µΩ bound
    assert labs("5 kΩ", max_cmc="12 mΩ") == [("Lab B", 10e-3)]
    at_1k = 1e-6 + (30e-3 - 1e-6) * (1000 - 1) / (1e4 - 1)          # 3.0 mΩ
    assert labs("1 kΩ") == [("Lab A", round(at_1k, 12)), ("Lab B", 6e-3)]
    # formulas only: one statement, the same order rules
    assert labs("10 V", quantity="DC voltage") == [("Lab B", 10e-6), ("Lab A", 21e-6)]
    assert labs("-10 V", quantity="DC voltage", limit=1) == [("Lab B", 10e-6)]

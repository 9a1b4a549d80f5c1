"""Accreditation on the platform: bodies and their tokens, labs' scopes (CMC tables) with
versions, suspension and withdrawal; the scope check of a publication; the capability search
and the search of results by quantity and range.

Plain functions over a SQLAlchemy ``Session`` or Core ``Connection`` (the HTTP API and the CLI
share them); every change appends an audit event in the same transaction.

Rules:
- one body keeps a lab's scope; a new version (valid_from .. valid_until) ends the validity of
  the versions it overlaps the day before it starts, so one version is valid on any date;
- the scope of a publication is the version valid on its calibration date (the DCC's
  ``endPerformanceDate``); a result is *covered* when a row of that version has its quantity,
  holds its value (and frequency) in its range, and its expanded uncertainty is not smaller
  than the row's CMC (compared as standard uncertainties, U/k); smaller is refused (422,
  stage ``scope``); a result no row holds is accepted, *not covered by accreditation*;
- a version suspended or withdrawn on the calibration date covers nothing: its results are
  accepted and marked *accreditation suspended* / *withdrawn* — also when the suspension is
  registered after the publication (the status is read back at verification).
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import secrets
import threading
import weakref
from collections import OrderedDict, namedtuple
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import ARRAY, Date, Float, Integer, Text, and_, bindparam, cast, func, insert, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from labauto.platform.server import prepared as run
from labauto.platform.server.cmc import Cmc, CmcError, contains, format_value, frequency_in_hz, kind, value_in
from labauto.platform.server.dcc_results import DccResult
from labauto.platform.server.models import CertificateRecord, Lab, utcnow
from labauto.platform.server.scope_file import ScopeDocument
from labauto.platform.server.scope_models import (AccreditationBody, BodyToken, ResultCoverage, Scope,
                                                  ScopeRow)
from labauto.platform.server.service import (Conflict, Forbidden, Invalid, IssuedToken, NotFound,
                                             Rejected, audit)

BODY_TOKEN_PREFIX = "abt_"
COVERED, NOT_COVERED = "covered", "not covered by accreditation"
SUSPENDED, WITHDRAWN = "accreditation suspended", "accreditation withdrawn"

S, R, RC, L = Scope.__table__.c, ScopeRow.__table__.c, ResultCoverage.__table__.c, Lab.__table__.c


# ---------------------------------------------------------------- bodies and tokens

@dataclass(frozen=True)
class BodyRef:
    id: int
    name: str


def register_body(session: Session, name: str, country: str | None = None, *, actor: str = "admin") -> AccreditationBody:
    name = (name or "").strip()
    if not name:
        raise Invalid("the accreditation body needs a name")
    if session.scalar(select(AccreditationBody).where(AccreditationBody.name == name)):
        raise Conflict(f"an accreditation body named {name!r} is already registered")
    body = AccreditationBody(name=name, country=(country or "").strip() or None)
    session.add(body)
    session.flush()
    audit(session, actor, "body.register", body_id=body.id, name=name, country=body.country)
    return body


def body_json(body: AccreditationBody) -> dict[str, Any]:
    return {"id": body.id, "name": body.name, "country": body.country}


def issue_body_token(session: Session, body_id: int, *, actor: str = "admin") -> IssuedToken:
    """A new API token for an accreditation body (shown once; only its SHA-256 is stored)."""
    if session.get(AccreditationBody, body_id) is None:
        raise NotFound(f"no accreditation body with id {body_id}")
    token = BODY_TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = BodyToken(body_id=body_id, token_sha256=hashlib.sha256(token.encode()).hexdigest())
    session.add(row)
    session.flush()
    audit(session, actor, "body.token.issue", body_id=body_id, token_id=row.id)
    return IssuedToken(row.id, token)


def body_for_token(session: Session | Connection, token: str) -> BodyRef | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = session.execute(
        select(AccreditationBody.__table__.c.id, AccreditationBody.__table__.c.name, BodyToken.__table__.c.token_sha256)
        .join_from(BodyToken.__table__, AccreditationBody.__table__,
                   BodyToken.__table__.c.body_id == AccreditationBody.__table__.c.id)
        .where(BodyToken.__table__.c.token_sha256 == digest, BodyToken.__table__.c.revoked_at.is_(None))).first()
    if row is None or not hmac.compare_digest(row.token_sha256, digest):
        return None
    return BodyRef(row.id, row.name)


def body_by_id(session: Session, body_id: int) -> BodyRef:
    body = session.get(AccreditationBody, body_id)
    if body is None:
        raise NotFound(f"no accreditation body with id {body_id}")
    return BodyRef(body.id, body.name)


# ---------------------------------------------------------------- scope versions

def _lab(session: Session, lab_id: int) -> Lab:
    lab = session.get(Lab, lab_id)
    if lab is None:
        raise NotFound(f"no lab with id {lab_id}")
    return lab


def import_scope(session: Session, body: BodyRef, lab_id: int, doc: ScopeDocument, *, source_name: str,
                 source_sha256: str, valid_from: dt.date | None = None, valid_until: dt.date | None = None,
                 actor: str | None = None) -> Scope:
    """Store ``doc`` as the lab's next scope version (all rows or none: the caller's transaction)."""
    lab = _lab(session, lab_id)
    valid_from = valid_from or doc.valid_from
    valid_until = valid_until or doc.valid_until
    if valid_from is None:
        raise Invalid("a scope needs valid_from (the first day it is valid)")
    if valid_until is not None and valid_until < valid_from:
        raise Invalid(f"valid_until {valid_until} is before valid_from {valid_from}")
    stated = doc.meta.get("accreditation_id")
    if stated and stated != lab.accreditation_id:
        raise Invalid(f"the scope file is for accreditation {stated!r} but lab {lab_id} is "
                      f"{lab.accreditation_id!r}")
    others = session.scalars(select(Scope).where(Scope.lab_id == lab_id).order_by(Scope.version)).all()
    if others and others[-1].body_id != body.id:
        keeper = session.get(AccreditationBody, others[-1].body_id)
        raise Forbidden(f"lab {lab.name!r} is accredited by {keeper.name!r}; only that body can change its scope")
    version = (others[-1].version + 1) if others else 1
    ended = []
    for old in others:      # a new version ends the validity of what it overlaps
        if old.valid_until is None or old.valid_until >= valid_from:
            old.valid_until = valid_from - dt.timedelta(days=1)
            old.superseded_at = utcnow()
            ended.append(old.version)
    scope = Scope(lab_id=lab_id, body_id=body.id, version=version, valid_from=valid_from,
                  valid_until=valid_until, source_name=source_name[:255], source_sha256=source_sha256,
                  row_count=len(doc.rows))
    session.add(scope)
    session.flush()
    session.execute(insert(ScopeRow.__table__), [dict(
        scope_id=scope.id, line=r.line, quantity=r.kind.name, unit=r.kind.unit, range_min=r.range_min,
        range_max=r.range_max, frequency_min=r.frequency_min, frequency_max=r.frequency_max,
        conditions=r.conditions, cmc_text=r.cmc_text, range_text=r.range_text[:255],
        frequency_text=r.frequency_text[:255], cmc_relative=r.cmc.relative,
        # a table's smallest CMC: the lower bound the capability search filters and sorts by
        cmc_absolute=min(p[1] for p in r.cmc.table) if r.cmc.table else r.cmc.absolute,
        cmc_table=[list(p) for p in r.cmc.table] if r.cmc.table else None, k=r.cmc.k) for r in doc.rows])
    audit(session, actor or f"body:{body.id}", "scope.import", lab_id=lab_id, body_id=body.id, version=version,
          rows=len(doc.rows), valid_from=valid_from.isoformat(),
          valid_until=valid_until.isoformat() if valid_until else None, source=source_name,
          source_sha256=source_sha256, ended_versions=ended)
    return scope


def _version_on(session: Session, lab_id: int, on: dt.date) -> Scope | None:
    return session.scalar(select(Scope).where(
        Scope.lab_id == lab_id, Scope.valid_from <= on,
        or_(Scope.valid_until.is_(None), Scope.valid_until >= on)).order_by(Scope.version.desc()).limit(1))


def _acting_scope(session: Session, body: BodyRef, lab_id: int, on: dt.date) -> Scope:
    _lab(session, lab_id)
    scope = _version_on(session, lab_id, on) or session.scalar(
        select(Scope).where(Scope.lab_id == lab_id).order_by(Scope.version.desc()).limit(1))
    if scope is None:
        raise NotFound(f"lab {lab_id} has no accreditation scope")
    if scope.body_id != body.id:
        raise Forbidden(f"the scope of lab {lab_id} is kept by another accreditation body")
    return scope


def suspend(session: Session, body: BodyRef, lab_id: int, reason: str, *, from_date: dt.date | None = None,
            actor: str | None = None) -> Scope:
    """Suspend the lab's accreditation from ``from_date`` (today) until reinstated."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("a suspension needs a reason")
    on = from_date or dt.date.today()
    scope = _acting_scope(session, body, lab_id, on)
    if scope.withdrawn_from is not None:
        raise Conflict(f"the accreditation of lab {lab_id} is withdrawn (from {scope.withdrawn_from})")
    scope.suspended_from, scope.suspended_until, scope.status_reason = on, None, reason[:4000]
    audit(session, actor or f"body:{body.id}", "scope.suspend", lab_id=lab_id, body_id=body.id,
          version=scope.version, from_date=on.isoformat(), reason=scope.status_reason)
    return scope


def reinstate(session: Session, body: BodyRef, lab_id: int, *, on: dt.date | None = None,
              actor: str | None = None) -> Scope:
    """End a suspension: the accreditation is in force again from ``on`` (today)."""
    on = on or dt.date.today()
    scope = _acting_scope(session, body, lab_id, on)
    if scope.suspended_from is None or scope.suspended_until is not None:
        raise Conflict(f"the accreditation of lab {lab_id} is not suspended")
    if on <= scope.suspended_from:
        raise Invalid(f"reinstatement on {on} is not after the suspension of {scope.suspended_from}")
    scope.suspended_until = on - dt.timedelta(days=1)
    audit(session, actor or f"body:{body.id}", "scope.reinstate", lab_id=lab_id, body_id=body.id,
          version=scope.version, on=on.isoformat())
    return scope


def withdraw(session: Session, body: BodyRef, lab_id: int, reason: str, *, from_date: dt.date | None = None,
             actor: str | None = None) -> Scope:
    """Withdraw the lab's accreditation from ``from_date`` (today); final for this version."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("a withdrawal needs a reason")
    on = from_date or dt.date.today()
    scope = _acting_scope(session, body, lab_id, on)
    if scope.withdrawn_from is not None:
        return scope
    scope.withdrawn_from, scope.status_reason = on, reason[:4000]
    audit(session, actor or f"body:{body.id}", "scope.withdraw", lab_id=lab_id, body_id=body.id,
          version=scope.version, from_date=on.isoformat(), reason=scope.status_reason)
    return scope


def status_on(scope, on: dt.date) -> str:
    """``active``, ``suspended`` or ``withdrawn`` on a date (``scope``: a Scope or Core row)."""
    if scope.withdrawn_from is not None and on >= _date(scope.withdrawn_from):
        return "withdrawn"
    if scope.suspended_from is not None and on >= _date(scope.suspended_from) and (
            scope.suspended_until is None or on <= _date(scope.suspended_until)):
        return "suspended"
    return "active"


def _date(v) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])


def _cmc(row) -> Cmc:
    table = tuple(tuple(p) for p in row.cmc_table) if row.cmc_table else None
    return Cmc(row.cmc_relative, row.cmc_absolute, table, row.k)


def row_json(row) -> dict[str, Any]:
    return {"id": row.id, "line": row.line, "quantity": row.quantity, "unit": row.unit,
            "range_min": row.range_min, "range_max": row.range_max, "range": row.range_text,
            "frequency_min": row.frequency_min, "frequency_max": row.frequency_max,
            "frequency": row.frequency_text or None, "conditions": row.conditions or None,
            "cmc": row.cmc_text, "k": row.k}


def scope_json(session: Session, scope: Scope, *, rows: bool = True) -> dict[str, Any]:
    body = session.get(AccreditationBody, scope.body_id)
    today = dt.date.today()
    out = {"lab_id": scope.lab_id, "version": scope.version, "body": body.name, "body_id": body.id,
           "valid_from": scope.valid_from.isoformat(),
           "valid_until": scope.valid_until.isoformat() if scope.valid_until else None,
           "status_today": status_on(scope, today) if _valid(scope, today) else "not valid today",
           "suspended_from": _iso(scope.suspended_from), "suspended_until": _iso(scope.suspended_until),
           "withdrawn_from": _iso(scope.withdrawn_from), "status_reason": scope.status_reason,
           "source": scope.source_name, "source_sha256": scope.source_sha256, "row_count": scope.row_count}
    if rows:
        out["rows"] = [row_json(r) for r in session.scalars(
            select(ScopeRow).where(ScopeRow.scope_id == scope.id).order_by(ScopeRow.quantity, ScopeRow.range_min,
                                                                           ScopeRow.frequency_min))]
    return out


def _iso(d) -> str | None:
    return d.isoformat() if d is not None else None


def _valid(scope, on: dt.date) -> bool:
    return _date(scope.valid_from) <= on and (scope.valid_until is None or on <= _date(scope.valid_until))


def lab_scopes(session: Session, lab_id: int, *, on: dt.date | None = None) -> list[dict[str, Any]]:
    """The lab's scope versions, newest first (``on``: only the version valid that day)."""
    _lab(session, lab_id)
    if on is not None:
        scope = _version_on(session, lab_id, on)
        return [scope_json(session, scope)] if scope else []
    return [scope_json(session, s) for s in session.scalars(
        select(Scope).where(Scope.lab_id == lab_id).order_by(Scope.version.desc()))]


# ---------------------------------------------------------------- the check on publication

@dataclass(frozen=True)
class Coverage:
    result: DccResult
    covered: bool
    scope_id: int | None
    scope_row_id: int | None
    cmc: float | None
    note: str


_SCOPE_ON = (select(S.id, S.version, S.body_id, S.valid_from, S.valid_until, S.suspended_from,
                    S.suspended_until, S.withdrawn_from, S.created_at, S.source_sha256)
             .where(S.lab_id == bindparam("lab"), S.valid_from <= bindparam("on"),
                    or_(S.valid_until.is_(None), S.valid_until >= bindparam("on")))
             .order_by(S.version.desc()).limit(1))
# the same on PostgreSQL, sent through the driver's cursor: SQLAlchemy's statement and result
# machinery costs about 70 µs of CPU per execution, more than the query (the check runs it on
# every publication; psycopg prepares it on the server after a few executions)
_SCOPE_COLUMNS = ("id", "version", "body_id", "valid_from", "valid_until", "suspended_from",
                  "suspended_until", "withdrawn_from", "created_at", "source_sha256")
_ScopeOn = namedtuple("_ScopeOn", _SCOPE_COLUMNS)
_PG_SCOPE_ON = (f"SELECT {', '.join(_SCOPE_COLUMNS)} FROM scopes WHERE lab_id = %(lab)s AND "
                "valid_from <= %(on)s AND (valid_until IS NULL OR valid_until >= %(on)s) "
                "ORDER BY version DESC LIMIT 1")


def _scope_on(db: Connection, lab_id: int, on: dt.date):
    """The lab's scope version valid on ``on`` (status columns included), or None."""
    if db.dialect.name != "postgresql":     # SQLite: compiled once, run on the driver's cursor
        return run.first(db, _SCOPE_ON, {"lab": lab_id, "on": on})
    with db.connection.cursor() as cur:
        cur.execute(_PG_SCOPE_ON, {"lab": lab_id, "on": on})
        row = cur.fetchone()
    return None if row is None else _ScopeOn(*row)


_ROWS_OF = select(R.id, R.line, R.quantity, R.range_min, R.range_max, R.frequency_min, R.frequency_max,
                  R.cmc_text, R.range_text, R.cmc_relative, R.cmc_absolute, R.cmc_table, R.k).where(
    R.scope_id == bindparam("scope"))
_INSERT_COVERAGE = insert(ResultCoverage.__table__)


@dataclass(frozen=True)
class _Row:
    """A scope row as the check uses it (its CMC parsed once)."""
    id: int
    line: int
    range_min: float
    range_max: float
    frequency_min: float | None
    frequency_max: float | None
    cmc_text: str
    range_text: str
    cmc: Cmc


class _ScopeRows:
    """The rows of recently used scope versions, by quantity: a version's rows never change once
    imported (a change is a new version, with a new id), so they are read once per process; the
    key also holds the version's number, creation time and file hash, so a reused id (SQLite after
    a rolled-back import) or another database is never mistaken for it.  Status (suspension,
    withdrawal) and validity are read on every check, never cached."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._cache: OrderedDict[tuple, dict[str, tuple[_Row, ...]]] = OrderedDict()
        self._lock = threading.Lock()
        self._databases: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self, db: Connection, scope) -> dict[str, tuple[_Row, ...]]:
        database = self._databases.get(db.engine)
        if database is None:        # rendering the URL costs ~10 µs: once per engine
            database = self._databases.setdefault(db.engine, str(db.engine.url))
        key = (database, scope.id, scope.version, str(scope.created_at), scope.source_sha256)
        with self._lock:
            rows = self._cache.get(key)
            if rows is not None:
                self._cache.move_to_end(key)
                return rows
        by_quantity: dict[str, list[_Row]] = {}
        for row in db.execute(_ROWS_OF, {"scope": scope.id}):
            by_quantity.setdefault(row.quantity, []).append(_Row(
                row.id, row.line, row.range_min, row.range_max, row.frequency_min, row.frequency_max,
                row.cmc_text, row.range_text, _cmc(row)))
        rows = {q: tuple(rs) for q, rs in by_quantity.items()}
        with self._lock:
            self._cache[key] = rows
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return rows

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


scope_rows_cache = _ScopeRows()


def _fmt(x: float, unit: str) -> str:
    return format_value(x, unit)


def _matches(row, r: DccResult) -> bool:
    if not contains(row.range_min, row.range_max, r.value):
        return False
    if row.frequency_min is None:
        return True
    return r.frequency is not None and row.frequency_min <= r.frequency <= row.frequency_max


def check(db: Connection, lab_id: int, on: dt.date | None, results: Sequence[DccResult]) -> list[Coverage]:
    """The accreditation status of each result on the calibration date ``on``; a result claiming
    an uncertainty smaller than the CMC is :class:`Rejected` (stage ``scope``), naming it."""
    on = on or dt.date.today()
    if not results:
        return []
    scope = _scope_on(db, lab_id, on)
    if scope is None:
        return [Coverage(r, False, None, None, None, f"the lab has no accredited scope valid on {on}")
                for r in results]
    state = status_on(scope, on)
    rows = scope_rows_cache.get(db, scope)
    out, refused = [], []
    for r in results:
        if r.kind is None:
            out.append(Coverage(r, False, scope.id, None, None,
                                f"no quantity of an accreditation scope is measured in {r.unit}"))
            continue
        candidates = [(row, row.cmc) for row in rows.get(r.kind.name, ()) if _matches(row, r)]
        if not candidates:
            where = _fmt(r.value, r.unit) + (f" at {_fmt(r.frequency, 'Hz')}" if r.frequency is not None else "")
            out.append(Coverage(r, False, scope.id, None, None,
                                f"outside the accredited scope: no {r.kind.name} row covers {where}"))
            continue
        # the lab's best capability at this point: the smallest CMC (as a standard uncertainty)
        row, cmc = min(candidates, key=lambda c: c[1].at(r.value) / c[1].k)
        value = cmc.at(r.value)
        if state != "active":
            out.append(Coverage(r, False, scope.id, row.id, value,
                                f"the accreditation was {state} on {on}"))
            continue
        if r.uncertainty / r.k < value / cmc.k * (1 - 1e-9):
            refused.append((r, row, cmc, value))
        out.append(Coverage(r, True, scope.id, row.id, value, f"scope version {scope.version}, line {row.line}"))
    if refused:
        lines = [f"result {r.name!r} ({_fmt(r.value, r.unit)}"
                 + (f" at {_fmt(r.frequency, 'Hz')}" if r.frequency is not None else "")
                 + f"): U = {_fmt(r.uncertainty, r.unit)} (k = {r.k:g}) is smaller than the accredited CMC "
                 f"{_fmt(value, r.unit)} (k = {cmc.k:g}; {row.cmc_text}) for {r.kind.name} {row.range_text}"
                 f" (scope version {scope.version}, line {row.line})"
                 for r, row, cmc, value in refused[:5]]
        more = f"; and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise Rejected("scope", f"{len(refused)} result(s) claim an uncertainty smaller than the lab's "
                       f"accredited CMC on {on}: " + "; ".join(lines) + more)
    return out


_COVERAGE_COLUMNS = ("certificate_row_id", "position", "name", "quantity", "unit", "value", "uncertainty", "k",
                     "frequency", "covered", "scope_id", "scope_row_id", "cmc", "note")
# PostgreSQL: all rows of a publication in one statement with one parameter (a JSON array), which
# costs the publishing process a third of an executemany's CPU
_PG_INSERT_COVERAGE = (f"INSERT INTO result_coverage ({', '.join(_COVERAGE_COLUMNS)}) SELECT "
                       f"{', '.join(_COVERAGE_COLUMNS)} FROM json_populate_recordset(NULL::result_coverage, %(rows)s)")


def record_coverage(db: Connection, certificate_row_id: int, coverage: Sequence[Coverage]) -> None:
    if not coverage:
        return
    rows = [dict(
        certificate_row_id=certificate_row_id, position=c.result.position, name=c.result.name,
        quantity=c.result.kind.name if c.result.kind else None, unit=c.result.unit, value=c.result.value,
        uncertainty=c.result.uncertainty, k=c.result.k, frequency=c.result.frequency, covered=c.covered,
        scope_id=c.scope_id, scope_row_id=c.scope_row_id, cmc=c.cmc, note=c.note[:1000]) for c in coverage]
    if db.dialect.name == "postgresql":
        try:
            payload = json.dumps(rows, allow_nan=False)
        except ValueError:      # a value JSON cannot carry (never from extract_results): executemany
            payload = None
        if payload is not None:     # through the driver's cursor, as _scope_on
            with db.connection.cursor() as cur:
                cur.execute(_PG_INSERT_COVERAGE, {"rows": payload})
            return
    run.execute(db, _INSERT_COVERAGE, rows)     # SQLite: compiled once, run on the driver's cursor


# ---------------------------------------------------------------- reading it back

def _result_status(rc, scope, on: dt.date) -> str:
    if scope is not None and rc.scope_row_id is not None:
        state = status_on(scope, on)
        if state != "active":
            return SUSPENDED if state == "suspended" else WITHDRAWN
    return COVERED if rc.covered else NOT_COVERED


def accreditation_json(session: Session, row: CertificateRecord) -> dict[str, Any]:
    """The accreditation status of a stored document and of each of its results."""
    on = row.end_date or row.published_at.date()
    rcs = session.scalars(select(ResultCoverage).where(ResultCoverage.certificate_row_id == row.id)
                          .order_by(ResultCoverage.position)).all()
    scope = session.scalar(select(Scope).where(
        Scope.lab_id == row.lab_id, Scope.valid_from <= on,
        or_(Scope.valid_until.is_(None), Scope.valid_until >= on)).order_by(Scope.version.desc()).limit(1))
    if rcs and rcs[0].scope_id is not None and (scope is None or scope.id != rcs[0].scope_id):
        scope = session.get(Scope, rcs[0].scope_id)        # the version the check used
    results = []
    for rc in rcs:
        status = _result_status(rc, scope, on)
        results.append({
            "position": rc.position, "name": rc.name, "quantity": rc.quantity, "unit": rc.unit,
            "value": rc.value, "uncertainty": rc.uncertainty, "k": rc.k, "frequency": rc.frequency,
            "cmc": rc.cmc, "status": status,
            "text": {"value": _fmt(rc.value, rc.unit), "uncertainty": _fmt(rc.uncertainty, rc.unit),
                     "cmc": _fmt(rc.cmc, rc.unit) if rc.cmc is not None else None,
                     "frequency": _fmt(rc.frequency, "Hz") if rc.frequency is not None else None},
            "note": rc.note})
    statuses = {r["status"] for r in results}
    lab_state = None
    if scope is not None:
        lab_state = status_on(scope, on)
    if not results:
        overall = "no results assessed"
    elif lab_state == "suspended":
        overall = SUSPENDED
    elif lab_state == "withdrawn":
        overall = WITHDRAWN
    elif statuses == {COVERED}:
        overall = "accredited"
    elif COVERED in statuses:
        overall = "partly covered by accreditation"
    else:
        overall = NOT_COVERED
    current = _version_on(session, row.lab_id, dt.date.today())
    body = session.get(AccreditationBody, scope.body_id) if scope is not None else None
    return {
        "status": overall,
        "calibration_date": on.isoformat(),
        "scope": None if scope is None else {
            "version": scope.version, "body": body.name, "valid_from": scope.valid_from.isoformat(),
            "valid_until": _iso(scope.valid_until), "status_on_calibration_date": lab_state,
            "status_reason": scope.status_reason if lab_state != "active" else None},
        "lab_accreditation_today": status_on(current, dt.date.today()) if current is not None else "none",
        "results": results,
    }


# ---------------------------------------------------------------- search

def _quantity_value(quantity: str, value: str | None):
    try:
        k = kind(quantity)
        return k, (value_in(value, k, "value") if value not in (None, "") else None)
    except CmcError as exc:
        raise Invalid(str(exc)) from None


def _max_cmc(k, text: str | None, x: float | None) -> tuple[float | None, float | None]:
    """(absolute limit at x, relative limit) of a ``max_cmc`` such as ``5 µV/V`` or ``50 µV``."""
    if text in (None, ""):
        return None, None
    from labauto.units import UnitError, parse_quantity
    try:
        q = parse_quantity(text)
    except UnitError as exc:
        raise Invalid(f"max_cmc: {exc}") from None
    if q.dimensionless:
        rel = float(q.to("").magnitude)
        if x is None:
            raise Invalid("a relative max_cmc (e.g. 5 µV/V) needs the value it applies at")
        return rel * abs(x), rel
    try:
        from labauto.platform.server.cmc import difference_in
        return difference_in(q, k.unit), None
    except Exception:  # noqa: BLE001 - pint's DimensionalityError
        raise Invalid(f"max_cmc {text!r} is neither relative (µV/V, ppm, %) nor a {k.name} ({k.unit})") from None


_CAP_COLUMNS = (R.id, R.line, R.quantity, R.unit, R.range_min, R.range_max, R.frequency_min, R.frequency_max,
                R.frequency_text, R.range_text, R.conditions, R.cmc_text, R.k, S.version, S.valid_from,
                S.valid_until, S.lab_id, L.name.label("lab"), L.accreditation_id)
# the text of the rows found, with their version and lab: ids as one array on PostgreSQL (one
# statement text, prepared once), an expanded IN list elsewhere
_CAP_DETAILS_BASE = select(*_CAP_COLUMNS).join_from(ScopeRow.__table__, Scope.__table__, R.scope_id == S.id).join(
    Lab.__table__, L.id == S.lab_id)
_CAP_DETAILS = {"postgresql": _CAP_DETAILS_BASE.where(R.id == func.any(bindparam("ids", type_=ARRAY(Integer))))}
_CAP_DETAILS_IN = _CAP_DETAILS_BASE.where(R.id.in_(bindparam("ids", expanding=True)))


@functools.lru_cache(maxsize=64)
def _capability_query(has_x: bool, negative: bool, has_limit: bool, has_f: bool, single: bool = False):
    """The capability search for one shape of question, built once (bound parameters ``q``,
    ``on``, ``x``, ``ax``, ``lim``, ``f``, ``n``).

    Without a value: every row of the quantity with its text, by lab.  With a value: the
    candidates only — (row id, lab, CMC lower bound, CMC table as text) — best first: the inner
    query reads only columns of ``scope_rows``' covering index (quantity, range, band, CMC parts,
    scope) and of ``scopes`` (validity, status), ranks each lab's rows by the CMC at the value —
    ``cmc_relative * |x| + cmc_absolute``, exact for a formula, a lower bound for a table (whose
    ``cmc_absolute`` is its smallest point) — and keeps the best ``n``; the caller evaluates
    tables, keeps each lab's best row and reads the text of those (:data:`_CAP_DETAILS`).

    ``single``: one statement instead — each lab's best row by that CMC, with its text, the best
    ``n`` labs; exact when none of those rows is a table (the caller checks, and asks again in
    two steps if one is)."""
    on = bindparam("on", type_=Date)
    where = [R.quantity == bindparam("q"), S.valid_from <= on, or_(S.valid_until.is_(None), S.valid_until >= on),
             or_(S.withdrawn_from.is_(None), S.withdrawn_from > on),
             or_(S.suspended_from.is_(None), S.suspended_from > on,
                 and_(S.suspended_until.is_not(None), S.suspended_until < on))]
    if has_f:
        f = bindparam("f", type_=Float)
        where.append(or_(R.frequency_min.is_(None), and_(R.frequency_min <= f, R.frequency_max >= f)))
    if not has_x:           # every row of the quantity, by lab
        return (select(*_CAP_COLUMNS).join_from(ScopeRow.__table__, Scope.__table__, R.scope_id == S.id)
                .join(Lab.__table__, L.id == S.lab_id).where(*where)
                .order_by(S.lab_id, R.range_min, R.frequency_min).limit(bindparam("n")))
    x, ax = bindparam("x", type_=Float), bindparam("ax", type_=Float)
    if negative:            # a signed range holds x; a range of magnitudes holds |x|
        where.append(or_(and_(R.range_min <= x, R.range_max >= x),
                         and_(R.range_min >= 0, R.range_min <= ax, R.range_max >= ax)))
    else:
        where.append(and_(R.range_min <= x, R.range_max >= x))
    lower = R.cmc_relative * ax + R.cmc_absolute
    if has_limit:
        where.append(lower <= bindparam("lim", type_=Float))
    ranked = (select(R.id, S.lab_id, lower.label("lower"),
                     func.row_number().over(partition_by=S.lab_id, order_by=(lower, R.id)).label("rank"))
              .join_from(ScopeRow.__table__, Scope.__table__, R.scope_id == S.id).where(*where).subquery())
    if single:
        first = (select(ranked.c.id, ranked.c.lower).where(ranked.c.rank == 1)
                 .order_by(ranked.c.lower, ranked.c.lab_id).limit(bindparam("n")).subquery())
        return (select(first.c.lower, cast(R.cmc_table, Text).label("table"), *_CAP_COLUMNS)
                .join_from(first, ScopeRow.__table__, R.id == first.c.id).join(Scope.__table__, S.id == R.scope_id)
                .join(Lab.__table__, L.id == S.lab_id).order_by(first.c.lower, S.lab_id))
    # each lab's three best rows by the lower bound (rows of a quantity do not overlap, so a
    # value is in at most a few of a lab's rows: two where ranges touch)
    best = (select(ranked.c.id, ranked.c.lab_id, ranked.c.lower).where(ranked.c.rank <= 3)
            .order_by(ranked.c.lower, ranked.c.lab_id).limit(bindparam("n")).subquery())
    return (select(best.c.id, best.c.lab_id, best.c.lower, cast(R.cmc_table, Text).label("table"))
            .join_from(best, ScopeRow.__table__, R.id == best.c.id).order_by(best.c.lower, best.c.lab_id))


def _table_at(table: str, x: float) -> float:
    return Cmc(table=tuple(tuple(p) for p in json.loads(table))).at(x)


def _with_tables(session, stmt, params: dict, x: float, limit_abs: float | None, limit: int) -> list:
    """The search in two steps (a CMC table among the best rows): up to three candidate rows per
    lab by the lower bound, tables evaluated exactly, each lab's best row, then its text."""
    best: dict[int, tuple[float, int]] = {}          # lab -> (CMC at x, row id)
    for c in session.execute(stmt, params):
        cmc_at = _table_at(c.table, x) if c.table not in (None, "null") else c.lower
        if limit_abs is not None and cmc_at > limit_abs * (1 + 1e-9):
            continue        # a table row above the limit
        if c.lab_id not in best or (cmc_at, c.id) < best[c.lab_id]:
            best[c.lab_id] = (cmc_at, c.id)
    chosen = sorted((cmc_at, lab, row_id) for lab, (cmc_at, row_id) in best.items())[:limit]
    details = _CAP_DETAILS.get(session.get_bind().dialect.name if isinstance(session, Session)
                               else session.dialect.name, _CAP_DETAILS_IN)
    rows = {r.id: r for r in session.execute(details, {"ids": [c[2] for c in chosen]})} if chosen else {}
    return [(cmc_at, rows[row_id]) for cmc_at, _, row_id in chosen]


def capabilities(session: Session | Connection, quantity: str, value: str | None = None,
                 max_cmc: str | None = None, frequency: str | None = None, on: dt.date | None = None,
                 limit: int = 100) -> dict[str, Any]:
    """Labs whose scope valid on ``on`` (today) covers ``quantity`` at ``value`` (and
    ``frequency``) with a CMC at most ``max_cmc`` — best CMC first."""
    k, x = _quantity_value(quantity, value)
    on = on or dt.date.today()
    try:
        f = frequency_in_hz(frequency) if frequency not in (None, "") else None
    except CmcError as exc:
        raise Invalid(str(exc)) from None
    limit_abs, _ = _max_cmc(k, max_cmc, x)
    shape = (x is not None, x is not None and x < 0, limit_abs is not None, f is not None)
    stmt = _capability_query(*shape)
    params: dict[str, Any] = {"q": k.name, "on": on, "n": limit if x is None else limit * 3}
    if f is not None:
        params["f"] = f
    if x is None:
        found = [(None, row) for row in session.execute(stmt, params)]
    else:
        params.update(x=x, ax=abs(x))
        if limit_abs is not None:
            params["lim"] = limit_abs * (1 + 1e-9)
        # one round trip when no CMC table is among each lab's best rows (the usual case)
        first = session.execute(_capability_query(*shape, single=True), dict(params, n=limit)).all()
        if not any(r.table not in (None, "null") for r in first):
            found = [(r.lower, r) for r in first]
        else:
            found = _with_tables(session, stmt, params, x, limit_abs, limit)
    items = [{"lab_id": row.lab_id, "lab": row.lab, "accreditation_id": row.accreditation_id,
              "scope_version": row.version, "valid_from": _iso(_date(row.valid_from)),
              "valid_until": _iso(_date(row.valid_until)) if row.valid_until else None,
              "row": row_json(row), "cmc_at_value": cmc_at,
              "cmc_at_value_text": _fmt(cmc_at, k.unit) if cmc_at is not None else None}
             for cmc_at, row in found]
    return {"quantity": k.name, "unit": k.unit, "value": x, "frequency": f, "max_cmc": limit_abs,
            "date": on.isoformat(), "count": len(items), "items": items}


def search_results(session: Session, quantity: str, value_min: str | None = None, value_max: str | None = None,
                   status: str | None = None, limit: int = 100, offset: int = 0) -> tuple[int, list[tuple[CertificateRecord, list]]]:
    """Stored documents with a result of ``quantity`` whose value lies in value_min..value_max
    (magnitudes), newest first, with those results."""
    k, lo = _quantity_value(quantity, value_min)
    hi = _quantity_value(quantity, value_max)[1]
    cond = [RC.quantity == k.name]
    if lo is not None:
        cond.append(func.abs(RC.value) >= lo)
    if hi is not None:
        cond.append(func.abs(RC.value) <= hi)
    if status == "covered":
        cond.append(RC.covered.is_(True))
    elif status == "not-covered":
        cond.append(RC.covered.is_(False))
    ids = select(RC.certificate_row_id).where(*cond).distinct()
    total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    rows = session.scalars(select(CertificateRecord).where(CertificateRecord.id.in_(ids))
                           .order_by(CertificateRecord.id.desc()).limit(limit).offset(offset)).all()
    hits: dict[int, list[dict[str, Any]]] = {row.id: [] for row in rows}
    if hits:        # the matching results of the page's documents, in one statement
        for h in session.execute(select(ResultCoverage.__table__).where(RC.certificate_row_id.in_(list(hits)), *cond)
                                 .order_by(RC.certificate_row_id, RC.position)):
            hits[h.certificate_row_id].append({
                "position": h.position, "name": h.name, "quantity": h.quantity, "unit": h.unit, "value": h.value,
                "uncertainty": h.uncertainty, "k": h.k, "frequency": h.frequency, "covered": h.covered})
    return total, [(row, hits[row.id]) for row in rows]


"""Core statements of the publish path compiled once and run on SQLite's DBAPI connection.

SQLAlchemy spends 60-100 µs of Python per ``Connection.execute`` (execution context, parameter
and result set-up, events) on top of SQLite's own few µs; a publication runs a dozen statements.
:func:`rows`, :func:`first` and :func:`execute` run a Core ``select``/``insert``/``update`` on
the cursor of the connection's own DBAPI connection — inside the caller's transaction and
savepoints — with the SQL that SQLAlchemy compiles for the dialect (once per statement and
parameter names) and the bind and result processing SQLAlchemy would apply (dates and times,
JSON, booleans), so the stored values and the values read are the same as through
``Connection.execute``.

Only on SQLite (the embedded store, where this overhead dominates a statement); on any other
backend, and for a statement this module cannot run as compiled (an insert leaving out a column
with a Python-side default, an expanding ``IN``), they call ``Connection.execute``.
"""
from __future__ import annotations

import collections
from typing import Any, Sequence

from sqlalchemy import Connection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert, UpdateBase

Params = dict[str, Any]

_cache: dict[tuple, "Prepared | None"] = {}


class Prepared:
    """A statement compiled for a dialect: SQL, positional parameters with their bind
    processors, and (for a select or ``RETURNING``) the row type with the result processors."""

    def __init__(self, stmt: Executable, dialect, keys: Sequence[str] | None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        self.sql = compiled.string
        binds = [compiled.binds[name] for name in compiled.positiontup]
        self.params = [(name, b.type.dialect_impl(dialect).bind_processor(dialect))
                       for name, b in zip(compiled.positiontup, binds)]
        # values the statement carries itself (a LIMIT, a literal compared with): fixed here
        self.fixed = {name: b.effective_value for name, b in zip(compiled.positiontup, binds)
                      if not b.required and b.callable is None}
        columns = list(stmt.exported_columns)      # a select's columns, or an insert's RETURNING
        self.row = collections.namedtuple("Row", [c.key for c in columns], rename=True) if columns else None
        self.results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]

    def args(self, params: Params) -> list[Any]:
        values = [params[name] if name in params else self.fixed[name] for name, _ in self.params]
        return [p(v) if p else v for (_, p), v in zip(self.params, values)]

    def rows(self, raw, params: Params) -> list:
        """Run on the DBAPI connection ``raw``; the rows, processed as SQLAlchemy does."""
        return [self.row(*(p(v) if p else v for p, v in zip(self.results, r)))
                for r in raw.execute(self.sql, self.args(params)).fetchall()]


def prepare(stmt: Executable, dialect, params: Params | None) -> Prepared | None:
    """``stmt`` compiled for ``dialect`` and these parameter names (cached), or None where
    SQLAlchemy has work to do at execution (Python-side defaults, expanding parameters)."""
    keys = tuple(sorted(params)) if isinstance(stmt, UpdateBase) and params is not None else None
    key = (stmt, dialect.name, keys)
    try:
        return _cache[key]
    except KeyError:
        pass
    prepared: Prepared | None = Prepared(stmt, dialect, keys)
    if "POSTCOMPILE" in prepared.sql or any(name not in (params or {}) and name not in prepared.fixed for name, _ in prepared.params) or (
            isinstance(stmt, Insert) and any(c.default is not None and c.key not in keys
                                             for c in stmt.table.columns)):
        prepared = None
    _cache[key] = prepared
    return prepared


def _sqlite(conn: Connection):
    return conn.connection.driver_connection if conn.dialect.name == "sqlite" else None


def rows(conn: Connection, stmt: Executable, params: Params) -> list:
    """All rows of a select (or of an insert/update ``RETURNING``), as ``conn.execute`` gives them."""
    raw = _sqlite(conn)
    prepared = prepare(stmt, conn.dialect, params) if raw is not None else None
    if prepared is None:
        return conn.execute(stmt, params).all()
    return prepared.rows(raw, params)


def first(conn: Connection, stmt: Executable, params: Params):
    """The first row of a select, or None."""
    found = rows(conn, stmt, params)
    return found[0] if found else None


def execute(conn: Connection, stmt: Executable, params: Params | list[Params]) -> int:
    """Run an insert/update (a list of parameter sets: executemany); returns the row count."""
    raw = _sqlite(conn)
    many = isinstance(params, list)
    prepared = prepare(stmt, conn.dialect, params[0] if many else params) if raw is not None else None
    if prepared is None:
        return conn.execute(stmt, params).rowcount
    if many:
        return raw.executemany(prepared.sql, [prepared.args(p) for p in params]).rowcount
    return raw.execute(prepared.sql, prepared.args(params)).rowcount

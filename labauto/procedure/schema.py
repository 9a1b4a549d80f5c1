"""Checking a procedure document: allowed keys, value types, and error collection by line.

The loader reports every problem it can find in one go (a technician fixing a procedure file
should not have to run the validator once per typo); each problem carries the line of the
key or value it is about.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Iterable

import pint

from labauto.errors import SourceError
from labauto.units import UnitError, parse_quantity
from labauto.yamlsource import PathKey, SourceMap


class ProcedureError(SourceError):
    """A procedure file is invalid.  ``problems`` lists every ``(line, reason)`` found; the
    message has one ``path:line: reason`` line per problem (``.line``/``.reason``: the first)."""

    def __init__(self, path: str, problems: Iterable[tuple[int | None, str]]):
        self.problems = tuple(problems) or ((None, "invalid procedure"),)
        line, reason = self.problems[0]
        super().__init__(path, line, reason)
        if len(self.problems) > 1:
            self.args = ("\n".join(_where(path, ln) + f": {r}" for ln, r in self.problems),)


def _where(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


class Invalid(Exception):
    """Internal: one problem found; the part of the document it concerns is skipped."""


@dataclass
class Problems:
    """Collects problems with their lines; :meth:`raise_if_any` raises one ProcedureError."""

    source: SourceMap
    items: list[tuple[int | None, str]] = field(default_factory=list)

    def add(self, key_path: PathKey, reason: str) -> None:
        self.items.append((self.source.line(key_path), reason))

    def fail(self, key_path: PathKey, reason: str) -> Invalid:
        """Record a problem and return an exception to abandon the current item."""
        self.add(key_path, reason)
        return Invalid(reason)

    def raise_if_any(self) -> None:
        if self.items:
            ordered = sorted(self.items, key=lambda p: (p[0] is None, p[0] or 0))
            raise ProcedureError(self.source.path, ordered)


def check_keys(problems: Problems, key_path: PathKey, data: Any, what: str, *,
               required: Iterable[str] = (), optional: Iterable[str] = ()) -> dict[str, Any]:
    """``data`` must be a mapping with the required keys and no others (typos are reported on
    their own line, with a suggestion)."""
    required, optional = tuple(required), tuple(optional)
    if not isinstance(data, dict):
        raise problems.fail(key_path, f"{what} must be a mapping with keys "
                                      f"{', '.join(required + optional)}")
    allowed = required + optional
    ok = True
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
            problems.add(key_path + (key,), f"unknown key {key!r} in {what}; {did_you_mean}"
                                            f"allowed keys: {', '.join(allowed)}")
            ok = False
    for key in required:
        if key not in data:
            problems.add(key_path, f"{what} is missing the required key {key!r}")
            ok = False
    if not ok:
        raise Invalid(what)
    return data


def text(problems: Problems, key_path: PathKey, value: Any, what: str, *,
         allow_number: bool = False) -> str:
    """A non-empty string.  Numbers are refused unless ``allow_number`` (YAML reads
    ``version: 1.10`` as the number 1.1: such values must be quoted)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if allow_number and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise problems.fail(key_path, f"{what} must be text; quote it (e.g. \"{value}\"), "
                                      "YAML reads unquoted numbers like 1.10 as 1.1")
    raise problems.fail(key_path, f"{what} must be non-empty text")


def quantity(problems: Problems, key_path: PathKey, value: Any, unit: str, what: str, *,
             note: str = "") -> pint.Quantity:
    """``value`` parsed by :func:`labauto.units.parse_quantity` (a unit compatible with
    ``unit``; a bare number is refused); a problem reads ``what: why (note)``."""
    try:
        return parse_quantity(value, unit)
    except UnitError as exc:
        raise problems.fail(key_path, f"{what}: {exc}" + (f" ({note})" if note else "")) from None

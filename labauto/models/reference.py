"""The reference standard known by its calibration certificate, not by its specification.

A procedure says how the standard's value is known::

    reference: specification                       # the default: the model file's 1-year spec
    reference: {certificate: references/3458A-2823A05432.yaml}    # relative to the procedure

The certificate file holds what the standard's own calibration certificate states, one entry
per calibrated point (the shape of a calibration record of the equipment register,
docs/quality.md, with the point spelled out)::

    certificate_id: PTB-2026-04711
    laboratory: Physikalisch-Technische Bundesanstalt
    date: 2026-03-02
    due: 2027-03-31
    item: {manufacturer: Keysight Technologies, model: 3458A, serial: "2823A05432"}
    values:
      # error = indication − true value (a meter) or output − set value (a source), as certified
      - {function: DCV, range: 10 V, at: 10 V, error: 2.1 uV, U: 1.6 uV, k: 2}

Every point of the procedure must find its entry (same function, the standard's range, the
same value); the engine refuses a certificate past its due date and one of another serial
before anything is measured.  In the budget the certificate replaces the specification: the
standard's correction is ``−error`` with standard uncertainty ``U/k`` (normal, ν = ∞).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pint

from labauto.errors import LabautoError, SourceError
from labauto.units import UnitError, parse_quantity
from labauto.yamlsource import load

_TOP = {"certificate_id", "laboratory", "date", "due", "item", "values"}
_VALUE = {"function", "range", "at", "error", "U", "k"}
_ITEM = {"manufacturer", "model", "serial"}


class ReferenceNotUsable(LabautoError):
    """The reference's certificate is past its due date or belongs to another instrument."""


@dataclass(frozen=True)
class CertifiedValue:
    """One certified point of the standard: its error at ``at`` on ``range`` with U (k)."""

    function: str
    range: pint.Quantity
    at: pint.Quantity
    error: pint.Quantity
    U: pint.Quantity
    k: float
    line: int | None = None

    @property
    def standard_uncertainty(self) -> pint.Quantity:
        return self.U / self.k

    def matches(self, function: str, rng: pint.Quantity, value: pint.Quantity) -> bool:
        return (function == self.function and _same(rng, self.range) and _same(value, self.at))


def _same(a: pint.Quantity, b: pint.Quantity) -> bool:
    if a.dimensionality != b.dimensionality:
        return False
    x, y = a.to(b.units).magnitude, b.magnitude
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-15 * max(abs(y), 1.0))


@dataclass(frozen=True)
class ReferenceCertificate:
    certificate_id: str
    laboratory: str
    date: dt.date
    due: dt.date
    manufacturer: str
    model: str
    serial: str
    values: tuple[CertifiedValue, ...]
    path: Path
    sha256: str

    def value_for(self, function: str, rng: pint.Quantity, value: pint.Quantity) -> CertifiedValue:
        """The certified entry for ``value`` of ``function`` on ``rng`` (KeyError naming the
        values certified on that range otherwise)."""
        for v in self.values:
            if v.matches(function, rng, value):
                return v
        on_range = [f"{v.at:~P}" for v in self.values if v.function == function
                    and _same(rng, v.range)]
        raise KeyError(f"certificate {self.certificate_id} ({self.path.name}) has no {function} "
                       f"value at {value:~P} on the {rng:~P} range"
                       + (f"; it certifies {', '.join(on_range)} there" if on_range else
                          "; it certifies nothing on that range"))

    def check_usable(self, on: dt.date, serial: str | None = None) -> None:
        """Refuse a certificate past its due date on ``on``, or of another serial number."""
        if on > self.due:
            raise ReferenceNotUsable(
                f"{self.path}: certificate {self.certificate_id} of the {self.manufacturer} "
                f"{self.model} serial {self.serial} was due on {self.due.isoformat()}; the "
                "reference must be recalibrated (or the procedure use its specification) before "
                "it is used")
        if serial is not None and serial != self.serial:
            raise ReferenceNotUsable(
                f"{self.path}: certificate {self.certificate_id} is for serial {self.serial}, but "
                f"the connected {self.manufacturer} {self.model} is serial {serial}; connect the "
                "certified instrument or give the procedure its certificate")

    def to_dict(self) -> dict[str, Any]:
        return {"certificate_id": self.certificate_id, "laboratory": self.laboratory,
                "date": self.date.isoformat(), "due": self.due.isoformat(),
                "serial": self.serial, "path": str(self.path), "sha256": self.sha256}


def load_reference_certificate(path: str | Path) -> ReferenceCertificate:
    """Parse a certificate file; :class:`SourceError` naming file:line for every mistake."""
    path = Path(path)
    doc = load_mapping(path, _TOP, "a reference certificate")
    d, src = doc.data, doc.source
    item = d["item"]
    if not isinstance(item, dict):
        raise src.error(("item",), "item must be {manufacturer, model, serial}")
    _keys(src, ("item",), item, _ITEM, "item")
    date, due = src.date(("date",), d["date"]), src.date(("due",), d["due"])
    if due <= date:
        raise src.error(("due",), f"due {due} is not after the calibration date {date}")
    if not isinstance(d["values"], list) or not d["values"]:
        raise src.error(("values",), "values must list the certified points")
    values = tuple(_value(src, ("values", i), v) for i, v in enumerate(d["values"]))
    return ReferenceCertificate(
        certificate_id=str(d["certificate_id"]), laboratory=str(d["laboratory"]), date=date,
        due=due, manufacturer=str(item["manufacturer"]), model=str(item["model"]),
        serial=str(item["serial"]), values=values, path=path, sha256=doc.sha256)


def load_mapping(path: Path, top: set[str], what: str):
    """The YAML file at ``path`` (a :class:`labauto.yamlsource` document), which must be a
    mapping with exactly the keys ``top``; a :class:`SourceError` naming file:line if not."""
    doc = load(path)
    if not isinstance(doc.data, dict):
        raise SourceError(str(path), 1, f"{what} must be a mapping with {', '.join(sorted(top))}")
    _keys(doc.source, (), doc.data, top, what)
    return doc


def _keys(src: Any, at: tuple, d: dict, allowed: set[str], what: str) -> None:
    for key in d:
        if key not in allowed:
            raise src.error(at + (key,), f"unknown key {key!r} in {what}; allowed: "
                                         f"{', '.join(sorted(allowed))}")
    missing = sorted(allowed - set(d))
    if missing:
        raise src.error(at, f"{what} is missing {', '.join(repr(m) for m in missing)}")


def _value(src: Any, at: tuple, d: Any) -> CertifiedValue:
    if not isinstance(d, dict):
        raise src.error(at, "a certified value is {function, range, at, error, U, k}")
    _keys(src, at, d, _VALUE, "a certified value")
    q = {}
    for key in ("range", "at", "error", "U"):
        try:
            q[key] = parse_quantity(d[key], None)
        except UnitError as exc:
            raise src.error(at + (key,), str(exc)) from None
    dims = {key: v.dimensionality for key, v in q.items()}
    if len(set(map(str, dims.values()))) != 1 or q["range"].dimensionless:
        raise src.error(at, "range, at, error and U must be in one unit of the function "
                            f"(got {', '.join(f'{k} {v:~P}' for k, v in q.items())})")
    if not q["U"].magnitude > 0:
        raise src.error(at + ("U",), f"U must be positive, not {d['U']!r}")
    k = d["k"]
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < float(k) < 10:
        raise src.error(at + ("k",), f"k must be a number between 0 and 10, not {k!r}")
    return CertifiedValue(str(d["function"]), q["range"], q["at"], q["error"], q["U"], float(k),
                          src.line(at))

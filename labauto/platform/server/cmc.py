"""Calibration and measurement capabilities (CMC) as numbers: the quantities a scope names and
the CMC formula of a scope row (pure functions: no database, no I/O).

A CMC is written as a person writes it on an accreditation scope — ``2 µV/V + 1 µV`` — a sum of
terms, each parsed by pint through :mod:`labauto.units`: a dimensionless term (``µV/V``,
``ppm``, ``%``) is relative (times the magnitude of the value), a term in the quantity's unit
is absolute.  ``at k = 2`` may close the formula.  A CMC may instead be a table of points
(``1 V: 5 µV; 10 V: 30 µV``), interpolated linearly between them.

Everything is stored in the coherent SI unit of the quantity (V, A, Ω, Hz, K ...) as floats.
"""
from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass

import pint

from labauto.units import Q_, UnitError, parse_quantity


@dataclass(frozen=True)
class QuantityKind:
    """A quantity an accreditation scope names: its SI unit and whether it has a frequency."""

    name: str
    unit: str              # the coherent SI unit all values of this quantity are stored in
    alternating: bool      # a row needs a frequency band (AC voltage, AC current)
    aliases: tuple[str, ...] = ()


KINDS: tuple[QuantityKind, ...] = (
    QuantityKind("DC voltage", "V", False, ("dcv", "voltage dc", "dc voltage")),
    QuantityKind("AC voltage", "V", True, ("acv", "voltage ac", "ac voltage")),
    QuantityKind("DC current", "A", False, ("dci", "current dc", "dc current")),
    QuantityKind("AC current", "A", True, ("aci", "current ac", "ac current")),
    QuantityKind("resistance", "ohm", False, ("dc resistance", "ohm", "ohms", "res")),
    QuantityKind("frequency", "Hz", False, ("freq",)),
    QuantityKind("capacitance", "F", False, ()),
    QuantityKind("inductance", "H", False, ()),
    QuantityKind("power", "W", False, ()),
    QuantityKind("temperature", "K", False, ()),
    QuantityKind("pressure", "Pa", False, ()),
    QuantityKind("mass", "kg", False, ()),
    QuantityKind("length", "m", False, ()),
    QuantityKind("time interval", "s", False, ()),
)
_BY_NAME = {k.name.lower(): k for k in KINDS} | {a: k for k in KINDS for a in k.aliases}


class CmcError(ValueError):
    """A quantity, value or CMC that cannot be used (the message says what and why)."""


def kind(name: str) -> QuantityKind:
    """The quantity named ``name`` (case-insensitive; ``DCV``, ``AC voltage`` ...)."""
    k = _BY_NAME.get(" ".join(str(name).lower().replace("_", " ").split()))
    if k is None:
        raise CmcError(f"unknown quantity {name!r}; known: {', '.join(k.name for k in KINDS)}")
    return k


_OFFSET_UNITS = ("degree_Celsius", "degree_Fahrenheit")


def _offset_unit(q: pint.Quantity) -> str | None:
    """``degree_Celsius`` when ``q`` is in °C (°F), else None.  By the unit's name, not
    ``str(q.units)``: the registry prints units as symbols (``°C``)."""
    units = q.units._units
    if len(units) == 1:
        (name, power), = units.items()
        if name in _OFFSET_UNITS and power == 1:
            return name
    return None


def value_in(text: str | pint.Quantity, k: QuantityKind, what: str = "value") -> float:
    """A value of quantity ``k`` (``"10 mV"``) as a float in the quantity's SI unit."""
    q = text if isinstance(text, pint.Quantity) else _parse(text, what)
    try:
        return float(q.to(k.unit).magnitude)
    except pint.DimensionalityError:
        raise CmcError(f"{what} {_show(text)} is not a {k.name} (expected a unit like {k.unit})") from None


def difference_in(q: pint.Quantity, unit: str) -> float:
    """A difference (an uncertainty, an absolute CMC term) in ``unit``: 0.05 °C is 0.05 K."""
    offset = _offset_unit(q)
    if offset:
        q = Q_(q.magnitude, "delta_" + offset)
    return float(q.to(unit).magnitude)


def frequency_in_hz(text: str | pint.Quantity, what: str = "frequency") -> float:
    q = text if isinstance(text, pint.Quantity) else _parse(text, what)
    try:
        return float(q.to("Hz").magnitude)
    except pint.DimensionalityError:
        raise CmcError(f"{what} {_show(text)} is not a frequency (expected a unit like Hz)") from None


def _show(text) -> str:
    return repr(text) if isinstance(text, str) else f"{text:~P}"


def _parse(text: str, what: str) -> pint.Quantity:
    try:
        return parse_quantity(str(text))
    except UnitError as exc:
        raise CmcError(f"{what}: {exc}") from None


_K_SUFFIX = re.compile(r"[\s,;(]*(?:at\s+)?k\s*=\s*([0-9]+(?:\.[0-9]*)?)\s*\)?\s*$", re.IGNORECASE)
_PLUS = re.compile(r"(?<![eE])\+")


@dataclass(frozen=True)
class Cmc:
    """CMC(x) = relative * |x| + absolute, or interpolated in ``table`` [(x, cmc), ...];
    absolute parts in the quantity's SI unit; an expanded uncertainty with coverage factor k."""

    relative: float = 0.0
    absolute: float = 0.0
    table: tuple[tuple[float, float], ...] | None = None
    k: float = 2.0

    def at(self, x: float) -> float:
        if self.table:
            xs = [p[0] for p in self.table]
            ax = x if xs[0] <= x <= xs[-1] else abs(x)
            i = bisect.bisect_left(xs, ax)
            if i == 0:
                return self.table[0][1]
            if i >= len(xs):
                return self.table[-1][1]
            (x0, c0), (x1, c1) = self.table[i - 1], self.table[i]
            return c0 if x1 == x0 else c0 + (c1 - c0) * (ax - x0) / (x1 - x0)
        return self.relative * abs(x) + self.absolute


def _terms(text: str, k: QuantityKind) -> tuple[float, float]:
    """(relative, absolute) of a sum of terms such as ``2 µV/V + 1 µV``."""
    rel = absolute = 0.0
    parts = [p.strip() for p in _PLUS.split(text)]
    if not parts or any(not p for p in parts):
        raise CmcError(f"CMC {text!r} does not parse: expected terms joined by '+', e.g. "
                       "'2 µV/V + 1 µV'")
    for part in parts:
        try:
            q = parse_quantity(part)
        except UnitError:
            raise CmcError(f"CMC {text!r} does not parse: {part!r} is not a quantity "
                           "(write e.g. '2 µV/V + 1 µV', '5 ppm', '0.01 %', '3 mΩ')") from None
        if q.magnitude < 0:
            raise CmcError(f"CMC {text!r}: the term {part!r} is negative")
        if q.dimensionless:
            rel += float(q.to("").magnitude)
            continue
        try:
            absolute += difference_in(q, k.unit)
        except pint.DimensionalityError:
            raise CmcError(f"CMC {text!r}: the term {part!r} has unit {q.units:~P}, which is neither "
                           f"relative (µV/V, ppm, %) nor a {k.name} ({k.unit})") from None
    return rel, absolute


def parse_cmc(text: str, k: QuantityKind, *, coverage_factor: float | None = None,
              range_min: float | None = None, range_max: float | None = None) -> Cmc:
    """Parse a CMC formula (``2 µV/V + 1 µV [at k = 2]``) or table (``1 V: 5 µV; 10 V: 30 µV``)
    for quantity ``k``.  A table must span ``range_min`` .. ``range_max`` when they are given."""
    text = " ".join(str(text or "").split())
    if not text:
        raise CmcError("the CMC is empty")
    m = _K_SUFFIX.search(text)
    if m:
        text_k = float(m.group(1))
        if coverage_factor is not None and abs(coverage_factor - text_k) > 1e-12:
            raise CmcError(f"CMC {text!r} states k = {text_k:g} but the row's k is {coverage_factor:g}")
        coverage_factor, text = text_k, text[:m.start()].strip()
    kf = 2.0 if coverage_factor is None else float(coverage_factor)
    if not 1 <= kf <= 10:
        raise CmcError(f"coverage factor k = {kf:g} is implausible (expected 1 to 10, usually 2)")
    if ":" not in text:
        rel, absolute = _terms(text, k)
        if rel == 0 and absolute == 0:
            raise CmcError(f"CMC {text!r} is zero")
        return Cmc(rel, absolute, None, kf)
    points = []
    for entry in (e.strip() for e in text.split(";")):
        if not entry:
            continue
        at, sep, cmc = entry.partition(":")
        if not sep or not cmc.strip():
            raise CmcError(f"CMC table entry {entry!r} does not parse: write 'value: CMC', e.g. '10 V: 30 µV'")
        x = value_in(at.strip(), k, "CMC table point")
        rel, absolute = _terms(cmc.strip(), k)
        points.append((x, rel * abs(x) + absolute))
    points.sort()
    if len(points) < 2:
        raise CmcError(f"CMC table {text!r} needs at least two points")
    if len({p[0] for p in points}) != len(points):
        raise CmcError(f"CMC table {text!r} names a point twice")
    if range_min is not None and range_max is not None:
        lo, hi = points[0][0], points[-1][0]
        if not (_close(lo, range_min) and _close(hi, range_max)):
            raise CmcError(f"CMC table {text!r} must start at the range minimum and end at the range "
                           f"maximum ({range_min:g} {k.unit} .. {range_max:g} {k.unit})")
    return Cmc(0.0, 0.0, tuple(points), kf)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)


def contains(range_min: float, range_max: float, x: float) -> bool:
    """Is ``x`` in the range?  Ranges that start at zero or above are magnitudes: -10 V is in
    1 V .. 100 V; a range with a negative minimum is signed."""
    if range_min <= x <= range_max:
        return True
    return range_min >= 0 and x < 0 and range_min <= -x <= range_max


def format_value(x: float, unit: str) -> str:
    """``2.1e-05`` V as ``21 µV`` (engineering prefix, as :func:`labauto.units.engineering_unit`
    chooses it).  pint is asked once per unit (see :func:`_prefixes`); a search answer formats
    hundreds of values and pint's conversions cost about 1.5 ms each."""
    steps = _prefixes(unit)
    if steps is None or x == 0:
        return f"{x:.4g} {_symbol(unit)}"
    scale, table = steps
    magnitude = abs(x * scale)
    chosen = table[0]
    for step in table[1:]:
        if magnitude / step[0] >= 1:
            chosen = step
        else:
            break
    return f"{x * chosen[1]:.4g} {chosen[2]}"


@functools.lru_cache(maxsize=256)
def _symbol(unit: str) -> str:
    return f"{Q_(1, unit).units:~P}"


@functools.lru_cache(maxsize=256)
def _prefixes(unit: str) -> tuple[float, tuple[tuple[float, float, str], ...]] | None:
    """For ``unit``: (factor to its unprefixed base, ((prefix factor, factor from ``unit``,
    symbol), ...) from the base unprefixed through nano .. mega) — what engineering_unit would
    pick for each magnitude — or None when engineering_unit leaves the unit unchanged."""
    from labauto.units import _ENGINEERING_PREFIXES, _split_prefix, engineering_unit, ureg
    q = Q_(1, unit)
    if engineering_unit(Q_(1e-12, unit)) == q.units == engineering_unit(Q_(1e12, unit)):
        return None       # not a single prefixable unit (or kg, °C): never prefixed
    _, base = _split_prefix(next(iter(q.units._units)))
    scale = float(q.to(base).magnitude)
    table = [(1.0, scale, f"{ureg.Unit(base):~P}")]          # below nano: the base unit
    for prefix in _ENGINEERING_PREFIXES:
        candidate = f"{prefix}{base}"
        table.append((float(ureg.Quantity(1, candidate).to(base).magnitude), float(q.to(candidate).magnitude),
                      f"{ureg.Unit(candidate):~P}"))
    return scale, tuple(table)

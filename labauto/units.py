"""The one pint registry of the package, and the pint <-> D-SI unit-string mapping.

Every quantity inside labauto is a ``Q_`` from this registry; convert to bare floats only at
the instrument and file edges.  D-SI (PTB's Digital System of Units, used in DCC XML) writes
units as backslash macros: ``\\volt``, ``\\milli\\volt``, ``\\metre\\tothe{2}``.
"""
from __future__ import annotations

import re

import pint

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
ureg.formatter.default_format = "~P"
Q_ = ureg.Quantity
Unit = ureg.Unit
pint.set_application_registry(ureg)

# pint unit name -> D-SI macro name (SI base, derived and accepted units we use)
_DSI_UNITS = {
    "volt": "volt", "ampere": "ampere", "ohm": "ohm", "siemens": "siemens", "watt": "watt",
    "hertz": "hertz", "second": "second", "metre": "metre", "meter": "metre",
    "kilogram": "kilogram", "gram": "gram", "kelvin": "kelvin", "degree_Celsius": "degreecelsius",
    "pascal": "pascal", "newton": "newton", "joule": "joule", "coulomb": "coulomb",
    "farad": "farad", "henry": "henry", "radian": "radian", "mole": "mole", "candela": "candela",
    "percent": "percent", "ppm": "ppm", "dimensionless": "one", "minute": "minute", "hour": "hour",
    "day": "day", "litre": "litre", "liter": "litre", "bar": "bar", "degree": "degree",
}
_DSI_PREFIXES = {
    "yotta": "yotta", "zetta": "zetta", "exa": "exa", "peta": "peta", "tera": "tera",
    "giga": "giga", "mega": "mega", "kilo": "kilo", "hecto": "hecto", "deca": "deca",
    "deci": "deci", "centi": "centi", "milli": "milli", "micro": "micro", "nano": "nano",
    "pico": "pico", "femto": "femto", "atto": "atto", "zepto": "zepto", "yocto": "yocto",
}
_REVERSE_UNITS = {v: k for k, v in _DSI_UNITS.items() if k not in {"meter", "liter"}}


class UnitError(ValueError):
    """A unit string that cannot be parsed or does not fit the quantity it is used for."""


def parse_quantity(text: str | float | int, expected: str | None = None) -> pint.Quantity:
    """Parse ``"10 V"``, ``"-1 mV"`` ... into a quantity; check its dimension against ``expected``.

    A bare number is refused when ``expected`` names a dimensioned unit: every value that has
    a unit must say it.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        q = Q_(float(text), "dimensionless")
    else:
        try:
            q = Q_(str(text).strip())
        except Exception as exc:  # pint raises many kinds (TokenError for "5 )", AssertionError for "1 V +")
            raise UnitError(f"cannot parse {text!r} as a quantity: {exc}") from None
        if not isinstance(q, pint.Quantity):  # e.g. "V" alone parses to a Unit-like quantity
            q = Q_(q)
    if expected is not None:
        exp = Q_(1, expected)
        if q.dimensionless and not exp.dimensionless:
            raise UnitError(f"{text!r} has no unit; expected a quantity in {expected}")
        if q.dimensionality != exp.dimensionality:
            raise UnitError(
                f"{text!r} has unit {q.units:~P} ({q.dimensionality}); expected one compatible "
                f"with {expected} ({exp.dimensionality})"
            )
    return q


def _split_prefix(name: str) -> tuple[str, str]:
    for prefix in sorted(_DSI_PREFIXES, key=len, reverse=True):
        if name.startswith(prefix) and name[len(prefix):] in _DSI_UNITS:
            return prefix, name[len(prefix):]
    return "", name


def to_dsi(unit: pint.Unit | str) -> str:
    """D-SI unit string for a pint unit: ``mV`` -> ``\\milli\\volt``, ``m**2`` -> ``\\metre\\tothe{2}``."""
    u = Unit(unit) if isinstance(unit, str) else unit
    if u == Unit("dimensionless"):
        return "\\one"
    parts = []
    for name, power in u._units.items():
        if name in _DSI_UNITS:
            prefix, base = "", name
        else:
            prefix, base = _split_prefix(name)
        if base not in _DSI_UNITS:
            raise UnitError(f"unit {name!r} has no D-SI equivalent in labauto.units")
        text = (f"\\{_DSI_PREFIXES[prefix]}" if prefix else "") + f"\\{_DSI_UNITS[base]}"
        if power != 1:
            p = int(power) if float(power).is_integer() else power
            text += f"\\tothe{{{p}}}"
        parts.append(text)
    return "".join(parts)


_DSI_TOKEN = re.compile(r"\\([a-z]+)(?:\{([-0-9.]+)\})?")


def from_dsi(text: str) -> pint.Unit:
    """pint unit for a D-SI unit string (inverse of :func:`to_dsi` for the units it knows)."""
    unit = Unit("dimensionless")
    prefix = ""
    last = None
    for macro, arg in _DSI_TOKEN.findall(text):
        if macro == "tothe":
            if last is None:
                raise UnitError(f"{text!r}: \\tothe without a unit")
            unit = unit / last * last ** float(arg)
            continue
        if macro in _DSI_PREFIXES:
            prefix = macro
            continue
        if macro == "one":
            last = Unit("dimensionless")
        elif macro in _REVERSE_UNITS:
            last = Unit(prefix + _REVERSE_UNITS[macro])
        else:
            raise UnitError(f"{text!r}: unknown D-SI unit \\{macro}")
        prefix = ""
        unit = unit * last
    return unit


_ENGINEERING_PREFIXES = ("nano", "micro", "milli", "", "kilo", "mega")


def engineering_unit(q: pint.Quantity) -> pint.Unit:
    """The SI-prefixed form of ``q``'s unit that puts |magnitude| in [1, 1000) (nV ... MV), the
    way a certificate states an uncertainty ("6.4 µV", not "6.4e-06 V").  Units that are not a
    single prefixable unit are returned unchanged."""
    units = q.units
    names = list(units._units.items())
    if len(names) != 1 or names[0][1] != 1:
        return units
    _, base = _split_prefix(names[0][0])
    if base not in _DSI_UNITS or base in ("kilogram", "gram", "degree_Celsius"):
        return units
    magnitude = abs(float(q.to(base).magnitude))
    if magnitude == 0:
        return units
    best = base
    for prefix in _ENGINEERING_PREFIXES:
        candidate = f"{prefix}{base}"
        if magnitude / float(ureg.Quantity(1, candidate).to(base).magnitude) >= 1:
            best = candidate
        else:
            break
    return ureg.Unit(best)


_KINDS = (("V", "voltage"), ("A", "current"), ("ohm", "resistance"), ("Hz", "frequency"))


def quantity_kind(unit: pint.Unit | str) -> str:
    """``V`` -> voltage, ``mA`` -> current, ``kΩ`` -> resistance, ``Hz`` -> frequency (else the
    unit's dimensionality as text)."""
    dim = Q_(1, unit).dimensionality
    return next((kind for u, kind in _KINDS if Q_(1, u).dimensionality == dim), str(dim))

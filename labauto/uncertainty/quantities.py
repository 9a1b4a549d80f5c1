"""Unit bookkeeping: every number inside the evaluation is in SI base units.

Inputs keep the unit they were given in for display; arithmetic (GUM and Monte Carlo) runs on
magnitudes in SI base units so that ``mm + nm`` needs no conversion factors in the equations.
Uncertainties, half-widths and sensitivities are *differences*: for offset units (°C, °F)
they are converted as temperature differences (``1 °C`` of uncertainty is ``1 K``, not
``274.15 K``).

Levels in a logarithmic unit of a pure ratio (dB, Np, B, octave, decade) are numbers that
combine additively (an attenuation ``A = A_s + d_A``, its uncertainty ``0.02 dB``): their
"base" is dB (1 Np = 8.686 dB), a value and a difference convert alike, and they are never
converted to the linear ratio.  Logarithmic units with a reference (dBm, dBW, dBV ...) are
refused with a reason: a model states such a level in dB and names the reference.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pint

from labauto.uncertainty.errors import ModelError
from labauto.units import Q_, UnitError, parse_quantity, ureg


def as_quantity(value: Any, what: str) -> pint.Quantity:
    """A pint quantity from a Quantity, a number (dimensionless) or a string like ``"5 mV"``
    (parsed by :func:`labauto.units.parse_quantity`)."""
    if isinstance(value, pint.Quantity):
        return value
    if isinstance(value, bool):
        raise ModelError(f"{what}: expected a quantity, got {value!r}")
    if isinstance(value, (int, float, str)):
        try:
            return parse_quantity(value)
        except UnitError as exc:
            raise ModelError(f"{what}: {exc}") from None
    raise ModelError(f"{what}: expected a quantity such as '5 mV', got {value!r}")


@lru_cache(maxsize=1024)
def is_logarithmic(unit: pint.Unit) -> bool:
    """True for units built on a logarithmic unit (dB, Np, dBm ...)."""
    return any(getattr(getattr(ureg._units.get(name), "converter", None), "is_logarithmic", False)
               for name in unit._units)


_LEVEL_BASE = ureg.Unit("dB")


def _check_level(unit: pint.Unit) -> None:
    """A logarithmic unit must be a level of a pure ratio used alone (dB, not dBm or dB/m)."""
    if len(unit._units) != 1 or next(iter(unit._units.values())) != 1 \
            or not Q_(1.0, unit).dimensionless:
        raise ModelError(f"unit {unit:~P}: a logarithmic unit is supported only as a level of a pure "
                         "ratio used alone (dB, Np, B), whose values add; state a level with a "
                         "reference (dBm, dBV ...) in dB and name the reference in the label or title")


@lru_cache(maxsize=1024)
def is_offset(unit: pint.Unit) -> bool:
    """True for units with an offset (°C, °F) where a value and a difference convert differently."""
    return not Q_(1.0, unit)._is_multiplicative and not is_logarithmic(unit)


@lru_cache(maxsize=1024)
def delta_unit(unit: pint.Unit) -> pint.Unit:
    """The unit of a difference of ``unit`` values (``degC`` -> ``delta_degC``, ``dB`` -> ``dB``)."""
    if is_logarithmic(unit):
        _check_level(unit)
        return unit
    if is_offset(unit):
        names = list(unit._units)
        if len(names) == 1 and unit._units[names[0]] == 1:
            return ureg.Unit("delta_" + names[0])
        raise ModelError(f"unit {unit:~P}: an offset unit (°C, °F) may only be used alone; "
                         "write differences as K or delta_degC")
    return unit


@lru_cache(maxsize=1024)
def base_unit(unit: pint.Unit) -> pint.Unit:
    if is_logarithmic(unit):      # levels are computed in dB (never as the linear ratio)
        delta_unit(unit)
        return _LEVEL_BASE
    return Q_(1.0, delta_unit(unit)).to_base_units().units


@lru_cache(maxsize=1024)
def diff_factor(unit: pint.Unit) -> float:
    """Multiply a difference in ``unit`` by this to get it in SI base units."""
    if is_logarithmic(unit):      # 1 Np of level difference is 8.686 dB
        delta_unit(unit)
        return float(Q_(1.0, unit).to(_LEVEL_BASE).magnitude)
    return float(Q_(1.0, delta_unit(unit)).to_base_units().magnitude)


_FAST_MAGNITUDES = (float, int, np.float64)
_PLAIN_REGISTRY = not (ureg.force_ndarray or ureg.force_ndarray_like)


def quantity(magnitude: Any, unit: pint.Unit) -> pint.Quantity:
    """``Q_(magnitude, unit)`` for a plain scalar magnitude and a pint ``Unit``, without pint's
    general constructor (type dispatch, registry look-up): about 10x faster, the same object.

    Budgets build several quantities per row; this keeps a 50-row budget well under a
    millisecond.  Anything but a float/int scalar goes through ``Q_`` unchanged.
    """
    if _PLAIN_REGISTRY and type(magnitude) in _FAST_MAGNITUDES and isinstance(unit, pint.Unit):
        q = object.__new__(Q_)
        q._magnitude = magnitude
        q._units = unit._units
        return q
    return Q_(magnitude, unit)


_SCALES: dict[Any, "UnitScale"] = {}   # by unit container: pint's Unit == and arithmetic cost µs


class UnitScale:
    """Conversion between a display unit and SI base units, for values and for differences.

    ``base`` (SI base unit), ``delta`` (the unit of a difference: ``delta_degC`` for ``degC``),
    ``factor`` (difference in ``unit`` -> SI base) and ``offset`` (°C, °F) are worked out once
    per unit: ``UnitScale(unit)`` returns the one shared, immutable instance for that unit
    (every input, output and budget row needs them, and pint takes microseconds for each).
    An offset unit inside a product (``degC*m``) is refused here, when the unit is first used.
    """

    __slots__ = ("unit", "base", "delta", "factor", "offset")
    unit: pint.Unit
    base: pint.Unit
    delta: pint.Unit
    factor: float
    offset: bool

    def __new__(cls, unit: pint.Unit) -> "UnitScale":
        key = unit._units
        scale = _SCALES.get(key)
        if scale is None:
            scale = object.__new__(cls)
            offset = is_offset(unit)
            values = (unit, base_unit(unit), delta_unit(unit), diff_factor(unit), offset)
            for name, value in zip(cls.__slots__, values):
                object.__setattr__(scale, name, value)
            if len(_SCALES) > 4096:
                _SCALES.clear()
            _SCALES[key] = scale
        return scale

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("UnitScale is immutable")

    def __reduce__(self) -> tuple:   # unpickles to the shared instance for the unit
        return (UnitScale, (self.unit,))

    def __repr__(self) -> str:
        return f"UnitScale({self.unit:~P})"

    def value_to_base(self, x: float) -> float:
        if not self.offset:
            return float(x) * self.factor
        return float(Q_(x, self.unit).to_base_units().magnitude)

    def value_from_base(self, x: Any) -> pint.Quantity:
        if not self.offset:
            return quantity(x / self.factor, self.unit)
        return Q_(x, self.base).to(self.unit)

    def diff_from_base(self, dx: float) -> pint.Quantity:
        return quantity(dx / self.factor, self.delta)


def _diff_conversion(src_unit: pint.Unit, unit: pint.Unit) -> float | None:
    """pint's factor from differences in ``src_unit`` to differences in ``unit``; None when the
    dimensions differ.  (pint converts multiplicative units as ``value * factor``, so applying
    the cached factor gives the same float as ``Q_(value, src).to(target)``.)"""
    target = delta_unit(unit)
    src = delta_unit(src_unit)
    if is_logarithmic(src) != is_logarithmic(target):
        return None      # 0.02 (a ratio) is not 0.02 dB: pint would convert 1 -> 0 dB
    if Q_(1.0, src).dimensionality != Q_(1.0, target).dimensionality:
        return None
    return Q_(1.0, src).to(target).magnitude


_DIFF_FACTORS: dict[tuple, float | None] = {}   # by unit containers: pint's Unit == is slow
_MISSING = object()


def diff_magnitude(q: pint.Quantity, unit: pint.Unit, what: str) -> float:
    """Magnitude of the difference ``q`` expressed in (the delta form of) ``unit``."""
    key = (q._units, unit._units)
    factor = _DIFF_FACTORS.get(key, _MISSING)
    if factor is _MISSING:
        factor = _diff_conversion(q.units, unit)
        if len(_DIFF_FACTORS) > 4096:
            _DIFF_FACTORS.clear()
        _DIFF_FACTORS[key] = factor
    if factor is None:
        raise ModelError(f"{what}: {q:~P} is not compatible with the estimate's unit {unit:~P}")
    return float(q.magnitude * factor)

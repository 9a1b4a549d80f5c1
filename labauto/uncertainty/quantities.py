"""Unit bookkeeping: every number inside the evaluation is in SI base units.

Inputs keep the unit they were given in for display; arithmetic (GUM and Monte Carlo) runs on
magnitudes in SI base units so that ``mm + nm`` needs no conversion factors in the equations.
Uncertainties, half-widths and sensitivities are *differences*: for offset units (°C, °F)
they are converted as temperature differences (``1 °C`` of uncertainty is ``1 K``, not
``274.15 K``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import pint

from labauto.uncertainty.errors import ModelError
from labauto.units import Q_, ureg


def as_quantity(value: Any, what: str) -> pint.Quantity:
    """A pint quantity from a Quantity, a number (dimensionless) or a string like ``"5 mV"``."""
    if isinstance(value, pint.Quantity):
        return value
    if isinstance(value, bool):
        raise ModelError(f"{what}: expected a quantity, got {value!r}")
    if isinstance(value, (int, float)):
        return Q_(float(value), "dimensionless")
    if isinstance(value, str):
        try:
            q = Q_(value.strip())
        except Exception as exc:  # pint raises many kinds
            raise ModelError(f"{what}: cannot read {value!r} as a quantity ({exc})") from None
        return q if isinstance(q, pint.Quantity) else Q_(q)
    raise ModelError(f"{what}: expected a quantity such as '5 mV', got {value!r}")


@lru_cache(maxsize=1024)
def is_offset(unit: pint.Unit) -> bool:
    """True for units with an offset (°C, °F) where a value and a difference convert differently."""
    return not Q_(1.0, unit)._is_multiplicative


@lru_cache(maxsize=1024)
def delta_unit(unit: pint.Unit) -> pint.Unit:
    """The unit of a difference of ``unit`` values (``degC`` -> ``delta_degC``)."""
    if is_offset(unit):
        names = list(unit._units)
        if len(names) == 1 and unit._units[names[0]] == 1:
            return ureg.Unit("delta_" + names[0])
        raise ModelError(f"unit {unit:~P}: an offset unit (°C, °F) may only be used alone; "
                         "write differences as K or delta_degC")
    return unit


@lru_cache(maxsize=1024)
def base_unit(unit: pint.Unit) -> pint.Unit:
    return Q_(1.0, delta_unit(unit)).to_base_units().units


@lru_cache(maxsize=1024)
def diff_factor(unit: pint.Unit) -> float:
    """Multiply a difference in ``unit`` by this to get it in SI base units."""
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


@dataclass(frozen=True)
class UnitScale:
    """Conversion between a display unit and SI base units, for values and for differences.

    ``base``, ``delta``, ``factor`` and ``offset`` are computed on first use and kept (pint
    unit arithmetic costs microseconds; every budget row needs them).
    """

    unit: pint.Unit

    @cached_property
    def offset(self) -> bool:
        return is_offset(self.unit)

    @cached_property
    def base(self) -> pint.Unit:
        return base_unit(self.unit)

    @cached_property
    def delta(self) -> pint.Unit:
        return delta_unit(self.unit)

    @cached_property
    def factor(self) -> float:
        return diff_factor(self.unit)

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


@lru_cache(maxsize=1024)
def _diff_conversion(src_unit: pint.Unit, unit: pint.Unit) -> float | None:
    """pint's factor from differences in ``src_unit`` to differences in ``unit``; None when the
    dimensions differ.  (pint converts multiplicative units as ``value * factor``, so applying
    the cached factor gives the same float as ``Q_(value, src).to(target)``.)"""
    target = delta_unit(unit)
    src = delta_unit(src_unit)
    if Q_(1.0, src).dimensionality != Q_(1.0, target).dimensionality:
        return None
    return Q_(1.0, src).to(target).magnitude


def diff_magnitude(q: pint.Quantity, unit: pint.Unit, what: str) -> float:
    """Magnitude of the difference ``q`` expressed in (the delta form of) ``unit``."""
    factor = _diff_conversion(q.units, unit)
    if factor is None:
        raise ModelError(f"{what}: {q:~P} is not compatible with the estimate's unit {unit:~P}")
    return float(q.magnitude * factor)

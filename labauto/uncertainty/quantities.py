"""Unit bookkeeping: every number inside the evaluation is in SI base units.

Inputs keep the unit they were given in for display; arithmetic (GUM and Monte Carlo) runs on
magnitudes in SI base units so that ``mm + nm`` needs no conversion factors in the equations.
Uncertainties, half-widths and sensitivities are *differences*: for offset units (°C, °F)
they are converted as temperature differences (``1 °C`` of uncertainty is ``1 K``, not
``274.15 K``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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


@dataclass(frozen=True)
class UnitScale:
    """Conversion between a display unit and SI base units, for values and for differences."""

    unit: pint.Unit

    @property
    def base(self) -> pint.Unit:
        return base_unit(self.unit)

    @property
    def delta(self) -> pint.Unit:
        return delta_unit(self.unit)

    @property
    def factor(self) -> float:
        return diff_factor(self.unit)

    def value_to_base(self, x: float) -> float:
        if not is_offset(self.unit):
            return float(x) * self.factor
        return float(Q_(x, self.unit).to_base_units().magnitude)

    def value_from_base(self, x: Any) -> pint.Quantity:
        if not is_offset(self.unit):
            return Q_(x / self.factor, self.unit)
        return Q_(x, self.base).to(self.unit)

    def diff_from_base(self, dx: float) -> pint.Quantity:
        return Q_(dx / self.factor, self.delta)


def diff_magnitude(q: pint.Quantity, unit: pint.Unit, what: str) -> float:
    """Magnitude of the difference ``q`` expressed in (the delta form of) ``unit``."""
    target = delta_unit(unit)
    src = delta_unit(q.units)
    if Q_(1.0, src).dimensionality != Q_(1.0, target).dimensionality:
        raise ModelError(f"{what}: {q:~P} is not compatible with the estimate's unit {unit:~P}")
    return float(Q_(q.magnitude, src).to(target).magnitude)

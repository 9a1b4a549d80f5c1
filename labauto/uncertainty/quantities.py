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


_UNIT_INFO: dict[Any, tuple[pint.Unit, pint.Unit, float]] = {}   # container -> base, delta, factor
_OFFSET: dict[Any, bool] = {}


@dataclass(frozen=True)
class UnitScale:
    """Conversion between a display unit and SI base units, for values and for differences.

    ``base``, ``delta``, ``factor`` and ``offset`` are looked up once per unit (by its
    container: pint's ``Unit ==`` and unit arithmetic cost microseconds, and every input and
    budget row needs them) and kept on the instance.
    """

    unit: pint.Unit

    def _info(self) -> tuple[pint.Unit, pint.Unit, float]:
        info = self.__dict__.get("_info_")
        if info is None:
            key = self.unit._units
            info = _UNIT_INFO.get(key)
            if info is None:   # (an offset unit in a product raises here, every time)
                info = (base_unit(self.unit), delta_unit(self.unit), diff_factor(self.unit))
                if len(_UNIT_INFO) > 4096:
                    _UNIT_INFO.clear()
                _UNIT_INFO[key] = info
            object.__setattr__(self, "_info_", info)
        return info

    @property
    def offset(self) -> bool:
        off = self.__dict__.get("_offset_")
        if off is None:
            key = self.unit._units
            off = _OFFSET.get(key)
            if off is None:
                if len(_OFFSET) > 4096:
                    _OFFSET.clear()
                off = _OFFSET[key] = is_offset(self.unit)
            object.__setattr__(self, "_offset_", off)
        return off

    @property
    def base(self) -> pint.Unit:
        return self._info()[0]

    @property
    def delta(self) -> pint.Unit:
        return self._info()[1]

    @property
    def factor(self) -> float:
        return self._info()[2]

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

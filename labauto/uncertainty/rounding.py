"""Reporting of a result with its expanded uncertainty per ILAC-P14:09/2020 section 6.

U is stated with two significant digits, rounded *up* (GUM 7.2.6 permits rounding up, which
never understates the uncertainty); the value is then rounded, by ordinary half-up rounding,
to the decimal place of the last digit of the rounded U.
"""
from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import pint

from labauto.units import Q_

SIGNIFICANT_DIGITS = 2


def _quantum(u: Decimal, digits: int) -> Decimal:
    exponent = u.adjusted() - (digits - 1)
    return Decimal(1).scaleb(exponent)


def round_significant(x: float, digits: int, rounding: str) -> Decimal:
    """``x`` (> 0) to ``digits`` significant digits with the Decimal ``rounding`` mode; a carry
    into a new place keeps ``digits`` digits (99 -> 1.0E+2, exponent 1, not 100)."""
    d = Decimal(repr(float(x)))
    r = d.quantize(_quantum(d, digits), rounding=rounding)
    if r.adjusted() > d.adjusted():
        r = r.quantize(_quantum(r, digits), rounding=rounding)
    return r


def round_uncertainty(u: float, digits: int = SIGNIFICANT_DIGITS) -> Decimal:
    """U rounded up to ``digits`` significant digits, e.g. 0.0001234 -> 0.00013."""
    if not math.isfinite(u) or u <= 0:
        raise ValueError(f"an expanded uncertainty must be finite and > 0, got {u!r}")
    return round_significant(u, digits, ROUND_CEILING)


def round_result(value: float, u: float, digits: int = SIGNIFICANT_DIGITS) -> tuple[Decimal, Decimal]:
    """(value, U) as Decimals rounded per ILAC-P14: U to ``digits`` significant digits (up),
    value to the same decimal place (half-up)."""
    ur = round_uncertainty(u, digits)
    vr = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(ur.as_tuple().exponent),
                                               rounding=ROUND_HALF_UP)
    return vr, ur


def round_quantity_pair(value: pint.Quantity, u: pint.Quantity,
                        digits: int = SIGNIFICANT_DIGITS) -> tuple[pint.Quantity, pint.Quantity]:
    """Same as :func:`round_result` for quantities; both expressed in ``u``'s unit."""
    v = value.to(u.units)
    vr, ur = round_result(float(v.magnitude), float(u.magnitude), digits)
    return type(u)(float(vr), u.units), type(u)(float(ur), u.units)


def round_for_report(value: pint.Quantity, u: pint.Quantity, unit: pint.Unit | str | None = None,
                     digits: int = SIGNIFICANT_DIGITS) -> tuple[Decimal, Decimal]:
    """(value, U) as a certificate states them, exact Decimals in ``unit`` (default: U's unit).

    Rounded per :func:`round_result` in U's own unit, then rescaled by the power of ten between
    the units, so a mean in V beside U = 110 µV gets exactly six decimals ("10.000050") with no
    float noise; trailing zeros are kept and a value that rounds to zero has no sign."""
    vr, ur = round_result(float(value.to(u.units).magnitude), float(u.magnitude), digits)
    if unit is not None:
        factor = float(Q_(1, u.units).to(unit).magnitude)
        exponent = round(math.log10(factor))
        if not math.isclose(factor, 10.0 ** exponent, rel_tol=1e-9):
            raise ValueError(f"{u.units} -> {unit} is not a power of ten; report in U's unit")
        vr, ur = vr.scaleb(exponent), ur.scaleb(exponent)
    return (abs(vr) if vr == 0 else vr), ur

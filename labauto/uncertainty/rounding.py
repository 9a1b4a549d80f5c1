"""Reporting of a result with its expanded uncertainty per ILAC-P14:09/2020 section 6.

U is stated with two significant digits, rounded *up* (GUM 7.2.6 permits rounding up, which
never understates the uncertainty); the value is then rounded, by ordinary half-up rounding,
to the decimal place of the last digit of the rounded U.
"""
from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import pint

SIGNIFICANT_DIGITS = 2


def _quantum(u: Decimal, digits: int) -> Decimal:
    exponent = u.adjusted() - (digits - 1)
    return Decimal(1).scaleb(exponent)


def round_uncertainty(u: float, digits: int = SIGNIFICANT_DIGITS) -> Decimal:
    """U rounded up to ``digits`` significant digits, e.g. 0.0001234 -> 0.00013."""
    if not math.isfinite(u) or u <= 0:
        raise ValueError(f"an expanded uncertainty must be finite and > 0, got {u!r}")
    d = Decimal(repr(float(u)))
    q = _quantum(d, digits)
    r = d.quantize(q, rounding=ROUND_CEILING)
    if r.adjusted() > d.adjusted():  # 99 -> 100: keep two significant digits
        r = r.quantize(_quantum(r, digits), rounding=ROUND_CEILING)
    return r


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

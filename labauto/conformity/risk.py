"""Conformance probability and specific risks of a conformity decision (JCGM 106:2012).

The measurand is the error of indication ``E`` of the item; its tolerance interval is
``[-T, +T]`` (the manufacturer's specification).  Knowledge of ``E`` after the measurement is
taken as normal, centred on the measured error ``e`` with standard uncertainty ``u = U/k``
(JCGM 106:2012 clause 7; ILAC-G8:09/2019 assumes the same normal model and k = 2).  Then

    p_c = Phi((T - e)/u) - Phi((-T - e)/u)           conformance probability (JCGM 106 7.4)

and the specific risks of a decision on this one item (JCGM 106:2012 clause 9):

    accepted (pass, conditional pass):  probability of a false accept  = 1 - p_c
    rejected (fail, conditional fail):  probability of a false reject  = p_c

The test uncertainty ratio used here is TUR = T / U (half-width of the tolerance over the
expanded uncertainty of the error, both for the same point).
"""
from __future__ import annotations

import math
from statistics import NormalDist

import pint

_STD_NORMAL = NormalDist()


def conformance_probability(error: pint.Quantity, u: pint.Quantity,
                            tolerance: pint.Quantity) -> float:
    """Probability that the true error lies in ``[-tolerance, +tolerance]`` (normal, σ = u).

    With ``u = 0`` the measured error is taken as exact: 1 inside (limits included), else 0.
    """
    unit = tolerance.units
    e = float(error.to(unit).magnitude)
    s = float(u.to(unit).magnitude)
    t = float(tolerance.magnitude)
    if s < 0 or t < 0:
        raise ValueError("the uncertainty and the tolerance must not be negative")
    if s == 0:
        return 1.0 if abs(e) <= t else 0.0
    upper = _STD_NORMAL.cdf((t - e) / s)
    lower = _STD_NORMAL.cdf((-t - e) / s)
    return max(0.0, min(1.0, upper - lower))


def tur(tolerance: pint.Quantity, expanded_uncertainty: pint.Quantity) -> float:
    """Test uncertainty ratio T / U (``inf`` when U = 0)."""
    U = float(expanded_uncertainty.to(tolerance.units).magnitude)
    return math.inf if U == 0 else float(tolerance.magnitude) / U


def false_accept_bound(r: float, k: float = 2.0) -> float:
    """Largest specific probability of a false accept of a result accepted with the guard band
    w = r·U, far from the other tolerance limit: ``1 - Phi(r k)`` (at the acceptance limit).

    This is how ILAC-G8:09/2019 (4.2, guard-band table) quotes the risk of its rules, e.g.
    r = 1 -> 2.3 % (< 2.5 %), r = 1.5 -> 0.13 % (< 0.16 %), r = 0 -> 50 %.
    """
    return 1.0 - _STD_NORMAL.cdf(r * k)

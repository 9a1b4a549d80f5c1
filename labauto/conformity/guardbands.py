"""Guard bands: the usual TUR-based rules, and guard bands solved for a risk target.

A guard band w moves an acceptance limit inside the tolerance limit (guarded acceptance,
A = T − w) or, for guarded rejection, outside it (R = T + w) — JCGM 106:2012 8.3.  T is the
half-width of a symmetric tolerance, U the expanded uncertainty (k = 2) and TUR = T / U.

=========  ============================================  =========================================
rule       guard band w                                   source
=========  ============================================  =========================================
U          w = U  (A = T − U)                             ILAC-G8:09/2019 4.2.2 (w = r·U, r = 1);
                                                          suncal's "test95"
rss        w = T − √(T² − U²)  (A = √(T² − U²))           root-sum-square method, as implemented in
                                                          Sandia's suncal (risk/guardband_tur.rss:
                                                          A/T = √(1 − 1/TUR²))
rp10       w = U − T/4 for TUR < 4, else 0                NCSLI RP-10 method as implemented in
           (A = min(T, 1.25·T − U))                       suncal (guardband_tur.rp10:
                                                          A/T = 1.25 − 1/TUR, 1 for TUR >= 4)
dobbert    w = M·U, M = 1.04 − exp(0.38·ln TUR − 0.54),   Dobbert, "A Guard-Band Strategy for
           0 where M < 0 (TUR >= 4.6)                     Managing False-Accept Risk", NCSLI Measure
                                                          3(4), 2008 ("Method 6"): keeps the global
                                                          false-accept risk <= 2 % for any
                                                          in-tolerance probability of the population
=========  ============================================  =========================================

Solved guard bands (``scipy.optimize.brentq``):

* :func:`acceptance_limit_for_conformance` — the acceptance limit at which the conformance
  probability of a result is ``p`` (specific risk 1 − p at the limit; JCGM 106 8.3.2: for a
  one-sided limit and a normal measurement A = T − z_p·u, e.g. z_0.95 = 1.645).
* :func:`guard_band_for_global_risk` — the (symmetric) guard band at which the global consumer's
  risk R_C of a population (JCGM 106 9.5) equals a target.
"""
from __future__ import annotations

import math
from typing import Any

from labauto.conformity.global_risk import GlobalRisk, RiskError, global_risk, global_risk_normal

TUR_RULES = ("U", "rss", "rp10", "dobbert")


def dobbert_multiplier(tur: float) -> float:
    """Dobbert's (2008) guard-band multiplier M = 1.04 − exp(0.38 ln TUR − 0.54), >= 0."""
    if not tur > 0:
        raise RiskError(f"TUR must be positive, not {tur}")
    if math.isinf(tur):
        return 0.0
    return max(0.0, 1.04 - math.exp(0.38 * math.log(tur) - 0.54))


def tur_guard_band(rule: str, T: float, U: float) -> float:
    """Guard band w of a TUR-based ``rule`` for the half-tolerance T and expanded uncertainty U
    (w >= T means that the acceptance interval is empty)."""
    if not (T > 0 and U >= 0):
        raise RiskError(f"need a tolerance T > 0 and an expanded uncertainty U >= 0 (T = {T}, U = {U})")
    if U == 0:
        return 0.0
    tur = T / U
    if rule == "U":
        return U
    if rule == "rss":
        return T if U >= T else T - math.sqrt(T * T - U * U)
    if rule == "rp10":
        return max(0.0, U - 0.25 * T)
    if rule == "dobbert":
        return dobbert_multiplier(tur) * U
    raise RiskError(f"unknown guard-band rule {rule!r}; use one of {', '.join(TUR_RULES)}")


def conformance_probability_at(y: float, u: float, lower: float | None, upper: float | None) -> float:
    """p_c of a result y with normal measurement uncertainty u (JCGM 106 7.4)."""
    from scipy.special import ndtr
    hi = 1.0 if upper is None else float(ndtr((upper - y) / u))
    lo = 0.0 if lower is None else float(ndtr((lower - y) / u))
    return hi - lo


def acceptance_limit_for_conformance(p: float, u: float, *, lower: float | None = None,
                                     upper: float | None = None, side: str = "upper") -> float:
    """The acceptance limit on ``side`` at which p_c = ``p`` (0.5 < p < 1).

    Guarded acceptance: results inside the limit conform with probability >= p.  For guarded
    rejection pass ``1 − p``: results beyond the limit are non-conforming with probability >= p.
    """
    from scipy.optimize import brentq
    from scipy.special import ndtri
    if not 0 < p < 1:
        raise RiskError(f"the conformance probability must lie between 0 and 1, not {p}")
    if not u > 0:
        raise RiskError(f"the standard uncertainty must be > 0, not {u}")
    limit = upper if side == "upper" else lower
    if limit is None:
        raise RiskError(f"no {side} tolerance limit to guard")
    sign = 1.0 if side == "upper" else -1.0
    other = lower if side == "upper" else upper
    if other is None:                      # one-sided: closed form
        return limit - sign * float(ndtri(p)) * u
    centre = 0.5 * (lower + upper)         # type: ignore[operator]
    if conformance_probability_at(centre, u, lower, upper) < p:
        raise RiskError(f"no result can reach a conformance probability of {p:g}: the tolerance "
                        f"interval is too narrow for u = {u:g} (at its centre p_c = "
                        f"{conformance_probability_at(centre, u, lower, upper):.4g})")
    far = limit + sign * 40 * u            # p_c ~ 0 there
    return float(brentq(lambda y: conformance_probability_at(y, u, lower, upper) - p, centre, far,
                        xtol=1e-14 * max(1.0, abs(limit)), rtol=1e-13))


def guard_band_for_global_risk(prior: Any, u: float, target: float, *, lower: float | None = None,
                               upper: float | None = None) -> tuple[float, GlobalRisk]:
    """The guard band w >= 0 (applied to every finite tolerance limit) at which R_C = ``target``,
    and the risks with it.  w = 0 when simple acceptance already meets the target.  A normal
    prior (``scipy.stats.norm``) is computed in closed form, any other by quadrature."""
    from scipy.optimize import brentq
    if not 0 < target < 1:
        raise RiskError(f"the target false-accept risk must lie between 0 and 1, not {target}")
    normal = getattr(getattr(prior, "dist", None), "name", "") == "norm" and u > 0

    def risks(w: float) -> GlobalRisk:
        acc = (None if lower is None else lower + w, None if upper is None else upper - w)
        if normal:
            return global_risk_normal(float(prior.mean()), float(prior.std()), u,
                                      tolerance=(lower, upper), acceptance=acc)
        return global_risk(prior, u, tolerance=(lower, upper), acceptance=acc)

    r0 = risks(0.0)
    if r0.consumer_risk <= target:
        return 0.0, r0
    if lower is not None and upper is not None:
        w_max = 0.5 * (upper - lower)      # the acceptance interval closes: R_C = 0
    else:
        s_lo, s_hi = (float(x) for x in prior.support())
        end = max(s_lo, float(prior.ppf(1e-15))) if upper is not None else min(s_hi, float(prior.isf(1e-15)))
        limit = upper if upper is not None else lower
        w_max = abs(limit - end) + 10 * u  # type: ignore[operator]
    w = float(brentq(lambda w: risks(w).consumer_risk - target, 0.0, w_max, xtol=1e-12 * w_max,
                     rtol=1e-10))
    return w, risks(w)

"""Global risks of conformity decisions on a population of items (JCGM 106:2012 clause 9).

The true value Y of an item's property is unknown before it is measured; the process that made
the items (or the population of instruments sent for calibration) gives a *prior* for it, a
probability density g0(η).  The measurement gives Ym = Y + E with E ~ N(0, u²) (u: the
measurement's standard uncertainty, JCGM 106 9.2).  With the tolerance interval C = [T_L, T_U]
and the acceptance interval A = [A_L, A_U] (either may be one-sided: T_L = A_L = -∞):

    P_accept(η) = Φ((A_U − η)/u) − Φ((A_L − η)/u)
    R_C = ∫_{η ∉ C} g0(η) P_accept(η) dη            consumer's risk (JCGM 106 9.5.2)
    R_P = ∫_{η ∈ C} g0(η) (1 − P_accept(η)) dη      producer's risk (JCGM 106 9.5.2)

R_C is the probability that an item taken at random is non-conforming *and* accepted (the
global probability of a false accept; NCSLI's "unconditional PFA"), R_P that it conforms and is
rejected.  Both are computed by adaptive quadrature (``scipy.integrate.quad``) for any prior
with a pdf; for a normal prior :func:`global_risk_normal` gives them in closed form through the
bivariate normal distribution (Owen's T function): the same numbers (to 1e-7, tested) in a few
microseconds, which the guard-band solver uses.

All numbers here are plain floats in one unit (the caller converts); ``prior`` is a frozen
``scipy.stats`` distribution (see :mod:`labauto.conformity.priors` to make one from a
:mod:`labauto.uncertainty.distributions` input).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

INF = math.inf
_TAIL = 1e-15          # prior mass left out beyond each end of the integration range


class RiskError(ValueError):
    """Inputs a global risk cannot be computed from (an empty tolerance, u < 0 ...)."""


@dataclass(frozen=True)
class GlobalRisk:
    """R_C and R_P of one decision rule on one population, and what they were computed from."""

    consumer_risk: float                 # R_C: non-conforming and accepted
    producer_risk: float                 # R_P: conforming and rejected
    conformance_probability: float       # p0: prior probability that an item conforms
    tolerance: tuple[float, float]       # (T_L, T_U); -inf / +inf where one-sided
    acceptance: tuple[float, float]      # (A_L, A_U)
    u: float                             # standard uncertainty of the measurement

    @property
    def conditional_consumer_risk(self) -> float:
        """Probability that an *accepted* item is non-conforming: R_C / P(accept)."""
        accepted = self.conformance_probability - self.producer_risk + self.consumer_risk
        return self.consumer_risk / accepted if accepted > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        lim = lambda x: None if math.isinf(x) else x   # noqa: E731
        return {"consumer_risk": self.consumer_risk, "producer_risk": self.producer_risk,
                "conditional_consumer_risk": self.conditional_consumer_risk,
                "conformance_probability": self.conformance_probability,
                "tolerance": {"lower": lim(self.tolerance[0]), "upper": lim(self.tolerance[1])},
                "acceptance": {"lower": lim(self.acceptance[0]), "upper": lim(self.acceptance[1])},
                "u": self.u}


def _limits(lower: float | None, upper: float | None, what: str) -> tuple[float, float]:
    lo = -INF if lower is None else float(lower)
    hi = INF if upper is None else float(upper)
    if math.isnan(lo) or math.isnan(hi) or (math.isinf(lo) and math.isinf(hi)):
        raise RiskError(f"the {what} interval needs at least one finite limit")
    if lo > hi:
        raise RiskError(f"the {what} interval is empty: lower limit {lo:g} > upper limit {hi:g}")
    return lo, hi


def _accept_probability(eta: float, a_lo: float, a_hi: float, u: float) -> float:
    from scipy.special import ndtr
    if a_lo > a_hi:
        return 0.0
    if u == 0:
        return 1.0 if a_lo <= eta <= a_hi else 0.0
    hi = 1.0 if math.isinf(a_hi) else float(ndtr((a_hi - eta) / u))
    lo = 0.0 if math.isinf(a_lo) else float(ndtr((a_lo - eta) / u))
    return hi - lo


def _quad(f, a: float, b: float, points: list[float]) -> float:
    from scipy.integrate import quad
    if not a < b:
        return 0.0
    inner = sorted({p for p in points if a < p < b})
    edges = [a, *inner, b]
    total = 0.0
    for lo, hi in zip(edges, edges[1:]):
        value, _ = quad(f, lo, hi, limit=200, epsabs=1e-14, epsrel=1e-10)
        total += value
    return total


def global_risk(prior: Any, u: float, *, tolerance: tuple[float | None, float | None],
                acceptance: tuple[float | None, float | None] | None = None) -> GlobalRisk:
    """R_C and R_P for items from ``prior`` measured with standard uncertainty ``u``.

    ``tolerance`` = (T_L, T_U) and ``acceptance`` = (A_L, A_U), ``None`` for a missing limit
    (one-sided); the acceptance interval defaults to the tolerance interval (simple acceptance).
    An acceptance interval with A_L > A_U (a guard band wider than the tolerance) accepts
    nothing.
    """
    t_lo, t_hi = _limits(*tolerance, what="tolerance")
    if acceptance is None:
        a_lo, a_hi = t_lo, t_hi
    else:
        a_lo = -INF if acceptance[0] is None else float(acceptance[0])
        a_hi = INF if acceptance[1] is None else float(acceptance[1])
    u = float(u)
    if not (u >= 0 and math.isfinite(u)):
        raise RiskError(f"the measurement's standard uncertainty must be finite and >= 0, not {u}")
    s_lo, s_hi = (float(x) for x in prior.support())
    lo = max(s_lo, float(prior.ppf(_TAIL))) if math.isinf(s_lo) else s_lo
    hi = min(s_hi, float(prior.isf(_TAIL))) if math.isinf(s_hi) else s_hi
    # reach a few u beyond the acceptance limits so that the tails of P_accept are integrated
    pts = [x for x in (t_lo, t_hi, a_lo, a_hi) if math.isfinite(x)]
    if u > 0:
        pts += [x + d * u for x in (a_lo, a_hi) if math.isfinite(x) for d in (-4, -1, 1, 4)]

    def accept(eta: float) -> float:
        return float(prior.pdf(eta)) * _accept_probability(eta, a_lo, a_hi, u)

    def reject(eta: float) -> float:
        return float(prior.pdf(eta)) * (1.0 - _accept_probability(eta, a_lo, a_hi, u))

    r_c = _quad(accept, lo, min(t_lo, hi), pts) + _quad(accept, max(t_hi, lo), hi, pts)
    r_p = _quad(reject, max(t_lo, lo), min(t_hi, hi), pts)
    p0 = float(prior.cdf(t_hi)) - (float(prior.cdf(t_lo)) if math.isfinite(t_lo) else 0.0)
    return GlobalRisk(consumer_risk=max(r_c, 0.0), producer_risk=max(r_p, 0.0),
                      conformance_probability=p0, tolerance=(t_lo, t_hi), acceptance=(a_lo, a_hi),
                      u=u)


def bivariate_normal_cdf(h: float, k: float, rho: float) -> float:
    """P(X <= h, Y <= k) for standard normal X, Y with correlation |rho| < 1, through Owen's T
    function (D. B. Owen, Ann. Math. Stat. 27 (1956) 1075, eq. 3.1; ``scipy.special.owens_t``)."""
    from scipy.special import ndtr, owens_t
    if h == -INF or k == -INF:
        return 0.0
    if h == INF:
        return float(ndtr(k))
    if k == INF:
        return float(ndtr(h))
    s = math.sqrt((1.0 - rho) * (1.0 + rho))
    hh = h if h != 0 else 1e-300          # T(0, a) = atan(a)/2π: the limit, without 0/0
    kk = k if k != 0 else 1e-300
    beta = 0.5 if (h * k < 0 or (h * k == 0 and h + k < 0)) else 0.0
    return float(0.5 * ndtr(h) + 0.5 * ndtr(k) - owens_t(hh, (kk - rho * hh) / (hh * s))
                 - owens_t(kk, (hh - rho * kk) / (kk * s)) - beta)


def global_risk_normal(mean: float, sd: float, u: float, *,
                       tolerance: tuple[float | None, float | None],
                       acceptance: tuple[float | None, float | None] | None = None) -> GlobalRisk:
    """The same for a normal prior N(mean, sd²), in closed form: (Y, Ym) is bivariate normal
    with variances sd², sd² + u² and covariance sd² (JCGM 106:2012 9.5.2, normal PDFs), its
    distribution function from :func:`bivariate_normal_cdf` (a few µs per call)."""
    from scipy.special import ndtr

    t_lo, t_hi = _limits(*tolerance, what="tolerance")
    a_lo, a_hi = (t_lo, t_hi) if acceptance is None else (
        -INF if acceptance[0] is None else float(acceptance[0]),
        INF if acceptance[1] is None else float(acceptance[1]))
    if not (sd > 0 and u > 0):
        raise RiskError("the closed form needs a prior standard deviation > 0 and u > 0")
    sm = math.hypot(sd, u)
    rho = sd / sm

    def F(a: float, b: float) -> float:          # P(Y <= a, Ym <= b)
        return bivariate_normal_cdf((a - mean) / sd, (b - mean) / sm, rho)

    def box(y1: float, y2: float, m1: float, m2: float) -> float:   # P(y1<Y<=y2, m1<Ym<=m2)
        if y1 >= y2 or m1 >= m2:
            return 0.0
        return F(y2, m2) - F(y1, m2) - F(y2, m1) + F(y1, m1)

    r_c = box(-INF, t_lo, a_lo, a_hi) + box(t_hi, INF, a_lo, a_hi)
    r_p = box(t_lo, t_hi, -INF, a_lo) + box(t_lo, t_hi, a_hi, INF)
    p0 = float(ndtr((t_hi - mean) / sd) - ndtr((t_lo - mean) / sd))
    return GlobalRisk(consumer_risk=max(r_c, 0.0), producer_risk=max(r_p, 0.0),
                      conformance_probability=p0, tolerance=(t_lo, t_hi), acceptance=(a_lo, a_hi),
                      u=float(u))

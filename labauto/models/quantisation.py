"""The mean of n readings rounded to steps of q when noise of standard deviation σ precedes the
rounding (a power supply's readback: its ADC's noise, then the display's last digit).

Reading i is r_i = Q(y + e_i), e_i ~ N(0, σ²), Q rounding to the nearest multiple of q, y the
indication before rounding.  Where y lies within its step is unknown, so it is taken uniform
over the step (the state of knowledge behind GUM F.2.2.1's u² = q²/12 for a resolution q).
The rounding error ε(x) = Q(x) − x is the sawtooth Σ_k (q/πk)(−1)^k sin(2πkx/q); averaged over
the noise each harmonic is damped by the normal characteristic function at 2πk/q, so the bias
the n readings share is::

    b(y) = E[ε(y + e)] = Σ_k (q/πk)(−1)^k exp(−2π²k²σ²/q²) sin(2πky/q)

and, over y uniform in the step (Parseval):

    B(σ) = Var b = (q²/2π²) Σ_k exp(−4π²k²σ²/q²)/k²        (B(0) = q²/12, GUM F.2.2.1)
    W(σ) = E Var(r_i | y) = σ² + q²/12 − B(σ)                (E(e + ε)² = σ² + q²/12 exactly)
    u²(mean − y) = B(σ) + W(σ)/n

B is the part of the rounding the mean keeps however many readings are taken (a fixed ±q/2 for
σ ≪ q); W/n the part it averages like noise.  For σ ≳ q/2, B < 3·10⁻⁶ q² and the rounding
acts as independent noise of variance q²/12 per reading (the quantising theorem of Widrow,
from memory: B. Widrow and I. Kollár, Quantization Noise, Cambridge University Press, 2008;
the same limit is Sheppard's correction).  Lira and Wöger (Meas. Sci. Technol. 8 (1997) 441,
from memory, not checked here) treat the same problem by Bayesian inference from the readings
of one series; here σ is known from a characterisation instead (labauto.models.readback_noise),
so the budget needs no worst case.

:func:`fit_noise` estimates σ from many rounded readings at several levels: maximum likelihood
of the rounded normal (each level its own y, one σ), its standard uncertainty from the observed
information, degrees of freedom by GUM G.4.2 (eq. G.3): ν ≈ ½ (u(σ)/σ)⁻².
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

HARMONICS = 64


def _damping(q: float, sigma: float, k: np.ndarray) -> np.ndarray:
    return np.exp(-2.0 * math.pi ** 2 * k ** 2 * sigma ** 2 / q ** 2)


def _harmonics(q: float, sigma: float) -> np.ndarray:
    """Enough harmonics that the ones left out are damped below 1e-30 (at least 64)."""
    m = HARMONICS if sigma <= 0 else max(HARMONICS, min(100_000, int(2 * q / sigma) + 1))
    return np.arange(1, m + 1, dtype=float)


def bias_variance(q: float, sigma: float) -> float:
    """B(σ): variance, over the unknown position in the step, of the rounding bias the n
    readings of one point share."""
    if q <= 0:
        return 0.0
    if sigma <= 0:
        return q ** 2 / 12       # GUM F.2.2.1: the whole rounding error, rectangular
    k = _harmonics(q, sigma)
    return float(q ** 2 / (2 * math.pi ** 2) * np.sum(_damping(q, sigma, k) ** 2 / k ** 2))


def within_variance(q: float, sigma: float) -> float:
    """W(σ): the expected variance of one point's rounded readings about their own mean."""
    return max(0.0, sigma ** 2 + q ** 2 / 12 - bias_variance(q, sigma))


def mean_variance(q: float, sigma: float, n: int) -> float:
    """u²(mean − y) of n rounded readings: B(σ) + W(σ)/n."""
    return bias_variance(q, sigma) + within_variance(q, sigma) / n


def bias(q: float, sigma: float, y: np.ndarray | float) -> np.ndarray:
    """b(y): the expected rounding error at y (the bias the readings of one point share)."""
    k = _harmonics(q, sigma)
    y = np.atleast_1d(np.asarray(y, dtype=float))
    terms = (q / (math.pi * k)) * (-1.0) ** k * _damping(q, sigma, k)
    return np.sin(2 * math.pi * np.outer(y, k) / q) @ terms


def bias_excess_kurtosis(q: float, sigma: float, points: int = 4096) -> float:
    """Excess kurtosis of b(y), y uniform over the step: −1.2 for σ = 0 (the rectangular
    sawtooth), → −1.5 (arcsine: one sinusoid) as the noise damps the higher harmonics."""
    b = bias(q, sigma, (np.arange(points) + 0.5) * q / points)
    m2 = float(np.mean(b ** 2))
    return float(np.mean(b ** 4)) / m2 ** 2 - 3.0 if m2 > 0 else -1.5


@dataclass(frozen=True)
class NoiseFit:
    """σ of the noise ahead of the rounding, from ``readings`` rounded readings at ``levels``
    levels; and the plain pooled standard deviation of the rounded readings (GUM 4.2.4)."""

    sigma: float
    u_sigma: float
    dof: float
    pooled_s: float
    pooled_dof: int
    levels: int
    readings: int


def pooled(series: Sequence[Sequence[float]]) -> tuple[float, int]:
    """GUM 4.2.4's pooled experimental standard deviation of several series and its
    degrees of freedom Σ(n_j − 1)."""
    ss, dof = 0.0, 0
    for s in series:
        x = np.asarray(s, dtype=float)
        if x.size > 1:
            ss += float(np.sum((x - x.mean()) ** 2))
            dof += x.size - 1
    if dof == 0:
        raise ValueError("a pooled standard deviation needs a series of two readings or more")
    return math.sqrt(ss / dof), dof


def _log_cells(k: float, y: np.ndarray, z: float) -> np.ndarray:
    """log P(reading = k q | y q, σ = z q) at each y: log(Φ(b) − Φ(a)) on the tail that keeps
    its digits."""
    from scipy.special import log_ndtr

    a, b = (k - 0.5 - y) / z, (k + 0.5 - y) / z
    upper = a > 0
    a, b = np.where(upper, -b, a), np.where(upper, -a, b)
    la, lb = log_ndtr(a), log_ndtr(b)
    return lb + np.log(-np.expm1(np.minimum(la - lb, -1e-300)))


def _marginal(steps: list[np.ndarray], z: float, grid: int = 2001) -> float:
    """The log-likelihood of σ = z q, each level's y unknown and uniform (the same state of
    knowledge as the budget's): Σ_j log ∫ Π_i P(k_ij | y, σ) dy, y in units of q."""
    from scipy.special import logsumexp

    total = 0.0
    for k in steps:
        values, counts = np.unique(k, return_counts=True)
        y = np.linspace(values[0] - 0.5 - 8 * z, values[-1] + 0.5 + 8 * z, grid)
        log_l = sum(c * _log_cells(v, y, z) for v, c in zip(values, counts))
        total += float(logsumexp(log_l) + math.log(y[1] - y[0]))
    return total


def fit_noise(series: Sequence[Sequence[float]], q: float) -> NoiseFit:
    """Maximum-likelihood σ of the normal noise ahead of rounding to ``q``, from several
    ``series`` (one per level, each with its own y, unknown and uniform over the step, one
    common σ): the marginal likelihood of σ, its curvature for u(σ).  (With each level's y a
    free parameter σ ≪ q could not be told apart: any small σ reproduces a split of a level's
    readings between two steps with y close enough to the boundary.)"""
    from scipy.optimize import minimize_scalar

    if q <= 0:
        raise ValueError(f"the resolution must be positive, not {q!r}")
    steps = [np.rint(np.asarray(s, dtype=float) / q) for s in series]
    s_p, nu_p = pooled(series)
    n = sum(s.size for s in steps)
    lo, hi = math.log(1e-3), math.log(10.0)          # σ/q searched in [0.001, 10]
    best = minimize_scalar(lambda t: -_marginal(steps, math.exp(t)), bounds=(lo, hi),
                           method="bounded", options={"xatol": 1e-5})
    t = float(best.x)
    if t <= lo + 1e-3:      # every series constant: no noise seen ahead of the rounding
        return NoiseFit(0.0, 0.0, math.inf, s_p, nu_p, len(steps), n)
    h = 1e-3
    curv = -(_marginal(steps, math.exp(t + h)) - 2 * _marginal(steps, math.exp(t))
             + _marginal(steps, math.exp(t - h))) / h ** 2
    sigma = math.exp(t) * q
    u_sigma = sigma / math.sqrt(curv) if curv > 0 else math.inf
    dof = 0.5 * (sigma / u_sigma) ** 2 if math.isfinite(u_sigma) else 0.0
    return NoiseFit(sigma, u_sigma, dof, s_p, nu_p, len(steps), n)

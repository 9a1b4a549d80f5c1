"""A 95 % coverage interval valid for a non-Gaussian output of a linear model.

The GUM uncertainty framework (GUF) states U = k u_c with k = t_0.975(ν_eff): it assumes the
output is Gaussian (or scaled t).  When a bounded input dominates u_c (a reference known by
its specification limits: a rectangular distribution), the output is nearly rectangular and
its 95 % interval is about 1.65 u_c wide on each side, not 1.96 u_c: the GUF interval then
covers nearly 100 % (JCGM 101:2008 9.2.4: GUF [-19.9, 19.9], Monte Carlo [-17.0, 17.0]).

For a model that is *linear* in *independent* inputs with *symmetric* distributions (every
measurement model of labauto.models) the output's distribution is the convolution of the
scaled input distributions: the propagation of distributions (JCGM 101:2008 5.2) done
numerically instead of by Monte Carlo.  Its characteristic function is the product of the
inputs' (rectangular sin(at)/(at), triangular and trapezoidal products of those, arcsine
J0(at), normal exp(−σ²t²/2), scaled t_ν (JCGM 101 6.4.9: a Type A mean, scale s/√n) by
K_ν/2); for Y − y symmetric and contained in [−L, L] its Fourier series gives exactly::

    P(|Y − y| ≤ x) = x/L + (2/π) Σ_k≥1 φ(πk/L) sin(πkx/L)/k

evaluated at K points at once by one discrete sine transform.  The probabilistically
symmetric 95 % interval (here also the shortest: the density is symmetric and unimodal for
these inputs) is y ± U with P(|Y − y| ≤ U) = 0.95.

:func:`validated_budget` validates the GUF interval against it as JCGM 101:2008 clause 8
does against Monte Carlo: with δ the numerical tolerance of u_c stated to two significant
digits (7.9.2), the GUF is validated when |U_GUF − U| ≤ δ (the intervals are both symmetric
about y, so d_low = d_high).  Validated: the GUM budget as it is.  Not validated: the budget
states U from the propagated distribution, k = U/u_c, and its ``method`` says so.  Where no
bounded input has weight (Cornish-Fisher: the bounded inputs' excess kurtosis moves k by less
than a quarter of δ/u_c) the GUF is taken as validated without computing anything — a budget
of normal and t inputs is what the GUF was made for.  A model that is not linear, has
correlated or asymmetric inputs keeps its GUM budget (use Monte Carlo: labauto.uncertainty.
monte_carlo).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from labauto.uncertainty.budget import UncertaintyBudget
from labauto.uncertainty.distributions import (Arcsine, Constant, Normal, Rectangular, StudentT,
                                               Trapezoidal, Triangular)
from labauto.uncertainty.montecarlo import numerical_tolerance

TERMS = 1024                    # Fourier terms (and points of the CDF grid)
_Z95 = 1.959963984540054
_CF_SLOPE = (_Z95 ** 3 - 3 * _Z95) / 24   # Cornish-Fisher: Δk ≈ this × excess kurtosis
NOT_VALIDATED = "GUM framework not validated"
METHOD_NOTE = ("; " + NOT_VALIDATED + " for this output (JCGM 101:2008 clause 8): U is "
               "the half-width of the {p:.0%} probabilistically symmetric coverage interval of "
               "the output's distribution, propagated by convolution of the input "
               "distributions (linear model), k = U/u_c")


# ----------------------------------------------------------------------- characteristic functions
def _t_cf(t: np.ndarray, s: float, nu: float) -> np.ndarray:
    """Characteristic function of s·T_ν: (√ν s|t|)^{ν/2} K_{ν/2}(√ν s|t|) / (Γ(ν/2) 2^{ν/2−1})."""
    from scipy.special import gammaln, kve

    x = math.sqrt(nu) * s * np.abs(t)
    h = nu / 2
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        log_phi = h * np.log(x) + np.log(kve(h, x)) - x - gammaln(h) - (h - 1) * math.log(2.0)
        phi = np.exp(log_phi)
    phi[x == 0] = 1.0
    # K_{ν/2}(x) overflows for a large order at small x (ν ≳ 300: a pooled or characterised
    # standard deviation); there the t_ν's CF is the normal one, exp(−s²t²/2), to O(1/ν) —
    # not 0, which made a large-ν input's interval several times too wide
    return np.where(np.isfinite(phi), phi, np.exp(-0.5 * (s * t) ** 2))


def _sinc(t: np.ndarray, a: float) -> np.ndarray:
    """sin(at)/(at) for t > 0 (a > 0; a = 0 gives 1)."""
    if a == 0:
        return np.ones_like(t)
    at = a * t
    return np.sin(at) / at


class _Term:
    """One input's contribution to Y − y: kind, its size in the output's base unit, and ``u``
    its standard uncertainty there (|c| × the distribution's own u(x))."""

    __slots__ = ("kind", "a", "b", "nu", "u")

    def __init__(self, kind: str, a: float, b: float = 0.0, nu: float = math.inf, *, u: float):
        self.kind, self.a, self.b, self.nu, self.u = kind, a, b, nu, u

    def cf(self, t: np.ndarray) -> np.ndarray:
        if self.kind == "normal":
            return np.exp(-0.5 * (self.a * t) ** 2)
        if self.kind == "t":
            return _t_cf(t, self.a, self.nu)
        if self.kind == "rectangular":
            return _sinc(t, self.a)
        if self.kind == "trapezoidal":     # two rectangulars of half-widths a and b
            return _sinc(t, self.a) * _sinc(t, self.b)
        from scipy.special import j0
        return j0(self.a * t)            # arcsine

    @property
    def reach(self) -> float:
        """A bound of |contribution| that leaves no probability worth counting outside."""
        if self.kind == "normal":
            return 9.0 * self.a
        if self.kind == "t":
            return self.a * _t_quantile(self.nu)
        return self.a + self.b

    @property
    def variance(self) -> float:
        return self.u ** 2

    @property
    def fourth_cumulant(self) -> float:
        """κ4 of a bounded term (its excess kurtosis × variance²); 0 for normal and t."""
        if self.kind == "rectangular":
            return -1.2 * self.variance ** 2
        if self.kind == "trapezoidal":
            return -1.2 * (self.a ** 4 + self.b ** 4) / 9
        if self.kind == "arcsine":
            return -1.5 * self.variance ** 2
        return 0.0


@lru_cache(maxsize=256)
def _t_quantile(nu: float) -> float:
    from scipy.stats import t
    return float(t.ppf(1 - 2e-6, nu))


def _term(dist: Any, c: float) -> _Term | None:
    """The input as a term of Y − y (sensitivity ``c``, base units); None when not supported."""
    f = abs(c) * dist.scale.factor
    u = f * dist.u_mag
    if type(dist) is Rectangular:
        return _Term("rectangular", f * dist.a, u=u)
    if type(dist) is Triangular:      # two equal rectangulars of half-width a/2
        return _Term("trapezoidal", f * dist.a / 2, f * dist.a / 2, u=u)
    if type(dist) is Trapezoidal:
        return _Term("trapezoidal", f * dist.a * (1 + dist.beta) / 2, f * dist.a * (1 - dist.beta) / 2,
                     u=u)
    if type(dist) is Arcsine:
        return _Term("arcsine", f * dist.a, u=u)
    if type(dist) is Normal:
        return _Term("normal", u, u=u)
    if isinstance(dist, StudentT) and dist.dof > 2:
        return _Term("t", f * dist.scale_mag, nu=dist.dof, u=u)
    return None


def scaled_term(kind: str, u: float, dof: float = math.inf) -> _Term | None:
    """A term of Y − y of standard uncertainty ``u`` whose distribution is ``kind`` (a budget
    row's: "normal", "rectangular", "triangular", "arcsine", "t" with ``dof``); None for a
    shape the row does not determine (a trapezoid's β, a gamma)."""
    u = abs(float(u))
    if kind in ("normal", "Type A"):
        return _Term("normal", u, u=u)
    if kind == "rectangular":
        return _Term("rectangular", math.sqrt(3.0) * u, u=u)
    if kind == "triangular":           # two equal rectangulars of half-width a/2, a = √6 u
        return _Term("trapezoidal", math.sqrt(6.0) * u / 2, math.sqrt(6.0) * u / 2, u=u)
    if kind == "arcsine":
        return _Term("arcsine", math.sqrt(2.0) * u, u=u)
    if kind == "t" and dof > 2:
        return _Term("t", u * math.sqrt((dof - 2) / dof), nu=dof, u=u)
    return None


# ----------------------------------------------------------------------- the interval
def symmetric_halfwidth(terms: list[_Term], p: float = 0.95) -> float:
    """x with P(|Σ terms| ≤ x) = p for independent symmetric terms (base units)."""
    from scipy.fft import dst

    terms = [t for t in terms if t.a > 0 or t.b > 0]
    if not terms:
        return 0.0
    L = 1.05 * sum(t.reach for t in terms)
    k = np.arange(1, TERMS, dtype=float)
    omega = math.pi * k / L
    phi = np.ones_like(omega)
    for t in terms:
        phi *= t.cf(omega)
    # DST-I: out[j] = 2 Σ_n c[n] sin(π (j+1)(n+1) / TERMS), x_j = (j+1) L / TERMS
    series = dst(phi / k, type=1)
    x = L * np.arange(1, TERMS, dtype=float) / TERMS
    G = x / L + series / math.pi
    G = np.maximum.accumulate(np.clip(G, 0.0, 1.0))   # a CDF of |Y| is non-decreasing
    i = int(np.searchsorted(G, p))
    if i == 0:
        return float(x[0] * p / max(G[0], 1e-300))
    if i >= G.size:
        return float(x[-1])
    g0, g1 = G[i - 1], G[i]
    return float(x[i - 1] + (x[i] - x[i - 1]) * ((p - g0) / (g1 - g0) if g1 > g0 else 0.0))


def _linear(tree: Any, constants: frozenset[str] = frozenset()) -> bool:
    """The tree is linear in its variables (sums, differences, multiples by constants: literals
    and the names in ``constants``, the model's :class:`Constant` inputs, e.g. a sensitivity)."""
    op = tree[0]
    if op in ("c", "v"):
        return True
    if op in ("+", "-"):
        return _linear(tree[1], constants) and _linear(tree[2], constants)
    if op == "neg":
        return _linear(tree[1], constants)
    if op == "*":
        return ((_constant(tree[1], constants) and _linear(tree[2], constants))
                or (_constant(tree[2], constants) and _linear(tree[1], constants)))
    if op == "/":
        return _linear(tree[1], constants) and _constant(tree[2], constants)
    return False


def _constant(tree: Any, constants: frozenset[str] = frozenset()) -> bool:
    op = tree[0]
    if op == "c":
        return True
    if op == "v":
        return tree[1] in constants
    return all(_constant(t, constants) for t in tree[1:] if isinstance(t, tuple))


def output_terms(gum_result: Any, output: str) -> list[_Term] | None:
    """The terms of output − estimate, or None when the convolution does not apply (a model
    not linear, correlated inputs, an input distribution that is not symmetric)."""
    model = gum_result.model
    tree = getattr(model, "trees", {}).get(output)
    constants = frozenset(n for n, d in model.inputs.items() if isinstance(d, Constant))
    if tree is None or not _linear(tree, constants):
        return None
    deps = model.dependencies[output]
    if any(r != 0.0 and a in deps and b in deps for (a, b), r in model.correlations.items()):
        return None
    j = model.outputs.index(output)
    terms = []
    for n in deps:
        dist = model.inputs[n]
        if isinstance(dist, Constant):
            continue
        term = _term(dist, float(gum_result.jacobian[j, model.input_index[n]]))
        if term is None:
            return None
        terms.append(term)
    return terms


def gum_interval_needs_check(terms: list[_Term], u_c: float, delta: float) -> bool:
    """False when the bounded terms cannot move k by as much as a quarter of δ/u_c (their
    excess kurtosis through the Cornish-Fisher expansion): the GUF interval stands."""
    if u_c <= 0:
        return False
    kurtosis = sum(t.fourth_cumulant for t in terms) / u_c ** 4
    return abs(_CF_SLOPE * kurtosis) * u_c > delta / 4


def validated_budget(gum_result: Any, output: str | None = None, coverage_probability: float = 0.95,
                     ndig: int = 2, k: float | None = None) -> UncertaintyBudget:
    """The GUM budget of ``output`` with a coverage interval valid for a non-Gaussian output
    (see the module's docstring): the GUM's U where JCGM 101 clause 8 validates it, otherwise
    U from the propagated distribution and the method saying so.  A coverage factor ``k``
    stated by the procedure (EA-4/02's k = 2) is the lab's choice: that budget as it is."""
    y = gum_result.model._output(output)
    if k is not None:
        return gum_result.budget(y, coverage_probability=coverage_probability, k=k)
    budget = gum_result.budget(y, coverage_probability=coverage_probability)
    terms = output_terms(gum_result, y)
    if terms is None:
        return budget
    scale = gum_result.model.output_scales[y]
    u_c = float(budget.combined_uncertainty.magnitude) * scale.factor
    delta = numerical_tolerance(u_c, ndig)
    if not gum_interval_needs_check(terms, u_c, delta):
        return budget
    U = symmetric_halfwidth(terms, coverage_probability)
    U_gum = float(budget.expanded_uncertainty.magnitude) * scale.factor
    if abs(U_gum - U) <= delta:
        return budget
    from dataclasses import replace
    return replace(budget, expanded_uncertainty=scale.diff_from_base(U), coverage_factor=U / u_c,
                   method=budget.method + METHOD_NOTE.format(p=coverage_probability))


def is_propagated(budget: UncertaintyBudget) -> bool:
    """The budget's U is the propagated distribution's (the GUM interval was not validated)."""
    return NOT_VALIDATED in budget.method


__all__ = ["is_propagated", "output_terms", "scaled_term", "symmetric_halfwidth", "validated_budget"]

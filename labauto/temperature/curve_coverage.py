"""The 95 % coverage interval of a fitted curve's value, from its propagated distribution.

A weighted fit is linear in the points' values: the curve at t is h(t)·y with
h(t) = b(t)^T (A^T W A)^-1 A^T W (b the basis at t, A the design, W = diag 1/u(y_i)^2; the
coefficients' covariance propagated from the points' covariance is what
labauto.uncertainty.regression.linear_fit gives).  Each point's value is a sum of its budget's
inputs, and an input the points share (labauto.temperature.budgets.SHARED: the reference's
calibration within a sub-range, a heat source's gradients, the readouts ...) is *one*
variable in all of them.  So the curve's error at t is a sum of independent terms -- per
shared input Σ_i h_i(t) c_i u_i, per point's own input h_i(t) c_i u_i -- with the inputs'
distributions, and its 95 % interval is the convolution's
(labauto.uncertainty.convolution.symmetric_halfwidth), JCGM 101:2008 5.2 as the points' own
budgets do (labauto.temperature.budgets.point_budget).

Where a rectangular input dominates (a furnace's ±1 K non-uniformity, shared by every point of
the run) the curve's error is nearly rectangular: ±2 u covers about 97.6 %, not 95 %, and the
95 % interval is about ±1.8 u.  As :func:`labauto.uncertainty.convolution.validated_budget`
does for a point, k = 2 (the GUM framework's) stands where the bounded inputs cannot move the
interval by a numerical tolerance of u (JCGM 101 clause 8), otherwise k = U/u from the
propagated distribution.  A row whose shape a budget does not determine (a trapezoid) leaves
k = 2; a coverage factor the procedure states (EA-4/02's k = 2) is the curve's too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: the coverage factor stated where the propagated distribution is not used
GUM_K = 2.0


@dataclass(frozen=True)
class CurveCoverage:
    """The inputs of a fit's points as independent variables: ``groups`` (kind, dof, the
    contribution c_i u_i of the variable to each point's value, in the fit's y unit), and
    the fit's linear map from the points' values to its linear parameters."""

    groups: tuple[tuple[str, float, np.ndarray], ...]
    coefficient_map: np.ndarray          # p x n: the linear parameters = map @ y
    coverage_probability: float = 0.95
    stated_k: float | None = None        # the procedure's coverage factor: the lab's choice

    def terms_at(self, basis: np.ndarray) -> list[tuple[str, float, float]]:
        """(kind, dof, u) of each independent term of the curve's value b·p (y unit)."""
        h = np.asarray(basis, dtype=float) @ self.coefficient_map
        return [(kind, dof, abs(float(h @ c))) for kind, dof, c in self.groups]

    def u_at(self, basis: np.ndarray) -> float:
        """The curve's standard uncertainty (y unit): the root sum of squares of the terms
        (the fit's own b^T V b, V propagated from the points' covariance)."""
        return math.sqrt(sum(u * u for _, _, u in self.terms_at(basis)))

    def k_at(self, basis: np.ndarray) -> float:
        """The coverage factor of the curve's value at the basis ``basis``."""
        from labauto.uncertainty.convolution import (gum_interval_needs_check, scaled_term,
                                                     symmetric_halfwidth)
        from labauto.uncertainty.montecarlo import numerical_tolerance

        if self.stated_k is not None:
            return float(self.stated_k)
        raw = [(scaled_term(kind, u, dof), u) for kind, dof, u in self.terms_at(basis) if u > 0]
        if not raw or any(t is None for t, _ in raw):
            return GUM_K
        terms = [t for t, _ in raw]
        u_c = math.sqrt(sum(u * u for _, u in raw))
        delta = numerical_tolerance(u_c, 2)
        if not gum_interval_needs_check(terms, u_c, delta):
            return GUM_K
        U = symmetric_halfwidth(terms, self.coverage_probability)
        return GUM_K if abs(GUM_K * u_c - U) <= delta else U / u_c


def curve_coverage(design: np.ndarray, results: Sequence[Any], *, heat_sources: Sequence[str],
                   sub_ranges: Sequence[int], factor: float = 1.0,
                   coverage_probability: float = 0.95,
                   stated_k: float | None = None) -> CurveCoverage:
    """The points' inputs as independent variables for a fit with ``design`` (n x p: the
    basis at each point) weighted by the points' u (``results``: their PointResults, in the
    order of the design's rows; ``factor``: from the budgets' unit to the fit's y unit, e.g.
    µV to mV; ``stated_k``: a coverage factor the procedure states for its points, which the
    curve then states too).  The inputs are
    :func:`labauto.temperature.budgets.input_groups`."""
    from labauto.temperature.budgets import input_groups

    n = len(results)
    a = np.asarray(design, dtype=float)
    if a.shape[0] != n:
        raise ValueError(f"curve_coverage: {a.shape[0]} design rows for {n} points")
    w = np.asarray([1.0 / float(r.u) ** 2 for r in results])
    coefficient_map = np.linalg.solve(a.T @ (a * w[:, None]), a.T * w)
    groups = input_groups(results, heat_sources=heat_sources, sub_ranges=sub_ranges)
    return CurveCoverage(tuple((kind, dof, c * factor) for kind, dof, c in groups),
                         coefficient_map, coverage_probability, stated_k)


__all__ = ["GUM_K", "CurveCoverage", "curve_coverage"]

"""The fitted curve's 95 % interval from the propagated distribution of the points' inputs
(labauto.temperature.curve_coverage): labauto validate found the type N curve, whose error is
dominated by the furnace's ±1 K non-uniformity (rectangular, one draw shared by every point),
covering 0.990 at k = 2 over 300 runs while its points, with k from the same propagated
distribution (1.81), covered 0.977-0.987 (docs/validation.md, "The fitted curve")."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from labauto.temperature.curve_coverage import GUM_K, curve_coverage
from labauto.temperature.fits import fit_thermocouple
from labauto.units import Q_

T = [400.0, 600.0, 800.0, 1000.0]


def _point(rows: dict[str, tuple[str, float, float]]) -> SimpleNamespace:
    """A PointResult's parts curve_coverage reads: rows name -> (distribution, c·u in mV, ν)."""
    budget_rows = [SimpleNamespace(name=n, distribution=d, contribution=Q_(c, "mV"), dof=nu)
                   for n, (d, c, nu) in rows.items()]
    u = math.sqrt(sum(c * c for _, c, _ in rows.values()))
    return SimpleNamespace(u=u, budget=SimpleNamespace(estimate=Q_(0.0, "mV"), rows=budget_rows))


def _coverage(points, degree=2):
    design = np.vander(np.asarray(T), degree + 1, increasing=True)
    return curve_coverage(design, points, heat_sources=["furnace"] * len(T),
                          sub_ranges=[0] * len(T))


def test_one_shared_rectangular_input_gives_the_rectangles_95_percent_interval():
    """Only the furnace's gradient (SHARED: one per heat source): the curve's error is that one
    rectangular variable, u = its u at every t (a fit reproduces a constant) and the 95 %
    interval of a rectangular of half-width a = √3 u is ±0.95 a: k = 0.95 √3 = 1.6454."""
    cov = _coverage([_point({"dt_axial": ("rectangular", 0.02, math.inf)}) for _ in T])
    for t in (400.0, 500.0, 733.0, 1000.0):
        b = t ** np.arange(3)
        assert cov.u_at(b) == pytest.approx(0.02, rel=1e-9)
        assert cov.k_at(b) == pytest.approx(0.95 * math.sqrt(3.0), abs=2e-3)


def test_the_terms_reproduce_the_fits_propagated_u_and_a_normal_budget_keeps_k_2():
    """Shared rectangular + each point's own normal (finite ν: the point's Type A) + a shared
    normal: the root sum of the terms' squares is the fit's b^T V b with V the points'
    covariance built by hand; the shared rectangular dominating puts k between the rectangle's
    1.645 and 1.96; a budget of normal inputs keeps the GUM's k = 2."""
    own, shared_n, rect = 0.004, 0.006, 0.021
    pts = [_point({"dt_axial": ("rectangular", rect, math.inf), "dt_cal": ("normal", shared_n, math.inf),
                   "D_i": ("normal", own * (1 + i / 10), 5.0)}) for i in range(len(T))]
    cov = _coverage(pts)
    c_own = np.asarray([own * (1 + i / 10) for i in range(len(T))])
    v = np.full((4, 4), rect ** 2 + shared_n ** 2) + np.diag(c_own ** 2)
    u = np.asarray([p.u for p in pts])
    fit = fit_thermocouple("N", T, [0.1] * 4, u, degree=2, emf_covariance=v)
    for t in (400.0, 700.0, 900.0):
        assert cov.u_at(fit._basis(t)) == pytest.approx(fit.u_emf(t), rel=1e-9)
        assert 1.66 < cov.k_at(fit._basis(t)) < 1.9
    normal = _coverage([_point({"dt_cal": ("normal", 0.02, math.inf),
                                "D_i": ("normal", 0.01, 5.0)}) for _ in T])
    assert normal.k_at(np.asarray([1.0, 700.0, 700.0 ** 2])) == GUM_K
    # a coverage factor the procedure states for its points is the curve's too
    stated = curve_coverage(np.vander(np.asarray(T), 3, increasing=True), pts,
                            heat_sources=["furnace"] * 4, sub_ranges=[0] * 4, stated_k=2.0)
    assert stated.k_at(fit._basis(700.0)) == 2.0


def test_a_fit_without_the_points_inputs_states_k_2():
    fit = fit_thermocouple("N", T, [12.9, 20.6, 28.7, 36.3], [0.02] * 4, degree=2)
    assert fit.k_temperature(700.0) == 2.0
    assert fit.expanded_temperature(700.0) == 2.0 * fit.u_temperature(700.0)


def test_the_certificate_states_the_curves_U_with_its_k():
    """A fit given its points' inputs (only the shared rectangular): k_temperature is the
    rectangle's 1.645 everywhere, U = k u, and the certificate's sentence states both."""
    from dataclasses import replace

    from labauto.certificate.temperature_pdf import _curve_expanded

    u = 0.02
    fit = fit_thermocouple("N", T, [12.9, 20.6, 28.7, 36.3], [u] * 4, degree=2,
                           emf_covariance=np.full((4, 4), u * u))
    fit = replace(fit, coverage=_coverage([_point({"dt_axial": ("rectangular", u, math.inf)})
                                           for _ in T]))
    assert fit.k_temperature(700.0) == pytest.approx(0.95 * math.sqrt(3.0), abs=2e-3)
    assert fit.expanded_temperature(700.0) == pytest.approx(
        fit.k_temperature(700.0) * fit.u_temperature(700.0), rel=1e-12)
    U_mk = 1e3 * max(fit.expanded_temperature(t) for t in np.linspace(400, 1000, 41))
    u_max = max(fit.u_temperature(t) for t in np.linspace(400, 1000, 41))
    assert U_mk == pytest.approx(1e3 * 0.95 * math.sqrt(3.0) * u_max, rel=2e-3)
    text = _curve_expanded(fit)
    assert text.startswith("Its expanded uncertainty (about 95 % coverage probability, k = 1.6")
    assert "propagated through the fit) is at most " + f"{float(f'{U_mk:.2g}'):g} mK. " in text
    plain = fit_thermocouple("N", T, [12.9, 20.6, 28.7, 36.3], [u] * 4, degree=2)
    assert _curve_expanded(plain).startswith(
        "Its expanded uncertainty (about 95 % coverage probability, k = 2) is at most ")

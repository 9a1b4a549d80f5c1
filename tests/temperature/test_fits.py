"""Fitted characteristics: CVD and thermocouple deviation polynomials with covariance.

No published worked example fits a CVD curve with its covariance, so the checks are exact
properties: noise-free data give back the coefficients; the stated covariance and u(t) match
the scatter of repeated fits to simulated noisy data (seeded, 400 repeats: the standard
deviation of a standard deviation estimate is ~3.5 %, the tolerance 12 %); the general linear
fit equals the project's polynomial WLS where both apply.
"""
from __future__ import annotations

import numpy as np
import pytest

from labauto.temperature import thermocouples
from labauto.temperature.cvd import CallendarVanDusen
from labauto.temperature.errors import OutOfRangeError, TemperatureError
from labauto.temperature.fits import fit_cvd, fit_thermocouple
from labauto.uncertainty.regression import linear_fit, wls
from labauto.units import Q_

TRUE = CallendarVanDusen(r0=100.021, a=3.90851e-3, b=-5.7893e-7, c=-4.31e-12)
T = np.array([-80.0, -40.0, 0.0, 100.0, 200.0, 300.0, 420.0])
R = np.array([TRUE.resistance(t) for t in T])


def test_cvd_fit_recovers_coefficients_from_exact_data():
    fit = fit_cvd(T, R, 0.0005)
    assert fit.fitted == ("R0", "A", "B", "C")          # two points below 0 °C: C is fitted
    for name, value in TRUE.as_dict().items():
        assert fit.coefficients[name] == pytest.approx(value, rel=1e-9)
    assert np.max(np.abs(fit.residuals)) < 1e-10
    assert fit.method == "WLS" and fit.dof == 3
    assert fit.correlation.shape == (4, 4)
    assert fit.correlation[0, 0] == pytest.approx(1.0)


def test_cvd_covariance_and_u_temperature_match_simulated_scatter():
    rng = np.random.default_rng(20261205)
    u_r = 0.0005
    fit0 = fit_cvd(T, R, u_r)
    a_values, t_values = [], []
    r_at_250 = TRUE.resistance(250.0)
    for _ in range(400):
        f = fit_cvd(T, R + rng.normal(0.0, u_r, T.size), u_r)
        a_values.append(f.coefficients["A"])
        t_values.append(f.curve.temperature(r_at_250))
    assert np.std(a_values, ddof=1) == pytest.approx(fit0.standard_uncertainties["A"], rel=0.12)
    assert np.std(t_values, ddof=1) == pytest.approx(fit0.u_temperature(250.0), rel=0.12)
    # a reading's own u adds in quadrature
    ct = fit0.temperature(r_at_250, u_r=0.001)
    assert ct.value == pytest.approx(250.0, abs=1e-9)
    assert ct.u == pytest.approx(np.hypot(fit0.u_temperature(250.0), 0.001 / TRUE.dr_dt(250.0)), rel=1e-12)


def test_cvd_fit_above_zero_holds_c_and_ols_without_u():
    t = np.array([0.0, 50.0, 100.0, 150.0, 200.0])
    r = np.array([TRUE.resistance(x) for x in t]) + np.array([1, -2, 1, 2, -1]) * 1e-4
    fit = fit_cvd(t, r)
    assert fit.fitted == ("R0", "A", "B") and fit.method == "OLS" and fit.dof == 2
    assert fit.fixed == {"C": -4.183e-12}
    assert np.sum(fit.residuals) == pytest.approx(0.0, abs=1e-12)   # LS with an intercept
    with pytest.raises(OutOfRangeError, match="calibrated range"):
        fit.u_temperature(300.0)


def test_fit_with_fewer_points_than_coefficients_is_refused():
    with pytest.raises(TemperatureError, match="2 point\\(s\\) cannot determine the 3 coefficients R0, A, B"):
        fit_cvd([0.0, 100.0], [100.0, 138.5], 0.001)
    with pytest.raises(TemperatureError, match="cannot determine the 4 coefficients"):
        fit_cvd([-50.0, -20.0, 100.0], [80.3, 92.2, 138.5], 0.001, c=True)
    with pytest.raises(TemperatureError, match="no degrees of freedom"):
        fit_cvd([0.0, 100.0, 200.0], [100.0, 138.5, 175.8])
    with pytest.raises(TemperatureError, match="degree-3"):
        fit_thermocouple("N", [400.0, 700.0, 1000.0], [12.97, 23.3, 36.25], 0.002, degree=3)
    with pytest.raises(TemperatureError, match="B, E, J, K, N, R, S, T"):
        fit_thermocouple("Z", [400.0, 700.0, 1000.0], [1, 2, 3], 0.002)


def test_thermocouple_deviation_fit():
    t = np.array([200.0, 400.0, 600.0, 800.0, 1000.0])
    dev = 0.010 + 2.0e-5 * t - 1.0e-8 * t ** 2                           # mV
    e = np.array([thermocouples.emf("N", x) for x in t]) + dev
    fit = fit_thermocouple("N", t, e, 0.002, degree=2)
    assert fit.coefficients == pytest.approx({"d0": 0.010, "d1": 2.0e-5, "d2": -1.0e-8}, rel=1e-7)
    assert fit.curve.emf(700.0) == pytest.approx(thermocouples.emf("N", 700.0) + 0.010 + 0.014 - 0.0049, abs=1e-12)
    res = fit.temperature(fit.curve.emf(700.0), u_e=0.002)
    assert res.value == pytest.approx(700.0, abs=1e-8)
    assert res.u_reading == pytest.approx(0.002 / fit.curve.seebeck(700.0), rel=1e-12)
    assert 0 < fit.u_temperature(700.0) < 0.1
    d = fit.as_dict()
    assert [c["name"] for c in d["coefficients"]] == ["d0", "d1", "d2"]
    assert len(d["correlation"]["matrix"]) == 3


def test_linear_fit_equals_polynomial_wls():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([0.1, 0.9, 4.2, 8.8, 16.1, 25.2])
    u = np.array([0.1, 0.1, 0.2, 0.2, 0.3, 0.3])
    lin = linear_fit(np.vander(x, 3, increasing=True), y, u)
    poly = wls(Q_(x, "s"), Q_(y, "m"), Q_(u, "m"), degree=2)
    assert lin.coefficients == pytest.approx([c.magnitude for c in poly.coefficients], rel=1e-12)
    assert np.asarray(lin.covariance) == pytest.approx(np.asarray(poly.covariance), rel=1e-12)
    assert lin.chi_square == pytest.approx(poly.chi_square, rel=1e-12)

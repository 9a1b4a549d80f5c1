"""Least-squares calibration curves, validated against published worked examples.

References (digits quoted in each test):
* JCGM 100:2008 (GUM) H.3, "Calibration of a thermometer" (data: Table H.6).
* ISO/TS 28037:2010, "Determination and use of straight-line calibration functions", clause 6.3
  examples 1 and 2 (WLS, known u(y)) and 7.4 / annex E (u(y) from residuals), as reproduced in
  the GTC documentation ("Straight-line calibration functions", MSLNZ/GTC
  docs/API/straight_line_functions.rst).
* NIST/ITL Statistical Reference Datasets, linear least squares: "Norris" (straight line)
  and "Pontius" (quadratic), certified values to 15 digits.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from labauto.errors import LabautoError
from labauto.units import Q_
from labauto.uncertainty.regression import (
    PolynomialFit, Prediction, RegressionError, ols, wls,
)

# --------------------------------------------------------------------------- GUM H.3

# GUM Table H.6: thermometer readings t_k and observed corrections b_k = t_R,k - t_k (°C)
GUM_T = [21.521, 22.012, 22.512, 23.003, 23.507, 23.999, 24.513, 25.002, 25.503, 26.010, 26.511]
GUM_B = [-0.171, -0.169, -0.166, -0.159, -0.164, -0.165, -0.156, -0.157, -0.159, -0.161, -0.160]


@pytest.fixture(scope="module")
def gum_h3() -> PolynomialFit:
    # b(t) = y1 + y2 (t - t0), t0 = 20 °C (GUM H.3.1, eq. H.12)
    return ols(Q_(GUM_T, "degC"), Q_(GUM_B, "delta_degC"), x0=Q_(20, "degC"))


def test_gum_h3_parameters(gum_h3):
    # GUM H.3.3: y1 = -0.1712 °C, s(y1) = 0.0029 °C; y2 = 0.00218, s(y2) = 0.00067;
    # r(y1, y2) = -0.930; s = 0.0035 °C; nu = n - 2 = 9.
    f = gum_h3
    assert f.method == "OLS" and f.n == 11 and f.dof == 9
    assert f.intercept.to("delta_degC").magnitude == pytest.approx(-0.1712, abs=0.00005)
    assert f.slope.to("dimensionless").magnitude == pytest.approx(0.00218, abs=0.000005)
    u_y1, u_y2 = f.standard_uncertainties
    assert u_y1.to("mK").magnitude == pytest.approx(2.9, abs=0.05)
    assert u_y2.to("dimensionless").magnitude == pytest.approx(0.00067, abs=0.000005)
    assert f.correlation[0, 1] == pytest.approx(-0.930, abs=0.0005)
    assert f.correlation[1, 0] == f.correlation[0, 1]
    assert f.residual_sd.to("mK").magnitude == pytest.approx(3.5, abs=0.05)
    assert f.chi_square is None and f.consistent and not f.u_y_known
    # units: the intercept keeps the unit of y; the slope is Δ°C/Δ°C = 1
    assert f.intercept.units == Q_(1, "delta_degC").units
    assert f.slope.dimensionless
    assert f.x_min.magnitude == 21.521 and f.x_max.magnitude == 26.511


def test_gum_h3_correction_at_30C(gum_h3):
    # GUM H.3.4: b(30 °C) = y1 + y2 (30 °C - 20 °C) = -0.1494 °C, u[b(30 °C)] = 0.0041 °C
    # (mean response: parameter covariance only, nu = 9).
    pred = gum_h3.predict(Q_(30, "degC"))
    assert isinstance(pred, Prediction)
    assert pred.value.to("delta_degC").magnitude == pytest.approx(-0.1494, abs=0.00005)
    assert pred.standard_uncertainty.to("mK").magnitude == pytest.approx(4.1, abs=0.05)
    assert pred.dof == 9
    # u^2 = u^2(y1) + (Δt)^2 u^2(y2) + 2 Δt u(y1) u(y2) r  (GUM H.3.4), recomputed from the fit
    (u1, u2), r, dt = gum_h3.standard_uncertainties, gum_h3.correlation[0, 1], 10.0
    u_hand = math.sqrt(u1.m ** 2 + dt ** 2 * u2.m ** 2 + 2 * dt * u1.m * u2.m * r)
    assert pred.standard_uncertainty.m == pytest.approx(u_hand, rel=1e-12)
    # the same reading given in kelvin gives the same answer
    pred_k = gum_h3.predict(Q_(303.15, "K"))
    assert pred_k.value.m == pytest.approx(pred.value.m, rel=1e-12)


def test_gum_h3_offset_unit_y_and_centering(gum_h3):
    # b_k given as °C (as printed in the GUM) rather than Δ°C: same numbers; uncertainties are Δ°C
    f = ols(Q_(GUM_T, "degC"), Q_(GUM_B, "degC"), x0=Q_(20, "degC"))
    assert f.intercept.m == pytest.approx(gum_h3.intercept.m, rel=1e-14)
    assert f.intercept.units == Q_(1, "degC").units
    assert f.standard_uncertainties[0].to("mK").m == pytest.approx(2.8776, abs=0.0001)
    # GUM H.3.5: choosing t0 = mean(t_k) makes r(y1, y2) = 0 and s(y1) = s / sqrt(n)
    tbar = float(np.mean(GUM_T))
    c = ols(Q_(GUM_T, "degC"), Q_(GUM_B, "delta_degC"), x0=Q_(tbar, "degC"))
    assert abs(c.correlation[0, 1]) < 1e-9
    assert c.standard_uncertainties[0].m == pytest.approx(c.residual_sd.m / math.sqrt(11), rel=1e-12)
    assert c.slope.m == pytest.approx(gum_h3.slope.m, rel=1e-12)
    # the curve itself does not depend on t0
    assert c.predict(Q_(30, "degC")).standard_uncertainty.m == pytest.approx(
        gum_h3.predict(Q_(30, "degC")).standard_uncertainty.m, rel=1e-10)


# --------------------------------------------------------------------------- ISO/TS 28037 WLS

def test_iso28037_example1_wls_equal_weights():
    # ISO/TS 28037:2010 6.3 example 1: a = 1.867, u(a) = 0.465, b = 1.757, u(b) = 0.120,
    # cov(a, b) = -0.050, chi-squared = 1.665 with 4 degrees of freedom.
    f = wls([1, 2, 3, 4, 5, 6], [3.3, 5.6, 7.1, 9.3, 10.7, 12.1], 0.5)
    assert f.method == "WLS" and f.u_y_known and f.dof == 4
    a, b = f.coefficients
    ua, ub = f.standard_uncertainties
    assert (a.m, ua.m) == (pytest.approx(1.867, abs=5e-4), pytest.approx(0.465, abs=5e-4))
    assert (b.m, ub.m) == (pytest.approx(1.757, abs=5e-4), pytest.approx(0.120, abs=5e-4))
    assert f.covariance[0, 1] == pytest.approx(-0.050, abs=5e-4)
    assert f.chi_square == pytest.approx(1.665, abs=5e-4)
    # chi-square check: chi2_0.95(4) = 9.488, so the stated u(y) = 0.5 are consistent
    assert f.chi_square_limit == pytest.approx(9.4877, abs=1e-4)
    assert f.consistent
    f.check_consistency()
    assert f.birge_ratio == pytest.approx(math.sqrt(1.664761904761908 / 4), rel=1e-9)


def test_iso28037_example1_inverse_and_forward():
    # GTC docs (same example): a further observation y1 = 10.5, u(y1) = 0.5 gives
    # x1 = 4.91327913279133, u = 0.32203556012891; x2 = 3.5, u(x2) = 0.2 gives
    # y2 = 8.01666666666667, u = 0.406409531732455 (LPU through a, b and their covariance).
    f = wls([1, 2, 3, 4, 5, 6], [3.3, 5.6, 7.1, 9.3, 10.7, 12.1], [0.5] * 6)
    x1 = f.inverse(10.5, u_y=0.5)
    assert x1.value.m == pytest.approx(4.91327913279133, rel=1e-12)
    assert x1.standard_uncertainty.m == pytest.approx(0.32203556012891, rel=1e-10)
    assert math.isinf(x1.dof)
    assert x1.u_input.m == pytest.approx(0.5 / 1.75714285714286, rel=1e-12)
    y2 = f.predict(3.5, u_x=0.2)
    assert y2.value.m == pytest.approx(8.01666666666667, rel=1e-12)
    assert y2.standard_uncertainty.m == pytest.approx(0.406409531732455, rel=1e-10)
    assert y2.coverage_factor(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_iso28037_example2_wls_unequal_weights():
    # ISO/TS 28037:2010 6.3 example 2: a = 0.885, u(a) = 0.530, b = 2.057, u(b) = 0.178,
    # cov(a, b) = -0.082, chi-squared = 4.131 with 4 degrees of freedom.
    f = wls(Q_([1, 2, 3, 4, 5, 6], "V"), Q_([3.2, 4.3, 7.6, 8.6, 11.7, 12.8], "mA"),
            Q_([0.5, 0.5, 0.5, 1.0, 1.0, 1.0], "mA"))
    a, b = f.coefficients
    ua, ub = f.standard_uncertainties
    assert a.to("mA").m == pytest.approx(0.885, abs=5e-4)
    assert ua.to("mA").m == pytest.approx(0.530, abs=5e-4)
    assert b.to("mA/V").m == pytest.approx(2.057, abs=5e-4)
    assert ub.to("mS").m == pytest.approx(0.178, abs=5e-4)
    assert f.covariance[0, 1] == pytest.approx(-0.082, abs=5e-4)
    assert f.chi_square == pytest.approx(4.131, abs=5e-4)
    # GTC docs: y1 = 10.5, u(y1) = 1.0 -> x1 = 4.674..., u = 0.533...
    x1 = f.inverse(Q_(10.5, "mA"), u_y=Q_(1.0, "mA"))
    assert x1.value.to("V").m == pytest.approx(4.674, abs=5e-4)
    assert x1.standard_uncertainty.to("V").m == pytest.approx(0.533, abs=5e-4)


def test_ols_unknown_uy_iso28037_annex_e():
    # ISO/TS 28037 7.4 / annex E data (u(y) unknown, estimated from residuals, nu = 4):
    # a = 1.172, u(a) = 0.159; b = 1.964, u(b) = 0.041; cov(a, b) = -0.006.
    # GTC docs (same data): x from y1 = 10.5 -> 4.751(97) (s^2 included for the new observation);
    # y at x2 = 3.5 -> 8.04(18) for one future observation, 8.044(70) for the mean response.
    x = [1, 2, 3, 4, 5, 6]
    y = [3.014, 5.225, 7.004, 9.061, 11.201, 12.762]
    f = ols(x, y)
    a, b = f.coefficients
    ua, ub = f.standard_uncertainties
    assert (a.m, ua.m) == (pytest.approx(1.172, abs=5e-4), pytest.approx(0.159, abs=5e-4))
    assert (b.m, ub.m) == (pytest.approx(1.964, abs=5e-4), pytest.approx(0.041, abs=5e-4))
    assert f.covariance[0, 1] == pytest.approx(-0.006, abs=5e-4)
    assert float(np.sum(f.residuals.m ** 2)) == pytest.approx(0.116498285714, abs=1e-11)
    x1 = f.inverse(10.5)
    assert (round(x1.value.m, 3), round(x1.standard_uncertainty.m, 3)) == (4.751, 0.097)
    assert x1.dof == 4
    y_obs = f.predict(3.5, new_observation=True)
    assert (round(y_obs.value.m, 2), round(y_obs.standard_uncertainty.m, 2)) == (8.04, 0.18)
    y_mean = f.predict(3.5)
    assert y_mean.value.m == pytest.approx(1.172 + 3.5 * 1.96357142857143, rel=1e-12)  # 8.0445
    assert round(y_mean.standard_uncertainty.m, 3) == 0.070
    # relative weights all equal: ISO/TS 28037 7.4 ("relative WLS") gives the same result
    g = ols(x, y, weights=[2.0] * 6)
    assert [u.m for u in g.standard_uncertainties] == pytest.approx([ua.m, ub.m], rel=1e-12)


# --------------------------------------------------------------------------- NIST StRD

NORRIS_Y = [0.1, 338.8, 118.1, 888.0, 9.2, 228.1, 668.5, 998.5, 449.1, 778.9, 559.2, 0.3, 0.1,
            778.1, 668.8, 339.3, 448.9, 10.8, 557.7, 228.3, 998.0, 888.8, 119.6, 0.3, 0.6, 557.6,
            339.3, 888.0, 998.5, 778.9, 10.2, 117.6, 228.9, 668.4, 449.2, 0.2]
NORRIS_X = [0.2, 337.4, 118.2, 884.6, 10.1, 226.5, 666.3, 996.3, 448.6, 777.0, 558.2, 0.4, 0.6,
            775.5, 666.9, 338.0, 447.5, 11.6, 556.0, 228.1, 995.8, 887.6, 120.2, 0.3, 0.3, 556.8,
            339.1, 887.2, 999.0, 779.0, 11.1, 118.3, 229.2, 669.1, 448.9, 0.5]


def test_nist_strd_norris():
    # NIST StRD Norris (certified): B0 = -0.262323073774029 (sd 0.232818234301152),
    # B1 = 1.00211681802045 (sd 0.429796848199937E-03), residual SD 0.884796396144373, 34 dof.
    f = ols(NORRIS_X, NORRIS_Y)
    assert f.dof == 34
    assert f.coefficients[0].m == pytest.approx(-0.262323073774029, rel=1e-10)
    assert f.coefficients[1].m == pytest.approx(1.00211681802045, rel=1e-12)
    assert f.standard_uncertainties[0].m == pytest.approx(0.232818234301152, rel=1e-10)
    assert f.standard_uncertainties[1].m == pytest.approx(0.429796848199937e-03, rel=1e-10)
    assert f.residual_sd.m == pytest.approx(0.884796396144373, rel=1e-12)


PONTIUS_Y = [.11019, .21956, .32949, .43899, .54803, .65694, .76562, .87487, .98292, 1.09146,
             1.20001, 1.30822, 1.41599, 1.52399, 1.63194, 1.73947, 1.84646, 1.95392, 2.06128,
             2.16844, .11052, .22018, .32939, .43886, .54798, .65739, .76596, .87474, .98300,
             1.09150, 1.20004, 1.30818, 1.41613, 1.52408, 1.63159, 1.73965, 1.84696, 1.95445,
             2.06177, 2.16829]
PONTIUS_X = [150000.0 * k for k in range(1, 21)] * 2


@pytest.fixture(scope="module")
def pontius() -> PolynomialFit:
    return ols(PONTIUS_X, PONTIUS_Y, degree=2)


def test_nist_strd_pontius_quadratic(pontius):
    # NIST StRD Pontius (certified): B0 = 0.673565789473684E-03 (sd 0.107938612033077E-03),
    # B1 = 0.732059160401003E-06 (sd 0.157817399981659E-09),
    # B2 = -0.316081871345029E-14 (sd 0.486652849992036E-16), residual SD 0.205177424076185E-03.
    f = pontius
    assert f.degree == 2 and f.dof == 37
    certified = [0.673565789473684e-03, 0.732059160401003e-06, -0.316081871345029e-14]
    sds = [0.107938612033077e-03, 0.157817399981659e-09, 0.486652849992036e-16]
    assert [c.m for c in f.coefficients] == pytest.approx(certified, rel=1e-9)
    assert [u.m for u in f.standard_uncertainties] == pytest.approx(sds, rel=1e-9)
    assert f.residual_sd.m == pytest.approx(0.205177424076185e-03, rel=1e-10)
    with pytest.raises(RegressionError, match="coefficients\\[1\\]"):
        _ = f.slope


def test_polynomial_inverse_matches_lpu_by_finite_differences(pontius):
    # x from an observed deflection y0 = 1.15 with u(y0) = 2e-4 (mean of readings, 9 dof).
    # Hand check: x solves f(x) = y0; u^2(x) = [u^2(y0) + J V J^T] / f'(x)^2 with the Jacobian
    # of x = f^-1(y0; c) taken here by central finite differences over the coefficients.
    f = pontius
    res = f.inverse(1.15, u_y=2e-4, u_y_dof=9)
    x = res.value.m
    assert f.value_at(x).m == pytest.approx(1.15, abs=1e-12)
    c = np.array([q.m for q in f.coefficients])

    def x_of(cc, y0=1.15):
        r = np.polynomial.polynomial.polyroots(np.r_[cc[0] - y0, cc[1:]])
        r = r[np.abs(r.imag) < 1e-6].real
        return float(r[np.argmin(np.abs(r - x))])

    jac = []
    for k in range(3):
        h = 1e-4 * abs(c[k])
        cp, cm = c.copy(), c.copy()
        cp[k] += h
        cm[k] -= h
        jac.append((x_of(cp) - x_of(cm)) / (2 * h))
    jac = np.array(jac)
    dxdy = (x_of(c, 1.15 + 1e-4) - x_of(c, 1.15 - 1e-4)) / 2e-4
    u_curve = math.sqrt(jac @ f.covariance @ jac)
    u_in = abs(dxdy) * 2e-4
    assert res.u_curve.m == pytest.approx(u_curve, rel=1e-5)
    assert res.u_input.m == pytest.approx(u_in, rel=1e-5)
    assert res.standard_uncertainty.m == pytest.approx(math.hypot(u_curve, u_in), rel=1e-5)
    # Welch-Satterthwaite with nu_curve = 37, nu_y = 9
    nu = (u_curve ** 2 + u_in ** 2) ** 2 / (u_curve ** 4 / 37 + u_in ** 4 / 9)
    assert res.dof == pytest.approx(nu, rel=1e-5)


# --------------------------------------------------------------------------- hand-derived

def test_inverse_prediction_hand_derived():
    # x = 0, 1, 2, 3 V; y = 0, 1, 1, 2 mA.  By hand: xbar = 1.5, ybar = 1, Sxx = 5, Sxy = 3,
    # slope b = 0.6 mA/V, intercept a = 0.1 mA, residuals -0.1, 0.3, -0.3, 0.1 -> s^2 = 0.2/2 = 0.1,
    # var(a) = s^2 (1/n + xbar^2/Sxx) = 0.07, var(b) = s^2/Sxx = 0.02, cov(a,b) = -xbar s^2/Sxx = -0.03.
    f = ols(Q_([0, 1, 2, 3], "V"), Q_([0, 1, 1, 2], "mA"))
    assert f.intercept.to("mA").m == pytest.approx(0.1, abs=1e-14)
    assert f.slope.to("mA/V").m == pytest.approx(0.6, abs=1e-14)
    assert f.covariance == pytest.approx(np.array([[0.07, -0.03], [-0.03, 0.02]]), abs=1e-15)
    # Observed y0 = 1.3 mA -> x0 = (1.3 - 0.1)/0.6 = 2.0 V.
    # u(y0) from the fit (one new observation): u^2 = [s^2 + var(a) + x^2 var(b) + 2x cov]/b^2
    #   = (0.1 + 0.07 + 0.08 - 0.12)/0.36 = 0.13/0.36  -> u = 0.600925 V, nu = 2.
    r = f.inverse(Q_(1300, "uA"))
    assert r.value.to("V").m == pytest.approx(2.0, abs=1e-13)
    assert r.standard_uncertainty.to("V").m == pytest.approx(math.sqrt(0.13 / 0.36), rel=1e-12)
    assert r.dof == 2
    # Mean of 4 new readings: s^2/4 instead of s^2: (0.025 + 0.03)/0.36
    r4 = f.inverse(Q_(1.3, "mA"), n_obs=4)
    assert r4.standard_uncertainty.m == pytest.approx(math.sqrt(0.055 / 0.36), rel=1e-12)
    # u(y0) stated = 0.05 mA, infinite dof: u^2 = (0.0025 + 0.03)/0.36 = 0.0902778 -> 0.300463 V;
    # nu_eff = u^4 / (u_curve^4 / 2) = 2 (0.0325/0.03)^2 = 2.347222
    r2 = f.inverse(Q_(1.3, "mA"), u_y=Q_(0.05, "mA"))
    assert r2.standard_uncertainty.to("V").m == pytest.approx(math.sqrt(0.0325 / 0.36), rel=1e-12)
    assert r2.u_input.to("V").m == pytest.approx(0.05 / 0.6, rel=1e-12)
    assert r2.dof == pytest.approx(2 * (0.0325 / 0.03) ** 2, rel=1e-12)
    assert r2.expanded_uncertainty(0.95).m == pytest.approx(
        r2.coverage_factor(0.95) * r2.standard_uncertainty.m)
    assert r2.coverage_factor(0.95) == pytest.approx(3.7467, abs=1e-4)  # t_0.975(nu = 2.347)
    assert r2.value.units == Q_(1, "V").units and r2.sensitivity.to("mA/V").m == pytest.approx(0.6)


def test_inputs_as_list_of_quantities_in_mixed_units():
    f = ols([Q_(0, "V"), Q_(1000, "mV"), Q_(2, "V"), Q_(3, "V")],
            [Q_(0, "mA"), Q_(1, "mA"), Q_(1000, "uA"), Q_(2, "mA")])
    assert f.slope.to("mA/V").m == pytest.approx(0.6, abs=1e-14)
    assert f.value_at(Q_(2, "V")).to("mA").m == pytest.approx(1.3, abs=1e-14)
    # quantities as text; u(x) propagates through the slope: u_in = 0.6 mA/V * 10 mV = 6 uA
    p = f.predict("2000 mV", u_x="10 mV")
    assert p.u_input.to("uA").m == pytest.approx(6.0, rel=1e-12)
    assert p.standard_uncertainty.m ** 2 == pytest.approx(p.u_curve.m ** 2 + p.u_input.m ** 2)
    with pytest.raises(RegressionError, match="cannot parse '2 blah'"):
        f.predict("2 blah")


def test_wls_chi_square_check_fails_for_understated_uy():
    # Norris residual SD is 0.88; claiming u(y) = 0.1 gives chi2 ~ 36*... >> chi2_0.95(34) = 48.6
    f = wls(NORRIS_X, NORRIS_Y, 0.1)
    assert f.chi_square_limit == pytest.approx(48.6024, abs=1e-3)
    assert f.chi_square == pytest.approx(float(np.sum((f.residuals.m / 0.1) ** 2)))
    assert f.chi_square > 2000 and not f.consistent
    with pytest.raises(RegressionError, match="chi-square .* exceeds"):
        f.check_consistency()


def test_results_are_frozen(gum_h3):
    with pytest.raises(dataclasses.FrozenInstanceError):
        gum_h3.degree = 2
    with pytest.raises(ValueError):
        gum_h3.covariance[0, 0] = 1.0
    pred = gum_h3.predict(Q_(25, "degC"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        pred.dof = 1


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, message", [
    (lambda: ols([1, 1, 1], [1, 2, 3]), "only 1 distinct"),
    (lambda: ols([1, 2, 3], [1, 2, 3], degree=2), "no degrees of freedom"),
    (lambda: ols([1, 2], [1, 2]), "no degrees of freedom"),
    (lambda: ols([1, 2, 3], [1, 2]), "x has 3 values but y has 2"),
    (lambda: ols([1, 2, float("nan")], [1, 2, 3]), "index \\[2\\] are not finite"),
    (lambda: ols([Q_(1, "V"), 2, 3], [1, 2, 3]), "some values have a unit"),
    (lambda: ols([Q_(1, "V"), Q_(2, "A"), Q_(3, "V")], [1, 2, 3]), "incompatible units"),
    (lambda: ols([1, 2, 3], [1, 2, 3], degree=-1), "degree must be"),
    (lambda: ols([1, 2, 3, 4], [1, 2, 3, 4], weights=[1, 0, 1, 1]), "weights"),
    (lambda: ols(Q_([1, 2, 3], "V"), [1, 2, 3], x0=Q_(1, "A")), "x0: unit"),
    (lambda: wls([1, 2, 3], [1, 2, 3], [0.1, 0.0, 0.1]), "u_y at index \\[1\\] is zero"),
    (lambda: wls([1, 2, 3], [1, 2, 3], [0.1, 0.1]), "one per point"),
    (lambda: wls(Q_([1, 2, 3], "V"), Q_([1, 2, 3], "mA"), 0.1), "has no unit"),
    (lambda: wls(Q_([1, 2, 3], "V"), Q_([1, 2, 3], "mA"), Q_(0.1, "V")), "not compatible"),
    (lambda: wls([1], [1], 0.1), "only 1 distinct"),
])
def test_degenerate_data_errors(call, message):
    with pytest.raises(RegressionError, match=message) as exc:
        call()
    assert isinstance(exc.value, LabautoError) and isinstance(exc.value, ValueError)


def test_use_errors():
    f = wls([1, 2, 3, 4], [2, 4, 6, 8.1], 0.1)
    with pytest.raises(RegressionError, match="give u_y"):
        f.inverse(5.0)
    with pytest.raises(RegressionError, match="u_observation"):
        f.predict(2.0, new_observation=True)
    assert f.predict(2.0, u_observation=0.1).u_input.m == pytest.approx(0.1)
    assert f.inverse(5.0, u_y=0).u_input.m == 0
    with pytest.raises(RegressionError, match="n_obs"):
        ols([1, 2, 3], [1, 2, 4]).inverse(2.0, n_obs=0)
    flat = ols([1, 2, 3, 4], [5, 5, 5, 5])
    with pytest.raises(RegressionError, match="slope is zero"):
        flat.inverse(5.0)
    # quadratic y = (x - 2)^2 on 0..4: y = 1 is reached at x = 1 and x = 3 -> not monotonic
    q = ols([0, 1, 2, 3, 4, 5], [4, 1, 0, 1, 4, 9], degree=2)
    with pytest.raises(RegressionError, match="not monotonic"):
        q.inverse(1.0)
    with pytest.raises(RegressionError, match="outside the calibration"):
        q.inverse(-1.0)
    # on a monotonic stretch of the data the root is unique: y = 6.25 -> x = 4.5 (only x >= 0)
    q2 = ols([2, 3, 4, 5], [0, 1, 4, 9], degree=2)
    assert q2.inverse(6.25).value.m == pytest.approx(4.5, abs=1e-9)
    u = Q_(1, "V")
    with pytest.raises(RegressionError, match="has no unit"):
        ols(Q_([1, 2, 3], "V"), Q_([1, 2, 4], "mA")).predict(2.0)
    with pytest.raises(RegressionError, match="not compatible"):
        ols(Q_([1, 2, 3], "V"), Q_([1, 2, 4], "mA")).inverse(u)


def test_fit_parameters_as_model_inputs_reproduce_gum_h3(gum_h3):
    # The fit handed to the GUM core as two correlated inputs: GUM H.3.4 b(30 °C) = -0.1494 °C,
    # u = 0.0041 °C, identical to PolynomialFit.predict.
    from labauto.uncertainty import Model, Normal, gum

    inputs, corr = gum_h3.as_inputs(["y1", "y2"])
    assert set(corr) == {("y1", "y2")} and corr[("y1", "y2")] == pytest.approx(-0.930, abs=5e-4)
    assert inputs["y2"].dof == 9
    dt = Normal(Q_(10, "delta_degC"), Q_(0, "delta_degC"))  # t - t0 = 30 °C - 20 °C, exact
    model = Model("b = y1 + y2*dt", inputs={**inputs, "dt": dt}, correlations=corr)
    res = gum(model)
    assert res.estimate("b").to("delta_degC").m == pytest.approx(-0.1494, abs=5e-5)
    assert res.u("b").to("mK").m == pytest.approx(4.1, abs=0.05)
    assert res.u("b").m == pytest.approx(gum_h3.predict(Q_(30, "degC")).standard_uncertainty.m, rel=1e-12)
    with pytest.raises(RegressionError, match="2 different names"):
        gum_h3.as_inputs(["a"])

"""The error-of-indication budget of one point, recomputed by hand from the documented model
(labauto/evaluation.py; GUM 5.1.2, G.4.1 and G.6.4):

    E = X_ind - V_ref + dX_res + dV_1        (all sensitivity coefficients +-1)

    u(X_ind)  = s / sqrt(n),  nu = n - 1
    u(V_ref)  = spec / z_0.995 (calibrator specification stated at 99 %, normal), nu = inf
    u(dX_res) = a / sqrt(3), a = min(q/2, (q/pi) sum_k exp(-2 pi^2 k^2 s^2 / q^2) / k): the
                rounding the readings' scatter s does not average out (q/2 for equal readings)
    u(dV_1)   = 0.3 uV / sqrt(3)  (thermal EMFs, rectangular, from the procedure)
    nu_eff    = u_c^4 / (u(X_ind)^4 / (n - 1))     (Welch-Satterthwaite)
    k         = t_0.975(nu_eff);  U rounded up to two significant digits (ILAC-P14)
"""
from __future__ import annotations

import math
import statistics

import numpy as np

import pytest
from scipy import stats

from labauto.evaluation import evaluate_point
from labauto.procedure import load_procedure
from labauto.units import Q_

READINGS = [10.000031, 10.000047, 10.000022, 10.000058, 10.000040]   # V, 10 V range


def test_budget_matches_the_hand_calculation(quick_procedure):
    proc = load_procedure(quick_procedure)
    point = next(p for p in proc.points if p.nominal == Q_(10, "V"))
    result = evaluate_point(point, proc, READINGS, "V")

    n = len(READINGS)
    mean = statistics.fmean(READINGS)
    u_a = statistics.stdev(READINGS) / math.sqrt(n)
    spec = point.standard_range.accuracy_halfwidth(Q_(10, "V")).to("V").magnitude
    assert spec == pytest.approx(12e-6 * 10 + 20e-6)   # 5522A 32.99999 V range: 12 ppm + 20 uV
    u_ref = spec / stats.norm.ppf(0.995)
    q, s = 10e-6, statistics.stdev(READINGS)      # s = 14 µV: the readings span 4 steps of 10 µV
    a = min(q / 2, q / math.pi * sum(math.exp(-2 * math.pi ** 2 * k ** 2 * s ** 2 / q ** 2) / k
                                     for k in range(1, 65)))
    assert a < 1e-9 * q                            # averaged out: exp(-2 pi^2 1.4^2) = 1.6e-17
    u_res = a / math.sqrt(3)
    u_emf = 0.3e-6 / math.sqrt(3)       # the procedure's thermal EMF allowance: 0.3 uV
    u_c = math.sqrt(u_a ** 2 + u_ref ** 2 + u_res ** 2 + u_emf ** 2)
    nu_eff = u_c ** 4 / (u_a ** 4 / (n - 1))
    k = stats.t.ppf(0.975, math.floor(nu_eff))     # GUM G.4.1: nu_eff truncated

    b = result.budget
    assert result.error.to("V").magnitude == pytest.approx(mean - 10, abs=1e-12)
    assert b.combined_uncertainty.to("V").magnitude == pytest.approx(u_c, rel=1e-9)
    assert b.dof_eff == pytest.approx(nu_eff, rel=1e-6)
    assert result.coverage_factor == pytest.approx(k, rel=1e-6)
    # ILAC-P14: U rounded UP to two significant digits
    U = k * u_c
    exp = math.floor(math.log10(U)) - 1
    U_rounded = math.ceil(U / 10 ** exp - 1e-9) * 10 ** exp
    assert result.expanded_uncertainty.to("V").magnitude == pytest.approx(U_rounded, rel=1e-9)
    # the rows: one per input, shares sum to 1 (uncorrelated)
    shares = {r.name: r.variance_share for r in b.rows}
    assert set(shares) == {"X_ind", "V_ref", "dX_res", "dV_1"}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)
    assert shares["V_ref"] == pytest.approx(u_ref ** 2 / u_c ** 2, rel=1e-9)
    # tolerance of the 34465A at 10 V on the 10 V range: 0.0035 % of reading + 0.0005 % of range
    assert result.tolerance.to("uV").magnitude == pytest.approx(400.0)
    assert result.tur == pytest.approx(400e-6 / U_rounded, rel=1e-9)
    assert result.decision == "pass"


def test_a_point_needs_two_readings(quick_procedure):
    proc = load_procedure(quick_procedure)
    with pytest.raises(ValueError, match="at least 2"):
        evaluate_point(proc.points[0], proc, [0.1], "V")


def test_conformance_probability_is_recorded(quick_procedure):
    """JCGM 106:2012 (7.3): with a normal PDF of the error, p_c = Phi((T - E)/u) - Phi((-T - E)/u)."""
    proc = load_procedure(quick_procedure)
    point = next(p for p in proc.points if p.nominal == Q_(10, "V"))
    result = evaluate_point(point, proc, READINGS, "V")
    u = result.expanded_uncertainty.to("V").magnitude / result.coverage_factor
    e = result.error.to("V").magnitude
    T = 400e-6
    expected = stats.norm.cdf((T - e) / u) - stats.norm.cdf((-T - e) / u)
    assert result.conformance_probability == pytest.approx(expected, rel=1e-6)
    assert result.specific_risk == pytest.approx(1 - expected, rel=1e-6)   # accepted: PFA


def test_the_rounding_left_in_a_mean_is_bounded_exactly():
    """dithered_halfwidth bounds |E[round(x + sZ)] - x| over every x: checked against the exact
    expectation (normal CDF per rounding step) on a grid of x, for noise from 0 to 0.6 steps."""
    from scipy.stats import norm

    from labauto.models.inputs import dithered_halfwidth

    xs = np.linspace(-0.5, 0.5, 401)
    j = np.arange(-8, 9)
    for s in (0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6):
        if s == 0:
            bias = np.abs(np.round(xs) - xs)
        else:
            p = norm.cdf((j[:, None] + 0.5 - xs) / s) - norm.cdf((j[:, None] - 0.5 - xs) / s)
            bias = np.abs((j[:, None] * p).sum(axis=0) - xs)
        bound = dithered_halfwidth(1.0, s)
        assert bias.max() <= bound + 1e-12, (s, bias.max(), bound)
        assert bias.max() >= 0.6 * bound or bound < 1e-6       # and not loose
    assert dithered_halfwidth(1.0, 0.0) == 0.5                 # equal readings: ± q/2
    assert dithered_halfwidth(1.0, 0.6) < 1e-3                 # scattered over steps: ~0


def test_the_resolution_row_states_the_readings_scatter_with_its_unit():
    """The certificate's Source column said 'the readings' scatter (s = 0.000501) averages the
    rest' with no unit (the 34465A's 100 V range, s in V)."""
    from types import SimpleNamespace

    from labauto.models.inputs import resolution
    from labauto.units import ureg

    rng = SimpleNamespace(range=Q_(100, "V"), resolution=Q_(0.0001, "V"))    # a RangeSpec's part used
    readings = Q_([99.9995, 99.9997, 99.9993, 99.9999, 99.9996, 99.9994], "V")
    row = resolution(rng, ureg.V, readings=readings)
    s = float(np.std(readings.magnitude, ddof=1))                  # 0.000216 V
    assert f"(s = {s:.3g} V) averages the rest" in row.label, row.label
    assert resolution(rng, ureg.V).label == "resolution of the DUT"        # no readings: no note

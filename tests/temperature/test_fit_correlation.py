"""The fitted curve's covariance with the errors the calibration points share (one reference
certificate, one readout, the DUT's self-heating): labauto validate found the curve's stated
u under-covering its true error (coverage 0.73-0.86 at k = 2 over 100 simulated Pt100
calibrations) while the points treated as independent; docs/validation.md."""
from __future__ import annotations

import math

import numpy as np
import pytest

from labauto.temperature.budgets import SHARED, values_covariance
from labauto.temperature.fits import fit_cvd
from labauto.uncertainty.regression import RegressionError, linear_fit
from .builders import pt100_points


def test_a_common_error_is_not_averaged_away():
    """The mean of n points each with an independent u_i and a common σ_c: the law of
    propagation gives u²(mean) = u_i²/n + σ_c² exactly; the points taken as independent
    (weights 1/(u_i² + σ_c²)) would state (u_i² + σ_c²)/n."""
    n, u_i, s_c = 8, 0.03, 0.02
    u = math.hypot(u_i, s_c)
    v = np.full((n, n), s_c ** 2) + np.eye(n) * u_i ** 2
    ones = np.ones((n, 1))
    y = np.linspace(1.0, 1.07, n)
    independent = linear_fit(ones, y, np.full(n, u))
    shared = linear_fit(ones, y, np.full(n, u), y_covariance=v)
    assert shared.coefficients[0] == independent.coefficients[0]
    assert independent.covariance[0, 0] == pytest.approx(u ** 2 / n, rel=1e-12)
    assert shared.covariance[0, 0] == pytest.approx(u_i ** 2 / n + s_c ** 2, rel=1e-12)
    # V_y = W^-1 (no common part): (A^T W A)^-1 unchanged
    same = linear_fit(ones, y, np.full(n, u), y_covariance=np.eye(n) * u ** 2)
    assert same.covariance[0, 0] == pytest.approx(independent.covariance[0, 0], rel=1e-12)
    with pytest.raises(RegressionError, match="symmetric 8 x 8"):
        linear_fit(ones, y, np.full(n, u), y_covariance=np.ones((3, 3)))


def test_the_points_covariance_shares_what_the_set_up_shares():
    """Off the diagonal: the sum of c_k u_k products of the inputs two points share -- the
    reference calibration within a sub-range, the gradients within a heat source, the rest
    (drift, readouts, self-heating) across the run; Type A and stability never."""
    points = pt100_points((0.0, 50.0, 200.0))
    cov = values_covariance(points, heat_sources=["bath", "bath", "well"], sub_ranges=[0, 1, 1])

    def c(i):
        return {r.name: float(r.contribution.to("ohm").m) for r in points[i].budget.rows}

    c0, c1, c2 = c(0), c(1), c(2)
    run = [k for k in c0 if SHARED.get(k, "run") == "run" and c0[k]]
    assert {"dt_drift", "dt_readout", "dt_sh_X", "dX_readout"} <= set(run)
    assert cov[0, 1] == pytest.approx(sum(c0[k] * c1[k] for k in run + ["dt_axial", "dt_radial",
                                                                        "dt_imm_S", "dt_imm_X"]))
    assert cov[1, 2] == pytest.approx(sum(c1[k] * c2[k] for k in run + ["dt_cal"]))
    assert cov[0, 2] == pytest.approx(sum(c0[k] * c2[k] for k in run))
    for i, p in enumerate(points):
        assert cov[i, i] == pytest.approx(float(p.budget.combined_uncertainty.to("ohm").m) ** 2)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_the_curve_states_the_shared_part_between_the_points():
    """The builders' Pt100 (7 points): between two calibration points the curve's u with the
    shared errors exceeds the independent-points u and the shared part's own size."""
    points = pt100_points()
    t = [p.nominal for p in points]
    y = [p.value for p in points]
    u = [p.u for p in points]
    cov = values_covariance(points, heat_sources=["bath"] * 4 + ["well"] * 3,
                            sub_ranges=[0, 0, 0, 1, 1, 1, 2])
    independent = fit_cvd(t, y, u)
    shared = fit_cvd(t, y, u, r_covariance=cov)
    assert shared.coefficients == independent.coefficients
    s = shared.curve.dr_dt(50.0)
    common = math.sqrt(cov[2, 3]) / s           # the run-wide part at 0 °C and 100 °C, in K
    assert shared.u_temperature(50.0) > independent.u_temperature(50.0)
    assert shared.u_temperature(50.0) > 0.8 * common

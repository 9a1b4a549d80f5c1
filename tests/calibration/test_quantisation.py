"""The mean of rounded readings with noise ahead of the rounding (labauto.models.quantisation):
the closed forms against exact sums over the steps, GUM F.2.2.1's limit, the independent-noise
limit, and the noise fit of a characterisation."""
import math

import numpy as np
import pytest
from scipy.stats import norm

from labauto.models.quantisation import (bias, bias_excess_kurtosis, bias_variance, fit_noise,
                                         mean_variance, pooled, within_variance)


def _exact(q: float, sigma: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[Q(y + e)] − y and Var Q(y + e) by summing over the steps (no Fourier series)."""
    k = np.arange(-40, 41)[None, :]
    p = norm.cdf((k * q + q / 2 - y[:, None]) / sigma) - norm.cdf((k * q - q / 2 - y[:, None]) / sigma)
    m1 = (p * k * q).sum(1)
    m2 = (p * (k * q) ** 2).sum(1)
    return m1 - y, m2 - m1 ** 2


@pytest.mark.parametrize("ratio", [0.05, 0.1, 0.2, 0.4, 0.7])
def test_closed_forms_equal_the_exact_sums_over_the_steps(ratio):
    q, sigma = 0.5e-3, 0.5e-3 * ratio
    y = (np.arange(20000) + 0.5) / 20000 * q          # uniform over one step
    b_exact, var_exact = _exact(q, sigma, y)
    assert np.allclose(bias(q, sigma, y), b_exact, rtol=0, atol=1e-9 * q)
    assert bias_variance(q, sigma) == pytest.approx(float(np.mean(b_exact ** 2)), rel=1e-6)
    assert within_variance(q, sigma) == pytest.approx(float(np.mean(var_exact)), rel=1e-6)


def test_no_noise_is_gums_resolution_term():
    # GUM (JCGM 100:2008) F.2.2.1: a resolution δx gives u² = δx²/12 (rectangular, ±δx/2)
    q = 1e-3
    assert bias_variance(q, 0.0) == pytest.approx(q ** 2 / 12, rel=1e-15)
    assert mean_variance(q, 0.0, 5) == pytest.approx(q ** 2 / 12, rel=1e-15)   # equal readings
    assert within_variance(q, 0.0) == 0.0
    assert bias_excess_kurtosis(q, 0.002 * q) == pytest.approx(-1.2, abs=0.01)  # rectangular


def test_noise_of_a_step_or_more_rounds_like_independent_noise():
    # σ = q: the bias left is (q²/2π²)·exp(−4π²) = 3.6e-19 q²; each reading carries σ² + q²/12
    q = 1.0
    assert bias_variance(q, q) == pytest.approx(math.exp(-4 * math.pi ** 2) / (2 * math.pi ** 2),
                                                rel=1e-9)
    assert within_variance(q, q) == pytest.approx(1 + 1 / 12, rel=1e-15)
    assert mean_variance(q, q, 5) == pytest.approx((1 + 1 / 12) / 5, rel=1e-12)
    assert bias_excess_kurtosis(q, 0.3 * q) == pytest.approx(-1.5, abs=1e-4)    # one sinusoid


def test_the_e36312a_readback_case():
    """σ = 0.2 mV ahead of 1 mV steps, n = 5: u(mean) = 0.1818 mV, not the 0.2887 mV of
    ±q/2 rectangular that equal readings (s = 0) gave (labauto.models.inputs.resolution)."""
    q, sigma = 1e-3, 0.2e-3
    u = math.sqrt(mean_variance(q, sigma, 5))
    assert u == pytest.approx(0.18177e-3, rel=1e-4)
    assert math.sqrt(bias_variance(q, sigma)) == pytest.approx(0.10231e-3, rel=1e-4)
    # and by simulation of the readings themselves (y uniform over the step)
    rng = np.random.default_rng(7)
    y = rng.uniform(0, q, 200_000)
    r = np.rint((y[:, None] + rng.normal(0, sigma, (y.size, 5))) / q) * q
    assert float(np.std(r.mean(1) - y)) == pytest.approx(u, rel=0.01)


def test_pooled_standard_deviation():
    # GUM 4.2.4: s_p² = Σ(n_j − 1)s_j² / Σ(n_j − 1)
    s, dof = pooled([[1.0, 2.0, 3.0], [5.0, 5.0], [0.0, 4.0]])
    assert dof == 2 + 1 + 1
    assert s == pytest.approx(math.sqrt((2.0 + 0.0 + 8.0) / 4))
    with pytest.raises(ValueError):
        pooled([[1.0], [2.0]])


@pytest.mark.parametrize("ratio", [0.2, 0.4])
def test_fit_recovers_the_noise_ahead_of_the_rounding(ratio):
    q = 1.0
    rng = np.random.default_rng(11)
    series = [np.rint((rng.uniform(0, 50) + rng.normal(0, ratio, 25)) / q) * q for _ in range(40)]
    fit = fit_noise(series, q)
    assert abs(fit.sigma - ratio) < 3 * fit.u_sigma
    assert fit.u_sigma < 0.2 * ratio
    assert fit.dof == pytest.approx(0.5 * (fit.sigma / fit.u_sigma) ** 2)
    assert (fit.levels, fit.readings, fit.pooled_dof) == (40, 1000, 960)


def test_fit_of_constant_series_is_no_noise():
    fit = fit_noise([[2.0] * 10, [5.0] * 10], 1.0)
    assert fit.sigma == 0.0 and fit.pooled_s == 0.0

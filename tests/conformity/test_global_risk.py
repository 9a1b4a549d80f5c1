"""Global risks (JCGM 106:2012 clause 9) and guard bands, against published numbers.

Sources of the expected digits (each test names its own):

* JCGM 106:2012 9.5.4 (precision ball bearings): gamma prior with α = 4, λ = 4 µm⁻¹
  (expectation 1 µm, standard deviation 0.5 µm), one-sided tolerance T_U = 2 µm: 4.2 % of the
  bearings are non-conforming; measured with u_m = 0.25 µm and accepted up to 2 µm, the
  consumer's risk is R_C = 0.8 %.  (The Guide's figures as quoted in Sandia's suncal notebook
  "Risk - Ball Bearing", which reproduces that example.)
* D. Deaver, "How to Maintain Your Confidence (in a World of Declining Test Uncertainty
  Ratios)", NCSL Workshop & Symposium, 1993: p. 7 — a process within ±2σ (SL = 2) tested with
  TUR = 4 (test standard deviation σ/4) gives a false-accept probability of 0.8 %, with SL = 2.5,
  0.25 %; p. 10 — SL = 2, TUR = 2 with guard band k = 0.91 gives 0.8 % false accepts and 6.6 %
  false rejects.  (As cited with these digits in suncal's test/test_risk.py.)
* M. Dobbert, "A Guard-Band Strategy for Managing False-Accept Risk", NCSLI Measure 3(4), 2008:
  the guard band w = M·U with M = 1.04 − exp(0.38 ln TUR − 0.54) keeps the global false-accept
  risk at or below 2 % whatever the in-tolerance probability of the population.
* ILAC-G8:09/2019 4.2.2 table / ISO 14253-1: w = 0.83·U keeps the specific false-accept risk of
  an accepted result below 5 % (one-sided, normal, k = 2).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from labauto.conformity import (GlobalRisk, RiskError, acceptance_limit_for_conformance, dobbert_multiplier,
                                global_risk, global_risk_normal, guard_band_for_global_risk, tur_guard_band)
from labauto.conformity.priors import parse_prior, to_scipy
from labauto.uncertainty import Gamma, Normal, Rectangular
from labauto.units import Q_

BEARINGS = stats.gamma(a=4, scale=0.25)          # JCGM 106 9.5.4: α = 4, λ = 4 /µm


# -- JCGM 106:2012 9.5.4: one-sided tolerance, gamma prior ------------------------------------

def test_jcgm106_bearings_without_measurement_4_2_percent_nonconforming():
    r = global_risk(BEARINGS, 0.25, tolerance=(None, 2.0))
    assert 1 - r.conformance_probability == pytest.approx(0.042, abs=5e-4)       # "4.2 %"


def test_jcgm106_bearings_consumer_risk_0_8_percent():
    r = global_risk(BEARINGS, 0.25, tolerance=(None, 2.0))
    assert r.consumer_risk == pytest.approx(0.008, abs=5e-5)                    # "R_C = 0.8 %"
    assert r.tolerance == (-math.inf, 2.0) and r.acceptance == (-math.inf, 2.0)


def test_gamma_prior_from_the_uncertainty_package_gives_the_same_risks():
    prior = to_scipy(Gamma(Q_(1, "um"), Q_(0.5, "um")))       # α = (1/0.5)² = 4, λ = 1/0.25 = 4 /µm
    a = global_risk(prior, 0.25, tolerance=(None, 2.0))
    b = global_risk(BEARINGS, 0.25, tolerance=(None, 2.0))
    assert a.consumer_risk == pytest.approx(b.consumer_risk, rel=1e-9)
    assert a.producer_risk == pytest.approx(b.producer_risk, rel=1e-9)
    assert parse_prior("gamma:1,0.5").pdf(0.7) == pytest.approx(BEARINGS.pdf(0.7), rel=1e-12)


def test_bearings_risks_agree_with_a_monte_carlo_of_the_population():
    """Independent cross-check (not the core method): draw bearings and measurements."""
    rng = np.random.default_rng(20120101)
    n = 4_000_000
    y = rng.gamma(4.0, 0.25, n)
    ym = y + rng.normal(0.0, 0.25, n)
    for a_u in (2.0, 1.6):
        r = global_risk(BEARINGS, 0.25, tolerance=(None, 2.0), acceptance=(None, a_u))
        rc = np.mean((y > 2.0) & (ym <= a_u))
        rp = np.mean((y <= 2.0) & (ym > a_u))
        assert r.consumer_risk == pytest.approx(rc, abs=4 * math.sqrt(rc / n))
        assert r.producer_risk == pytest.approx(rp, abs=4 * math.sqrt(rp / n))


def test_guard_band_for_a_global_target_on_the_bearings():
    w, r = guard_band_for_global_risk(BEARINGS, 0.25, 0.001, upper=2.0)
    assert r.consumer_risk == pytest.approx(0.001, rel=1e-6)
    assert r.acceptance[1] == pytest.approx(2.0 - w)
    # suncal's notebook reaches R_C = 0.1 % for these bearings at A_U = 1.672 µm
    assert 2.0 - w == pytest.approx(1.672, abs=5e-4)
    # a larger guard band lowers R_C and raises R_P (JCGM 106 9.5.3)
    plain = global_risk(BEARINGS, 0.25, tolerance=(None, 2.0))
    assert r.producer_risk > plain.producer_risk


# -- two-sided, normal prior: Deaver's published figures ---------------------------------------

@pytest.mark.parametrize("sl, tur, pfa", [(2.0, 4.0, 0.008), (2.5, 4.0, 0.0025)])
def test_deaver_false_accept_two_sided_normal(sl, tur, pfa):
    r = global_risk(stats.norm(0, 1), 1 / tur, tolerance=(-sl, sl))
    assert r.consumer_risk == pytest.approx(pfa, abs=1e-4)


def test_deaver_guard_band_k_0_91():
    r = global_risk(stats.norm(0, 1), 0.5, tolerance=(-2, 2), acceptance=(-2 * 0.91, 2 * 0.91))
    assert r.consumer_risk == pytest.approx(0.008, abs=5e-4)      # 0.8 %
    assert r.producer_risk == pytest.approx(0.066, abs=1e-3)      # 6.6 %


@pytest.mark.parametrize("acc", [None, (-1.82, 1.82), (-1.5, 2.2), (None, 1.9)])
def test_quadrature_equals_the_bivariate_normal_closed_form(acc):
    tol = (-2.0, 2.0) if acc is None or acc[0] is not None else (None, 2.0)
    a = global_risk(stats.norm(0.3, 1), 0.5, tolerance=tol, acceptance=acc)
    b = global_risk_normal(0.3, 1, 0.5, tolerance=tol, acceptance=acc)
    assert a.consumer_risk == pytest.approx(b.consumer_risk, rel=1e-7, abs=1e-12)
    assert a.producer_risk == pytest.approx(b.producer_risk, rel=1e-7, abs=1e-12)
    assert a.conformance_probability == pytest.approx(b.conformance_probability, rel=1e-12)


def test_other_priors_from_the_uncertainty_package():
    # a uniform population over ±1.2 with tolerance ±1: 1/6 of it is non-conforming
    r = global_risk(to_scipy(Rectangular(Q_(0, "V"), Q_(1.2, "V"))), 0.05, tolerance=(-1, 1))
    assert 1 - r.conformance_probability == pytest.approx(0.2 / 1.2, rel=1e-12)
    # R_C = 2·(1/2.4)·∫_1^1.2 Φ((1−η)/u) dη = 2·(1/2.4)·u·(φ(0) − φ(c) + c·Φ(−c)), c = 0.2/u
    u = 0.05
    expected = 2 * (1 / 2.4) * u * (stats.norm.pdf(0) - stats.norm.pdf(-0.2 / u)
                                   + (0.2 / u) * stats.norm.sf(0.2 / u))
    assert r.consumer_risk == pytest.approx(expected, rel=1e-7)
    n = global_risk(to_scipy(Normal(Q_(0, "V"), Q_(1, "V"))), 0.25, tolerance=(-2, 2))
    assert n.consumer_risk == pytest.approx(0.008, abs=1e-4)


def test_empty_acceptance_accepts_nothing_and_bad_input_is_refused():
    r = global_risk(stats.norm(0, 1), 0.25, tolerance=(-1, 1), acceptance=(0.5, -0.5))
    assert r.consumer_risk == 0.0 and r.producer_risk == pytest.approx(r.conformance_probability)
    with pytest.raises(RiskError, match="at least one finite limit"):
        global_risk(stats.norm(0, 1), 0.25, tolerance=(None, None))
    with pytest.raises(RiskError, match="empty"):
        global_risk(stats.norm(0, 1), 0.25, tolerance=(1, -1))
    with pytest.raises(RiskError, match=">= 0"):
        global_risk(stats.norm(0, 1), -0.1, tolerance=(-1, 1))


def test_conditional_consumer_risk_and_json():
    r = global_risk(stats.norm(0, 1), 0.25, tolerance=(-2, 2))
    accepted = r.conformance_probability - r.producer_risk + r.consumer_risk
    assert r.conditional_consumer_risk == pytest.approx(r.consumer_risk / accepted)
    d = r.to_dict()
    assert d["tolerance"] == {"lower": -2.0, "upper": 2.0} and d["consumer_risk"] == r.consumer_risk
    assert isinstance(r, GlobalRisk)


# -- guard-band rules ----------------------------------------------------------------------------

def test_dobbert_multiplier_and_its_2_percent_promise():
    assert dobbert_multiplier(4.0) == pytest.approx(1.04 - math.exp(0.38 * math.log(4) - 0.54))
    assert dobbert_multiplier(4.6) == 0.0 and dobbert_multiplier(10) == 0.0   # M < 0 -> no guard band
    for tur in (1.5, 2.0, 3.0, 4.0):
        T, U = 1.0, 1.0 / tur
        w = tur_guard_band("dobbert", T, U)
        worst = 0.0
        for itp in np.linspace(0.30, 0.995, 140):
            sd = T / stats.norm.ppf(0.5 * (1 + itp))
            worst = max(worst, global_risk_normal(0, sd, U / 2, tolerance=(-T, T),
                                                  acceptance=(-T + w, T - w)).consumer_risk)
        # Dobbert: "PFA <= 2 %" for any in-tolerance probability; the fitted M is not much tighter
        assert 0.018 < worst <= 0.02, (tur, worst)


@pytest.mark.parametrize("rule, tur, al_over_t", [
    ("U", 2.0, 0.5), ("U", 4.0, 0.75),
    ("rss", 2.0, math.sqrt(1 - 1 / 4)), ("rss", 1.0, 0.0),       # AL = √(T² − U²)
    ("rp10", 2.0, 0.75), ("rp10", 4.0, 1.0), ("rp10", 8.0, 1.0),  # AL/T = 1.25 − 1/TUR, <= 1
    ("dobbert", 2.0, 1 - (1.04 - math.exp(0.38 * math.log(2) - 0.54)) / 2),
])
def test_tur_rules(rule, tur, al_over_t):
    w = tur_guard_band(rule, 1.0, 1.0 / tur)
    assert max(1.0 - w, 0.0) == pytest.approx(al_over_t, abs=1e-12)


def test_specific_risk_guard_band_is_iso_14253_0_83_U():
    """One-sided limit, p_c = 95 % at the acceptance limit: w = 1.645 u = 0.822 U (k = 2);
    ILAC-G8 quotes ISO 14253-1's w = 0.83 U for a specific risk below 5 %."""
    T, U = 1.0, 0.2
    a = acceptance_limit_for_conformance(0.95, U / 2, upper=T)
    assert (T - a) / U == pytest.approx(stats.norm.ppf(0.95) / 2, rel=1e-12)
    assert (T - a) / U == pytest.approx(0.8224, abs=1e-4) and (T - a) / U < 0.83
    # two-sided, far from the lower limit: the same to 1e-12
    b = acceptance_limit_for_conformance(0.95, U / 2, lower=-T, upper=T)
    assert b == pytest.approx(a, abs=1e-12)
    # lower side, symmetric
    assert acceptance_limit_for_conformance(0.95, U / 2, lower=-T, upper=T, side="lower") == pytest.approx(-b)
    # a tolerance too narrow for the uncertainty: no result can conform with 95 %
    with pytest.raises(RiskError, match="too narrow"):
        acceptance_limit_for_conformance(0.95, 1.0, lower=-1, upper=1)


def test_owens_t_bivariate_normal_equals_scipys_multivariate_normal():
    from scipy.stats import multivariate_normal

    from labauto.conformity.global_risk import bivariate_normal_cdf
    rng = np.random.default_rng(5)
    cases = [(0.0, 0.7, 0.5), (-1.1, 0.0, 0.9), (0.0, 0.0, -0.3), (2.5, -0.4, 0.97)]
    cases += [(float(h), float(k), float(r)) for h, k, r in
              zip(rng.normal(0, 2, 40), rng.normal(0, 2, 40), rng.uniform(-0.99, 0.99, 40))]
    for h, k, rho in cases:
        ref = multivariate_normal([0, 0], [[1, rho], [rho, 1]], abseps=1e-13, releps=1e-12).cdf([h, k])
        assert bivariate_normal_cdf(h, k, rho) == pytest.approx(ref, abs=1e-12), (h, k, rho)
    assert bivariate_normal_cdf(math.inf, 0.3, 0.5) == pytest.approx(stats.norm.cdf(0.3))
    assert bivariate_normal_cdf(-math.inf, 0.3, 0.5) == 0.0

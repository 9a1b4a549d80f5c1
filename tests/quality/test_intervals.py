"""Calibration intervals (NCSLI RP-1 A3 and S2).  RP-1's worked examples were not available to
this project, so every figure here is checked against an independent derivation: closed forms
of the binomial limits and of the maximum-likelihood fits where they exist, the exact binomial
sums solved by bisection, a score equation solved by bisection, and a simulation with a known
reliability model."""
from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from labauto.cli import app
from labauto.quality.intervals import (Observation, clopper_pearson, method_a3, method_s2,
                                       observations)
from labauto.quality.records import Calibration, Item
from labauto.quality.register import open_register

D0 = dt.date(2020, 1, 1)


def obs(*groups: tuple[float, int, int]) -> list[Observation]:
    """(resubmission days, n, in tolerance) -> observations."""
    return [Observation("A", D0, D0 + dt.timedelta(days=days), i < x)
            for days, n, x in groups for i in range(n)]


def _binomial_tail(x: int, n: int, p: float) -> float:
    """P(X >= x) for X ~ Bin(n, p), summed exactly."""
    return sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(x, n + 1))


def _bisect(f, lo: float, hi: float) -> float:
    for _ in range(200):
        mid = (lo + hi) / 2
        if (f(lo) < 0) == (f(mid) < 0):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@pytest.mark.parametrize("x, n, confidence", [(8, 10, 0.95), (17, 20, 0.90), (3, 40, 0.80)])
def test_clopper_pearson_limits_solve_the_exact_binomial_sums(x, n, confidence):
    alpha = 1 - confidence
    lower = _bisect(lambda p: _binomial_tail(x, n, p) - alpha / 2, 0.0, 1.0)
    upper = _bisect(lambda p: (1 - _binomial_tail(x + 1, n, p)) - alpha / 2, 0.0, 1.0)
    assert clopper_pearson(x, n, confidence) == pytest.approx((lower, upper), abs=1e-9)


def test_clopper_pearson_closed_forms_at_zero_and_all():
    # x = 0: upper = 1 - (alpha/2)^(1/n); x = n: lower = (alpha/2)^(1/n)
    assert clopper_pearson(0, 10, 0.95) == pytest.approx((0.0, 1 - 0.025 ** 0.1), abs=1e-12)
    assert clopper_pearson(10, 10, 0.95) == pytest.approx((0.025 ** 0.1, 1.0), abs=1e-12)
    assert 1 - 0.025 ** 0.1 == pytest.approx(0.308497, abs=1e-6)


def test_a3_keeps_an_interval_consistent_with_the_target():
    r = method_a3(obs((365, 20, 17)), 365, 0.95)              # R0 = 0.85, target inside limits
    assert r.verdict == "keep" and r.recommended == 365
    assert r.limits[0] < 0.95 < r.limits[1] and r.observed == 0.85


def test_a3_shortens_and_is_limited_by_the_maximum_change():
    # 14 of 20: R0 = 0.7, upper 90 % limit 0.8604 < 0.95 -> too long; the exponential model
    # through R0 gives 365 ln 0.95 / ln 0.7 = 52.5 d, limited to 365 / 2
    r = method_a3(obs((365, 20, 14)), 365, 0.95)
    assert r.verdict == "shorten" and r.limits[1] == pytest.approx(0.860446, abs=1e-6)
    assert r.recommended == 182.5
    r = method_a3(obs((365, 20, 14)), 365, 0.95, max_change=10)
    assert r.recommended == pytest.approx(365 * math.log(0.95) / math.log(0.7), rel=1e-12)
    assert r.recommended == pytest.approx(52.49, abs=0.01)


def test_a3_lengthens_from_the_lower_limit_when_all_were_in_tolerance():
    # 60 of 60: lower 90 % limit 0.05^(1/60) = 0.951297 > 0.95 -> too short;
    # new interval 365 ln 0.95 / ln 0.951297 = 374.97 d
    r = method_a3(obs((365, 60, 60)), 365, 0.95)
    lower = 0.05 ** (1 / 60)
    assert r.verdict == "lengthen" and r.limits[0] == pytest.approx(lower, abs=1e-12)
    assert r.recommended == pytest.approx(365 * math.log(0.95) / math.log(lower), rel=1e-12)
    assert r.recommended == pytest.approx(374.97, abs=0.01)
    # 40 of 40 is not yet evidence enough (lower limit 0.9278)
    assert method_a3(obs((365, 40, 40)), 365, 0.95).verdict == "keep"
    # observations far from the current interval are not used by A3
    r = method_a3(obs((365, 40, 40), (100, 5, 0)), 365, 0.95)
    assert (r.used, r.unused) == (40, 5)


def test_s2_exponential_fit_with_one_resubmission_time_has_the_closed_form():
    # all at 180 d, 15 of 20 in tolerance: lambda = -ln(0.75)/180; interval for 0.95:
    # 180 ln 0.95 / ln 0.75 = 32.094 d
    r = method_s2(obs((180, 20, 15)), 0.95)
    exp = next(f for f in r.fits if f.name == "exponential")
    assert exp.parameters["lambda_per_day"] == pytest.approx(-math.log(0.75) / 180, rel=1e-6)
    assert exp.interval == pytest.approx(180 * math.log(0.95) / math.log(0.75), rel=1e-6)
    assert exp.interval == pytest.approx(32.094, abs=1e-3)
    # but one resubmission time cannot tell the models apart: S2 gives no interval
    assert r.chosen is None and r.recommended is None and "span a factor 1.00" in r.notes[0]


def test_s2_two_resubmission_times_against_independent_solutions():
    data = obs((100, 20, 19), (300, 20, 14))
    r = method_s2(data, 0.95)
    fits = {f.name: f for f in r.fits}
    # Weibull through both observed reliabilities exactly: (100 lam)^b = -ln 0.95,
    # (300 lam)^b = -ln 0.7 -> b = ln(ln 0.7 / ln 0.95) / ln 3 = 1.76519; R(100 d) = 0.95
    beta = math.log(math.log(0.7) / math.log(0.95)) / math.log(3)
    assert fits["weibull"].parameters["beta"] == pytest.approx(beta, rel=1e-4)
    assert beta == pytest.approx(1.76519, abs=1e-5)
    assert fits["weibull"].interval == pytest.approx(100.0, rel=1e-4)
    assert fits["weibull"].deviance == pytest.approx(0.0, abs=1e-6)
    # exponential: the root of the score equation, found by bisection
    def score(lam: float) -> float:
        return sum(-x * t + (n - x) * t * math.exp(-lam * t) / (1 - math.exp(-lam * t))
                   for t, n, x in ((100, 20, 19), (300, 20, 14)))
    lam = _bisect(score, 1e-6, 1e-2)
    assert fits["exponential"].parameters["lambda_per_day"] == pytest.approx(lam, rel=1e-5)
    assert fits["exponential"].interval == pytest.approx(-math.log(0.95) / lam, rel=1e-5)
    # both pass the fit test; the exponential has the lower AIC (one parameter fewer)
    assert fits["exponential"].accepted and fits["weibull"].accepted
    assert r.chosen == "exponential" and fits["exponential"].aic < fits["weibull"].aic


def test_s2_recovers_a_known_weibull_model_from_simulated_history():
    # 1500 calibrations, resubmission times 60-600 d, true R(t) = exp(-(t/400)^2):
    # the interval for R* = 0.90 is 400 (-ln 0.9)^(1/2) = 129.84 d
    rng = np.random.default_rng(11)
    data = []
    for _ in range(1500):
        t = int(rng.integers(60, 600))
        data.append(Observation("A", D0, D0 + dt.timedelta(days=t),
                                bool(rng.uniform() < math.exp(-(t / 400) ** 2))))
    r = method_s2(data, 0.90)
    assert r.chosen == "weibull"
    fits = {f.name: f for f in r.fits}
    assert not fits["exponential"].accepted              # the wrong model is rejected
    # the same maximum-likelihood estimate from an independent (vectorised) minimisation
    from scipy.optimize import minimize
    ts = np.array([o.days for o in data])
    ys = np.array([o.in_tolerance for o in data])

    def nll(p):
        rel = np.clip(np.exp(-(np.exp(p[0]) * ts) ** np.exp(p[1])), 1e-300, 1 - 1e-16)
        return -np.sum(np.where(ys, np.log(rel), np.log1p(-rel)))
    lam, beta = np.exp(minimize(nll, [math.log(1 / 400), math.log(2)], method="Nelder-Mead",
                                options={"xatol": 1e-10, "fatol": 1e-12}).x)
    assert fits["weibull"].parameters["lambda_per_day"] == pytest.approx(lam, rel=1e-4)
    assert fits["weibull"].parameters["beta"] == pytest.approx(beta, rel=1e-4)
    # and near the truth, within the sampling error of 1500 observations (this seed: beta
    # 2.16, lambda 1/415.8 per day; the interval at R = 0.90 is sensitive to beta)
    assert fits["weibull"].parameters["beta"] == pytest.approx(2.0, rel=0.15)
    assert fits["weibull"].parameters["lambda_per_day"] == pytest.approx(1 / 400, rel=0.10)
    assert r.recommended == pytest.approx(129.84, rel=0.15)


def test_s2_says_when_it_cannot_fit():
    assert method_s2(obs((365, 5, 4)), 0.95).notes[0] == "5 observations; S2 needs at least 10"
    r = method_s2(obs((365, 30, 30)), 0.95)
    assert r.recommended is None and "no out-of-tolerance" in r.notes[0]


def test_labauto_interval_show_prints_the_recommendation_and_the_evidence(tmp_path):
    store = open_register(tmp_path / "reg", create=True)
    for k in range(3):          # three 34401A, yearly calibrations, as found
        aid = f"DMM-{k}"
        store.add(Item(aid, "Keysight Technologies", "34401A", f"MY{k}", "working_standard",
                       365.0, reliability_target=0.9))
        for year in range(8):
            found = "out_of_tolerance" if (year + k) % 4 == 3 else "in_tolerance"
            store.add_calibration(aid, Calibration(f"C-{k}-{year}", dt.date(2015 + year, 3, 1),
                                                   "Lab", as_found=found if year else None))
    runner = CliRunner()
    r = runner.invoke(app, ["interval", "show", "DMM-0", "--pool", "--json",
                            "--register", str(tmp_path / "reg")])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["pooled"] == ["DMM-0", "DMM-1", "DMM-2"] and len(doc["observations"]) == 21
    a3 = doc["a3"]
    # (year + k) % 4 == 3 found out of tolerance: years 3, 7 / 2, 6 / 1, 5 -> 6 of 21
    assert (a3["n"], a3["in_tolerance"]) == (21, 15)
    lo, hi = clopper_pearson(15, 21, 0.90)
    # R0 = 0.714, upper limit 0.855 < 0.90: too long; 365 ln 0.9 / ln(15/21) = 114.3 d,
    # limited to half the interval
    assert a3["limits"] == pytest.approx([lo, hi]) and hi < 0.9 and a3["verdict"] == "shorten"
    assert doc["recommended"] == {"method": "A3", "days": 182.5}
    # every observation is at one year: S2 has no spread of resubmission times to fit
    assert doc["s2"]["n"] == 21 and doc["s2"]["recommended_days"] is None
    assert "span a factor 1.00" in doc["s2"]["notes"][0]
    text = runner.invoke(app, ["interval", "show", "DMM-1", "--register", str(tmp_path / "reg")])
    assert text.exit_code == 0 and "recommended interval: 365 d by method A3" in text.output
    assert "15 of 21" not in text.output and "5 of 7 in tolerance" in text.output
    bad = runner.invoke(app, ["interval", "show", "DMM-1", "--confidence", "1.5",
                              "--register", str(tmp_path / "reg")])
    assert bad.exit_code == 1 and "--confidence 1.5" in bad.output
    assert observations([store.get("DMM-0")])[1] == []

"""Without a stated k a comparison point's U is the 95 % interval validated per JCGM 101:2008
clause 8 (labauto.uncertainty.convolution.validated_budget), as the electrical budgets' is.

EA-4/02 S5's inputs (labauto.temperature.budgets.ea402_s5): the furnace's ±1 K rectangular
non-uniformity is 0.577 K × 38.5 µV/K = 22.2 µV of u_c = 24.96 µV, so the emf's distribution is
close to rectangular and its 95 % interval is narrower than the GUM's t_95(ν_eff)·u_c.  The
interval is checked here against an independent Monte Carlo propagation (JCGM 101:2008 7) of
the same inputs; EA-4/02's printed U = 50 µV is the stated k = 2 (tests/temperature/test_budgets.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from labauto.temperature.budgets import ea402_s5, point_budget
from labauto.uncertainty.convolution import is_propagated


def _monte_carlo_s5_halfwidth(n: int = 2_000_000) -> float:
    """95 % probabilistically symmetric half-width of V_X − v_X by Monte Carlo (µV)."""
    rng = np.random.default_rng(20261206)
    c_s, s_x, c_0x = 0.077, 1 / 0.026, -1 / 0.039       # K/µV, µV/K, µV/K (EA-4/02 S5)

    def rect(a):
        return rng.uniform(-a, a, n)

    t_x = (rng.normal(0, 0.10, n) + rng.normal(0, 0.15, n)            # t_S (pooled s), dt_S
           + c_s * (rng.normal(0, 1.0, n) + rect(0.5) + rect(2.0))    # voltmeter, resolution, switch
           + (-c_s / 0.189) * rect(0.1) + rect(0.3) + rect(1.0))      # junction, drift, furnace
    v_x = (rng.normal(0, 1.6, n) + rng.normal(0, 1.0, n) + rect(0.5) + rect(2.0) + rect(5.0)
           + c_0x * rect(0.1) - s_x * t_x)
    return float(np.quantile(np.abs(v_x), 0.95))


def test_uniformity_dominated_point_takes_the_propagated_interval():
    stated = point_budget(ea402_s5(), k=2)
    r = point_budget(ea402_s5())
    assert r.u == pytest.approx(24.96133284258629, rel=1e-12)     # u_c unchanged
    assert stated.U == pytest.approx(2 * r.u, rel=1e-12)
    # the GUM's k = t_95(nu_eff) = 1.96 would over-cover: U is the convolution's 95 % half-width
    assert r.U == pytest.approx(_monte_carlo_s5_halfwidth(), rel=0.004)
    assert 1.75 < r.k < 1.88
    assert r.k == pytest.approx(r.U / r.u, rel=1e-12)
    assert is_propagated(r.budget) and "k = U/u_c" in r.budget.method
    assert is_propagated(r.reference_budget)                       # t_X: the furnace dominates too
    assert r.U_error == pytest.approx(r.U / r.sensitivity, rel=1e-12)


def test_stated_k_is_kept():
    r = point_budget(ea402_s5(), k=2)
    assert r.k == 2.0 and not is_propagated(r.budget)
    assert round(r.U) == 50                                        # EA-4/02 S5: "± 50 µV"


def test_normal_dominated_point_keeps_the_gum_interval():
    from dataclasses import replace

    p = ea402_s5()
    # the furnace's uniformity a hundredth of S5's: the normal inputs dominate, the GUM stands
    infl = tuple(replace(i, value=0.01) if i.name == "dt_F" else i for i in p.influences)
    r = point_budget(replace(p, influences=infl))
    assert not is_propagated(r.budget)
    assert r.k == pytest.approx(1.96, abs=0.02)                    # t_95(nu_eff), nu_eff large
    assert r.U == pytest.approx(r.k * r.u, rel=1e-12)

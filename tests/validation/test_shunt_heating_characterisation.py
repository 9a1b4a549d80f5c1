"""The 3458A's shunt heating at the 5522A procedure's DCI 1 A point: measured by a
characterisation (labauto.validation.shunt_heating), and the budget's correction is what it
measured (issue 16: the budget's ± half of the correction, "for the ambient and the dwell
time", had no basis in an automated sequence; DCI 1 A over-covered, coverage 1.000, σ 0.94).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from labauto.evaluation import evaluate_point
from labauto.procedure import load_procedure
from labauto.validation.shunt_heating import (CharacterisationError,
                                              characterise_on_simulated_lab, fit_cold_record,
                                              main)

PROCEDURE = "fluke_5522a_dci_res_3458a.yaml"


@pytest.fixture()
def proc(project_root):
    return load_procedure(project_root / "procedures" / PROCEDURE)


def _law_at_the_1a_point() -> float:
    """The simulated shunt's heating (ppm) averaged over the 1 A point's readings, by the
    first-order law (α θ R = 15 ppm/K × 60 K/W × 0.1 Ω, τ = 20 s): the 300 mA point leaves
    8.1 ppm × (1 − e^(−25/20)) after its 25 s; the 1 A readings end at 34, 38 ... 50 s."""
    prior = 8.1 * (1 - math.exp(-25 / 20))
    return float(np.mean([90 + (prior - 90) * math.exp(-t / 20) for t in (34, 38, 42, 46, 50)]))


def test_the_law_gives_79_ppm_at_the_1a_point():
    assert _law_at_the_1a_point() == pytest.approx(79.27, abs=0.01)


def test_the_fit_recovers_an_exact_first_order_record():
    t = np.arange(0.041, 150, 0.041)
    r = 1.0001 * (1 + 90e-6 * (1 - np.exp(-t / 20)))
    rec = fit_cold_record(t, r, 0.041)
    assert rec.at_switch_on == pytest.approx(1.0001, rel=1e-9)
    assert rec.tau_s == pytest.approx(20.0, rel=1e-4)
    # the initial slope (4.5 ppm/s) times the reading time (0.041 s)
    assert rec.timing_halfwidth * 1e6 == pytest.approx(0.1845, rel=1e-3)


def test_the_characterisation_measures_the_heating_at_the_1a_point(proc):
    result = characterise_on_simulated_lab(proc, "DCI-1A-+1A", repeats=2, record_s=150.0)
    law = _law_at_the_1a_point()
    for rep in result.repetitions:
        assert rep.heating * 1e6 == pytest.approx(law, abs=2.0)     # noise: s ≈ 0.5 ppm
        assert rep.cold.tau_s == pytest.approx(20.0, abs=1.5)
        # NPLC 100 against NPLC 1 in the steady state: the simulated gain is the same
        assert abs(rep.cold.gain_ratio - 1) < 1e-6
    assert result.standard_uncertainty * 1e6 < 3.0


def test_a_standby_shorter_than_ten_time_constants_is_refused(proc):
    with pytest.raises(CharacterisationError, match="does not cool it"):
        characterise_on_simulated_lab(proc, "DCI-1A-+1A", repeats=2, cool_s=100.0,
                                      record_s=150.0)


def test_an_unknown_point_exits_2(project_root, capsys):
    assert main([str(project_root / "procedures" / PROCEDURE), "DCI-9A"]) == 2
    assert "no point 'DCI-9A'" in capsys.readouterr().out


def test_the_budget_corrects_the_characterised_heating(proc):
    # characterised (10 repetitions, seed 1): 79.13 ppm, s = 0.33 ppm -> 79.1 ppm, u = 0.4 ppm,
    # normal, 9 degrees of freedom (before: 79 ppm ± 40 ppm rectangular, u = 23.1 ppm)
    point = proc.point("DCI-1A-+1A")
    budget = evaluate_point(point, proc, [1.00012, 1.00011, 1.00013, 1.00012, 1.00012], "A").budget
    row = next(r for r in budget.rows if "self-heating" in r.source)
    assert row.estimate.to("uA").magnitude == pytest.approx(79.1)
    assert row.standard_uncertainty.to("uA").magnitude == pytest.approx(0.4)
    assert row.distribution == "normal" and row.dof == 9
    # u_c: the 3458A's 1 A specification (110 ppm of reading + 10 ppm of range, limits:
    # 120 µA/√3 = 69.28 µA), the readings' Type A (s = 7.07 µA, /√5 = 3.16 µA) and the
    # correction's 0.4 µA: 69.36 µA (before, with 23.1 µA for the correction: 73.1 µA)
    assert budget.combined_uncertainty.to("uA").magnitude == pytest.approx(69.36, abs=0.01)

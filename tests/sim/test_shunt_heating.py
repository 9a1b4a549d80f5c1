"""The simulated 3458A's 0.1 ohm shunt heats by the first-order law and cools in standby.

ΔR/R = α·θ·I²·R·(1 − exp(−t/τ)) from cold, with the simulated lab's α = 15 ppm/K,
θ = 60 K/W, τ = 20 s (labauto.sim.physics): 90 ppm at 1 A in the steady state.  Before, the
shunt did not see a standby between two points: it kept heating as if the current had flowed
all along (a cold start after 10 minutes in standby read the steady-state 90 ppm).
"""
from __future__ import annotations

import math

import pytest

from labauto.procedure import load_procedure
from labauto.units import Q_
from labauto.validation.loopback import loopback_instrument
from labauto.validation.montecarlo import simulated_lab

STEADY_PPM = 15e-6 * 60.0 * 1.0 ** 2 * 0.1 * 1e6     # α θ I² R at 1 A: 90 ppm
TAU_S = 20.0


@pytest.fixture()
def bench(project_root):
    proc = load_procedure(project_root / "procedures" / "fluke_5522a_dci_res_3458a.yaml")
    lab = simulated_lab(proc, 5)
    with loopback_instrument(lab.dmm, proc.meter_model, "meter") as meter, \
            loopback_instrument(lab.calibrator, proc.source_model, "source") as source:
        meter.configure("DCI", Q_(1, "A"), nplc=100, autozero=True)
        source.apply("DCI", Q_(1, "A"))
        yield lab, meter, source


def _heating_ppm(lab, meter) -> float:
    """The reading's excess over what the cold shunt would read (the meter's own error and
    the calibrator's cancel: both are in the noise-free indication)."""
    cold = lab.truth.indication("DCI", 1.0, lab.truth.true_output("DCI", 1.0), None, True)
    return (meter.read(n=1)[0].to("A").magnitude / cold - 1.0) * 1e6


def test_the_rise_follows_the_first_order_law_after_a_standby(bench):
    lab, meter, source = bench
    source.operate()
    lab.advance(300.0)                             # 15 τ: the steady state
    assert _heating_ppm(lab, meter) == pytest.approx(STEADY_PPM, abs=1.2)
    for dwell in (10.0, 30.0, 60.0):
        source.standby()
        lab.advance(600.0)                         # 30 τ in standby: cold again
        source.operate()
        t_on = lab.clock.now()
        lab.advance(dwell)
        heating = _heating_ppm(lab, meter)
        t = lab.clock.now() - t_on                 # the reading's instant (end of its 4 s)
        expected = STEADY_PPM * (1 - math.exp(-t / TAU_S))
        # t = 14, 34, 64 s: 45.3, 73.6, 86.3 ppm (the old code: 89.6 ppm, still hot)
        assert heating == pytest.approx(expected, abs=1.2), (dwell, t)


def test_a_short_standby_leaves_part_of_the_heat(bench):
    lab, meter, source = bench
    source.operate()
    lab.advance(300.0)
    source.standby()
    lab.advance(20.0)                              # one τ: e⁻¹ of 90 ppm left = 33.1 ppm
    source.operate()
    t_on = lab.clock.now()
    heating = _heating_ppm(lab, meter)
    t = lab.clock.now() - t_on
    left = STEADY_PPM * math.exp(-(20.0 + t) / TAU_S)
    expected = left + STEADY_PPM * (1 - math.exp(-t / TAU_S))
    assert heating == pytest.approx(expected, abs=1.2)

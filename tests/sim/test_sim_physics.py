"""Physics of the simulated lab, observed through its SCPI sockets with the real drivers."""
from __future__ import annotations

import numpy as np
import pytest

from labauto.drivers import open_instrument
from labauto.sim import SimulatedLab
from labauto.units import Q_

V10 = Q_(10, "V")


def _measure(lab, volts: float, range_v: float, nplc: float, n: int, autozero=True,
             operate=True) -> np.ndarray:
    with open_instrument(lab.resources["dmm"], "keysight_34465a") as dmm, \
            open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
        dmm.configure("DCV", Q_(range_v, "V"), nplc=nplc, autozero=autozero)
        cal.apply("DCV", Q_(volts, "V"))
        if operate:
            cal.operate()
        return dmm.read(n=n).to("V").magnitude


def test_dmm_reads_what_the_calibrator_truly_sources_through_the_dut_error(lab):
    r = _measure(lab, 10.0, 10.0, 10, 50)
    true = lab.truth.calibrator_output(V10)
    expected = (true + lab.truth.dut_error("DCV", V10, true)).to("V").m
    sigma = lab.truth.noise_sigma(V10, 10).m
    assert r.mean() == pytest.approx(expected, abs=4 * sigma / np.sqrt(50) + 5e-6)
    # and the errors are real, not zero: the reading differs from the nominal
    assert abs(expected - 10.0) > 1e-6


def test_standby_means_zero_volts(lab):
    r = _measure(lab, 10.0, 1.0, 10, 20, operate=False)
    offset = lab.truth.dut_error("DCV", Q_(1, "V"), Q_(0, "V")).m
    assert np.abs(r - offset).max() < 5 * lab.truth.noise_sigma(Q_(1, "V"), 10).m + 1e-6


def test_noise_falls_as_one_over_sqrt_nplc(lab):
    fast = _measure(lab, 0.05, 0.1, 0.2, 400)
    slow = _measure(lab, 0.05, 0.1, 10, 400)
    ratio = fast.std(ddof=1) / slow.std(ddof=1)
    assert 5.0 < ratio < 10.0           # sqrt(10 / 0.2) = 7.07
    assert fast.std(ddof=1) == pytest.approx(lab.truth.noise_sigma(Q_(0.1, "V"), 0.2).m, rel=0.15)


def test_readings_are_quantised_to_the_range_resolution(lab):
    r = _measure(lab, 7.3, 10.0, 1, 50)          # resolution of the 10 V range: 10 uV
    counts = r / 10e-6
    assert np.allclose(counts, np.round(counts), atol=1e-6)
    assert len(set(r.tolist())) > 3               # noise spans several counts at 1 PLC


def test_output_settles_exponentially_after_a_change():
    with SimulatedLab(seed=3, latency="zero", settling_time_constant=Q_(1, "s")) as lab:
        with open_instrument(lab.resources["dmm"], "keysight_34465a") as dmm, \
                open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
            dmm.configure("DCV", V10, nplc=10, autozero=False)   # 0.201 s per reading
            cal.apply("DCV", V10)
            cal.operate()
            early = dmm.read(n=5).m
            lab.advance(30.0)
            late = dmm.read(n=5).m
    # 1 - exp(-t/τ) at t = 0.201, 0.402 ... s
    t = 0.201 * np.arange(1, 6)
    assert early == pytest.approx(10 * (1 - np.exp(-t)), abs=2e-3)
    assert np.all(np.diff(early) > 0)
    assert late.mean() == pytest.approx(10, abs=1e-3)


def test_same_seed_same_readings_other_seed_other_errors():
    def run(seed):
        with SimulatedLab(seed=seed, latency="zero") as lab:
            return _measure(lab, 1.0, 1.0, 1, 20), lab.truth.dut_error("DCV", V10, V10)
    a, ea = run(11)
    b, eb = run(11)
    c, ec = run(12)
    assert a.tolist() == b.tolist() and ea == eb
    assert a.tolist() != c.tolist() and ea != ec


def test_true_errors_stay_within_30_percent_of_the_specifications(lab):
    dmm = lab.truth.dmm_model.function("DCV")
    for spec in dmm.ranges:
        for x in (spec.maximum, -spec.maximum, spec.range / 10, 0 * spec.range):
            err = lab.truth.dut_error("DCV", spec.range, x)
            assert abs(err) <= 0.3 * spec.accuracy_halfwidth(x) + Q_(1e-15, "V")
    cal = lab.truth.calibrator_model.function("DCV")
    for spec in cal.ranges:
        x = spec.maximum
        assert abs(lab.truth.calibrator_output(x) - x) <= 0.3 * spec.accuracy_halfwidth(x)


def test_out_of_tolerance_range_fails_everywhere_on_it_and_only_there():
    lab = SimulatedLab(seed=4, latency="zero", out_of_tolerance=("DCV", V10))
    spec = lab.truth.dmm_model.function("DCV").range_named(V10)
    for x in (-12, -10, -1, 0, 1, 5, 10, 12):
        x = Q_(x, "V")
        assert abs(lab.truth.dut_error("DCV", V10, x)) > spec.accuracy_halfwidth(x)
    one = lab.truth.dmm_model.function("DCV").range_named(Q_(1, "V"))
    assert abs(lab.truth.dut_error("DCV", Q_(1, "V"), Q_(1, "V"))) <= one.accuracy_halfwidth(Q_(1, "V"))


def test_explicit_dut_error(lab):
    lab.truth.set_dut_error("DCV", V10, gain=20e-6, offset=Q_(-30, "uV"))
    assert lab.truth.dut_error("DCV", V10, V10).to("uV").m == pytest.approx(170)


def test_autozero_off_adds_the_uncorrected_zero_offset(lab):
    on = _measure(lab, 0.0, 10.0, 100, 30, autozero=True)
    off = _measure(lab, 0.0, 10.0, 100, 30, autozero=False)
    az = lab.truth.autozero_offset("DCV", V10).to("V").m
    assert off.mean() - on.mean() == pytest.approx(az, abs=3e-6)


def test_autorange_picks_the_smallest_covering_range(lab):
    lab.calibrator.handle("OUT 0.5 V;OPER")
    assert lab.dmm.handle("CONF:VOLT:DC AUTO;VOLT:DC:RANG?") == "+1.00000000E+00"
    lab.calibrator.handle("OUT 50 V")
    assert lab.dmm.handle("VOLT:DC:RANG?") == "+1.00000000E+02"

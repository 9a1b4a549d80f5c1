"""The Keysight 3458A as a reference meter for every function a calibrator sources: AC
voltage (synchronously sub-sampled), AC current, 2-wire resistance and frequency, described in
its model file and simulated with the lab's physics (true errors, flatness, leads, noise) in
its own HP-IB language; the 5522A's AC voltage verified against it end to end."""
from __future__ import annotations

import math

import numpy as np
import pytest

from labauto.drivers import open_instrument
from labauto.instruments import load_instrument_model
from labauto.sim import SimulatedLab
from labauto.units import Q_
from labauto.validation.truth import StatedErrors

from tests.sources.simulated_run import ROOT, run_source_procedure

MODEL = load_instrument_model("keysight_3458a")
ACV_PROCEDURE = ROOT / "procedures" / "fluke_5522a_acv_3458a.yaml"


@pytest.fixture(scope="module")
def lab():
    with SimulatedLab(seed=12, latency="zero", dmm_model="keysight_3458a", dut="source") as running:
        yield running


def test_the_model_file_states_every_function_with_its_basis():
    assert set(MODEL.functions) == {"DCV", "DCI", "RES2W", "RES4W", "ACV", "ACI", "FREQ"}
    # checked against the User's Guide p. 294: 0.01 % of reading from 40 Hz to 10 MHz,
    # 0.05 % below 40 Hz (24 hour to 2 year)
    freq = MODEL.function("FREQ").ranges[0]
    assert freq.accuracy_halfwidth(Q_(1, "kHz"), Q_(1, "kHz")).to("Hz").m == pytest.approx(0.1)
    assert freq.accuracy_halfwidth(Q_(20, "Hz"), Q_(20, "Hz")).to("mHz").m == pytest.approx(10)
    # p. 289: 100 V range, 50-100 kHz: 0.12 % of reading + 0.002 % of range
    acv100 = MODEL.function("ACV").range_named(Q_(100, "V"))
    assert acv100.accuracy_halfwidth(Q_(30, "V"), Q_(60, "kHz")).to("mV").m == pytest.approx(38)
    # 3 V on the 10 V range at 1 kHz: 0.007 % + 0.002 % of range = 410 µV
    acv10 = MODEL.function("ACV").range_named(Q_(10, "V"))
    assert acv10.accuracy_halfwidth(Q_(3, "V"), Q_(1, "kHz")).to("uV").m == pytest.approx(410)
    # every figure not checked against a document says so in its function's basis
    for name in ("RES2W", "RES4W", "ACV", "ACI"):
        assert "[from memory, not checked against the datasheet]" in \
            MODEL.function(name).specification, name
    assert "from memory" not in MODEL.function("FREQ").specification.lower()


def test_ac_voltage_reads_the_calibrators_true_rms_in_sync_mode(lab):
    with open_instrument(lab.resources["dmm"], "keysight_3458a") as dmm, \
            open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
        sent = len(lab.dmm.history)
        dmm.configure("ACV", Q_(10, "V"), bandwidth=Q_(20, "Hz"))
        assert [c for c in lab.dmm.history[sent:] if c != "ERRSTR?"] == \
            ["SETACV SYNC;FUNC ACV,10", "ACBAND 20"]
        assert lab.dmm.state_dict()["setacv"] == "SYNC"
        readings = {}
        for f in (Q_(1, "kHz"), Q_(50, "kHz")):
            cal.apply("ACV", Q_(3, "V"), frequency=f)
            cal.operate()
            burst = dmm.read(n=20).to("V").m
            true = lab.truth.calibrator_output(Q_(3, "V"), "ACV", f).to("V").m
            spec = MODEL.function("ACV").range_named(Q_(10, "V")).accuracy_halfwidth(
                Q_(3, "V"), f).to("V").m
            sigma = 30e-6 * 10                 # the simulated AC noise at the 20 Hz band
            # the 3458A's own error (within 30 % of its specification, flatness included)
            # plus noise: never the calibrator's set value mirrored back
            assert abs(burst.mean() - true) <= 0.3 * spec + 4 * sigma / math.sqrt(20)
            assert 0.3 * sigma < burst.std(ddof=1) < 3 * sigma
            readings[f.m] = burst.mean() - true
        cal.standby()
    # the meter's AC error depends on frequency (flatness), as the true one says
    expected = {f: lab.truth.indication("ACV", 10.0, 3.0, f * 1e3, True) - 3.0 for f in (1, 50)}
    assert readings[50] - readings[1] == pytest.approx(expected[50] - expected[1],
                                                       abs=4 * 300e-6 / math.sqrt(10))


def test_ac_current_frequency_and_2_wire_resistance(lab):
    with open_instrument(lab.resources["dmm"], "keysight_3458a") as dmm, \
            open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
        dmm.configure("ACI", Q_(1, "mA"))
        cal.apply("ACI", Q_(1, "mA"), frequency=Q_(1, "kHz"))
        cal.operate()
        mean = dmm.read(n=10).to("mA").m.mean()
        true = lab.truth.calibrator_output(Q_(1, "mA"), "ACI", Q_(1, "kHz")).to("mA").m
        spec = MODEL.function("ACI").range_named(Q_(1, "mA")).accuracy_halfwidth(
            Q_(1, "mA"), Q_(1, "kHz")).to("mA").m
        assert spec == pytest.approx(0.0005)           # 0.03 % + 0.02 % of range
        assert abs(mean - true) <= 0.3 * spec + 4 * 30e-6 * 1 / math.sqrt(10)
        # the frequency of the same signal, by reciprocal counting: the 5522A's true frequency
        cal.apply("ACV", Q_(1, "V"), frequency=Q_(1, "kHz"))
        dmm.configure("FREQ")
        f = dmm.read(n=3).to("Hz").m
        true_f = lab.truth.true_output("FREQ", 1000.0)
        assert np.all(np.abs(f - true_f) <= 0.3 * 0.1 + 1e-3)
        # 2-wire ohms sees the test leads the 4-wire reading leaves out
        cal.apply("RES2W", Q_(1, "kohm"), compensation="NONE")   # no 2-wire compensation
        cal.operate()
        dmm.configure("RES4W", Q_(1, "kohm"))
        r4 = dmm.read(n=3).to("ohm").m.mean()
        dmm.configure("RES2W", Q_(1, "kohm"))
        r2 = dmm.read(n=3).to("ohm").m.mean()
        leads = 2 * lab.truth.lead_resistance_ohm
        true_r = lab.truth.calibrator_output(Q_(1, "kohm"), "RES4W").to("ohm").m   # ZCOMP NONE
        # each through the 3458A's own error of its function (2-wire: within 30 % of the
        # OHMF figures + 1 ohm), the 2-wire one with the leads in series
        assert r4 == pytest.approx(lab.truth.indication("RES4W", 1000.0, true_r, None, True),
                                   abs=1e-3)
        assert r2 == pytest.approx(lab.truth.indication("RES2W", 1000.0, true_r + leads, None,
                                                        True), abs=1e-3)
        assert 0.06 <= leads <= 0.16
        cal.standby()


def test_a_reference_meter_error_is_drawn_in_the_band_of_the_nominal_frequency():
    """The reference meter sees the calibrator's true frequency (20 kHz × (1 + a few ppm)):
    labauto validate draws the meter's error in the band the budget used, 1-20 kHz, not in the
    next band (20-50 kHz, twice the specification)."""
    stated = StatedErrors(MODEL, np.random.default_rng(3))
    r = MODEL.function("ACV").range_named(Q_(1, "V"))
    at_edge = stated.error("ACV", r, 0.3, 20000.0)
    just_above = stated.error("ACV", r, 0.3, 20000.0 * (1 + 3e-6))
    assert just_above == at_edge
    # 0.3 V at 1-20 kHz: 0.014 % + 0.002 % of 1 V = 62 µV
    assert stated._spec_at("ACV", r, 0.3, 20000.06)[0] == pytest.approx(62e-6)
    # well inside the next band its own specification applies
    assert stated._spec_at("ACV", r, 0.3, 30000.0)[0] == pytest.approx(110e-6)


@pytest.fixture(scope="module")
def acv_verified(tmp_path_factory):
    plan, outcome, truth, *_ = run_source_procedure(ACV_PROCEDURE, tmp_path_factory.mktemp("acv"), 5)
    return plan, outcome, truth


def outside_u(result, truth) -> list[str]:
    """The points whose found error is more than U from the simulated DUT's true error."""
    return [p.point_id for p in result.points
            if abs(p.error - truth[p.point_id].to(p.error.units)) > p.expanded_uncertainty]


def reference_row(result, point_id):
    """(the point's result, its budget's row of the reference meter, dX_ref)."""
    p = {q.point_id: q for q in result.points}[point_id]
    return p, next(r for r in p.budget.rows if r.name == "dX_ref")


def test_the_5522a_acv_verification_runs_against_the_3458a(acv_verified):
    plan, outcome, truth = acv_verified
    result = outcome.result
    assert len(result.points) == 18 and {p.function for p in result.points} == {"ACV"}
    assert len(outside_u(result, truth)) <= 1, outside_u(result, truth)
    p, ref = reference_row(result, "ACV-10V-+3V-1kHz")
    # the 3458A's 410 µV at 3 V, 1 kHz, rectangular: u = 410 µV / √3
    assert ref.standard_uncertainty.to("uV").m == pytest.approx(410 / math.sqrt(3), rel=1e-3)
    # the 5522A's 1-year specification at 3 V, 1 kHz: 150 ppm + 60 µV = 510 µV (99 %)
    assert p.tolerance.to("uV").m == pytest.approx(510)
    assert p.tur < 1.5
    # the certificate says where the TUR is below 4: here at every point
    from pypdf import PdfReader
    pdf = " ".join(" ".join(page.extract_text() for page in
                            PdfReader(outcome.issued.files["pdf"]).pages).split())
    assert "Test uncertainty ratio (tolerance / U) below 4 at every point (TUR 0.3 to" in pdf
    assert "labauto_lowTestUncertaintyRatio" in outcome.issued.files["xml"].read_text()


def test_the_5522a_dc_current_and_resistance_verification_runs_against_the_3458a(tmp_path):
    path = ROOT / "procedures" / "fluke_5522a_dci_res_3458a.yaml"
    plan, outcome, truth, auto, _ = run_source_procedure(path, tmp_path, 9)
    result = outcome.result
    assert [p.function for p in result.points] == ["DCI"] * 5 + ["RES4W"] * 7
    assert len(auto.confirmed) == 2                      # current leads, then 4-wire
    assert len(outside_u(result, truth)) <= 1, outside_u(result, truth)
    p, ref = reference_row(result, "RES4W-1kOhm-+1kOhm")
    # the 3458A's OHMF 1 kΩ figures (from memory): 10 ppm + 0.5 ppm of range = 10.5 mΩ
    assert ref.standard_uncertainty.to("mohm").m == pytest.approx(10.5 / math.sqrt(3), rel=2e-3)
    # the 5522A's 1-year specification at 1 kΩ: 28 ppm + 2 mΩ = 30 mΩ (99 %)
    assert p.tolerance.to("mohm").m == pytest.approx(30)

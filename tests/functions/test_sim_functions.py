"""The simulated lab for every function, observed through the real drivers: the meter reads
what the source truly outputs through the DUT's error, plus the set-up's own effects."""
from __future__ import annotations

import numpy as np
import pytest

from labauto.drivers import open_instrument
from labauto.sim import SimulatedLab
from labauto.sim.physics import LEAD_COMPENSATION
from labauto.units import Q_
from labauto.visa import InstrumentError


@pytest.fixture()
def lab():
    with SimulatedLab(seed=5, latency="zero") as running:
        yield running


def _read(lab, function, rng, value, n=20, frequency=None, meter_settings=None,
          source_settings=None):
    with open_instrument(lab.resources["dmm"], "keysight_34465a") as dmm, \
            open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
        dmm.configure(function, rng, **(meter_settings or {}))
        cal.apply(function, value, frequency=frequency, **(source_settings or {}))
        cal.operate()
        return dmm.read(n=n)


@pytest.mark.parametrize("function, rng, value, frequency, tol", [
    ("ACV", Q_(1, "V"), Q_(1, "V"), Q_(1, "kHz"), 10e-6),
    ("ACV", Q_(10, "V"), Q_(10, "V"), Q_(50, "kHz"), 10e-6),
    ("DCI", Q_(10, "mA"), Q_(10, "mA"), None, 3e-6),
    ("ACI", Q_(100, "mA"), Q_(100, "mA"), Q_(1, "kHz"), 10e-6),
    ("RES4W", Q_(10, "kohm"), Q_(10, "kohm"), None, 3e-6),
])
def test_meter_reads_the_true_output_through_the_dut_error(lab, function, rng, value, frequency, tol):
    r = _read(lab, function, rng, value, frequency=frequency,
              meter_settings={"offset_compensation": True} if function == "RES4W" else None)
    true = lab.truth.calibrator_output(value, function, frequency)
    expected = true + lab.truth.dut_error(function, rng, true, frequency)
    assert r.mean().to(value.units).m == pytest.approx(expected.to(value.units).m,
                                                       abs=tol * rng.to(value.units).m)
    # the errors are real: the reading is not the nominal value
    assert abs((expected - value) / value) > 1e-7


def test_ac_flatness_changes_the_error_with_frequency(lab):
    rng = Q_(1, "V")
    errors = [lab.truth.dut_error("ACV", rng, rng, Q_(f, "Hz")).to("uV").m
              for f in (7, 1e3, 35e3, 75e3, 2e5)]   # one per band
    assert len({round(e, 3) for e in errors}) >= 4     # (neighbouring bands may clip alike)
    spec = lab.truth.meter_model.function("ACV").range_named(rng)
    for f in (5, 10, 1e3, 2e4, 6e4, 1.5e5):   # within 30 % of the band's spec everywhere
        e = abs(lab.truth.dut_error("ACV", rng, rng, Q_(f, "Hz")))
        assert e <= 0.3 * spec.accuracy_halfwidth(rng, Q_(f, "Hz")) + Q_(1e-12, "V")


def test_two_wire_resistance_includes_the_leads_four_wire_does_not(lab):
    R = Q_(100, "ohm")
    four = _read(lab, "RES4W", R, R, meter_settings={"offset_compensation": True}).mean().to("ohm").m
    two_raw = _read(lab, "RES2W", R, R, meter_settings={"offset_compensation": True},
                    source_settings={"compensation": "NONE"}).mean().to("ohm").m
    two_comp = _read(lab, "RES2W", R, R, meter_settings={"offset_compensation": True},
                     source_settings={"compensation": "WIRE2"}).mean().to("ohm").m
    leads = 2 * lab.truth.lead_resistance_ohm
    true = lab.truth.calibrator_output(R, "RES2W").to("ohm").m
    dut_2w = lab.truth.dut_error("RES2W", R, R).to("ohm").m
    assert two_raw - (true + dut_2w) == pytest.approx(leads, abs=2e-3)
    assert two_comp - (true + dut_2w) == pytest.approx(leads * (1 - LEAD_COMPENSATION), abs=2e-3)
    assert abs(four - two_raw) > 0.05


def test_offset_compensation_removes_the_thermal_emf(lab):
    R = Q_(100, "ohm")
    off = _read(lab, "RES4W", R, R, n=40).mean().to("ohm").m
    on = _read(lab, "RES4W", R, R, n=40, meter_settings={"offset_compensation": True}).mean().to("ohm").m
    emf_ohm = lab.truth.thermal_emf_v / 1e-3          # 1 mA test current on the 100 ohm range
    assert off - on == pytest.approx(emf_ohm, abs=3e-4)


def test_frequency_reading_is_the_sources_true_frequency(lab):
    r = _read(lab, "FREQ", Q_(300, "kHz"), Q_(1, "kHz"), n=5)
    true = lab.truth.calibrator_output(Q_(1, "kHz"), "FREQ")
    expected = true + lab.truth.dut_error("FREQ", Q_(300, "kHz"), true)
    assert r.mean().to("Hz").m == pytest.approx(expected.to("Hz").m, abs=2e-4)


def test_shunt_self_heating_grows_while_the_current_flows():
    with SimulatedLab(seed=5, latency="zero") as lab:
        with open_instrument(lab.resources["dmm"], "keysight_34465a") as dmm, \
                open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
            dmm.configure("DCI", Q_(10, "A"), nplc=10)
            cal.apply("DCI", Q_(10, "A"))
            cal.operate()
            first = dmm.read(n=3).to("A").m.mean()
            lab.advance(120.0)                          # two minutes at 10 A
            later = dmm.read(n=3).to("A").m.mean()
    # 60 K/W × 10 A² × 0.01 Ω = 60 K rise; 15 ppm/K -> 900 ppm of 10 A = 9 mA (τ = 20 s: after
    # 2 minutes at 1 - e^-6 of it; the first readings had about 6 % of it)
    assert later - first == pytest.approx(10 * 15e-6 * 60, rel=0.1)


def test_shunt_heat_stays_in_the_shunt_that_carried_the_current():
    """Two minutes at 2 A warm the 3 A range's 0.1 ohm shunt by 24 K (360 ppm); a 10 mA reading
    right after goes through the 1 ohm shunt, which stayed cool (found by ``labauto validate``:
    the heat was carried over to every later current range, biasing ACI 10 mA and 100 mA)."""
    with SimulatedLab(seed=5, latency="zero") as lab:
        with open_instrument(lab.resources["dmm"], "keysight_34465a") as dmm, \
                open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
            dmm.configure("DCI", Q_(3, "A"), nplc=10)
            cal.apply("DCI", Q_(2, "A"))
            cal.operate()
            lab.advance(120.0)
            hot = dmm.read(n=3).to("A").m.mean()
            cal.standby()
            dmm.configure("DCI", Q_(10, "mA"), nplc=10)
            cal.apply("DCI", Q_(10, "mA"))
            cal.operate()
            cool = dmm.read(n=5).to("A").m.mean()
        true_2a = lab.truth.calibrator_output(Q_(2, "A"), "DCI")
        cold_2a = (true_2a + lab.truth.dut_error("DCI", Q_(3, "A"), true_2a)).to("A").m
        true_10ma = lab.truth.calibrator_output(Q_(10, "mA"), "DCI")
        expected = (true_10ma + lab.truth.dut_error("DCI", Q_(10, "mA"), true_10ma)).to("A").m
    assert hot - cold_2a == pytest.approx(2 * 15e-6 * 60 * 0.4, rel=0.05)   # 360 ppm of 2 A
    # 360 ppm of 10 mA would be 3.6 uA; noise at 10 PLC ~ 13 nA, heating of the 1 ohm shunt 0.1 ppm
    assert cool == pytest.approx(expected, abs=0.05e-6)


def test_a_shunt_made_for_more_power_rises_no_more_than_60_k():
    """Keithley DMM6500, 10 A range, 0.05 ohm shunt: 5 W at 10 A.  At the 34465A's 60 K/W it
    would rise 300 K (4500 ppm; found by labauto validate: the DMM6500's 10 A points were
    biased +3 sigma); heat-sunk for its power it rises 60 K (900 ppm), like the 34465A's."""
    with SimulatedLab(seed=5, latency="zero", dmm_model="keithley_dmm6500") as lab:
        with open_instrument(lab.resources["dmm"], "keithley_dmm6500") as dmm, \
                open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
            dmm.configure("DCI", Q_(10, "A"))
            cal.apply("DCI", Q_(10, "A"))
            cal.operate()
            first = dmm.read(n=3).to("A").m.mean()
            lab.advance(300.0)                          # five minutes at 10 A
            later = dmm.read(n=3).to("A").m.mean()
    assert later - first == pytest.approx(10 * 15e-6 * 60, rel=0.1)


def test_a_current_beyond_compliance_is_clipped_and_reported(lab):
    lab.calibrator.handle("OUT 10 A;OPER")
    lab.dmm.load = None
    lab.calibrator.load = lambda: 1.0                   # a 1 ohm burden: 10 V needed, 4 V allowed
    lab.calibrator.handle("OUT 10 A")
    assert lab.calibrator_state()["terminals"].to("A").m == pytest.approx(4.0, rel=1e-3)
    assert lab.calibrator.handle("ERR?").startswith("-221,")


def test_source_under_test_truth(lab):
    with SimulatedLab(seed=6, latency="zero", dut="source") as src_lab:
        err = src_lab.truth.dut_error_at_setting("DCV", Q_(10, "V"), Q_(10, "V"))
        # the error of the output setting, as labauto.models.output defines it: setting − output
        assert err.to("V").m == pytest.approx(
            (Q_(10, "V") - src_lab.truth.calibrator_output(Q_(10, "V"))).to("V").m, abs=1e-12)
        spec = src_lab.truth.source_model.function("DCV").range_for(Q_(10, "V"))
        assert abs(err) <= 0.3 * spec.accuracy_halfwidth(Q_(10, "V"))


def test_out_of_tolerance_on_an_ac_range():
    lab = SimulatedLab(seed=4, latency="zero", out_of_tolerance=("ACV", Q_(1, "V")))
    spec = lab.truth.meter_model.function("ACV").range_named(Q_(1, "V"))
    for x in (0.1, 0.5, 1.0):
        x = Q_(x, "V")
        assert abs(lab.truth.dut_error("ACV", Q_(1, "V"), x, Q_(1, "kHz"))) > \
            spec.accuracy_halfwidth(x, Q_(1, "kHz"))


@pytest.mark.parametrize("function, rng, value, frequency, on", [
    ("ACV", Q_(1, "V"), Q_(1, "V"), Q_(1, "kHz"), r"VOLT:AC:BAND"),
    ("DCI", Q_(1, "A"), Q_(1, "A"), None, r"CONF:CURR:DC"),
    ("ACI", Q_(1, "A"), Q_(1, "A"), Q_(1, "kHz"), r"CONF:CURR:AC"),
    ("RES2W", Q_(1, "kohm"), Q_(1, "kohm"), None, r"RES:OCOM"),
    ("RES4W", Q_(1, "kohm"), Q_(1, "kohm"), None, r"FRES:NPLC"),
    ("FREQ", Q_(300, "kHz"), Q_(1, "kHz"), None, r"FREQ:APER"),
])
def test_fault_injection_for_every_function(lab, function, rng, value, frequency, on):
    lab.inject_fault("dmm", "error", on=on, code=-222, message="Data out of range")
    with pytest.raises(InstrumentError, match="-222"):
        _read(lab, function, rng, value, frequency=frequency, n=2)
    assert lab.calibrator_state()["operate"] is False     # left safe


FUNCTIONS = [("DCV", Q_(10, "V"), Q_(10, "V"), None), ("ACV", Q_(1, "V"), Q_(1, "V"), Q_(1, "kHz")),
             ("DCI", Q_(1, "A"), Q_(1, "A"), None), ("ACI", Q_(1, "A"), Q_(1, "A"), Q_(1, "kHz")),
             ("RES2W", Q_(1, "kohm"), Q_(1, "kohm"), None),
             ("RES4W", Q_(1, "kohm"), Q_(1, "kohm"), None),
             ("FREQ", Q_(300, "kHz"), Q_(1, "kHz"), None)]
# the fastest reading of each function: the driver waits for a reading as long as its settings
# take (NPLC, AC filter, gate), which a hung meter makes the test wait too
FAST = {"DCV": {"nplc": 1}, "DCI": {"nplc": 1}, "RES2W": {"nplc": 1}, "RES4W": {"nplc": 1},
        "ACV": {"bandwidth": Q_(200, "Hz")}, "ACI": {"bandwidth": Q_(200, "Hz")},
        "FREQ": {"aperture": Q_(10, "ms")}}


@pytest.mark.parametrize("function, rng, value, frequency", FUNCTIONS)
@pytest.mark.parametrize("kind", ["drop", "hang", "overload"])
def test_lost_connection_time_out_and_overload_for_every_function(lab, kind, function, rng, value,
                                                                  frequency):
    """The other injected faults (the error queue's: above) on each function's reading: a
    dropped socket and a meter that stops answering are transient and name the instrument and
    command; an overload reading (9.9E+37) is refused; the source is left in standby."""
    from labauto.visa import ConnectionLostError, OverloadError, TransientVisaError

    if kind == "overload":
        lab.inject_fault("dmm", "reply", on=r"READ\?", message="+9.90000000E+37")
    else:
        lab.inject_fault("dmm", kind, on=r"READ\?")
    expected = {"drop": ConnectionLostError, "hang": TransientVisaError,
                "overload": OverloadError}[kind]
    with pytest.raises(expected) as info:
        with open_instrument(lab.resources["dmm"], "keysight_34465a", timeout_ms=300) as dmm, \
                open_instrument(lab.resources["calibrator"], "fluke_5522a", timeout_ms=300) as cal:
            dmm.configure(function, rng, **FAST[function])
            cal.apply(function, value, frequency=frequency)
            cal.operate()
            dmm.read(n=1)
    if kind != "overload":
        assert "READ?" in str(info.value) and lab.resources["dmm"] in str(info.value)
    assert kind != "hang" or not isinstance(info.value, ConnectionLostError)
    assert lab.calibrator_state()["operate"] is False
    lab.clear_faults()

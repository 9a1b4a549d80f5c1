"""The Keysight 3458A's own HP-IB language (labauto.drivers.hp3458a), carried by the meter role:
against its pyvisa-sim dialogue, and against the simulated 3458A of the coupled lab."""
from __future__ import annotations

import pytest

from labauto.drivers import open_instrument
from labauto.instruments import IdentityMismatch, load_instrument_model
from labauto.sim import SimulatedLab
from labauto.units import Q_
from labauto.visa import (InstrumentError, OverloadError, RefusedRequestError,
                          TransientVisaError, fresh_sim_resource_manager)

MODEL = load_instrument_model("keysight_3458a")
GPIB = "GPIB0::22::INSTR"


@pytest.fixture()
def rm():
    manager = fresh_sim_resource_manager(MODEL.simulation)
    yield manager
    manager.close()


@pytest.fixture(scope="module")
def lab():
    with SimulatedLab(seed=4, latency="zero", dmm_model="keysight_3458a", dut="source") as running:
        yield running


def test_identity_from_id_rev_and_the_calibration_string(rm):
    with open_instrument(GPIB, "keysight_3458a", resource_manager=rm) as dmm:
        ident = dmm.identity
    # ID? says only HP3458A: maker and model come from the model file, the firmware from
    # REV?, the serial from the lab's calibration string (CALSTR?)
    assert (ident.manufacturer, ident.model) == ("Keysight Technologies", "3458A")
    assert (ident.serial, ident.firmware) == ("2823A05432", "9,2")
    assert ident.raw == 'HP3458A;9,2;"SN 2823A05432 cal 2026-03-02"'


def test_a_scpi_model_on_a_3458a_sends_nothing_after_its_identity_query(lab):
    sent = len(lab.dmm.history)
    # the 3458A does not know *IDN?: no answer, and nothing else is sent to it
    with pytest.raises(TransientVisaError, match=r"no answer within 300 ms .*'\*IDN\?'"):
        with open_instrument(lab.resources["dmm"], "keysight_34465a", timeout_ms=300):
            pass
    assert lab.dmm.history[sent:] == ["*IDN?"]


def test_configure_and_read_in_the_3458a_language(rm):
    with open_instrument(GPIB, "keysight_3458a", resource_manager=rm) as dmm:
        dmm.configure("DCV", Q_(10, "V"), nplc=10)
        assert dmm.session.query("DCV_RANGE?") == "10"
        assert dmm.session.query("NPLC?") == "10"
        assert dmm.session.query("AZERO?") == "ON"
        assert dmm.read(n=1).to("V").m.tolist() == [10.0000082]
        dmm.configure("RES4W", Q_(10, "kohm"), offset_compensation=False)
        assert dmm.session.query("OHMF_RANGE?") == "10000"
        assert dmm.session.query("OCOMP?") == "OFF"


def test_simulated_3458a_reads_the_calibrators_true_output(lab):
    with open_instrument(lab.resources["dmm"], "keysight_3458a") as dmm, \
            open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
        assert dmm.identity.serial == "2823A05432"
        dmm.configure("DCV", Q_(10, "V"))
        cal.apply("DCV", Q_(10, "V"))
        cal.operate()
        burst = dmm.read(n=5)
        true = lab.truth.calibrator_output(Q_(10, "V")).to("V").m
        spec = MODEL.function("DCV").range_named(Q_(10, "V")).accuracy_halfwidth(Q_(10, "V"))
        # the 3458A's own error is drawn within 30 % of its 8 ppm + 0.05 ppm specification
        assert spec.to("uV").m == pytest.approx(80.5)
        assert all(abs(v - true) <= 0.3 * 80.5e-6 + 1e-6 for v in burst.to("V").m)
        lines = len(lab.dmm.history)
        dmm.configure("DCV", Q_(10, "V"))
        dmm.read(n=1)
        # FUNC keeps NRDGS on a 3458A: the role sends NRDGS 1 again before the next burst
        assert lab.dmm.history[lines:] == ["FUNC DCV,10", "ERRSTR?", "NPLC 100", "ERRSTR?",
                                           "AZERO ON", "ERRSTR?", "NRDGS 1,AUTO", "ERRSTR?",
                                           "TRIG SGL", "ERRSTR?"]
        cal.standby()


def test_errors_overload_and_refusals_in_the_3458a_language(lab):
    with open_instrument(lab.resources["dmm"], "keysight_3458a") as dmm, \
            open_instrument(lab.resources["calibrator"], "fluke_5522a") as cal:
        with pytest.raises(InstrumentError, match='16,"UNKNOWN COMMAND".*CONF:VOLT:DC 10'):
            dmm.session.write("CONF:VOLT:DC 10")          # SCPI is not its language
        sent = len(lab.dmm.history)
        with pytest.raises(RefusedRequestError, match="no DCV range 3 V"):
            dmm.configure("DCV", Q_(3, "V"))
        with pytest.raises(RefusedRequestError, match="no ACV range 3 V"):
            dmm.configure("ACV", Q_(3, "V"))
        assert len(lab.dmm.history) == sent               # refused before anything was sent
        dmm.configure("DCV", Q_(100, "mV"))
        cal.apply("DCV", Q_(1, "V"))
        cal.operate()
        with pytest.raises(OverloadError, match=r"overloaded on the 0.1 V range \(DCV\)"):
            dmm.read(n=1)
        cal.standby()
    # a trigger the meter rejects sends no reading: the error register says why
    with open_instrument(lab.resources["dmm"], "keysight_3458a", timeout_ms=300) as dmm:
        dmm.configure("DCV", Q_(10, "V"), nplc=1)
        lab.inject_fault("dmm", "error", on="TRIG SGL", code=64, message="PARAMETER OUT OF RANGE")
        with pytest.raises(InstrumentError, match='64,"PARAMETER OUT OF RANGE" after command '
                                                  "'TRIG SGL'"):
            dmm.read(n=1)


def test_a_3458a_without_its_serial_in_the_calibration_string_is_refused(lab):
    lab.dmm.calstr = "CAL 2026-03-02"
    try:
        with pytest.raises(IdentityMismatch, match="HP3458A;9,2;\"CAL 2026-03-02\""):
            with open_instrument(lab.resources["dmm"], "keysight_3458a"):
                pass
    finally:
        lab.dmm.calstr = "SN 2823A05432"

"""The Meter and Source roles render the model files' templates: every function, against the
pyvisa-sim dialogues (instruments/<model>/sim.yaml)."""
from __future__ import annotations

import pytest

from labauto.drivers import open_instrument
from labauto.instruments import load_instrument_model
from labauto.units import Q_, UnitError
from labauto.visa import RefusedRequestError, UnsafeRequestError, fresh_sim_resource_manager

DMM = load_instrument_model("keysight_34465a")
CAL = load_instrument_model("fluke_5522a")


@pytest.fixture()
def dmm():
    rm = fresh_sim_resource_manager(DMM.simulation)
    with open_instrument("TCPIP0::10.0.0.21::5025::SOCKET", DMM, resource_manager=rm) as d:
        yield d
    rm.close()


@pytest.fixture()
def cal():
    rm = fresh_sim_resource_manager(CAL.simulation)
    with open_instrument("GPIB0::4::INSTR", CAL, resource_manager=rm) as c:
        yield c
    rm.close()


def test_meter_configures_every_function_from_its_row(dmm):
    conf = dmm.configure("ACV", Q_(1, "V"), bandwidth=Q_(200, "Hz"))
    assert conf.function == "ACV" and conf.settings == {"bandwidth": Q_(200, "Hz")}
    assert dmm.session.query("VOLT:AC:RANG?") == "1"
    assert dmm.session.query("VOLT:AC:BAND?") == "+2.00000000E+02"
    dmm.configure("DCI", Q_(100, "uA"))
    assert dmm.session.query("CURR:DC:RANG?") == "0.0001"
    dmm.configure("ACI", Q_(10, "A"))
    assert dmm.session.query("CURR:AC:RANG?") == "10"
    dmm.configure("RES4W", Q_(1, "kohm"), offset_compensation=True)
    assert dmm.session.query("FRES:RANG?") == "1000" and dmm.session.query("FRES:OCOM?") == "ON"
    dmm.configure("RES2W", Q_(100, "kohm"))
    assert dmm.session.query("RES:RANG?") == "100000"
    conf = dmm.configure("FREQ", Q_(300, "kHz"), aperture=Q_(100, "ms"))
    assert dmm.session.query("FREQ:APER?") == "+1.00000000E-01"
    assert dmm.read(n=1).units == Q_(1, "Hz").units      # readings carry the function's unit


def test_meter_refuses_what_the_model_lacks_before_sending(dmm):
    with pytest.raises(RefusedRequestError, match="has no function 'TEMP'"):
        dmm.configure("TEMP", Q_(1, "K"))
    with pytest.raises(RefusedRequestError, match="no ACI range 2 A"):
        dmm.configure("ACI", Q_(2, "A"))
    with pytest.raises(RefusedRequestError, match="bandwidth 50 Hz is not offered"):
        dmm.configure("ACV", Q_(1, "V"), bandwidth=Q_(50, "Hz"))
    with pytest.raises(RefusedRequestError, match="ACV has no setting 'nplc'"):
        dmm.configure("ACV", Q_(1, "V"), nplc=10)
    with pytest.raises(UnitError, match="not a current"):
        dmm.configure("DCI", Q_(1, "V"))
    assert dmm.session.query("VOLT:AC:RANG?") == "10"            # nothing was sent


def test_source_outputs_every_function_in_its_own_syntax(cal):
    sent = []
    write = cal.session.write
    cal.session.write = lambda cmd: (sent.append(cmd), write(cmd))[1]
    cal.apply("ACV", Q_(1, "V"), frequency=Q_(1, "kHz"))
    cal.apply("DCI", Q_(1, "mA"))
    cal.apply("ACI", Q_(1, "A"), frequency=Q_(1, "kHz"))
    cal.apply("RES4W", Q_(100, "ohm"))
    cal.apply("RES2W", Q_(100, "ohm"))
    cal.apply("FREQ", Q_(100, "kHz"))
    assert sent == ["OUT 1 V, 1000 HZ", "OUT 0.001 A", "OUT 1 A, 1000 HZ", "OUT 100 OHM",
                    "ZCOMP NONE", "OUT 100 OHM", "ZCOMP WIRE2", "OUT 1 V, 100000 HZ"]


def test_source_refuses_unsafe_requests_before_sending(cal):
    with pytest.raises(UnsafeRequestError, match="outside every specified band"):
        cal.apply("ACV", Q_(300, "V"), frequency=Q_(200, "kHz"))
    with pytest.raises(RefusedRequestError, match="ACV needs a frequency"):
        cal.apply("ACV", Q_(1, "V"))
    with pytest.raises(UnsafeRequestError, match="outside every DCI range"):
        cal.apply("DCI", Q_(30, "A"))
    with pytest.raises(UnitError, match="not a resistance"):
        cal.apply("RES4W", Q_(1, "V"))
    assert cal.output()[0] == Q_(0, "V")


def test_session_limits_per_function():
    rm = fresh_sim_resource_manager(CAL.simulation)
    with open_instrument("GPIB0::4::INSTR", CAL, resource_manager=rm,
                         limits={"DCI": Q_(100, "mA")}, voltage_limit=Q_(20, "V")) as cal:
        with pytest.raises(UnsafeRequestError, match="current limit 100 mA"):
            cal.apply("DCI", Q_(1, "A"))
        with pytest.raises(UnsafeRequestError, match="voltage limit 20 V"):
            cal.apply("ACV", Q_(100, "V"), frequency=Q_(1, "kHz"))
    rm.close()

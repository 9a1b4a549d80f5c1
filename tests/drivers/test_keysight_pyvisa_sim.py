"""Keysight 34465A driver against its pyvisa-sim dialogue (instruments/keysight_34465a/sim.yaml)."""
from __future__ import annotations

import numpy as np
import pytest

from labauto.drivers import open_instrument
from labauto.instruments import IdentityMismatch, load_instrument_model
from labauto.units import Q_
from labauto.visa import (CommunicationError, InstrumentError, RefusedRequestError,
                          fresh_sim_resource_manager)

MODEL = load_instrument_model("keysight_34465a")
RESOURCE = "TCPIP0::10.0.0.21::5025::SOCKET"


@pytest.fixture()
def rm():
    manager = fresh_sim_resource_manager(MODEL.simulation)
    yield manager
    manager.close()


def test_sim_yaml_is_the_models_simulation():
    assert MODEL.simulation is not None and MODEL.simulation.name == "sim.yaml"
    assert MODEL.simulation.exists()


def test_identity_checked_and_parsed(rm):
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=rm) as dmm:
        ident = dmm.identity
    assert (ident.manufacturer, ident.model) == ("Keysight Technologies", "34465A")
    assert ident.serial == "MY59004321"
    assert ident.firmware == "A.03.01-03.15-03.01-00.52-01-01"
    assert ident.resource == RESOURCE
    assert ident.raw.startswith("Keysight Technologies,34465A,MY59004321,")


def test_wrong_model_is_refused(rm):
    with pytest.raises(IdentityMismatch, match="not a Fluke 5522A"):
        with open_instrument(RESOURCE, "fluke_5522a", resource_manager=rm):
            pass


def test_configure_sends_range_nplc_autozero(rm):
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=rm) as dmm:
        settings = dmm.configure("DCV", Q_(100, "mV"), nplc=1, autozero=False)
        assert settings.range == Q_(0.1, "V")
        assert dmm.session.query("VOLT:DC:RANG?") == "0.1"
        assert dmm.session.query("VOLT:DC:NPLC?") == "+1.00000000E+00"
        assert dmm.session.query("VOLT:DC:ZERO:AUTO?") == "OFF"


def test_read_returns_volts_as_numpy_quantity(rm):
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=rm) as dmm:
        dmm.configure("DCV", Q_(10, "V"), nplc=10, autozero=True)
        readings = dmm.read(n=1)
    assert readings.units == Q_(1, "V").units
    assert isinstance(readings.magnitude, np.ndarray)
    assert readings.magnitude.tolist() == [10.000123]


def test_wrong_number_of_readings_is_an_error(rm):
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=rm) as dmm:
        dmm.configure("DCV", Q_(10, "V"), nplc=10)
        with pytest.raises(CommunicationError, match="returned 1 readings, expected 3"):
            dmm.read(n=3)   # the static dialogue always answers one reading
        assert dmm.session.query("SAMP:COUN?") == "+3"


def test_command_the_instrument_rejects_raises_instrument_error(rm):
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=rm) as dmm:
        with pytest.raises(InstrumentError) as info:
            dmm.session.write("VOLT:DC:NPLC 1000")      # outside the property's specs
        err = info.value
        assert (err.code, err.text) == (-113, "Undefined header")
        assert err.command == "VOLT:DC:NPLC 1000"
        assert "Keysight Technologies 34465A at TCPIP0::10.0.0.21::5025::SOCKET" in str(err)
        assert "'VOLT:DC:NPLC 1000'" in str(err)
        # the queue was drained: the next command is clean
        dmm.session.write("VOLT:DC:NPLC 10")


def test_error_queue_with_several_entries(rm):
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=rm) as dmm:
        dmm.session.raw_write("FOO")
        dmm.session.raw_write("BAR")
        errors = dmm.session.read_errors()
        assert [e.code for e in errors] == [-113, -113]
        assert dmm.session.read_errors() == []


def test_requests_outside_the_model_are_refused_before_sending(rm):
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=rm) as dmm:
        dmm.configure("DCV", Q_(1, "V"), nplc=10)
        with pytest.raises(RefusedRequestError, match="no DCV range 5 V"):
            dmm.configure("DCV", Q_(5, "V"), nplc=10)
        with pytest.raises(RefusedRequestError, match="NPLC 3 is not offered"):
            dmm.configure("DCV", Q_(10, "V"), nplc=3)
        with pytest.raises(RefusedRequestError, match="quantity with a unit"):
            dmm.configure("DCV", 10, nplc=10)
        with pytest.raises(RefusedRequestError, match="positive integer"):
            dmm.read(n=0)
        assert dmm.session.query("VOLT:DC:RANG?") == "1"     # nothing was sent


def test_read_before_configure_is_refused(rm):
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=rm) as dmm:
        with pytest.raises(RefusedRequestError, match=r"call configure\(\) before read\(\)"):
            dmm.read()


def test_fresh_resource_manager_resets_device_state():
    first = fresh_sim_resource_manager(MODEL.simulation)
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=first) as dmm:
        dmm.configure("DCV", Q_(1, "V"), nplc=100)
    second = fresh_sim_resource_manager(MODEL.simulation)
    with open_instrument(RESOURCE, "keysight_34465a", resource_manager=second) as dmm:
        assert dmm.session.query("VOLT:DC:NPLC?") == "+1.00000000E+01"

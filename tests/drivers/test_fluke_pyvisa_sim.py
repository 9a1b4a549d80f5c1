"""Fluke 5522A driver against its pyvisa-sim dialogue (instruments/fluke_5522a/sim.yaml)."""
from __future__ import annotations

import pytest

from labauto.drivers import open_instrument
from labauto.instruments import load_instrument_model
from labauto.units import Q_, UnitError
from labauto.visa import (InstrumentError, RefusedRequestError, UnsafeRequestError,
                          fresh_sim_resource_manager)

MODEL = load_instrument_model("fluke_5522a")
RESOURCE = "GPIB0::4::INSTR"


@pytest.fixture()
def rm():
    manager = fresh_sim_resource_manager(MODEL.simulation)
    yield manager
    manager.close()


def test_identity(rm):
    with open_instrument(RESOURCE, "fluke_5522a", resource_manager=rm) as cal:
        assert (cal.identity.manufacturer, cal.identity.model) == ("FLUKE", "5522A")
        assert cal.identity.serial == "9876543"
        assert cal.identity.firmware == "1.2+1.0+1.0+1.0"


def test_set_output_in_fluke_syntax(rm):
    with open_instrument(RESOURCE, "fluke_5522a", resource_manager=rm) as cal:
        cal.apply("DCV", Q_(-1.5, "V"))
        assert cal.output() == (Q_(-1.5, "V"), False)
        cal.apply("DCV", Q_(100, "mV"))           # converted to volts on the wire
        assert cal.session.query("OUT?").startswith("1.0000000E-01,V")
        cal.operate()
        cal.standby()


def test_safe_state_programs_zero_on_exit(rm):
    with open_instrument(RESOURCE, "fluke_5522a", resource_manager=rm) as cal:
        cal.apply("DCV", Q_(10, "V"))
        cal.operate()
    assert cal.session.closed
    # same library instance (no re-init): the device kept its state; look at it again
    with open_instrument(RESOURCE, "fluke_5522a", resource_manager=rm) as again:
        assert again.output()[0] == Q_(0, "V")


def test_unsafe_and_malformed_requests_are_refused_before_sending(rm):
    with open_instrument(RESOURCE, "fluke_5522a", resource_manager=rm,
                         voltage_limit=Q_(20, "V")) as cal:
        cal.apply("DCV", Q_(5, "V"))
        with pytest.raises(UnsafeRequestError, match="outside every DCV range"):
            cal.apply("DCV", Q_(1100, "V"))
        with pytest.raises(UnsafeRequestError, match="voltage limit 20 V"):
            cal.apply("DCV", Q_(-30, "V"))
        with pytest.raises(UnitError, match="not a voltage"):
            cal.apply("DCV", Q_(1, "A"))
        with pytest.raises(RefusedRequestError):
            cal.apply("DCV", 10.0)
        assert cal.output()[0] == Q_(5, "V")    # none of them reached the instrument


def test_rejected_command_names_instrument_and_command(rm):
    with open_instrument(RESOURCE, "fluke_5522a", resource_manager=rm) as cal:
        with pytest.raises(InstrumentError) as info:
            cal.session.write("OUT 10 A")
    assert info.value.code == -113
    assert "Fluke 5522A at GPIB0::4::INSTR" in str(info.value)
    assert "'OUT 10 A'" in str(info.value)


def test_unknown_driver_option_is_an_error(rm):
    with pytest.raises(TypeError, match="no options"):
        with open_instrument(RESOURCE, "fluke_5522a", resource_manager=rm, colour="red"):
            pass

"""The E36312A as files: the source role drives a multi-output supply from its model file alone
(channel lists, the other limit set with each value, readback), against its pyvisa-sim dialogue."""
from __future__ import annotations

import pytest

from labauto.drivers import open_instrument
from labauto.instruments import load_instrument_model
from labauto.units import Q_
from labauto.visa import RefusedRequestError, UnsafeRequestError, fresh_sim_resource_manager

MODEL = load_instrument_model("keysight_e36312a")
LAN = "TCPIP0::10.0.0.31::5025::SOCKET"


@pytest.fixture()
def rm():
    manager = fresh_sim_resource_manager(MODEL.simulation)
    yield manager
    manager.close()


def test_voltage_and_current_settings_on_a_channel(rm):
    with open_instrument(LAN, "keysight_e36312a", resource_manager=rm) as psu:
        assert psu.identity.serial == "MY59001234"
        psu.apply("DCV", Q_(25, "V"), channel=2)
        psu.operate()
        # a voltage point: the current limit goes to the output's rating (its compliance)
        assert psu.session.query("VOLT? (@2)") == "+2.50000000E+01"
        assert psu.session.query("CURR? (@2)") == "+1.00000000E+00"
        assert psu.readback() == Q_(24.999, "V")
        psu.apply("DCI", Q_(0.5, "A"), channel=2)
        # a current point: the voltage goes to the rating, the current to the setting
        assert psu.session.query("VOLT? (@2)") == "+2.50000000E+01"
        assert psu.session.query("CURR? (@2)") == "+5.00000000E-01"
        assert psu.readback() == Q_(0.9998, "A")
        psu.apply("DCV", Q_(6, "V"), channel=1)
        assert psu.session.query("CURR? (@1)") == "+5.00000000E+00"    # output 1: 5 A
    # the safe state: every output off and at 0 V
    with open_instrument(LAN, "keysight_e36312a", resource_manager=rm) as psu:
        assert [psu.session.query(f"VOLT? (@{n})") for n in (1, 2, 3)] == ["+0.00000000E+00"] * 3


def test_requests_beyond_a_channel_are_refused_before_sending(rm):
    with open_instrument(LAN, "keysight_e36312a", resource_manager=rm) as psu:
        with pytest.raises(UnsafeRequestError, match="7 V is outside every DCV range of channel 1"):
            psu.apply("DCV", Q_(7, "V"), channel=1)
        with pytest.raises(RefusedRequestError, match="channel 4 is not offered"):
            psu.apply("DCV", Q_(1, "V"), channel=4)
        with pytest.raises(UnsafeRequestError, match="outside every DCI range of channel 2"):
            psu.apply("DCI", Q_(1.5, "A"), channel=2)
        assert psu.session.query("VOLT? (@1)") == "+0.00000000E+00"       # nothing was sent

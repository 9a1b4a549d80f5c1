"""Safe state on every exit path, and link faults, against the coupled simulated lab."""
from __future__ import annotations

import logging
import traceback

import pytest

from labauto.drivers import open_instrument
from labauto.instruments import IdentityMismatch
from labauto.units import Q_
from labauto.visa import (ConnectionLostError, InstrumentError, OverloadError, SafeStateError, TransientVisaError,
                          UnsafeRequestError)

CAL, DMM = "fluke_5522a", "keysight_34465a"


def _live(lab, cal) -> None:
    cal.apply("DCV", Q_(10, "V"))
    cal.operate()
    state = lab.calibrator_state()
    assert state["operate"] is True and state["terminals"].m == pytest.approx(10, abs=1e-3)


def _assert_safe(lab) -> None:
    state = lab.calibrator_state()
    assert state["operate"] is False
    assert state["output"] == Q_(0, "V")
    assert state["terminals"] == Q_(0, "V")
    assert state["history"][-2:] == ["STBY", "OUT 0 V"]


def test_normal_exit_leaves_standby_and_closes(lab):
    with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal:
        _live(lab, cal)
    _assert_safe(lab)
    assert cal.session.closed


def test_exception_leaves_standby_and_propagates_unchanged(lab):
    with pytest.raises(ZeroDivisionError):
        with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal:
            _live(lab, cal)
            1 / 0
    _assert_safe(lab)
    assert cal.session.closed


def test_keyboard_interrupt_leaves_standby_and_propagates(lab):
    with pytest.raises(KeyboardInterrupt):
        with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal:
            _live(lab, cal)
            raise KeyboardInterrupt
    _assert_safe(lab)


def test_a_second_ctrl_c_during_the_standby_is_held_back_until_the_source_is_safe(lab, monkeypatch):
    import os
    import signal
    from labauto.drivers import Source as Fluke5522A
    real = Fluke5522A.safe_state

    calls = []

    def interrupted_safe_state(self):
        calls.append(1)
        if len(calls) == 2:                      # (the first call is the safe state on opening)
            os.kill(os.getpid(), signal.SIGINT)  # the operator presses Ctrl-C again, right now
        real(self)                               # ... the STBY and OUT 0 V still go out

    monkeypatch.setattr(Fluke5522A, "safe_state", interrupted_safe_state)
    with pytest.raises(KeyboardInterrupt):
        with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal:
            _live(lab, cal)
            raise KeyboardInterrupt              # the first Ctrl-C
    _assert_safe(lab)
    assert cal.session.closed
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # handler restored


def test_opening_a_source_puts_it_in_safe_state_first(lab):
    lab.calibrator.handle("OUT 5 V;OPER")
    assert lab.calibrator_state()["operate"] is True
    with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000):
        assert lab.calibrator_state()["operate"] is False


def test_failing_safe_state_is_raised_chained_with_the_original(lab, caplog):
    with pytest.raises(SafeStateError) as info:
        with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal:
            _live(lab, cal)
            lab.inject_fault("calibrator", "error", on=r"^STBY$", count=None, code=-300,
                             message="Relay stuck")
            raise ValueError("measurement went wrong")
    err = info.value
    assert isinstance(err.original, ValueError)
    assert isinstance(err.__cause__, InstrumentError) and err.__cause__.command == "STBY"
    assert "measurement went wrong" in str(err) and "Relay stuck" in str(err)
    assert "Fluke 5522A at TCPIP0::127.0.0.1::" in str(err)
    report = "".join(traceback.format_exception(err))
    assert "ValueError: measurement went wrong" in report      # the original is not masked
    assert "Relay stuck" in report
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    assert cal.session.closed
    assert lab.calibrator_state()["operate"] is True     # truthfully: it is still live


def test_failing_safe_state_on_normal_exit_raises(lab):
    with pytest.raises(SafeStateError) as info:
        with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal:
            _live(lab, cal)
            lab.inject_fault("calibrator", "error", on=r"^STBY$", count=None)
    assert info.value.original is None


def test_failing_safe_state_never_replaces_keyboard_interrupt(lab):
    with pytest.raises(KeyboardInterrupt) as info:
        with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal:
            _live(lab, cal)
            lab.inject_fault("calibrator", "error", on=r"^STBY$", count=None)
            raise KeyboardInterrupt
    assert any("could not be put in its safe state" in n for n in info.value.__notes__)


def test_safe_state_reconnects_once_after_a_lost_connection(lab):
    with pytest.raises(RuntimeError, match="boom"):
        with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=300) as cal:
            _live(lab, cal)
            lab.inject_fault("calibrator", "drop", on=r"^STBY$", count=1)
            raise RuntimeError("boom")
    _assert_safe(lab)


def test_unsafe_voltage_never_reaches_the_calibrator(lab):
    with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal:
        with pytest.raises(UnsafeRequestError, match="refusing to source 1100 V"):
            cal.apply("DCV", Q_(1100, "V"))
    assert not any("1100" in h for h in lab.calibrator_state()["history"])


def test_identity_mismatch_sends_nothing_else(lab):
    before = lab.calibrator_state()["history"]
    with pytest.raises(IdentityMismatch, match="Keysight"):
        with open_instrument(lab.resources["calibrator"], DMM, timeout_ms=1000):
            pass
    assert lab.calibrator_state()["history"] == before


def test_lost_connection_mid_measurement_is_transient_and_names_instrument(lab):
    with open_instrument(lab.resources["dmm"], DMM, timeout_ms=300) as dmm:
        dmm.configure("DCV", Q_(10, "V"), nplc=1)
        dmm.read(n=2)
        lab.inject_fault("dmm", "drop", on=r"READ\?")
        with pytest.raises(TransientVisaError) as info:
            dmm.read(n=2)
    err = info.value
    assert isinstance(err, ConnectionLostError)
    assert "Keysight Technologies 34465A" in str(err) and lab.resources["dmm"] in str(err)
    assert "connection lost" in str(err)
    assert err.command == "READ?"
    assert err.resource == lab.resources["dmm"]


def test_cable_pulled_between_commands_is_reported_on_the_command(lab):
    with open_instrument(lab.resources["dmm"], DMM, timeout_ms=300) as dmm:
        lab.drop_connections("dmm")
        with pytest.raises(ConnectionLostError) as info:
            dmm.configure("DCV", Q_(10, "V"), nplc=1)
        assert info.value.command == "CONF:VOLT:DC 10"
        assert "Keysight Technologies 34465A at " + lab.resources["dmm"] in str(info.value)
        dmm.session.reopen()                       # what a retry does: connect again
        dmm.configure("DCV", Q_(10, "V"), nplc=1)
        assert dmm.read(n=2).m.shape == (2,)


def test_instrument_that_stops_answering_times_out_transiently(lab):
    with open_instrument(lab.resources["dmm"], DMM, timeout_ms=200) as dmm:
        dmm.configure("DCV", Q_(10, "V"), nplc=1)
        lab.inject_fault("dmm", "hang", count=None)
        with pytest.raises(TransientVisaError, match="no answer within 200 ms") as info:
            dmm.read()
        assert not isinstance(info.value, ConnectionLostError)
        lab.clear_faults()


def test_scpi_error_names_instrument_and_command(lab):
    with open_instrument(lab.resources["dmm"], DMM, timeout_ms=1000) as dmm:
        lab.inject_fault("dmm", "error", on="NPLC", code=-222, message="Data out of range")
        with pytest.raises(InstrumentError) as info:
            dmm.configure("DCV", Q_(10, "V"), nplc=10)
    err = info.value
    assert (err.code, err.text, err.command) == (-222, "Data out of range", "VOLT:DC:NPLC 10")
    assert "Keysight Technologies 34465A at " + lab.resources["dmm"] in str(err)


def test_overload_is_reported(lab):
    with open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal, \
            open_instrument(lab.resources["dmm"], DMM, timeout_ms=1000) as dmm:
        dmm.configure("DCV", Q_(1, "V"), nplc=1)
        cal.apply("DCV", Q_(5, "V"))
        cal.operate()
        with pytest.raises(OverloadError, match="overloaded on the 1 V range"):
            dmm.read()
    _assert_safe(lab)


def test_engine_style_measurement_against_the_coupled_lab(lab):
    with open_instrument(lab.resources["dmm"], DMM, timeout_ms=1000) as dmm, \
            open_instrument(lab.resources["calibrator"], CAL, timeout_ms=1000) as cal:
        dmm.configure("DCV", Q_(10, "V"), nplc=10, autozero=True)
        cal.apply("DCV", Q_(10, "V"))
        cal.operate()
        readings = [dmm.read(n=1)[0] for _ in range(20)]
        cal.standby()
    mean = sum(r.m for r in readings) / len(readings)
    true = lab.truth.calibrator_output(Q_(10, "V"))
    expected = (true + lab.truth.dut_error("DCV", Q_(10, "V"), true)).m
    sigma = lab.truth.noise_sigma(Q_(10, "V"), 10).m
    assert abs(mean - expected) < 4 * sigma / 20 ** 0.5 + 10e-6

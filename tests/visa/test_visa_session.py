"""VISA session layer: error-queue parsing and draining, transient vs permanent errors."""
from __future__ import annotations

import socket

import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from labauto.drivers import open_instrument
from labauto.errors import LabautoError
from labauto.visa import (CommunicationError, InstrumentError, ScpiError, TransientVisaError,
                          VisaSession, classify, parse_error_entry)


@pytest.mark.parametrize("text, code, message", [
    ('+0,"No error"', 0, "No error"),
    ('-113,"Undefined header"', -113, "Undefined header"),
    ('0,"No Error"', 0, "No Error"),
    ("-222,Data out of range", -222, "Data out of range"),
    ("0", 0, ""),
])
def test_parse_error_entry(text, code, message):
    assert parse_error_entry(text) == ScpiError(code, message)


def test_parse_error_entry_rejects_other_text():
    with pytest.raises(ValueError, match="not an error-queue entry"):
        parse_error_entry("Keysight Technologies,34465A")


def test_classify_transient_and_permanent():
    assert classify(VisaIOError(constants.StatusCode.error_timeout)) == "transient"
    assert classify(VisaIOError(constants.StatusCode.error_connection_lost)) == "transient"
    assert classify(ConnectionRefusedError(111, "refused")) == "transient"
    assert classify(ConnectionResetError(104, "reset")) == "transient"
    assert classify(VisaIOError(constants.StatusCode.error_invalid_resource_name)) == "permanent"
    assert classify(ValueError("bad")) == "permanent"


def test_errors_are_labauto_errors():
    assert issubclass(TransientVisaError, LabautoError)
    assert issubclass(InstrumentError, LabautoError)


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connection_refused_is_transient_and_names_instrument():
    resource = f"TCPIP0::127.0.0.1::{_free_port()}::SOCKET"
    with pytest.raises(TransientVisaError) as info:
        with open_instrument(resource, "keysight_34465a", timeout_ms=500):
            pass
    assert "Keysight Technologies 34465A" in str(info.value)
    assert resource in str(info.value)
    assert info.value.resource == resource


def test_malformed_resource_is_permanent():
    with pytest.raises(CommunicationError) as info:
        VisaSession.open("NOT::A::RESOURCE", instrument="X 1", resource_manager="@py")
    assert not isinstance(info.value, TransientVisaError)
    assert "NOT::A::RESOURCE" in str(info.value)


def test_error_queue_is_drained_and_every_error_reported(lab):
    s = VisaSession.open(lab.resources["dmm"], instrument="Keysight Technologies 34465A",
                         timeout_ms=1000)
    try:
        s.raw_write("BOGUS:HEADER 1")
        s.raw_write("VOLT:DC:NPLC 1000")
        with pytest.raises(InstrumentError) as info:
            s.write("VOLT:DC:NPLC 10")     # itself fine: the queue still holds the two errors
        err = info.value
        assert [e.code for e in err.errors] == [-113, -222]
        assert err.code == -113 and err.text == "Undefined header"
        assert err.command == "VOLT:DC:NPLC 10"
        assert "Keysight Technologies 34465A at TCPIP0::127.0.0.1::" in str(err)
        assert s.read_errors() == []          # drained
        s.write("VOLT:DC:NPLC 1")              # and the session goes on
        assert s.query("VOLT:DC:NPLC?") == "+1.00000000E+00"
    finally:
        s.close()


def test_rejected_query_reports_the_instrument_error_not_a_timeout(lab):
    s = VisaSession.open(lab.resources["dmm"], instrument="Keysight Technologies 34465A",
                         timeout_ms=300)
    try:
        with pytest.raises(InstrumentError) as info:
            s.query("MEAS:FROBNICATE?")
        assert info.value.code == -113
        assert info.value.command == "MEAS:FROBNICATE?"
        assert isinstance(info.value.__cause__, TransientVisaError)
    finally:
        s.close()


def test_closed_session_refuses_commands(lab):
    s = VisaSession.open(lab.resources["dmm"], instrument="DMM", timeout_ms=500)
    s.close()
    s.close()  # idempotent
    with pytest.raises(CommunicationError, match="closed"):
        s.write("*CLS")


@pytest.mark.filterwarnings("ignore:read string doesn't end with termination")
def test_unknown_resource_on_pyvisa_sim_fails_the_identity_check():
    """pyvisa-sim opens any well-formed name and answers nothing: *IDN? catches it."""
    from labauto.instruments import IdentityMismatch, load_instrument_model

    sim = f"{load_instrument_model('keysight_34465a').simulation}@sim"
    with pytest.raises(IdentityMismatch, match="GPIB0::99::INSTR"):
        with open_instrument("GPIB0::99::INSTR", "keysight_34465a", resource_manager=sim):
            pass

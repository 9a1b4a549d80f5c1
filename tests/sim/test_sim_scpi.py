"""SCPI behaviour of the simulated instruments: header forms, errors, timing, lifecycle."""
from __future__ import annotations

import socket
import time

import pytest

from labauto.errors import LabautoError
from labauto.sim import SimulatedLab
from labauto.sim.scpi import compile_header
from labauto.units import Q_


@pytest.mark.parametrize("header", ["VOLT:DC:NPLC", "volt:dc:nplc", "SENS:VOLT:NPLCYCLES",
                                    ":SENSe:VOLTage:DC:NPLCycles", "VOLTAGE:DC:NPLC"])
def test_short_long_and_optional_nodes(header):
    assert compile_header("[SENSe:]VOLTage[:DC]:NPLCycles").fullmatch(header)


@pytest.mark.parametrize("header", ["VOL:DC:NPLC", "VOLT:DC:NPL", "VOLT:DC:NPLC:X", "NPLC"])
def test_partial_mnemonics_do_not_match(header):
    assert not compile_header("[SENSe:]VOLTage[:DC]:NPLCycles").fullmatch(header)


def test_dmm_subset_and_errors(lab):
    d = lab.dmm
    assert d.handle("*IDN?").startswith("Keysight Technologies,34465A,")
    assert d.handle("*OPC?") == "1"
    d.handle("VOLT:DC:NPLC 0.5")                       # rounds up to the next offered value
    assert d.handle("VOLT:DC:NPLC?") == "+1.00000000E+00"
    d.handle("VOLT:DC:ZERO:AUTO OFF;SAMP:COUN 4;TRIG:COUN 2")
    assert d.handle("VOLT:DC:ZERO:AUTO?;SAMP:COUN?;TRIG:COUN?") == "0;+4;+2"
    assert len(d.handle("READ?").split(",")) == 8
    d.handle("CONF:VOLT:DC 2000")
    d.handle("VOLT:DC:NPLC 101")
    d.handle("FROB 1")
    d.handle("VOLT:DC:ZERO:AUTO MAYBE")
    assert [d.handle("SYST:ERR?") for _ in range(5)] == [
        '-222,"Data out of range; no DC voltage range for 2000"',
        '-222,"Data out of range; NPLC 101"', '-113,"Undefined header"',
        '''-224,"Illegal parameter value; 'MAYBE' is not ON|OFF|1|0"''', '+0,"No error"']
    d.handle("*RST")
    assert d.handle("FETC?") is None
    assert d.handle("SYST:ERR?").startswith("-230,")
    for _ in range(25):
        d.handle("FROB")
    assert len(d.errors) == 20
    assert [d.handle("SYST:ERR?") for _ in range(20)][-1] == '-350,"Queue overflow"'
    d.handle("FROB")
    d.handle("*CLS")
    assert d.handle("SYST:ERR?") == '+0,"No error"'


def test_calibrator_fluke_style(lab):
    c = lab.calibrator
    assert c.handle("*IDN?").startswith("FLUKE,5522A,")
    c.handle("OUT 150 mV")
    assert c.handle("OUT?") == "1.5000000E-01,V,0.0000000E+00,V,0.00E+00"
    c.handle("OPER")
    assert c.handle("OPER?") == "1"
    assert lab.calibrator_state()["terminals"].m == pytest.approx(0.15, rel=1e-4)
    c.handle("OUT 2000 V")
    c.handle("OUT 1 FURLONG")
    assert c.handle("ERR?").startswith("-222,")
    assert c.handle("ERR?").startswith("-224,")
    assert c.handle("ERR?") == '0,"No Error"'
    c.handle("*RST")
    assert lab.calibrator_state()["operate"] is False


def test_time_per_reading_zero_versus_realistic():
    def burst(latency):
        with SimulatedLab(seed=1, latency=latency) as lab:
            lab.dmm.handle("CONF:VOLT:DC 10;VOLT:DC:NPLC 1;VOLT:DC:ZERO:AUTO OFF;SAMP:COUN 10")
            t = time.perf_counter()
            lab.dmm.handle("READ?")
            return time.perf_counter() - t
    # 10 readings × (1 PLC × 20 ms + 1 ms) = 0.21 s on the bench; generous functional bounds
    assert burst("realistic") > 0.15
    assert burst("zero") < 0.1


def test_virtual_clock_advances_by_the_reading_time(lab):
    t0 = lab.clock.now()
    lab.dmm.handle("VOLT:DC:NPLC 10;VOLT:DC:ZERO:AUTO ON;SAMP:COUN 3;READ?")
    assert lab.clock.now() - t0 == pytest.approx(3 * (10 * 0.020 * 2 + 0.001))


def test_stop_closes_the_ports_and_explicit_ports_work():
    lab = SimulatedLab(seed=1)
    resources = lab.start()
    port = int(resources["dmm"].split("::")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"*IDN?\n")
        assert s.recv(200).startswith(b"Keysight")
    lab.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with SimulatedLab(seed=1, dmm_port=port) as again:
        assert again.resources["dmm"] == f"TCPIP0::127.0.0.1::{port}::SOCKET"


def test_bad_construction_arguments():
    with pytest.raises(LabautoError, match="latency"):
        SimulatedLab(latency="fast")
    with pytest.raises(LabautoError, match="no DCV range 3 V"):
        SimulatedLab(out_of_tolerance=("DCV", Q_(3, "V")))
    with pytest.raises(LabautoError, match="no running simulated instrument"):
        SimulatedLab().inject_fault("dmm", "drop")

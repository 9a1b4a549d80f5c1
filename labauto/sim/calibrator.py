"""Simulated Fluke 5522A-style calibrator (DC volts), in Fluke's own command style.

    OUT 10 V | OUT 100 mV | OUT -1.5     set the output (volts by default)
    OUT?                                 -> 1.0000000E+01,V,0.0000000E+00,V,0.00E+00
    OPER | STBY | OPER?                  terminals live / standby (OPER? -> 1 | 0)
    ERR?                                 -> 0,"No Error" | -222,"Data out of range"
    *IDN? *RST *CLS *OPC? *OPC *WAI *ESR?

In standby the terminals are at 0 V; in operate at the true output of the set value.  Every
change drives the wire to the DMM, which settles exponentially.
"""
from __future__ import annotations

import re
import threading

from labauto.instruments import InstrumentModel
from labauto.sim.physics import Truth, Wire
from labauto.sim.scpi import (DATA_OUT_OF_RANGE, ILLEGAL_PARAMETER, MISSING_PARAMETER,
                              ErrorQueue, Interpreter, ScpiFault)

_AMPLITUDE = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)\s*$")
_PREFIX = {"": 1.0, "V": 1.0, "MV": 1e-3, "UV": 1e-6, "KV": 1e3}


class SimulatedCalibrator:
    """State and command set of the simulated calibrator."""

    def __init__(self, model: InstrumentModel, truth: Truth, wire: Wire, clock, *,
                 serial: str, firmware: str = "1.2+1.0+1.0+1.0"):
        self.model, self.truth, self.wire, self.clock = model, truth, wire, clock
        self.idn = f"{model.manufacturer.upper()},{model.model},{serial},{firmware}"
        ranges = model.function("DCV").ranges
        self.limit_v = max(r.maximum.to("V").magnitude for r in ranges)
        self.errors = ErrorQueue(no_error=(0, "No Error"))
        self.lock = threading.RLock()
        self.operate = False
        self.set_v = 0.0
        self.history: list[str] = []     # OPER / STBY / OUT transitions, for tests
        self.scpi = Interpreter(self.errors)
        for pattern, handler in [
            ("*IDN?", lambda a: self.idn), ("*RST", self._rst), ("*CLS", self._cls),
            ("*OPC?", lambda a: "1"), ("*OPC", lambda a: None), ("*WAI", lambda a: None),
            ("*ESR?", lambda a: "0"), ("ERR?", self._err), ("OUT", self._out),
            ("OUT?", self._out_q), ("OPER", self._oper), ("STBY", self._stby),
            ("OPER?", lambda a: "1" if self.operate else "0"),
        ]:
            self.scpi.add(pattern, handler)

    def handle(self, line: str) -> str | None:
        with self.lock:
            return self.scpi.execute(line)

    def push_error(self, code: int, message: str) -> None:
        with self.lock:
            self.errors.push(code, message)

    def terminal_v(self) -> float:
        return self.truth.true_output_v(self.set_v) if self.operate else 0.0

    def _drive(self) -> None:
        self.wire.drive(self.clock.now(), self.terminal_v())

    # -- handlers ----------------------------------------------------------------------------
    def _rst(self, args: list[str]) -> None:
        self.operate, self.set_v = False, 0.0
        self.history.append("RST")
        self._drive()

    def _cls(self, args: list[str]) -> None:
        self.errors.clear()

    def _err(self, args: list[str]) -> str:
        code, message = self.errors.pop()
        return f'{code},"{message}"'

    def _out(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        m = _AMPLITUDE.match(args[0])
        if not m or m.group(2).upper() not in _PREFIX:
            raise ScpiFault(ILLEGAL_PARAMETER, f"{args[0]!r}: only DC volts (V, mV, uV, kV)")
        value = float(m.group(1)) * _PREFIX[m.group(2).upper()]
        if abs(value) > self.limit_v:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"{value:g} V exceeds the +/-{self.limit_v:g} V limit")
        self.set_v = value
        self.history.append(f"OUT {value:g} V")
        self._drive()

    def _out_q(self, args: list[str]) -> str:
        return f"{self.set_v:.7E},V,{0.0:.7E},V,{0.0:.2E}"

    def _oper(self, args: list[str]) -> None:
        self.operate = True
        self.history.append("OPER")
        self._drive()

    def _stby(self, args: list[str]) -> None:
        self.operate = False
        self.history.append("STBY")
        self._drive()

"""Simulated Fluke 5522A-style calibrator, every function of its model file, in Fluke's own
command style.

    OUT 10 V | OUT 100 mV | OUT -1.5          DC voltage (volts by default)
    OUT 1 V, 1 KHZ | OUT 1 V, 1000 HZ          AC voltage at a frequency (and FREQ: its frequency)
    OUT 1 mA | OUT 1 A, 60 HZ                  DC / AC current
    OUT 100 OHM | OUT 10 KOHM                  resistance; ZCOMP NONE | WIRE2 | WIRE4
    OUT?            -> 1.0000000E+01,V,0.0000000E+00,V,0.00E+00   (value, unit, ..., frequency)
    OPER | STBY | OPER?                        terminals live / standby (OPER? -> 1 | 0)
    ERR?            -> 0,"No Error" | -222,"Data out of range"
    *IDN? *RST *CLS *OPC? *OPC *WAI *ESR?

In standby the terminals are open; in operate they carry the true output of the set value
(labauto.sim.physics).  A current the meter's burden cannot take within the range's
compliance voltage is clipped (and the error queue says so).  Every change drives the wire to
the meter, which settles exponentially.
"""
from __future__ import annotations

import re
import threading
from typing import Callable

from labauto.instruments import InstrumentModel
from labauto.sim.physics import Signal, Truth, Wire
from labauto.sim.scpi import (DATA_OUT_OF_RANGE, ILLEGAL_PARAMETER, MISSING_PARAMETER, ErrorQueue,
                              Interpreter, ScpiFault, ScpiInstrument)
from labauto.units import Q_

_AMPLITUDE = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)\s*$")
#: unit word -> (scale to the base unit, kind of output)
_UNITS = {"": (1.0, "V"), "V": (1.0, "V"), "MV": (1e-3, "V"), "UV": (1e-6, "V"), "KV": (1e3, "V"),
          "A": (1.0, "A"), "MA": (1e-3, "A"), "UA": (1e-6, "A"),
          "OHM": (1.0, "OHM"), "KOHM": (1e3, "OHM"), "MOHM": (1e6, "OHM")}
_FREQ = {"HZ": 1.0, "KHZ": 1e3, "MHZ": 1e6}
COMPLIANCE_EXCEEDED = (-221, "Settings conflict; output in compliance limit")


class SimulatedCalibrator(ScpiInstrument):
    """State and command set of the simulated calibrator."""

    def __init__(self, model: InstrumentModel, truth: Truth, wire: Wire, clock, *,
                 serial: str, firmware: str = "1.2+1.0+1.0+1.0"):
        self.model, self.truth, self.wire, self.clock = model, truth, wire, clock
        self.idn = f"{model.manufacturer.upper()},{model.model},{serial},{firmware}"
        self.errors = ErrorQueue(no_error=(0, "No Error"))
        self.lock = threading.RLock()
        self.operate = False
        self.function = "DCV"
        self.set_value = 0.0                 # in the function's base unit
        self.frequency: float | None = None
        self.compensation = "NONE"
        self.load: Callable[[], float | None] | None = None   # the meter's burden in Ω (the lab wires it)
        self.history: list[str] = []     # OPER / STBY / OUT transitions, for tests
        self.scpi = Interpreter(self.errors)
        for pattern, handler in [
            ("*IDN?", lambda a: self.idn), ("*RST", self._rst), ("*CLS", self._cls),
            ("*OPC?", lambda a: "1"), ("*OPC", lambda a: None), ("*WAI", lambda a: None),
            ("*ESR?", lambda a: "0"), ("ERR?", self._err), ("OUT", self._out),
            ("OUT?", self._out_q), ("OPER", self._oper), ("STBY", self._stby),
            ("OPER?", lambda a: "1" if self.operate else "0"), ("ZCOMP", self._zcomp),
            ("ZCOMP?", lambda a: self.compensation),
        ]:
            self.scpi.add(pattern, handler)

    # the DC-voltage lab's name of the set value
    @property
    def set_v(self) -> float:
        return self.set_value

    def signal(self) -> Signal:
        """What the terminals carry now (the true output; open in standby)."""
        if not self.operate:
            return Signal()
        fn = self.function
        value = self.truth.true_output(fn, self.set_value, self.frequency)
        kind = "RES" if fn.startswith("RES") else fn
        load = self.load() if self.load is not None and kind in ("DCI", "ACI") else None
        if load:
            limit = self._compliance()
            if limit is not None and abs(value) * load > limit:
                value = (limit / load) * (1 if value >= 0 else -1)
                self.errors.push(*COMPLIANCE_EXCEEDED)
        if self.frequency is not None and self.function in ("ACV", "ACI") and "FREQ" in self.model.functions:
            return Signal(kind, value, self.truth.true_output("FREQ", self.frequency),
                          self.compensation)
        return Signal(kind, value, self.frequency, self.compensation)

    def terminal_v(self) -> float:
        return self.signal().value

    def _compliance(self) -> float | None:
        fn = self.model.functions.get(self.function)
        if fn is None:
            return None
        try:
            r = fn.range_for(Q_(self.set_value, fn.unit))
        except KeyError:
            return None
        c = r.property("compliance")
        return None if c is None or not c.check("[length] ** 2 * [mass] / [current] / [time] ** 3") \
            else float(c.to("V").magnitude)

    def _drive(self) -> None:
        self.wire.drive(self.clock.now(), self.signal())

    # -- handlers ----------------------------------------------------------------------------
    def _rst(self, args: list[str]) -> None:
        self.operate, self.function, self.set_value, self.frequency = False, "DCV", 0.0, None
        self.compensation = "NONE"
        self.history.append("RST")
        self._drive()

    def _cls(self, args: list[str]) -> None:
        self.errors.clear()

    def _out(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        m = _AMPLITUDE.match(args[0])
        if not m or m.group(2).upper() not in _UNITS:
            raise ScpiFault(ILLEGAL_PARAMETER, f"{args[0]!r}: use V, mV, uV, kV, A, mA, uA, OHM, "
                                               "KOHM or MOHM")
        scale, kind = _UNITS[m.group(2).upper()]
        value = float(m.group(1)) * scale
        frequency = None
        if len(args) > 1:
            f = _AMPLITUDE.match(args[1])
            if not f or f.group(2).upper() not in _FREQ:
                raise ScpiFault(ILLEGAL_PARAMETER, f"{args[1]!r}: a frequency is in HZ, KHZ or MHZ")
            frequency = float(f.group(1)) * _FREQ[f.group(2).upper()]
        function = {"V": "DCV", "A": "DCI", "OHM": "RES2W"}[kind]
        if frequency is not None:
            function = {"DCV": "ACV", "DCI": "ACI"}.get(function, function)
            if function == "RES2W":
                raise ScpiFault(ILLEGAL_PARAMETER, "resistance takes no frequency")
        if function == "RES2W" and self.compensation == "NONE" and "RES4W" in self.model.functions:
            function = "RES4W"
        self._check(function, value, frequency)
        self.function, self.set_value, self.frequency = function, value, frequency
        unit = {"V": "V", "A": "A", "OHM": "OHM"}[kind]
        self.history.append(f"OUT {value:g} {unit}" + (f", {frequency:g} HZ" if frequency else ""))
        self._drive()

    def _check(self, function: str, value: float, frequency: float | None) -> None:
        fn = self.model.functions.get(function)
        if fn is None:
            raise ScpiFault(ILLEGAL_PARAMETER, f"this calibrator has no {function} output")
        top = max(abs(r.maximum.to(fn.unit).magnitude) for r in fn.ranges)
        unit = f"{fn.unit:~P}"
        if abs(value) > top:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"{value:g} {unit} exceeds the +/-{top:g} {unit} limit")
        if frequency is not None and "FREQ" in self.model.functions:
            f_fn = self.model.functions["FREQ"]
            lo = min(r.minimum.to("Hz").m for r in f_fn.ranges)
            hi = max(r.maximum.to("Hz").m for r in f_fn.ranges)
            if not lo <= frequency <= hi:
                raise ScpiFault(DATA_OUT_OF_RANGE, f"{frequency:g} Hz is outside {lo:g} to {hi:g} Hz")

    def _out_q(self, args: list[str]) -> str:
        unit = {"DCV": "V", "ACV": "V", "DCI": "A", "ACI": "A", "RES2W": "OHM", "RES4W": "OHM"}[
            self.function]
        return f"{self.set_value:.7E},{unit},{0.0:.7E},{unit},{(self.frequency or 0.0):.2E}"

    def _oper(self, args: list[str]) -> None:
        self.operate = True
        self.history.append("OPER")
        self._drive()

    def _stby(self, args: list[str]) -> None:
        self.operate = False
        self.history.append("STBY")
        self._drive()

    def _zcomp(self, args: list[str]) -> None:
        if not args or args[0].strip().upper() not in ("NONE", "WIRE2", "WIRE4"):
            raise ScpiFault(ILLEGAL_PARAMETER, "ZCOMP takes NONE, WIRE2 or WIRE4")
        self.compensation = args[0].strip().upper()
        if self.function.startswith("RES") and "RES4W" in self.model.functions:
            self.function = "RES4W" if self.compensation == "NONE" else "RES2W"
        self._drive()

"""Simulated multi-output programmable DC power supply (after a Keysight E36312A), the source
under test of the simulated lab: SCPI with channel lists, constant-voltage / constant-current
physics into what is connected, and a readback with errors of its own.

    *IDN? *RST *CLS *OPC? SYST:ERR?   INST:NSEL <n>  INST:NSEL?
    VOLT <v>[,(@<list>)]   CURR <i>[,(@<list>)]   VOLT? [(@n)]   CURR? [(@n)]
    OUTP ON|OFF[,(@<list>)]   OUTP? [(@n)]   MEAS:VOLT? [(@n)]   MEAS:CURR? [(@n)]
    (<list>: 1 | 1,3 | 1:3; the commands without a list act on INST:NSEL's channel)

Physics of the channel wired to the reference meter (the one last programmed or switched):

* its true voltage setpoint and current limit are the settings plus the supply's true
  programming errors (labauto.sim.physics, drawn within ``fraction`` of the model file's
  programming accuracy per channel and function, or set/out of tolerance like any DUT);
* the meter measuring voltage (10 GΩ / 10 MΩ) takes no current: constant voltage;
* the meter measuring current (its shunt) in series with the procedure's load resistor
  (``load_ohm``, see the lab's ``load_resistance``): I = V_set,true / (R_load + R_shunt)
  unless that exceeds the true current limit, then constant current at the limit;
* the readback (MEAS:VOLT? / MEAS:CURR?) measures the true terminal voltage / current with
  a gain and offset error of its own per channel (within ``fraction`` of the readback
  specification), noise, and the readback resolution;
* an output cannot go below 0 V / 0 A; off is open terminals.

The lab reads the meter's burden through ``load`` (a callable, as for the calibrator).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from labauto.instruments import InstrumentModel, RangeSpec
from labauto.sim.physics import Signal, Truth, Wire, _terms, quantise
from labauto.sim.scpi import (DATA_OUT_OF_RANGE, ILLEGAL_PARAMETER, MISSING_PARAMETER, ErrorQueue,
                              Interpreter, ScpiFault, ScpiInstrument, fmt, parse_bool, parse_number)
from labauto.units import Q_

READBACK_NOISE = {"DCV": 0.2e-3, "DCI": 0.1e-3}     # σ of one readback, V and A (simulation)
_LIST = re.compile(r"^\(@\s*([0-9,:\s]+)\)$")


@dataclass
class _Channel:
    number: int
    voltage: float = 0.0        # settings
    current: float = 0.0
    on: bool = False


class SimulatedPowerSupply(ScpiInstrument):
    """State and SCPI command set of the simulated power supply."""

    error_format = '{code:+d},"{message}"'     # SYST:ERR? answer, as the real one

    def __init__(self, model: InstrumentModel, truth: Truth, wire: Wire, clock, *,
                 serial: str, firmware: str = "1.0.4-1.0.1-1.12", fraction: float = 0.3):
        self.model, self.truth, self.wire, self.clock = model, truth, wire, clock
        self.idn = f"{model.manufacturer},{model.model},{serial},{firmware}"
        self.errors = ErrorQueue()
        self.lock = threading.RLock()
        self.ranges = {name: {r.channel: r for r in model.function(name).ranges}
                       for name in ("DCV", "DCI")}
        self.channels = {n: _Channel(n) for n in self.ranges["DCV"]}
        self.selected = min(self.channels)
        self.active = self.selected             # the channel wired to the reference meter
        self.load: Callable[[], float | None] | None = None    # the meter's burden (lab wires it)
        self.load_ohm = 0.0                     # the load resistor in series (lab sets it)
        self.history: list[str] = []
        rng = np.random.default_rng([truth.seed, 5])
        self.noise = np.random.default_rng([truth.seed, 6])
        self.readback_errors: dict[tuple[str, int], tuple[float, float]] = {}
        for name, per_channel in self.ranges.items():
            for ch, r in per_channel.items():
                rel, absolute = _terms(r.readback, r.range.units) if r.readback else (0.0, 0.0)
                self.readback_errors[(name, ch)] = (fraction * rel * rng.uniform(-1, 1),
                                                    fraction * absolute * rng.uniform(-1, 1))
        self.scpi = Interpreter(self.errors)
        for pattern, handler in [
            ("*IDN?", lambda a: self.idn), ("*RST", self._rst), ("*CLS", self._cls),
            ("*OPC?", lambda a: "1"), ("*OPC", lambda a: None), ("*WAI", lambda a: None),
            ("SYSTem:ERRor[:NEXT]?", self._err),
            ("INSTrument:NSELect", self._nsel), ("INSTrument:NSELect?", lambda a: str(self.selected)),
            ("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]", lambda a: self._set(a, "DCV")),
            ("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]", lambda a: self._set(a, "DCI")),
            ("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]?", lambda a: self._get(a, "voltage")),
            ("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]?", lambda a: self._get(a, "current")),
            ("OUTPut[:STATe]", self._outp), ("OUTPut[:STATe]?", self._outp_q),
            ("MEASure[:SCALar]:VOLTage[:DC]?", lambda a: self._measure(a, "DCV")),
            ("MEASure[:SCALar]:CURRent[:DC]?", lambda a: self._measure(a, "DCI")),
        ]:
            self.scpi.add(pattern, handler)

    # -- what the simulated lab inspects (the calibrator's attribute names) -----------------
    @property
    def operate(self) -> bool:
        return any(c.on for c in self.channels.values())

    @property
    def function(self) -> str:
        return "DCI" if self.load is not None and self.load() is not None else "DCV"

    @property
    def set_value(self) -> float:
        ch = self.channels[self.active]
        return ch.current if self.function == "DCI" else ch.voltage

    frequency = None

    # -- physics -------------------------------------------------------------------------
    def true_limits(self, number: int) -> tuple[float, float]:
        """(true voltage setpoint, true current limit) of a channel (programming errors)."""
        ch = self.channels[number]
        v = ch.voltage + self.truth.source_error("DCV", self.ranges["DCV"][number], ch.voltage)
        i = ch.current + self.truth.source_error("DCI", self.ranges["DCI"][number], ch.current)
        return max(v, 0.0), max(i, 0.0)

    def terminals(self, number: int) -> tuple[float, float, str]:
        """(voltage, current, "CV" | "CC" | "OFF") at a channel's terminals now."""
        ch = self.channels[number]
        if not ch.on:
            return 0.0, 0.0, "OFF"
        v_set, i_lim = self.true_limits(number)
        burden = self.load() if self.load is not None and number == self.active else None
        if burden is None:                  # a voltmeter (or nothing): no current flows
            return v_set, 0.0, "CV"
        r = burden + self.load_ohm
        if r <= 0 or v_set / r > i_lim:
            return i_lim * r, i_lim, "CC"
        return v_set, v_set / r, "CV"

    def signal(self) -> Signal:
        v, i, mode = self.terminals(self.active)
        if mode == "OFF":
            return Signal()
        if self.load is not None and self.load() is not None:
            return Signal("DCI", i)
        return Signal("DCV", v)

    def _drive(self) -> None:
        self.wire.drive(self.clock.now(), self.signal())

    def readback_error(self, function: str, number: int, x: float) -> float:
        gain, offset = self.readback_errors[(function, number)]
        return gain * x + offset

    # -- handlers ----------------------------------------------------------------------------
    def _channels(self, args: list[str], first: int) -> list[int]:
        """The channel list after the first ``first`` arguments (default: INST:NSEL's)."""
        rest = ",".join(args[first:]).strip()
        if not rest:
            return [self.selected]
        m = _LIST.match(rest)
        if not m:
            raise ScpiFault(ILLEGAL_PARAMETER, f"{rest!r} is not a channel list (@1:3)")
        out: list[int] = []
        for part in m.group(1).split(","):
            lo, _, hi = part.strip().partition(":")
            try:
                out += list(range(int(lo), int(hi or lo) + 1))
            except ValueError:
                raise ScpiFault(ILLEGAL_PARAMETER, f"channel list {rest!r}") from None
        bad = [n for n in out if n not in self.channels]
        if bad:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"no channel {bad[0]}")
        return out

    def _rst(self, args: list[str]) -> None:
        for ch in self.channels.values():
            ch.voltage, ch.current, ch.on = 0.0, 0.0, False
        self.history.append("RST")
        self._drive()

    def _cls(self, args: list[str]) -> None:
        self.errors.clear()

    def _nsel(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        n = parse_number(args[0])
        if n not in self.channels:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"no channel {args[0]}")
        self.selected = int(n)

    def _set(self, args: list[str], function: str) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        channels = self._channels(args, 1)
        for n in channels:
            r: RangeSpec = self.ranges[function][n]
            top = r.maximum.to(r.range.units).m
            value = parse_number(args[0], named={"MINimum": 0.0, "MAXimum": top})
            if not 0 <= value <= top * (1 + 1e-9):
                raise ScpiFault(DATA_OUT_OF_RANGE, f"{args[0]} is outside 0 to {top:g} on "
                                                   f"channel {n}")
            setattr(self.channels[n], "voltage" if function == "DCV" else "current", value)
        self.active = channels[-1]
        self.history.append(f"{'VOLT' if function == 'DCV' else 'CURR'} {args[0]} @{channels}")
        self._drive()

    def _get(self, args: list[str], attr: str) -> str:
        return fmt(getattr(self.channels[self._channels(args, 0)[0]], attr))

    def _outp(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        on = parse_bool(args[0])
        channels = self._channels(args, 1)
        for n in channels:
            self.channels[n].on = on
        if on:
            self.active = channels[-1]
        self.history.append(f"OUTP {'ON' if on else 'OFF'} @{channels}")
        self._drive()

    def _outp_q(self, args: list[str]) -> str:
        return "1" if self.channels[self._channels(args, 0)[0]].on else "0"

    def _measure(self, args: list[str], function: str) -> str:
        n = self._channels(args, 0)[0]
        v, i, _ = self.terminals(n)
        x = v if function == "DCV" else i
        r = self.ranges[function][n]
        x += self.readback_error(function, n, x) + self.noise.normal(0.0, READBACK_NOISE[function])
        resolution = (r.readback or r).resolution.to(r.range.units).m
        return fmt(quantise(x, resolution))

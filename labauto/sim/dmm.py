"""Simulated Keysight 34465A-style DMM (DC volts): SCPI subset, physics from ``Truth``.

Readings are taken at INIT (or READ?): each one integrates for NPLC × 20 ms (twice that with
autozero on, as the real instrument also measures its zero) plus a fixed overhead, samples the
settling wire at the end of its integration, adds the DUT's true error, Gaussian noise and the
autozero-off offset, and is quantised to the range resolution.  FETC? waits (really, or on the
virtual clock) until the burst is complete.
"""
from __future__ import annotations

import threading

import numpy as np

from labauto.instruments import InstrumentModel
from labauto.sim.physics import OVERLOAD, Truth, Wire, quantise
from labauto.sim.scpi import (DATA_OUT_OF_RANGE, DATA_STALE, ILLEGAL_PARAMETER,
                              MISSING_PARAMETER, ErrorQueue, Interpreter, ScpiFault, fmt,
                              parse_bool, parse_number)

PLC_S = 0.020            # one power-line cycle at 50 Hz
READING_OVERHEAD_S = 0.001
MAX_COUNT = 1_000_000


class SimulatedDmm:
    """State and SCPI command set of the simulated DMM."""

    def __init__(self, model: InstrumentModel, truth: Truth, wire: Wire, clock, *,
                 serial: str, firmware: str = "A.03.01-03.15-03.01-00.52-01-01", seed: int = 0):
        self.model, self.truth, self.wire, self.clock = model, truth, wire, clock
        self.idn = f"{model.manufacturer},{model.model},{serial},{firmware}"
        self.ranges = sorted(model.function("DCV").ranges, key=lambda r: r.range.to("V").magnitude)
        self.nplc_values = sorted(model.function("DCV").nplc) or [0.02, 0.2, 1, 10, 100]
        self.noise = np.random.default_rng([seed, 1])
        self.errors = ErrorQueue()
        self.lock = threading.RLock()
        self.readings_taken = 0
        self._reset()
        self.scpi = Interpreter(self.errors)
        for pattern, handler in [
            ("*IDN?", lambda a: self.idn), ("*RST", self._rst), ("*CLS", self._cls),
            ("*OPC?", lambda a: "1"), ("*OPC", lambda a: None), ("*WAI", lambda a: None),
            ("*ESR?", lambda a: "+0"),
            ("SYSTem:ERRor[:NEXT]?", self._err),
            ("CONFigure[:VOLTage][:DC]", self._conf), ("CONFigure?", self._conf_q),
            ("[SENSe:]VOLTage[:DC]:RANGe", self._range),
            ("[SENSe:]VOLTage[:DC]:RANGe?", lambda a: fmt(self._range_v())),
            ("[SENSe:]VOLTage[:DC]:RANGe:AUTO", self._range_auto),
            ("[SENSe:]VOLTage[:DC]:RANGe:AUTO?", lambda a: "1" if self.range_v is None else "0"),
            ("[SENSe:]VOLTage[:DC]:NPLCycles", self._nplc),
            ("[SENSe:]VOLTage[:DC]:NPLCycles?", lambda a: fmt(self.nplc)),
            ("[SENSe:]VOLTage[:DC]:ZERO:AUTO", self._zero),
            ("[SENSe:]VOLTage[:DC]:ZERO:AUTO?", lambda a: "1" if self.autozero else "0"),
            ("SAMPle:COUNt", lambda a: self._count(a, "sample_count")),
            ("SAMPle:COUNt?", lambda a: f"{self.sample_count:+d}"),
            ("TRIGger:COUNt", lambda a: self._count(a, "trigger_count")),
            ("TRIGger:COUNt?", lambda a: f"{self.trigger_count:+d}"),
            ("INITiate[:IMMediate]", self._init), ("FETCh?", self._fetch),
            ("READ?", self._read),
        ]:
            self.scpi.add(pattern, handler)

    # -- state -------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.range_v: float | None = None          # None: autorange
        self.nplc = 10.0
        self.autozero = True
        self.sample_count = 1
        self.trigger_count = 1
        self._buffer: list[float] | None = None
        self._ready_at = 0.0

    def reading_time_s(self) -> float:
        return self.nplc * PLC_S * (2 if self.autozero else 1) + READING_OVERHEAD_S

    def handle(self, line: str) -> str | None:
        with self.lock:
            return self.scpi.execute(line)

    def push_error(self, code: int, message: str) -> None:
        with self.lock:
            self.errors.push(code, message)

    # -- handlers ----------------------------------------------------------------------------
    def _rst(self, args: list[str]) -> None:
        self._reset()

    def _cls(self, args: list[str]) -> None:
        self.errors.clear()

    def _err(self, args: list[str]) -> str:
        code, message = self.errors.pop()
        return f'{code:+d},"{message}"'

    def _range_v(self) -> float:
        return self.range_v if self.range_v is not None else self._auto_range(
            self.wire.voltage(self.clock.now()))

    def _pick_range(self, text: str) -> float | None:
        key = text.strip().upper()
        if key in ("AUTO", "DEF", "DEFAULT"):
            return None
        top = self.ranges[-1]
        value = abs(parse_number(text, named={"MINimum": self.ranges[0].range.to("V").magnitude,
                                              "MAXimum": top.range.to("V").magnitude}))
        for r in self.ranges:
            if value <= r.range.to("V").magnitude * (1 + 1e-9):
                return r.range.to("V").magnitude
        raise ScpiFault(DATA_OUT_OF_RANGE, f"no DC voltage range for {text}")

    def _auto_range(self, volts: float) -> float:
        for r in self.ranges:
            if abs(volts) <= r.maximum.to("V").magnitude:
                return r.range.to("V").magnitude
        return self.ranges[-1].range.to("V").magnitude

    def _conf(self, args: list[str]) -> None:
        rng = self._pick_range(args[0]) if args else None
        self._reset_keep_settings()
        self.range_v = rng

    def _reset_keep_settings(self) -> None:
        # CONFigure presets trigger and sample counts and clears the reading memory
        self.sample_count = self.trigger_count = 1
        self._buffer = None

    def _conf_q(self, args: list[str]) -> str:
        r = self._range_v()
        return f'"VOLT {fmt(r)},{fmt(self._resolution(r))}"'

    def _resolution(self, range_v: float) -> float:
        return next(r.resolution.to("V").magnitude for r in self.ranges
                    if abs(r.range.to("V").magnitude - range_v) < 1e-9 * range_v)

    def _range(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        self.range_v = self._pick_range(args[0])
        self._buffer = None

    def _range_auto(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        if parse_bool(args[0]):
            self.range_v = None
        elif self.range_v is None:
            self.range_v = self._range_v()

    def _nplc(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        value = parse_number(args[0], named={"MINimum": self.nplc_values[0],
                                             "MAXimum": self.nplc_values[-1],
                                             "DEFault": 10.0})
        if not self.nplc_values[0] <= value <= self.nplc_values[-1]:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"NPLC {args[0]}")
        # the instrument rounds up to the next supported integration time
        self.nplc = next(v for v in self.nplc_values if v >= value * (1 - 1e-9))

    def _zero(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        if args[0].strip().upper() == "ONCE":
            return
        self.autozero = parse_bool(args[0])

    def _count(self, args: list[str], attr: str) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        value = parse_number(args[0], named={"MINimum": 1, "MAXimum": MAX_COUNT, "DEFault": 1})
        if value != int(value):
            raise ScpiFault(ILLEGAL_PARAMETER, f"{args[0]} is not an integer")
        if not 1 <= value <= MAX_COUNT:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"count {args[0]}")
        setattr(self, attr, int(value))

    def _init(self, args: list[str]) -> None:
        n = self.sample_count * self.trigger_count
        dt = self.reading_time_s()
        t0 = self.clock.now()
        values = []
        for k in range(n):
            t = t0 + (k + 1) * dt
            values.append(self._one_reading(self.wire.voltage(t)))
        self.readings_taken += n
        self._buffer = values
        self._ready_at = t0 + n * dt

    def _one_reading(self, applied: float) -> float:
        range_v = self.range_v if self.range_v is not None else self._auto_range(applied)
        spec = next(r for r in self.ranges if abs(r.range.to("V").magnitude - range_v) < 1e-9 * range_v)
        value = self.truth.indication_v(range_v, applied, self.autozero)
        value += self.noise.normal(0.0, self.truth.noise_sigma_v(range_v, self.nplc))
        if abs(value) > spec.maximum.to("V").magnitude:
            return OVERLOAD if value > 0 else -OVERLOAD
        return quantise(value, spec.resolution.to("V").magnitude)

    def _fetch(self, args: list[str]) -> str:
        if self._buffer is None:
            raise ScpiFault(DATA_STALE, "no readings: send INIT (or READ?) first")
        self.clock.sleep_until(self._ready_at)
        return ",".join(fmt(v) for v in self._buffer)

    def _read(self, args: list[str]) -> str:
        self._init(args)
        return self._fetch(args)

    # -- inspection for tests ----------------------------------------------------------------
    def state(self) -> dict:
        return {"range": self.range_v, "nplc": self.nplc, "autozero": self.autozero,
                "sample_count": self.sample_count, "trigger_count": self.trigger_count,
                "readings_taken": self.readings_taken}

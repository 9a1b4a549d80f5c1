"""A simulated reference thermometer readout (after a Fluke 1594A Super-Thermometer).

Each channel is wired to a probe: a function ``(t, current_A) -> ohm`` giving the resistance of
its sensing element at simulated time ``t`` with that measuring current flowing (the probe's
place in its heat source and its self-heating are the lab's business, labauto.sim.thermometry).
A reading takes the sample period (``SENS:APER``) on the lab's clock and returns

    RAT:  (R (1 + g) + n) / R_ref      (g: the readout's seeded gain error within a fraction of
                                        its ratio specification; n: noise; R_ref: the true
                                        value of the internal reference resistor)
    RES:  RAT x R_ref,nominal          (the readout's stored value of the reference)

plus, with current reversal off, the thermal EMF of the connections divided by the current
(reversal cancels it: that is what it is for).  An empty channel reads as an overload.

With ``VOLT`` (a scanner such as the 1586A) a channel wired to a thermocouple reads its emf
with the scanner's seeded gain and parasitic offset (the switch's thermal emfs).

Commands (the model file's templates): ``SENS:FUNC RES|RAT|VOLT``, ``ROUT:CLOS (@n)``,
``SENS:CURR <A>``, ``SENS:CURR:REV ON|OFF``, ``SENS:APER <s>``, ``SENS:REF <ohm>``, ``READ?``,
``*IDN?``, ``*CLS``, ``SYST:ERR?``.
"""
from __future__ import annotations

import random
import threading
from typing import Callable

from labauto.instruments import InstrumentModel
from labauto.sim.physics import OVERLOAD, quantise
from labauto.sim.scpi import (DATA_OUT_OF_RANGE, ILLEGAL_PARAMETER, MISSING_PARAMETER, ErrorQueue,
                              Interpreter, ScpiFault, ScpiInstrument, parse_bool, parse_number)

Channel = Callable[[float, float], float]
THERMAL_EMF_V = 0.8e-6            # connections' thermal EMF, cancelled by current reversal
NOISE_RELATIVE = 0.05e-6          # rms noise of one reading, relative
NOISE_FLOOR_OHM = 2e-6
INTERNAL_REFERENCE_ERROR = 0.5e-6  # the internal reference resistors' true deviation (relative)
PARASITIC_EMF_V = 2e-6            # a scanner's switch and connections (EA-4/02 S5: ±2 µV)
VOLTAGE_NOISE_V = 0.1e-6


class SimulatedReadout(ScpiInstrument):
    def __init__(self, model: InstrumentModel, clock, channels: dict[int, Channel], *,
                 seed: int = 1, serial: str = "B21044", firmware: str = "1.20",
                 gain_fraction: float = 0.3, voltage_channels: dict[int, Channel] | None = None):
        self.model, self.clock, self.channels = model, clock, channels
        self.voltage_channels = voltage_channels or {}      # thermocouples: (t, _) -> volts
        self.idn = f"FLUKE,{model.model},{serial},{firmware}"
        self._rng = random.Random(f"readout-{seed}")
        fn = model.functions.get("RATIO") or model.functions.get("RES4W")
        spec = fn.ranges[0].accuracy.get("reading") if fn is not None else None
        rel = float(spec.to("dimensionless").m) if spec is not None else 0.3e-6
        self.gain = gain_fraction * rel * self._rng.uniform(-1, 1)
        dcv = model.functions.get("DCV")
        vspec = dcv.ranges[0].accuracy.get("reading") if dcv is not None else None
        self.voltage_gain = gain_fraction * (float(vspec.to("dimensionless").m) if vspec else 0.0) \
            * self._rng.uniform(-1, 1)
        self.voltage_offset = gain_fraction * PARASITIC_EMF_V * self._rng.uniform(-1, 1)
        self.emf = THERMAL_EMF_V * self._rng.uniform(-1, 1)
        self.reference_error = {25.0: INTERNAL_REFERENCE_ERROR * self._rng.uniform(-1, 1),
                                100.0: INTERNAL_REFERENCE_ERROR * self._rng.uniform(-1, 1)}
        # validation (labauto.validation.comparison): the readout's error as its specification
        # states it, (function "RES4W" | "DCV", true value in ohm | V) -> error in ohm | V,
        # instead of the seeded gain and internal reference errors above
        self.reading_error: Callable[[str, float], float] | None = None
        self.function, self.channel, self.current = "RES", 1, 1e-3
        self.reversal, self.aperture, self.reference = True, 2.0, 100.0
        self.readings_taken = 0
        self.errors = ErrorQueue()
        self.lock = threading.RLock()
        self.scpi = Interpreter(self.errors)
        for pattern, handler in [
            ("*IDN?", lambda a: self.idn), ("*CLS", lambda a: self.errors.clear()),
            ("*RST", lambda a: None), ("*OPC?", lambda a: "1"),
            ("SYSTem:ERRor[:NEXT]?", self._err),
            ("[SENSe:]FUNCtion", self._func), ("ROUTe:CLOSe", self._route),
            ("[SENSe:]CURRent", self._current), ("[SENSe:]CURRent:REVersal", self._reversal),
            ("[SENSe:]APERture", self._aperture), ("[SENSe:]REFerence", self._reference),
            ("READ?", self._read),
        ]:
            self.scpi.add(pattern, handler)

    def _arg(self, args: list[str]) -> str:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        return args[0].strip()

    def _func(self, args: list[str]) -> None:
        word = self._arg(args).strip("'\"").upper()
        if word not in ("RES", "RAT", "VOLT"):
            raise ScpiFault(ILLEGAL_PARAMETER, f"function {word}")
        self.function = word

    def _route(self, args: list[str]) -> None:
        text = self._arg(args).strip("()@ ")
        channel = int(parse_number(text))
        if not 1 <= channel <= 4:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"channel {text}")
        self.channel = channel

    def _current(self, args: list[str]) -> None:
        value = parse_number(self._arg(args))
        if not 0 < value <= 10e-3:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"current {value:g} A")
        self.current = value

    def _reversal(self, args: list[str]) -> None:
        self.reversal = parse_bool(self._arg(args))

    def _aperture(self, args: list[str]) -> None:
        value = parse_number(self._arg(args))
        if not 0.1 <= value <= 60:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"sample period {value:g} s")
        self.aperture = value

    def _reference(self, args: list[str]) -> None:
        value = parse_number(self._arg(args))
        if value not in self.reference_error:
            raise ScpiFault(ILLEGAL_PARAMETER, f"no internal reference of {value:g} ohm")
        self.reference = value

    def _read(self, args: list[str]) -> str:
        t_end = self.clock.now() + self.aperture
        self.clock.sleep_until(t_end)
        self.readings_taken += 1
        if self.function == "VOLT":
            tc = self.voltage_channels.get(self.channel)
            if tc is None:          # nothing (or a PRT) on this channel: no emf
                return f"{self._rng.gauss(0.0, VOLTAGE_NOISE_V):.9f}"
            e = tc(t_end, 0.0)
            e = e * (1 + self.voltage_gain) if self.reading_error is None \
                else e + self.reading_error("DCV", e)
            e += self.voltage_offset
            return f"{quantise(e + self._rng.gauss(0.0, VOLTAGE_NOISE_V), 1e-8):.8f}"
        probe = self.channels.get(self.channel)
        if probe is None:
            return f"{OVERLOAD:+.6E}"
        r = probe(t_end, self.current)
        stated = self.reading_error
        r = r * (1 + self.gain) if stated is None else r + stated("RES4W", r)
        if not self.reversal:
            r += self.emf / self.current
        r += self._rng.gauss(0.0, NOISE_RELATIVE * r + NOISE_FLOOR_OHM)
        internal = self.reference_error[self.reference] if stated is None else 0.0
        ratio = r / (self.reference * (1 + internal))
        if self.function == "RAT":
            return f"{quantise(ratio, 1e-8):.8f}"
        # resistance: the ratio times the reference's stored (nominal) value
        return f"{quantise(ratio * self.reference, 1e-6):.6f}"

"""A simulated heat source (dry-well, metrology well, stirred bath) on the lab's clock.

Physics, from the model file's ``performance`` figures (labauto.drivers.heat_source):

* the medium approaches a new setpoint first-order (``time_constant``), from wherever it was;
* it wanders around the setpoint by a smooth, seeded process (two sinusoids of periods about
  5 min and 77 s, random phases) whose peak is the ``stability`` figure at that temperature;
* a place in the medium is offset from the control zone by the axial and radial gradients:
  seeded fractions of ``axial_uniformity`` and ``radial_uniformity`` at that temperature,
  growing with the distance from ambient (``place`` "reference" sits at the centre, "dut" in
  another well / at another point of the bath);
* the control sensor reads with a seeded display error within ``display_accuracy``.

SCPI subset (the model file's templates): ``*IDN?``, ``*CLS``, ``SYST:ERR?``, ``SOUR:SPO
<value>``, ``SOUR:SPO?``, ``SOUR:SENS:DATA?``, ``SOUR:STAB:TEST?`` (1 once the control
temperature has stayed within the stability figure of the setpoint for the stability test's
window), ``OUTP:STAT``.  A setpoint outside the model's range is refused with -222.
"""
from __future__ import annotations

import math
import random
import threading

from labauto.drivers.heat_source import heat_source_performance
from labauto.instruments import InstrumentModel
from labauto.sim.scpi import (DATA_OUT_OF_RANGE, MISSING_PARAMETER, ErrorQueue, Interpreter,
                              ScpiFault, ScpiInstrument, parse_bool, parse_number)
from labauto.units import Q_

STABILITY_TEST_WINDOW_S = 300.0
WANDER_PERIODS_S = (300.0, 77.0)


class SimulatedHeatSource(ScpiInstrument):
    """State, physics and SCPI command set of one simulated heat source."""

    def __init__(self, model: InstrumentModel, clock, *, seed: int = 1, serial: str = "",
                 ambient: float = 23.0, start: float | None = None, firmware: str = "1.10"):
        self.model, self.clock = model, clock
        self.performance = heat_source_performance(model)
        fn = model.function("TEMP")
        self.minimum = float(min(r.minimum for r in fn.ranges).to("degC").m)
        self.maximum = float(max(r.maximum for r in fn.ranges).to("degC").m)
        tau = self.performance.at("time_constant", Q_(0, "degC"))
        self.tau = float(tau.to("s").m) if tau is not None else 300.0
        self.ambient = ambient
        rng = random.Random(f"heat-source-{model.key}-{seed}")
        self.serial = serial or f"S{rng.randrange(10000, 99999)}"
        self.idn = f"FLUKE,{model.model},{self.serial},{firmware}"
        self._phases = [rng.uniform(0, 2 * math.pi) for _ in WANDER_PERIODS_S]
        self._display_fraction = rng.uniform(-0.5, 0.5)
        self._axial = rng.uniform(0.2, 0.6) * rng.choice((-1, 1))
        self._radial = rng.uniform(0.2, 0.6) * rng.choice((-1, 1))
        first = ambient if start is None else start
        self.setpoint = min(max(first, self.minimum), self.maximum)
        self._target = self.setpoint            # where the medium goes (the setpoint, unless faulty)
        self._from, self._t0 = first, clock.now()
        self.enabled = True
        self.history: list[float] = []           # every setpoint programmed, in order
        # injected faults (labauto.validation.faults): the medium levels off this fraction of
        # the way to a new setpoint (a failed heater or cooler); its wander this many times
        # the stability figure (a controller hunting)
        self.reach, self.wander_scale = 1.0, 1.0
        self.errors = ErrorQueue()
        self.lock = threading.RLock()
        self.scpi = Interpreter(self.errors)
        for pattern, handler in [
            ("*IDN?", lambda a: self.idn), ("*CLS", lambda a: self.errors.clear()),
            ("*RST", lambda a: None), ("*OPC?", lambda a: "1"),
            ("SYSTem:ERRor[:NEXT]?", self._err),
            ("[SOURce:]SPOint", self._set), ("[SOURce:]SPOint?", lambda a: f"{self.setpoint:.3f}"),
            ("[SOURce:]SENSe:DATA?", lambda a: f"{self.control_temperature(self.clock.now()):.3f}"),
            ("[SOURce:]STABility:TEST?", lambda a: "1" if self.stable(self.clock.now()) else "0"),
            ("OUTPut:STATe", self._enable), ("OUTPut:STATe?", lambda a: "1" if self.enabled else "0"),
        ]:
            self.scpi.add(pattern, handler)

    # -- physics ---------------------------------------------------------------------------
    def _figure(self, name: str, t_c: float) -> float:
        return self.performance.kelvin_at(name, t_c)

    def medium(self, t: float) -> float:
        """The temperature (°C) of the medium's centre at time ``t`` (s)."""
        with self.lock:
            sp, t0, start = self._target, self._t0, self._from
        approach = sp + (start - sp) * math.exp(-max(t - t0, 0.0) / self.tau)
        peak = self._figure("stability", sp) * self.wander_scale
        wander = sum(w * math.sin(2 * math.pi * t / p + ph) for w, p, ph in
                     zip((1.0, 0.4), WANDER_PERIODS_S, self._phases)) / 1.4
        return approach + peak * wander

    def at(self, t: float, place: str = "reference") -> float:
        """The temperature (°C) at ``place``: "reference" (the centre), "dut" (the gradients
        between the reference's well and the DUT's), "control" (the control sensor's place)."""
        temp = self.medium(t)
        if place == "reference":
            return temp
        scale = min(1.0, abs(temp - self.ambient) / max(abs(self.setpoint - self.ambient), 1.0))
        if place == "dut":
            return temp + scale * (self._axial * self._figure("axial_uniformity", temp)
                                   + self._radial * self._figure("radial_uniformity", temp))
        return temp

    def set_gradients(self, axial: float, radial: float) -> None:
        """The DUT's place offset from the reference's by these fractions (signed) of the
        ``axial_uniformity`` and ``radial_uniformity`` figures (seeded at 0.2–0.6 of them,
        either sign; a validation draws them within the figures, labauto.validation.comparison)."""
        self._axial, self._radial = float(axial), float(radial)

    def control_temperature(self, t: float) -> float:
        temp = self.medium(t)
        return temp + self._display_fraction * self._figure("display_accuracy", temp)

    def stable(self, t: float) -> bool:
        """The source's own stability test: the approach has decayed below the stability
        figure for the whole test window."""
        with self.lock:
            sp, t0, start = self._target, self._t0, self._from
        limit = max(self._figure("stability", sp), 1e-4)
        settled_at = t0 + self.tau * math.log(max(abs(start - sp) / limit, 1.0))
        return t >= settled_at + STABILITY_TEST_WINDOW_S

    def program(self, setpoint: float) -> None:
        """A new setpoint from now on (the medium starts from where it is)."""
        now = self.clock.now()
        current = self.medium(now)
        with self.lock:
            self._from, self._t0, self.setpoint = current, now, setpoint
            self.history.append(setpoint)
            self._target = current + self.reach * (setpoint - current)

    def clear_faults(self) -> None:
        """The heater and controller work again (the medium goes to the setpoint from now)."""
        with self.lock:
            self.reach, self.wander_scale = 1.0, 1.0
        self.program(self.setpoint)
        self.history.pop()

    # -- SCPI ------------------------------------------------------------------------------
    def _set(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        value = parse_number(args[0])
        if not self.minimum <= value <= self.maximum:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"setpoint {args[0]} outside {self.minimum:g} "
                                               f"to {self.maximum:g}")
        self.program(value)

    def _enable(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        self.enabled = parse_bool(args[0])

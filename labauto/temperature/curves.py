"""A thermocouple's own characteristic: the IEC 60584-1 reference function plus a deviation.

    E(t) = E_ref(t) + Delta E(t),   Delta E(t) = sum_k d_k t^k       (t in °C, E in mV)

The deviation polynomial is what a thermocouple calibration fits (EURAMET cg-8, NIST TN 1265
practice): small, smooth, and inverted together with the reference function by Newton's method.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from labauto.temperature import thermocouples
from labauto.temperature.errors import OutOfRangeError, TemperatureError


@dataclass(frozen=True)
class ThermocoupleCurve:
    """Type ``letter``'s reference function plus a deviation polynomial in mV (coefficients
    d_0, d_1 ... for t in °C), valid over ``t_min`` .. ``t_max``."""

    letter: str
    deviation: tuple[float, ...] = ()
    t_min: float | None = None
    t_max: float | None = None

    def __post_init__(self) -> None:
        lo, hi = thermocouples.temperature_range(self.letter)   # refuses an unknown type
        object.__setattr__(self, "letter", str(self.letter).strip().upper())
        object.__setattr__(self, "deviation", tuple(float(d) for d in self.deviation))
        if any(not math.isfinite(d) for d in self.deviation):
            raise TemperatureError("thermocouple deviation coefficients must be finite numbers")
        object.__setattr__(self, "t_min", lo if self.t_min is None else float(self.t_min))
        object.__setattr__(self, "t_max", hi if self.t_max is None else float(self.t_max))

    def delta(self, t: float) -> float:
        s = 0.0
        for c in reversed(self.deviation):
            s = s * t + c
        return s

    def _check(self, t: float) -> None:
        if not (self.t_min - 1e-9 <= t <= self.t_max + 1e-9):
            raise OutOfRangeError(
                f"type {self.letter} thermocouple curve: {t:g} °C is outside its range "
                f"{self.t_min:g} °C .. {self.t_max:g} °C")

    def emf(self, t: float) -> float:
        t = float(t)
        self._check(t)
        return thermocouples.emf(self.letter, t) + self.delta(t)

    def seebeck(self, t: float) -> float:
        d = 0.0
        for i in range(len(self.deviation) - 1, 0, -1):
            d = d * t + i * self.deviation[i]
        return thermocouples.seebeck(self.letter, t) + d

    def temperature(self, e: float) -> float:
        e = float(e)
        if not self.deviation:
            t = thermocouples.temperature(self.letter, e)
            self._check(t)
            return t
        lo, hi = self.emf(self.t_min), self.emf(self.t_max)
        if not (min(lo, hi) - 1e-9 <= e <= max(lo, hi) + 1e-9):
            raise OutOfRangeError(
                f"type {self.letter} thermocouple curve: {e:g} mV is outside {lo:.4f} mV .. "
                f"{hi:.4f} mV ({self.t_min:g} °C .. {self.t_max:g} °C)")
        try:
            t = thermocouples.temperature(self.letter, e - self.delta(0.0))
        except OutOfRangeError:
            t = 0.5 * (self.t_min + self.t_max)
        for _ in range(60):
            t = min(max(t, self.t_min), self.t_max)
            step = (self.emf(t) - e) / self.seebeck(t)
            t -= step
            if abs(step) < 1e-10:
                break
        return min(max(t, self.t_min), self.t_max)


__all__ = ["ThermocoupleCurve"]

"""IEC 60751:2022 (2008) industrial platinum resistance thermometers: Callendar–Van Dusen.

    R(t) = R0 [1 + A t + B t^2 + C (t - 100 °C) t^3]     -200 °C <= t < 0 °C
    R(t) = R0 [1 + A t + B t^2]                            0 °C <= t <= 850 °C

with the standard's A = 3.9083e-3 /°C, B = -5.775e-7 /°C^2, C = -4.183e-12 /°C^4 (IEC 60751
clause 5.1.1) or a sensor's own fitted coefficients (its calibration certificate).
t(R) is the quadratic's root above 0 °C and a Newton solution below.  Pure functions of floats
(°C, ohm).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from labauto.temperature.errors import OutOfRangeError, TemperatureError

IEC_A = 3.9083e-3
IEC_B = -5.775e-7
IEC_C = -4.183e-12
T_MIN = -200.0
T_MAX = 850.0


@dataclass(frozen=True)
class CallendarVanDusen:
    """A PRT's R(t) characteristic: R0 (ohm) and A, B, C (C applies below 0 °C only)."""

    r0: float = 100.0
    a: float = IEC_A
    b: float = IEC_B
    c: float = IEC_C
    t_min: float = T_MIN
    t_max: float = T_MAX

    def __post_init__(self) -> None:
        for name in ("r0", "a", "b", "c", "t_min", "t_max"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
                raise TemperatureError(f"Callendar–Van Dusen: {name} = {value!r} is not a number")
            object.__setattr__(self, name, float(value))
        if self.r0 <= 0:
            raise TemperatureError(f"Callendar–Van Dusen: R0 must be > 0 ohm, got {self.r0!r}")
        if self.a <= 0:
            raise TemperatureError(f"Callendar–Van Dusen: A must be > 0 /°C (platinum: about "
                                   f"3.9e-3), got {self.a!r}")
        if not self.t_min < self.t_max:
            raise TemperatureError("Callendar–Van Dusen: t_min must be below t_max")

    @classmethod
    def iec60751(cls, r0: float = 100.0) -> "CallendarVanDusen":
        """The standard curve (Pt100 with r0 = 100, Pt1000 with r0 = 1000 ...)."""
        return cls(r0=r0)

    def _check_t(self, t: float) -> float:
        t = float(t)
        if not math.isfinite(t) or t < self.t_min - 1e-9 or t > self.t_max + 1e-9:
            raise OutOfRangeError(
                f"Callendar–Van Dusen: {t:g} °C is outside the range {self.t_min:g} °C .. "
                f"{self.t_max:g} °C")
        return t

    def resistance(self, t: float) -> float:
        """R(t) in ohm."""
        t = self._check_t(t)
        x = 1.0 + self.a * t + self.b * t * t
        if t < 0:
            x += self.c * (t - 100.0) * t ** 3
        return self.r0 * x

    def dr_dt(self, t: float) -> float:
        """dR/dt in ohm/°C."""
        t = self._check_t(t)
        d = self.a + 2 * self.b * t
        if t < 0:
            d += self.c * (4 * t ** 3 - 300.0 * t * t)
        return self.r0 * d

    def temperature(self, r: float) -> float:
        """t in °C from the resistance ``r`` in ohm."""
        r = float(r)
        lo, hi = self.resistance(self.t_min), self.resistance(self.t_max)
        if not math.isfinite(r) or r < lo * (1 - 1e-12) or r > hi * (1 + 1e-12):
            raise OutOfRangeError(
                f"Callendar–Van Dusen (R0 = {self.r0:g} ohm): {r:g} ohm is outside "
                f"{lo:.4f} ohm ({self.t_min:g} °C) .. {hi:.4f} ohm ({self.t_max:g} °C)")
        z = r / self.r0 - 1.0
        if self.b == 0:
            t = z / self.a
        else:
            disc = self.a * self.a + 4 * self.b * z
            t = (-self.a + math.sqrt(max(disc, 0.0))) / (2 * self.b) if disc >= 0 else z / self.a
        # Newton on the full characteristic: exact below 0 °C, a refinement above
        for _ in range(50):
            t = min(max(t, self.t_min), self.t_max)
            step = (self.resistance(t) - r) / self.dr_dt(t)
            t -= step
            if abs(step) < 1e-12:
                break
        return min(max(t, self.t_min), self.t_max)

    def as_dict(self) -> dict[str, float]:
        return {"R0": self.r0, "A": self.a, "B": self.b, "C": self.c}


PT100 = CallendarVanDusen.iec60751(100.0)

__all__ = ["CallendarVanDusen", "IEC_A", "IEC_B", "IEC_C", "PT100", "T_MAX", "T_MIN"]

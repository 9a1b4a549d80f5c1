"""Check standards of the simulated lab: stable artifacts a meter measures in an intermediate
check (a 10 V Zener reference after a Fluke 732, a 10 kΩ standard resistor after a Fluke 742A).

An artifact is passive: connected to the meter's input (``SimulatedLab.connect_artifact``) it
puts its value on the terminals in place of the calibrator.  Its value on a given day is

    nominal × (1 + deviation + drift_per_day × day) + day-to-day noise × N(0, 1)

the noise drawn from a generator seeded with (seed, day), so one day's value is the same in
every session.  The figures are typical of such standards, given from memory (not from a
datasheet): a 732-class Zener drifts about 1 µV/V per year with a day-to-day scatter near
0.1 µV/V; a 742A-class resistor about 2 µΩ/Ω per year with 0.2 µΩ/Ω scatter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labauto.sim.physics import Signal


@dataclass(frozen=True)
class CheckArtifact:
    kind: str                       # "DCV" (a voltage reference) or "RES" (a resistor)
    nominal: float                  # V or Ω
    deviation: float = 0.0          # relative: (value - nominal) / nominal on day 0
    drift_per_day: float = 0.0      # relative
    noise: float = 0.0              # relative day-to-day standard deviation
    seed: int = 0

    def value(self, day: float) -> float:
        rng = np.random.default_rng([self.seed, int(round(day * 1000))])
        rel = self.deviation + self.drift_per_day * day + self.noise * rng.standard_normal()
        return self.nominal * (1.0 + rel)

    def signal(self, day: float) -> Signal:
        return Signal(self.kind, self.value(day), None, "")


ZENER_10V = CheckArtifact("DCV", 10.0, deviation=1.2e-6, drift_per_day=1e-6 / 365, noise=0.1e-6,
                          seed=732)
RESISTOR_10K = CheckArtifact("RES", 1.0e4, deviation=-3.5e-6, drift_per_day=2e-6 / 365,
                             noise=0.2e-6, seed=742)

# by the name `labauto sim serve --check-standard NAME` takes
ARTIFACTS = {"zener-10v": ZENER_10V, "resistor-10k": RESISTOR_10K}

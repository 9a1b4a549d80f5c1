"""An external current shunt in the simulated lab: the source's current flows through it and the
reference meter, on a voltage range, reads the voltage across its potential terminals.

Physics (none of it read from the budget, labauto.models.shunt):

* its true value at the reference conditions is drawn from its calibration certificate:
  normal about the certified value with u = U/k;
* its true temperature and power coefficients are drawn within the model's published bounds
  (uniform in ± the bound, sign unknown, as a data sheet states them);
* the resistance follows the simulated room's temperature (``room(t)``, °C; the lab's
  thermo-hygrometer air) from the certificate's reference temperature: alpha × (T − T_ref);
* self-heating: the shunt's heat follows the power I²R dissipated in it with the model's time
  constant (first order; it warms from the room when a current starts and cools when it
  stops); at steady state its value has changed by beta × P.  The certified value holds at the
  certificate's measuring current in steady state, so the change is beta × (P_now − P_cal),
  P_now the power the shunt's heat corresponds to;
* a thermal EMF at its potential terminals: copper-to-copper junctions within 1 °C of each
  other, the simulated lab's ``THERMAL_EMF_MAX_V`` (labauto.sim.physics), drawn per shunt (a
  DC offset: an AC current's rms voltage does not carry it);
* an AC current: the true AC-DC difference at each certified frequency drawn from the
  certificate (normal, u = U/k); between or beyond them, the nearest certified frequency's.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from labauto.sim.physics import THERMAL_EMF_MAX_V, Signal

#: what a current signal becomes across a shunt, read by a voltage function
ACROSS = {"DCI": "DCV", "ACI": "ACV"}


class SimulatedShunt:
    """One shunt's true state (seeded by ``rng``)."""

    def __init__(self, use: Any, rng: np.random.Generator,
                 room: Callable[[float], float] = lambda t: 23.0):
        shunt, cert, ratings = use.shunt, use.shunt.certificate, use.shunt.ratings
        self.name = use.name
        self.value_ohm = float(cert.value.to("ohm").magnitude) + \
            float(cert.standard_uncertainty.to("ohm").magnitude) * rng.standard_normal()
        self.alpha = float(ratings.temperature_coefficient.to("1/K").magnitude) * rng.uniform(-1, 1)
        self.beta = float(ratings.power_coefficient.to("1/W").magnitude) * rng.uniform(-1, 1)
        self.tau_s = float(ratings.time_constant.to("s").magnitude)
        self.reference_c = float(cert.temperature.to("degC").magnitude)
        self.calibration_power_w = float(shunt.power_at(cert.current).to("W").magnitude)
        self.emf_v = THERMAL_EMF_MAX_V * rng.uniform(-1, 1)
        self.ac_dc = [(float(e.frequency.to("Hz").magnitude), e.difference + e.U / e.k * rng.standard_normal())
                      for e in cert.ac_dc]
        self.room = room
        self.heat_w = 0.0          # the power the shunt's temperature corresponds to
        self.t = 0.0
        self.current_a = 0.0       # what flowed since ``t``

    def _advance(self, t: float, current_a: float, since: float | None) -> None:
        if since is not None and self.t < since < t:
            self._step(since, self.current_a)
        self._step(t, current_a)
        self.current_a = current_a

    def _step(self, t: float, current_a: float) -> None:
        dt = max(t - self.t, 0.0)
        target = current_a ** 2 * self.value_ohm
        self.heat_w = target + (self.heat_w - target) * math.exp(-dt / self.tau_s)
        self.t = max(self.t, t)

    def resistance(self, t: float, current_a: float, since: float | None = None) -> float:
        """The true resistance at ``t`` with ``current_a`` flowing since ``since`` (the moment
        the source last changed)."""
        self._advance(t, current_a, since)
        return self.value_ohm * (1 + self.alpha * (self.room(t) - self.reference_c)
                                 + self.beta * (self.heat_w - self.calibration_power_w))

    def voltage(self, t: float, current_a: float, since: float | None = None,
                frequency: float | None = None) -> float:
        """What the meter sees across the potential terminals (rms at ``frequency``)."""
        r = self.resistance(t, current_a, since)
        if frequency is None:
            return current_a * r + self.emf_v
        if not self.ac_dc:
            raise ValueError(f"shunt {self.name} has no AC-DC difference: not an AC shunt")
        _, d = min(self.ac_dc, key=lambda e: abs(e[0] - frequency))
        return current_a * r * (1 + d)

    def cool(self, t: float) -> None:
        """No current flows (the shunt is out of circuit)."""
        self._advance(t, 0.0, None)


class ShuntedWire:
    """The source's terminals as the meter sees them, through the shunt in circuit (if any):
    a current becomes the voltage across the shunt; everything else passes unchanged.  Has
    the interface of :class:`labauto.sim.physics.Wire` that the simulated meters use; the
    current through the meter's own input (``current_changes``, its shunts' heating) is none
    while an external shunt carries it."""

    def __init__(self, wire: Any, in_circuit: Callable[[], SimulatedShunt | None]):
        self.wire = wire
        self.in_circuit = in_circuit
        self._switched: list[tuple[float, bool]] = []    # (time, an external shunt in circuit)

    def switched(self, t: float, shunted: bool) -> None:
        """The technician put an external shunt in circuit (or took it out) at ``t``."""
        self._switched.append((t, shunted))

    def _shunted_at(self, t: float) -> bool:
        state = False
        for when, shunted in self._switched:
            if when > t:
                break
            state = shunted
        return state

    def signal(self, t: float) -> Signal:
        sig = self.wire.signal(t)
        shunt = self.in_circuit()
        if shunt is None or sig.kind not in ACROSS:
            return sig
        ac = sig.kind != "DCI"
        return Signal(ACROSS[sig.kind], shunt.voltage(t, sig.value, self.wire.changed_at,
                                                      sig.frequency if ac else None),
                      sig.frequency)

    def current_changes(self, after: float, until: float) -> list[tuple[float, float]]:
        """The source's current changes through the meter's own input: none while an external
        shunt is in circuit, the source's current again from the moment it is taken out."""
        changes = self.wire.current_changes(float("-inf"), until)
        events = [(t, i) for t, i in changes if not self._shunted_at(t)]
        for when, shunted in self._switched:
            if when > until:
                break
            before = [i for t, i in changes if t <= when]
            events.append((when, 0.0 if shunted else (before[-1] if before else 0.0)))
        return sorted(e for e in events if after <= e[0] <= until)

    def __getattr__(self, name: str) -> Any:      # voltage, changed_at, drive ...: the wire's
        return getattr(self.wire, name)

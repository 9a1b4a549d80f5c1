"""A simulated thermo-hygrometer (after the Vaisala HMT330) in a slowly drifting room.

The room's air follows a seeded drift around its set conditions: two slow sinusoids (periods of
about 40 min and 7 min, random phases) on temperature and humidity, evaluated on the lab's
clock, plus a reading noise at the transmitter's resolution.  ``set_room`` changes the set
conditions at once (an air-conditioning fault, a door left open).

It speaks the HMT330's line protocol on its own raw socket (lines end in CR LF):

    ?      device information, one item per line ("HMT330 / 5.16", "Serial number  : ...")
    VERS   "HMT330 / 5.16"
    SEND   one reading in the default format: "RH= 45.21 %RH T= 23.04 'C"
"""
from __future__ import annotations

import math
import random
import threading
from typing import Any

SOFTWARE = "5.16"


class SimulatedThermoHygrometer:
    def __init__(self, clock: Any, *, seed: int = 1, temperature: float = 23.0,
                 humidity: float = 45.0, serial: str = "S4420017",
                 temperature_drift: float = 0.15, humidity_drift: float = 2.0):
        self.clock, self.serial = clock, serial
        self.lock = threading.RLock()
        self._rng = random.Random(f"thermohygrometer-{seed}")
        self._phases = [self._rng.uniform(0, 2 * math.pi) for _ in range(4)]
        self.temperature, self.humidity = temperature, humidity          # set conditions
        self.temperature_drift, self.humidity_drift = temperature_drift, humidity_drift
        self.errors: list[str] = []
        self.readings = 0

    def set_room(self, *, temperature: float | None = None, humidity: float | None = None) -> None:
        with self.lock:
            if temperature is not None:
                self.temperature = temperature
            if humidity is not None:
                self.humidity = humidity

    def air(self, t: float) -> tuple[float, float]:
        """The room's true temperature (°C) and relative humidity (%RH) at time ``t`` (s)."""
        p = self._phases
        temp = (self.temperature
                + self.temperature_drift * (math.sin(2 * math.pi * t / 2400 + p[0])
                                            + 0.3 * math.sin(2 * math.pi * t / 420 + p[1])) / 1.3)
        rh = (self.humidity
              + self.humidity_drift * (math.sin(2 * math.pi * t / 2400 + p[2])
                                       + 0.3 * math.sin(2 * math.pi * t / 420 + p[3])) / 1.3)
        return temp, min(100.0, max(0.0, rh))

    # -- the line protocol -------------------------------------------------------------------
    def handle(self, line: str) -> str | None:
        with self.lock:
            command = line.strip().upper()
            if command == "SEND":
                temp, rh = self.air(self.clock.now())
                temp += self._rng.gauss(0, 0.01)
                rh += self._rng.gauss(0, 0.02)
                self.readings += 1
                return f"RH= {rh:5.2f} %RH T= {temp:5.2f} 'C\r"
            if command == "?":
                return "\r\n".join([f"HMT330 / {SOFTWARE}",
                                    f"Serial number  : {self.serial}",
                                    "Batch number   : S4410003",
                                    "Adjust. date   : 2026-03-02",
                                    "Adjust. info   : labauto simulation",
                                    "Date           : 2026-01-01",
                                    "Time           : 00:00:00",
                                    "Serial mode    : STOP",
                                    "Baud P D S     : 4800 E 7 1",
                                    "Output interval: 1 S"]) + "\r"
            if command == "VERS":
                return f"HMT330 / {SOFTWARE}\r"
            if command == "ERRS":
                errors, self.errors = self.errors, []
                return "\r\n".join(errors or ["No errors"]) + "\r"
            return "Unknown command\r"

    def push_error(self, code: int, message: str) -> None:
        """An injected fault (``SimulatedLab.inject_fault(..., kind="error")``)."""
        with self.lock:
            self.errors.append(f"{code} {message}")

"""Time for the simulated lab: real (readings take as long as on the bench) or virtual.

The virtual clock never sleeps: waiting advances it, so a zero-latency lab still integrates,
settles and times its readings consistently, only instantly."""
from __future__ import annotations

import threading
import time


class RealClock:
    """Wall-clock time; ``sleep_until`` really waits."""

    virtual = False

    def now(self) -> float:
        return time.monotonic()

    def sleep_until(self, t: float) -> None:
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def advance(self, seconds: float) -> None:
        raise RuntimeError("a real-time simulated lab cannot jump in time; wait instead "
                           "(or use latency='zero')")


class VirtualClock:
    """Simulated seconds since the lab started; waiting jumps the clock forward."""

    virtual = True

    def __init__(self) -> None:
        self._t = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def sleep_until(self, t: float) -> None:
        with self._lock:
            self._t = max(self._t, t)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass (e.g. a settle time in a test)."""
        if seconds < 0:
            raise ValueError("time cannot run backwards")
        with self._lock:
            self._t += seconds

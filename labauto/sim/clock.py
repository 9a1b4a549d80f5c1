"""Time for the simulated lab: real (readings take as long as on the bench) or virtual.

The virtual clock never sleeps: waiting advances it, so a zero-latency lab still integrates,
settles and times its readings consistently, only instantly."""
from __future__ import annotations

import mmap
import os
import struct
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


class SharedClock:
    """A virtual clock shared by processes through a file (8 bytes: the simulated seconds):
    a calibration process killed on purpose (labauto.validation.faults) and the simulated lab
    it talks to see one time.  The same interface as :class:`VirtualClock`."""

    virtual = True

    def __init__(self, path: "str | os.PathLike[str]"):
        self.path = os.fspath(path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.write(fd, struct.pack("<d", 0.0))
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)
        self._lock = threading.Lock()
        self._lockfile = open(self.path, "rb")      # flock: one writer across processes

    def now(self) -> float:
        return struct.unpack_from("<d", self._map)[0]

    def _update(self, fn) -> None:
        import fcntl      # POSIX only, as the run's instrument locks

        with self._lock:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX)
            try:
                struct.pack_into("<d", self._map, 0, fn(struct.unpack_from("<d", self._map)[0]))
            finally:
                fcntl.flock(self._lockfile, fcntl.LOCK_UN)

    def sleep_until(self, t: float) -> None:
        self._update(lambda now: max(now, t))

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time cannot run backwards")
        self._update(lambda now: now + seconds)

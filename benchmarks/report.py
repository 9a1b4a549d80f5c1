"""What every benchmark prints: the machine and date it ran on, and figures as ranges over
repeated runs (min-max, median), never a single run (the machine is often shared)."""
from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
from typing import Sequence


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    try:
        return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def header(command: str) -> None:
    """Date (UTC), machine (cores, CPU model, Python), load at the start, and the command."""
    now = dt.datetime.now(dt.timezone.utc)
    print(f"date: {now:%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores, {cpu_model()}, "
          f"{platform.system()} {platform.release()}, Python {platform.python_version()}; {load()} "
          "(1, 5, 15 min) at the start")
    print(f"command: {command or ' '.join([os.path.relpath(sys.argv[0])] + sys.argv[1:])}")


def footer() -> None:
    print(f"{load()} (1, 5, 15 min) at the end; figures above 1 per core mean other work shared "
          "the cores")


def span(values: Sequence[float], fmt: str = "{:.1f}", unit: str = "") -> str:
    """``min–max (median m, n runs)``."""
    v = sorted(values)
    u = f" {unit}" if unit else ""
    if len(v) == 1:
        return f"{fmt.format(v[0])}{u} (1 run)"
    return (f"{fmt.format(v[0])}–{fmt.format(v[-1])}{u} (median {fmt.format(statistics.median(v))}, "
            f"{len(v)} runs)")

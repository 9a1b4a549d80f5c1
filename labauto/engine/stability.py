"""Waiting for thermal equilibrium: at each setpoint of a comparison calibration the run waits
until the reference thermometer is stable -- the slope of a least-squares line and the standard
deviation of its readings over the last ``window``, both within the procedure's limits -- or
gives up after ``timeout`` with an error saying what was seen.

    criterion = StabilityCriterion(window=Q_(5, "min"), max_slope=Q_(0.01, "K/min"),
                                   max_std=Q_(5, "mK"), sample_period=Q_(10, "s"),
                                   timeout=Q_(60, "min"))
    verdict = wait_until_stable(sample, criterion, clock=clock, on_sample=show)

``sample()`` returns one reading ``(t_seconds, temperature)`` (the time from the lab's clock:
real on the bench, simulated for the zero-latency lab, where each reading advances it).
Pure numbers inside: no instruments, no journal (the caller journals what it is handed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Sequence

import numpy as np
import pint

from labauto.errors import LabautoError
from labauto.units import Q_


class SetpointNotReached(LabautoError):
    """The reference became stable, but not at the setpoint (further from it than the
    procedure's ``stability.max_offset``); the heat source is at its safe setpoint when the
    run stops, and the run can be resumed."""


class StabilityTimeout(LabautoError):
    """The reference did not become stable in time; the heat source is at its safe setpoint
    when the run stops, and the run can be resumed."""

    def __init__(self, message: str, verdict: "StabilityVerdict | None" = None):
        super().__init__(message)
        self.verdict = verdict


@dataclass(frozen=True)
class StabilityCriterion:
    window: pint.Quantity          # time span the slope and deviation are computed over
    max_slope: pint.Quantity       # |slope| limit, K/min
    max_std: pint.Quantity         # standard deviation limit, K
    timeout: pint.Quantity         # give up after this long at the setpoint
    sample_period: pint.Quantity = Q_(10, "s")   # one reference reading per period
    # how far the stable reference may be from the setpoint (None: 1 K beyond the heat
    # source's display accuracy there): a medium that settled elsewhere (a failed heater, a
    # setpoint refused silently) is not the calibration temperature; the budget carries only
    # a small step t - t_X through S_X (labauto.engine.comparison)
    max_offset: pint.Quantity | None = None

    @cached_property
    def window_s(self) -> float:
        return float(self.window.to("s").m)

    @cached_property
    def timeout_s(self) -> float:
        return float(self.timeout.to("s").m)

    @cached_property
    def max_slope_k_per_min(self) -> float:
        return float(self.max_slope.to("K/min").m)

    @cached_property
    def max_std_k(self) -> float:
        return float(self.max_std.to("K").m)


    def describe(self) -> str:
        return (f"|slope| <= {self.max_slope.to('K/min').m:g} K/min and s <= "
                f"{self.max_std.to('mK').m:g} mK over {self.window.to('min').m:g} min")


@dataclass(frozen=True)
class StabilityVerdict:
    stable: bool
    n: int                          # readings in the window
    span_s: float                   # time the window's readings cover
    slope_k_per_min: float          # nan until two readings
    std_k: float                    # nan until two readings
    mean_c: float                   # mean temperature of the window, °C
    elapsed_s: float = 0.0          # since the wait began

    def describe(self) -> str:
        if self.n < 2:
            return f"{self.n} reading(s) so far"
        return (f"{self.mean_c:.4f} °C, slope {self.slope_k_per_min:+.4f} K/min, "
                f"s {self.std_k * 1000:.2f} mK over {self.span_s / 60:.1f} min ({self.n} readings)")


def assess(samples: Sequence[tuple[float, float]], criterion: StabilityCriterion,
           elapsed_s: float = 0.0) -> StabilityVerdict:
    """Judge the readings ``(t_s, °C)`` of the last window (the latest reading's window); the
    window counts as full when an earlier reading is given at or before its start."""
    if not samples:
        return StabilityVerdict(False, 0, 0.0, math.nan, math.nan, math.nan, elapsed_s)
    t_end = samples[-1][0]
    window = criterion.window_s
    # a small tolerance: a window of 300 s sampled every 10 s holds 31 readings
    start = t_end - window - 1e-6
    inside = [(t, v) for t, v in samples if t >= start]
    t = np.array([s[0] for s in inside])
    v = np.array([s[1] for s in inside])
    if len(inside) < 2:
        return StabilityVerdict(False, len(inside), 0.0, math.nan, math.nan, float(v.mean()),
                                elapsed_s)
    span = float(t[-1] - t[0])
    slope = float(np.polyfit(t - t[0], v, 1)[0]) * 60.0 if span > 0 else math.nan
    std = float(v.std(ddof=1))
    # the readings cover the whole window: the earliest one given is at or before its start
    full = t_end - samples[0][0] >= window * (1 - 1e-9) and len(inside) >= 3
    stable = full and abs(slope) <= criterion.max_slope_k_per_min and std <= criterion.max_std_k
    return StabilityVerdict(stable, len(inside), span, slope, std, float(v.mean()), elapsed_s)


Sample = Callable[[], tuple[float, pint.Quantity]]


def wait_until_stable(sample: Sample, criterion: StabilityCriterion, *, what: str = "",
                      on_sample: Callable[[float, pint.Quantity, StabilityVerdict], None] | None = None,
                      sleep_until: Callable[[float], None] | None = None) -> StabilityVerdict:
    """Read until :func:`assess` says stable; raise :class:`StabilityTimeout` after the
    criterion's timeout.  ``sleep_until(t)`` waits for the next sample time when a reading
    takes less than the sample period (the lab's clock: real or simulated)."""
    samples: list[tuple[float, float]] = []
    t_start: float | None = None
    slot: float | None = None
    period = float(criterion.sample_period.to("s").m)
    verdict = assess(samples, criterion)
    while True:
        t, value = sample()
        if t_start is None:
            t_start = t
        samples.append((t, float(value.to("degC").m)))
        # keep what the window needs (and a little more)
        while len(samples) > 2 and samples[1][0] < t - criterion.window_s - 1e-6:
            samples.pop(0)
        verdict = assess(samples, criterion, elapsed_s=t - t_start)
        if on_sample is not None:
            on_sample(t, value, verdict)
        if verdict.stable:
            return verdict
        if t - t_start >= criterion.timeout_s:
            raise StabilityTimeout(
                f"{what or 'the reference'} did not become stable within "
                f"{criterion.timeout.to('min').m:g} min ({criterion.describe()}); last "
                f"window: {verdict.describe()}. Check the heat source (setpoint reached? "
                "stirring? probes immersed?) or the procedure's stability limits; the heat "
                "source is left at its safe setpoint and the run can be resumed", verdict)
        if sleep_until is not None:
            # readings start one sample period apart (a reading that takes the whole period,
            # or longer, is followed at once by the next)
            slot = max((slot if slot is not None else t) + period, t - period)
            sleep_until(slot)

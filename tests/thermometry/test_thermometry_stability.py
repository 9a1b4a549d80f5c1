"""The stability criterion: slope and standard deviation over a window, time-out."""
from __future__ import annotations

import math

import numpy as np
import pytest

from labauto.engine.stability import (StabilityCriterion, StabilityTimeout, assess,
                                      wait_until_stable)
from labauto.sim.clock import VirtualClock
from labauto.units import Q_

CRITERION = StabilityCriterion(window=Q_(5, "min"), max_slope=Q_(0.01, "K/min"),
                               max_std=Q_(5, "mK"), timeout=Q_(60, "min"),
                               sample_period=Q_(10, "s"))


def test_slope_and_deviation_over_the_window():
    t = np.arange(0, 301, 10.0)
    ramp = [(x, 100 + 0.02 * x / 60) for x in t]                 # 0.02 K/min
    v = assess(ramp, CRITERION)
    assert v.slope_k_per_min == pytest.approx(0.02, rel=1e-9)
    assert v.n == 31 and v.span_s == 300 and not v.stable
    # sample standard deviation of n equally spaced points (step h) on a line of slope m:
    # m h sqrt(n (n + 1) / 12)
    assert v.std_k == pytest.approx(0.02 / 60 * 10 * math.sqrt(31 * 32 / 12), rel=1e-9)
    flat = [(x, 100 + (0.002 if i % 2 else -0.002)) for i, x in enumerate(t)]
    v = assess(flat, CRITERION)
    assert v.stable and abs(v.slope_k_per_min) < 1e-3 and v.std_k == pytest.approx(0.002, rel=0.02)
    assert not assess(flat[:20], CRITERION).stable           # 190 s: the window is not full yet
    noisy = [(x, 100 + (0.006 if i % 2 else -0.006)) for i, x in enumerate(t)]
    assert not assess(noisy, CRITERION).stable                # s = 6 mK > 5 mK
    # readings at uneven times (a wall clock): full once one reading is at or before the
    # window's start, the statistics over the readings inside it
    jitter = [(10 * i + 0.37 * (i % 4), 100 + (0.002 if i % 2 else -0.002)) for i in range(31)]
    v = assess(jitter, CRITERION)
    assert v.stable and v.n == 30 and v.span_s == pytest.approx(290.37)
    assert not assess(jitter[1:], CRITERION).stable       # the 2nd is after the start: not covered
    # only the last window counts: a ramp that ended long ago does not
    later = ramp + [(300 + x, 100.1) for x in t[1:]]
    assert assess(later, CRITERION).stable


def test_waits_through_a_first_order_approach_on_a_virtual_clock():
    clock = VirtualClock()
    tau, start, target = 240.0, 50.0, 200.0

    def sample():
        clock.advance(2.0)                       # a reading takes its sample period
        t = clock.now()
        return t, Q_(target + (start - target) * math.exp(-t / tau), "degC")

    seen = []
    verdict = wait_until_stable(sample, CRITERION, sleep_until=clock.sleep_until,
                                on_sample=lambda t, v, vd: seen.append(vd))
    assert verdict.stable and abs(verdict.slope_k_per_min) <= 0.01
    t_end = clock.now()
    # the decay's slope at the window's start must already be near the limit:
    # 60 (target - start)/tau exp(-t/tau) at t_end - 300 s is below ~2.5x the limit
    slope_at_window_start = 60 * (target - start) / tau * math.exp(-(t_end - 300) / tau)
    assert slope_at_window_start < 0.025
    assert not seen[-2].stable                   # it returned at the first stable window
    # a reading every 10 s (the first at 2 s, then 2 s after each slot of the schedule)
    assert t_end == pytest.approx(4.0 + (len(seen) - 1) * 10.0)


def test_times_out_with_what_it_saw():
    clock = VirtualClock()

    def sample():
        clock.advance(10.0)
        return clock.now(), Q_(100 + 0.05 * clock.now() / 60, "degC")    # never stops rising

    with pytest.raises(StabilityTimeout) as info:
        wait_until_stable(sample, CRITERION, what="the reference at T100C (100 °C in bath)")
    text = str(info.value)
    assert text.startswith("the reference at T100C (100 °C in bath) did not become stable within "
                           "60 min (|slope| <= 0.01 K/min and s <= 5 mK over 5 min)")
    assert "slope +0.0500 K/min" in text and "safe setpoint" in text
    assert clock.now() == pytest.approx(3610.0)

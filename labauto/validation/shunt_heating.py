"""Characterise a current shunt's self-heating at one point of a procedure's sequence, by
measurement: what the correction of a budget's ``shunt_heating`` contribution and its
uncertainty come from (docs/validation.md, "fluke_5522a_dci_res_3458a").

One repetition, with the procedure's own meter and source (their drivers; on the simulated
lab in-process, or on a bench):

1. *hot*: the source in standby for ``cool_s``, then the procedure's points up to and including
   the point, as a calibration measures them (the engine's ``measure_point``: the same settle
   times, readings and order, so the shunt carries what the sequence leaves in it): the point's
   mean reading ``M_hot``;
2. *cold*: standby for ``cool_s`` again, then the point's current switched on and read fast
   (NPLC ``fast_nplc``) for ``record_s``; the first-order law r(t) = c + d·exp(−t/τ) fitted to
   the record gives the reading at switch-on, r(0) = c + d: the current as the cold shunt reads it;
3. still on, in the steady state: readings at the point's own settings against fast ones for
   as long, their ratio g (a gain that depended on the integration time would show here;
   the heating is the same in both);
4. the heating at the point: h = M_hot / (g·r(0)) − 1 (the source's output and the meter's gain
   are the same in both and cancel).

Repeated ``repeats`` times (a real lab spreads the repetitions over its working conditions:
times of day, the room within its stated temperature), the mean is the correction and the
scatter the run-to-run variation a budget allows for.  The cold record checks itself: the fit's
τ must be below ``cool_s``/10 (the shunt had cooled) and ``record_s``/5 (the record reached
the steady state), else the characterisation stops with an error saying which.  Stamping a
reading at the end of its integration instead of anywhere within it shifts r(0) by at most
the initial slope × the reading time, reported as ``timing_halfwidth`` (rectangular).
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy.optimize import curve_fit

from labauto.engine.measure import measure_point
from labauto.errors import LabautoError

COOL_S = 600.0          # standby before each measurement: the shunt back at ambient
RECORD_S = 300.0        # length of the cold record
READ_EVERY_S = 0.0      # back to back: as many readings as the meter takes
FAST_NPLC = 1.0
GAIN_READINGS = 10      # readings at the point's settings in the steady-state gain check


class CharacterisationError(LabautoError):
    """The record does not support the characterisation (not cooled, too short)."""


@dataclass(frozen=True)
class ColdRecord:
    """The fit of r(t) = c + d·exp(−t/τ) to the readings after switch-on."""

    c: float
    d: float
    tau_s: float
    reading_time_s: float
    residual_rms: float      # of the fit, in the reading's unit
    gain_ratio: float = 1.0  # the point's settings against the fast ones, in the steady state

    @property
    def at_switch_on(self) -> float:
        return self.c + self.d

    @property
    def timing_halfwidth(self) -> float:
        """Relative shift of r(0) if a reading's value belongs anywhere within its reading
        time instead of at its end: the initial slope |d|/τ times the reading time."""
        return abs(self.d) / self.tau_s * self.reading_time_s / abs(self.at_switch_on)


@dataclass(frozen=True)
class Repetition:
    hot_mean: float
    cold: ColdRecord

    @property
    def heating(self) -> float:
        """Relative amount the point's mean reading is high by the shunt's heating."""
        return self.hot_mean / (self.cold.gain_ratio * self.cold.at_switch_on) - 1.0


@dataclass(frozen=True)
class HeatingCharacterisation:
    point_id: str
    repetitions: tuple[Repetition, ...] = field(default_factory=tuple)

    @property
    def values(self) -> list[float]:
        return [r.heating for r in self.repetitions]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.values)

    @property
    def timing_halfwidth(self) -> float:
        return max(r.cold.timing_halfwidth for r in self.repetitions)

    @property
    def standard_uncertainty(self) -> float:
        """Of the correction in a later run: that run's heating varies as the repetitions did
        (s), the mean is known to s/√n, and the timing half-width (rectangular) is common to
        all: √(s²(1 + 1/n) + a²/3)."""
        n = len(self.repetitions)
        return math.sqrt(self.stdev ** 2 * (1 + 1 / n) + self.timing_halfwidth ** 2 / 3)

    def to_dict(self) -> dict[str, Any]:
        return {"point": self.point_id, "repeats": len(self.repetitions),
                "heating_ppm": [v * 1e6 for v in self.values],
                "mean_ppm": self.mean * 1e6, "stdev_ppm": self.stdev * 1e6,
                "timing_halfwidth_ppm": self.timing_halfwidth * 1e6,
                "standard_uncertainty_ppm": self.standard_uncertainty * 1e6,
                "tau_s": [r.cold.tau_s for r in self.repetitions],
                "gain_ratio_ppm": [(r.cold.gain_ratio - 1) * 1e6 for r in self.repetitions],
                "fit_residual_rms": [r.cold.residual_rms for r in self.repetitions]}


def _first_order(t: np.ndarray, c: float, d: float, tau: float) -> np.ndarray:
    return c + d * np.exp(-t / tau)


def fit_cold_record(t: np.ndarray, r: np.ndarray, reading_time_s: float) -> ColdRecord:
    """Fit r(t) = c + d·exp(−t/τ) (t from switch-on; τ between the reading time and the
    record's length), in ppm of the record's final level (well conditioned)."""
    t, r = np.asarray(t, float), np.asarray(r, float)
    span = float(t[-1] - t[0])
    level = float(np.mean(r[-max(1, len(r) // 10):]))
    y = (r / level - 1.0) * 1e6
    p0 = (0.0, float(y[0]), span / 10)
    (c, d, tau), _ = curve_fit(_first_order, t, y, p0=p0,
                               bounds=([-np.inf, -np.inf, reading_time_s], [np.inf, np.inf, span]))
    residual = (y - _first_order(t, c, d, tau)) * 1e-6 * level
    return ColdRecord(float(level * (1 + c * 1e-6)), float(level * d * 1e-6), float(tau),
                      float(reading_time_s), float(np.sqrt(np.mean(residual ** 2))))


def measure_repetition(procedure: Any, point_id: str, meter: Any, source: Any,
                       sleep: Callable[[float], None], now: Callable[[], float], *,
                       cool_s: float = COOL_S, record_s: float = RECORD_S,
                       fast_nplc: float = FAST_NPLC) -> Repetition:
    """One hot and one cold measurement of ``point_id`` (see the module's text)."""
    from labauto.validation.montecarlo import MemoryJournal

    target = procedure.point(point_id)
    sequence = procedure.points[:procedure.points.index(target) + 1]
    source.standby()
    sleep(cool_s)
    readings = []
    for point in sequence:
        readings = measure_point(point, meter, source, MemoryJournal(), 1, sleep=sleep,
                                 plausibility_limit=procedure.plausibility_limit)
    unit = target.nominal.units
    hot = float(np.mean([q.to(unit).magnitude for q in readings]))
    sleep(cool_s)
    cold = _cold_record(target, meter, source, sleep, now, record_s, fast_nplc)
    if cold.tau_s > cool_s / 10:
        raise CharacterisationError(
            f"{point_id}: the shunt's time constant came out {cold.tau_s:.0f} s; a standby of "
            f"{cool_s:.0f} s does not cool it (give at least {10 * cold.tau_s:.0f} s)")
    if cold.tau_s > record_s / 5:
        raise CharacterisationError(
            f"{point_id}: the shunt's time constant came out {cold.tau_s:.0f} s; a record of "
            f"{record_s:.0f} s does not reach its steady state (give at least "
            f"{5 * cold.tau_s:.0f} s)")
    return Repetition(hot, cold)


def _cold_record(point: Any, meter: Any, source: Any, sleep: Callable[[float], None],
                 now: Callable[[], float], record_s: float, fast_nplc: float) -> ColdRecord:
    fast = dict(point.meter_settings)
    if "nplc" in fast:
        fast["nplc"] = fast_nplc
    unit = point.nominal.units
    meter.configure(point.function, point.range, **fast)
    source.apply(point.function, point.nominal, frequency=point.frequency, **point.source_settings)
    try:
        source.operate()
        t_on = now()
        times, values, durations = _read_for(meter, unit, now, sleep, record_s, t_on)
        record = fit_cold_record(np.array(times) - t_on, np.array(values),
                                 float(np.median(durations)))
        if fast == dict(point.meter_settings):
            return record
        meter.configure(point.function, point.range, **point.meter_settings)
        start = now()
        slow = [float(meter.read(n=1)[0].to(unit).magnitude) for _ in range(GAIN_READINGS)]
        meter.configure(point.function, point.range, **fast)
        _, quick, _ = _read_for(meter, unit, now, sleep, now() - start, now())
    finally:
        source.standby()
    return dataclasses.replace(record, gain_ratio=float(np.mean(slow) / np.mean(quick)))


def _read_for(meter: Any, unit: Any, now: Callable[[], float], sleep: Callable[[float], None],
              seconds: float, start: float) -> tuple[list[float], list[float], list[float]]:
    """Readings back to back (one per READ_EVERY_S at most) until ``seconds`` after
    ``start``: their end times, values and durations."""
    times, values, durations = [], [], []
    while now() - start < seconds:
        before = now()
        value = meter.read(n=1)[0].to(unit).magnitude
        after = now()
        times.append(after)
        values.append(float(value))
        durations.append(after - before)
        sleep(max(0.0, READ_EVERY_S - (now() - before)))
    return times, values, durations


def characterise_on_simulated_lab(procedure: Any, point_id: str, repeats: int = 10,
                                  seed: int = 1, **options: Any) -> HeatingCharacterisation:
    """``repeats`` repetitions on one simulated lab (one 3458A, one calibrator: a lab
    characterises its own instruments), through the procedure's drivers."""
    from labauto.validation.loopback import loopback_instrument
    from labauto.validation.montecarlo import simulated_lab

    if repeats < 2:
        raise ValueError(f"repeats must be at least 2 (a scatter), not {repeats}")
    lab = simulated_lab(procedure, seed)
    reps = []
    with loopback_instrument(lab.dmm, procedure.meter_model, "meter") as meter, \
            loopback_instrument(lab.calibrator, procedure.source_model, "source") as source:
        for _ in range(repeats):
            reps.append(measure_repetition(procedure, point_id, meter, source, lab.advance,
                                           lab.clock.now, **options))
    return HeatingCharacterisation(point_id, tuple(reps))


def main(argv: list[str] | None = None) -> int:
    """``python -m labauto.validation.shunt_heating PROCEDURE POINT [--repeats N] [--seed S]``"""
    import argparse
    import json

    from labauto.procedure import load_procedure

    parser = argparse.ArgumentParser(prog="python -m labauto.validation.shunt_heating",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("procedure")
    parser.add_argument("point", nargs="+", help="point id(s), e.g. DCI-1A-+1A")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        proc = load_procedure(args.procedure)
        out = [characterise_on_simulated_lab(proc, p, args.repeats, args.seed).to_dict()
               for p in args.point]
    except (LabautoError, KeyError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Measure one test point of any function: set the source, configure the meter, settle, take
N readings, journal each one."""
from __future__ import annotations

import time
from typing import Any, Callable

import pint

from labauto.engine.journal import RunJournal
from labauto.engine.observer import RunObserver, current_observer
from labauto.engine.operator import set_up
from labauto.engine.plausibility import DEFAULT_LIMIT, check_reading, fault_from_error


def measure_point(point: Any, meter: Any, source: Any, journal: RunJournal, attempt: int, *,
                  settle_scale: float = 1.0, sleep: Callable[[float], None] = time.sleep,
                  observer: RunObserver | None = None,
                  plausibility_limit: float = DEFAULT_LIMIT) -> list[pint.Quantity]:
    """Run one attempt at ``point``; every reading is in the journal before the next is taken.

    ``meter`` reads what ``source`` outputs (the DUT is one of them, the standard the other).
    The source is left in standby when the point is done.  On an error the attempt is marked
    failed in the journal (its readings stay recorded) and the error propagates; the caller's
    instrument context puts the sources in their safe state.  A reading that cannot belong to
    the point (see :mod:`labauto.engine.plausibility`) is such an error.
    """
    obs = observer or current_observer()
    info: dict[str, Any] = {"function": point.function, "nominal": _q(point.nominal),
                            "range": _q(point.range), "readings": point.readings}
    if point.frequency is not None:
        info["frequency"] = _q(point.frequency)
    journal.point_start(point.id, attempt, **info)
    obs.point_started(point, attempt)
    readings: list[pint.Quantity] = []
    try:
        source.standby()
        set_up(point)         # a simulated bench wires what the point needs (engine.operator)
        meter.configure(point.meter_function, point.range, **point.meter_settings)
        source.apply(point.function, point.nominal, frequency=point.frequency,
                     **point.source_settings)
        source.operate()
        sleep(point.settle_time.to("s").magnitude * settle_scale)
        # journalled as the meter reads (volts across a shunt); the point's quantity is indicated
        unit = f"{point.reading_unit:~C}"
        readback = getattr(point, "readback", False)
        for index in range(point.readings):
            raw = meter.read(n=1)[0]
            value = point.indicated(raw)
            shown = raw.to(unit)
            # a readback point: the source's own measurement, taken right after the meter's
            # (if it fails, the meter's reading is journalled before the error goes on)
            rb = None
            if readback:
                try:
                    rb = float(source.readback().to(point.nominal.units).magnitude)
                except BaseException:
                    journal.reading(point.id, attempt, index, float(shown.magnitude), unit)
                    raise
            if rb is None:
                journal.reading(point.id, attempt, index, float(shown.magnitude), unit)
            else:
                journal.reading(point.id, attempt, index, float(shown.magnitude), unit, readback=rb)
            check_reading(point, attempt, index, value, journal=journal, instrument=meter,
                          limit=plausibility_limit)     # an implausible reading stops the point
            readings.append(value)
            obs.reading(point, index, value)
        source.standby()
    except BaseException as exc:  # KeyboardInterrupt too: record, then let it propagate
        fault = fault_from_error(exc, point, attempt, journal=journal, instrument=meter)
        journal.point_failed(point.id, attempt, f"{type(exc).__name__}: {exc}")
        if fault is not None:       # an overload: a measurement fault naming the point
            raise fault from exc
        raise
    journal.point_done(point.id, attempt)
    obs.point_finished(point)
    return readings


def _q(q: pint.Quantity) -> dict[str, Any]:
    return {"value": float(q.magnitude), "unit": f"{q.units:~C}"}

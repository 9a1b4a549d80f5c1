"""Readings that cannot belong to their test point stop the point as a measurement fault.

A reading is implausible when it

* is an overload indication (SCPI ±9.9E37) or not a finite number;
* lies outside what the DUT's range can indicate (the model's ``full_scale``: e.g. 120 mV on
  the 100 mV range; below a range starting at zero a meter's offset shows small negative
  values, judged by the next rule);
* lies more than ``plausibility_limit`` tolerances (a procedure setting, default 10) from the
  nominal value.  The tolerance is the DUT's specification at the point or, if larger, at the
  range's full scale: an offset-dominated error low in a range (a DUT whose zero drifted, 12
  specifications off at 1 V on the 10 V range) is a result to certify as failing, not a fault;
  a reading from a source another session switched (0.19 V at a 10 V point) is 25 000 off.

Such a reading does not measure the DUT: a wrong connection, an instrument another session is
driving, a source that did not reach its output.  It is journalled (the reading, then a
``fault`` record), the point attempt is marked failed with the reason, the run stops with an
error naming instrument and point, and the sources go to standby.  The attempt never reaches a
certificate (only completed attempts are evaluated); ``labauto resume`` measures the point
again.  The check is generic: quantities of any function, no instrument knowledge.
"""
from __future__ import annotations

import math
from typing import Any

import pint

from labauto.errors import LabautoError

DEFAULT_LIMIT = 10.0            # tolerances from the nominal value
OVERLOAD = 9.0e37               # |x| >= this is the SCPI overload indication (9.9E37)


class MeasurementFault(LabautoError):
    """A reading that cannot belong to its point (see the module documentation)."""


def implausibility(reading: pint.Quantity, *, nominal: pint.Quantity, minimum: pint.Quantity,
                   maximum: pint.Quantity, tolerance: pint.Quantity,
                   limit: float = DEFAULT_LIMIT) -> str | None:
    """Why ``reading`` cannot belong to a point (``nominal`` ± ``tolerance``, measured on a
    range indicating ``minimum`` .. ``maximum``), or None if it can."""
    unit = nominal.units
    x = float(reading.to(unit).magnitude)
    if not math.isfinite(x) or abs(float(reading.magnitude)) >= OVERLOAD:
        return "overload indication (the input exceeds the range)"
    lo, hi = float(minimum.to(unit).magnitude), float(maximum.to(unit).magnitude)
    # a range that starts at zero (resistance, AC, frequency) indicates small negative values
    # near zero too (a meter's offset: -3.8 mohm at a 0 ohm point): there only the distance
    # from the nominal value below decides
    if x > hi or (x < lo and lo < 0):
        return (f"outside what the range can indicate ({_fmt(minimum)} .. {_fmt(maximum)})")
    tol = abs(float(tolerance.to(unit).magnitude))
    distance = abs(x - float(nominal.magnitude))
    if tol > 0 and distance > limit * tol:
        return (f"{distance / tol:.3g} tolerances (± {_fmt(tolerance.to_compact())}) from the nominal value; "
                f"the limit is {limit:g} (procedure setting plausibility_limit)")
    return None


def check_reading(point: Any, attempt: int, index: int, value: pint.Quantity, *, journal: Any,
                  instrument: Any, limit: float = DEFAULT_LIMIT) -> None:
    """Journal a fault record and raise :class:`MeasurementFault` if ``value`` (already
    journalled as reading ``index``) cannot belong to ``point``."""
    # what the meter's range can indicate: the DUT's range for a meter under test, the
    # reference meter's for a source under test (whose output may lie beyond its setting range)
    rng = getattr(point, "meter_range", None) or point.dut_range
    frequency = getattr(point, "frequency", None)     # an AC point's band
    # a voltage range read across a shunt indicates currents: V / R_s
    shunt = getattr(point, "shunt", None)
    unit = point.tolerance.units
    as_point = (lambda q: q.to(unit)) if shunt is None else (lambda q: shunt.indicated(q, unit))
    try:
        full_scale = as_point(rng.accuracy_halfwidth(rng.maximum, frequency))
    except KeyError:          # a counter's full scale beyond its top specified band
        full_scale = point.tolerance
    tolerance = max(point.tolerance, full_scale)
    lo, hi = as_point(rng.minimum), as_point(rng.maximum)
    reason = implausibility(value, nominal=point.nominal, minimum=lo,
                            maximum=hi, tolerance=tolerance, limit=limit)
    if reason is not None:
        raise _fault(point, attempt, journal, instrument, reason, index=index, value=value)


def fault_from_error(exc: BaseException, point: Any, attempt: int, *, journal: Any,
                     instrument: Any) -> MeasurementFault | None:
    """An overload raised by the meter is a measurement fault too: journal it, return the fault
    to raise (None for any other error)."""
    from labauto.visa.errors import OverloadError

    if not isinstance(exc, OverloadError):
        return None
    return _fault(point, attempt, journal, instrument,
                  "overload indication (SCPI ±9.9E37): the input exceeds the range")


def _fault(point: Any, attempt: int, journal: Any, instrument: Any, reason: str, *,
           index: int | None = None, value: pint.Quantity | None = None) -> MeasurementFault:
    from labauto.engine.journal import now_iso

    name = f"{getattr(instrument, 'name', instrument)} at {getattr(instrument, 'resource', '?')}"
    record: dict[str, Any] = {"type": "fault", "point_id": point.id, "attempt": attempt,
                              "instrument": name, "reason": reason, "t": now_iso()}
    if value is not None:
        record.update(index=index, value=float(value.magnitude), unit=f"{value.units:~C}")
    journal.append(record)
    shown = f"reading {_fmt(value)}" if value is not None else "a reading"
    return MeasurementFault(
        f"measurement fault at point {point.id} ({_fmt(point.nominal)} on the {_fmt(point.range)} "
        f"range): {shown} from {name}: {reason}. It cannot belong to the point: check the "
        "connections, that the settle time lets the source settle, and that no other session "
        "drives these instruments. The run was stopped "
        "and the sources put in standby; the journal keeps the fault (never evaluated into a "
        "certificate); `labauto resume` measures the point again.")


def _fmt(q: pint.Quantity) -> str:
    return f"{q.magnitude:.8g} {q.units:~P}"

"""Characterise a source under test's readback noise: many readbacks at many output levels,
taken as a readback point takes them (the reference meter reading the same output), and the
noise ahead of the readback's rounding fitted from them (labauto.models.quantisation).

Per function and channel of the procedure's readback points: ``levels`` output levels spread
from 10 % to 100 % of the point's nominal value (at the source's setting resolution), each
read ``readings`` times.  The levels' positions on the readback's steps differ by the
supply's gain errors and the level; the fit takes them unknown and uniform over the step, as
the budget does.  The result is the file a procedure names as ``readback_noise``
(labauto.models.readback_noise); a lab keeps it with the procedure and repeats the
characterisation when the readback changes (firmware, repair, a new model revision).
"""
from __future__ import annotations

import datetime as dt
import time
from contextlib import ExitStack
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from labauto.engine.measure import measure_point
from labauto.models.quantisation import fit_noise
from labauto.models.readback_noise import NoiseEntry, ReadbackNoise
from labauto.units import Q_

LEVELS = 40
READINGS = 25


def readback_groups(procedure: Any) -> dict[tuple[str, int | None], Any]:
    """The first readback point of each (function, channel) of ``procedure``."""
    groups: dict[tuple[str, int | None], Any] = {}
    for p in procedure.points:
        if p.readback:
            channel = p.source_settings.get("channel")
            groups.setdefault((p.function, None if channel is None else int(channel)), p)
    return groups


def levels_for(procedure: Any, point: Any, count: int) -> list[Any]:
    """``count`` output levels from 10 % to 100 % of the point's nominal value, each a
    setting the source can represent."""
    channel = point.source_settings.get("channel")
    ranges = procedure.dut_model.function(point.function).ranges
    rng = next((r for r in ranges if channel is None or r.channel == int(channel)), ranges[0])
    unit = point.nominal.units
    step = float(rng.resolution.to(unit).magnitude)
    top = float(point.nominal.magnitude)
    values = sorted({round(round(v / step) * step, 12) for v in np.linspace(0.1 * top, top, count)})
    return [Q_(v, unit) for v in values]


def connection_steps(procedure: Any, point: Any) -> list[str]:
    """The operator steps that set up the connection ``point`` is measured with (the last
    ones written before it)."""
    steps: list[str] = []
    for p in procedure.points:
        if p.steps:
            steps = [s.text for s in p.steps]
        if p is point:
            return steps
    return steps


def characterise_readback(procedure: Any, meter: Any, source: Any, *,
                          sleep: Callable[[float], None], serial: str, measured: str,
                          levels: int = LEVELS, readings: int = READINGS,
                          date: dt.date | None = None,
                          connect: Callable[[list[str]], None] | None = None) -> ReadbackNoise:
    """Measure the readback noise of every (function, channel) the procedure's readback points
    use, with the procedure's instruments (``meter``, ``source``: open drivers); ``connect``
    is shown the operator steps of each connection first (a bench; None: a simulated lab)."""
    from labauto.validation.montecarlo import MemoryJournal

    if not readback_groups(procedure):
        raise ValueError(f"procedure {procedure.id} has no readback point to characterise")
    entries = []
    for (function, channel), point in readback_groups(procedure).items():
        if connect is not None:
            connect(connection_steps(procedure, point))
        series = []
        for j, level in enumerate(levels_for(procedure, point, levels)):
            at = replace(point, id=f"{point.id}-noise{j + 1}", nominal=level, readings=readings)
            journal = MemoryJournal()
            measure_point(at, meter, source, journal, 1, sleep=sleep,
                          plausibility_limit=procedure.plausibility_limit)
            series.append([float(r) for r in journal.readbacks()])
        q = point.dut_range.resolution             # in the model file's unit (0.5 mV)
        scale = float(Q_(1.0, point.nominal.units).to(q.units).magnitude)
        fit = fit_noise([[r * scale for r in s] for s in series], float(q.magnitude))
        entries.append(NoiseEntry.from_fit(function, channel, fit, q))
    model = procedure.dut_model
    return ReadbackNoise(date=(date or dt.date.today()).isoformat(),
                         manufacturer=model.manufacturer, model=model.model, serial=serial,
                         measured=measured, entries=tuple(entries))


def characterise_simulated(procedure: Any, seed: int, dut_spread: float = 1.5, **design: Any
                           ) -> ReadbackNoise:
    """The characterisation on a simulated lab (labauto.validation's, in-process) seeded
    ``seed``: a simulated unit of its own."""
    from labauto.validation.loopback import loopback_instrument
    from labauto.validation.montecarlo import simulated_lab

    lab = simulated_lab(procedure, seed, dut_spread)
    with loopback_instrument(lab.dmm, procedure.meter_model, "meter") as meter, \
            loopback_instrument(lab.calibrator, procedure.source_model, "source") as source:
        return characterise_readback(procedure, meter, source, sleep=lab.advance,
                                     serial=lab.calibrator.idn.split(",")[2], **design)


def characterise_on_bench(procedure: Any, dut_resource: str, standard_resource: str, *,
                          connect: Callable[[list[str]], None], timeout_ms: int = 10000,
                          sleep: Callable[[float], None] = time.sleep,
                          **design: Any) -> ReadbackNoise:
    """The characterisation on the bench: the DUT and the standard opened under the
    instrument locks (as a run opens them), left safe and closed on every exit; ``sleep``
    waits the settle times."""
    from labauto.engine.locks import InstrumentLocks, open_locked
    from labauto.engine.preflight import DUT, STANDARD

    with InstrumentLocks(f"characterise-{int(time.time())}") as locks, ExitStack() as stack:
        dut = open_locked(stack, locks, DUT, dut_resource, procedure.dut_model,
                          timeout_ms=timeout_ms)
        std = open_locked(stack, locks, STANDARD, standard_resource, procedure.standard_model,
                          timeout_ms=timeout_ms)
        return characterise_readback(procedure, std, dut, sleep=sleep,
                                     serial=dut.identity.serial, connect=connect, **design)

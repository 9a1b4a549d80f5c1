"""The reference standard's true errors as its specification states them.

The simulated lab (labauto.sim.physics) gives every instrument an error within a fraction of
its specification.  A validation run must instead draw the reference's error from what the
budget assumes: the accuracy specification as a normal distribution at its stated coverage
probability (99 % -> sigma = spec / 2.576), or uniform within the specification limits when
the model file states none.  ``StatedErrors`` replaces the reference's error table of a
:class:`labauto.sim.physics.Truth`: at a value x (and frequency f) the error is
``draw × spec(x, f)`` (normal draw / k, or uniform in ±1), one draw per function, range,
frequency band and polarity, so that the values of one range share their error the way one
instrument's range does.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Callable

import numpy as np

from labauto.instruments import InstrumentModel, RangeSpec
from labauto.units import Q_


class StatedErrors:
    """Duck-typed stand-in for the reference's ``_ErrorTable`` in a :class:`Truth`."""

    def __init__(self, model: InstrumentModel, rng: np.random.Generator,
                 extra: tuple[tuple[tuple[str, ...], float, float], ...] = ()):
        self.model = model
        self._rng = rng
        self.extra = extra           # (functions, gain, offset in base units): errors of the standard
        self._draws: dict[tuple[Any, ...], float] = {}
        self._spec: dict[tuple[Any, ...], tuple[float, int]] = {}
        self._ranges: dict[tuple[str, float], RangeSpec] = {}
        self.linear: dict = {}       # what Truth.dut_error_parameters reads of a table
        self.flatness: dict = {}

    def range_of(self, function: str, value: float | None = None, range_: Any = None) -> RangeSpec:
        fn = self.model.function(function)
        if range_ is not None:
            return fn.range_named(range_)
        return fn.range_for(Q_(value, fn.unit))

    def _spec_at(self, function: str, r: RangeSpec, x: float, frequency: float | None) -> tuple[float, int]:
        """(specification half-width at x in base units, index of the frequency band)."""
        key = (function, id(r), x, frequency)
        found = self._spec.get(key)
        if found is None:
            fn = self.model.function(function)
            f = None if frequency is None else Q_(frequency, "Hz")
            band = -1
            if r.bands and f is not None:
                f = _nominal_edge(r, f)
                band = next((i for i, b in enumerate(r.bands) if b.covers(f)), -1)
                if band < 0:
                    # beyond every band (the amplitude of a frequency point, unspecified there):
                    # the nearest band's specification
                    below = f < r.bands[0].low
                    band = 0 if below else len(r.bands) - 1
                    f = r.bands[band].low if below else r.bands[band].high
            spec = r.accuracy_halfwidth(Q_(x, fn.unit), f).to(fn.unit).magnitude
            found = self._spec[key] = (float(spec), band)
        return found

    def draw(self, function: str, r: RangeSpec, band: int, positive: bool) -> float:
        """The standardised draw for one (function, range, band, polarity): N(0,1)/k for a
        specification at a coverage probability, U(-1, 1) for limits."""
        key = (function, id(r), band, positive)
        d = self._draws.get(key)
        if d is None:
            confidence = self.model.function(function).confidence
            if confidence:
                k = NormalDist().inv_cdf(0.5 + confidence / 2)
                d = float(self._rng.standard_normal()) / k
            else:
                d = float(self._rng.uniform(-1.0, 1.0))
            self._draws[key] = d
        return d

    def error(self, function: str, r: RangeSpec, x: float, frequency: float | None) -> float:
        if frequency is None and r.range.check("[frequency]"):
            frequency = x
        spec, band = self._spec_at(function, r, x, frequency)
        extra = sum(gain * x + offset for fns, gain, offset in self.extra if function in fns)
        if not math.isfinite(spec):
            return extra
        return self.draw(function, r, band, x >= 0) * spec + extra

    def at(self, function: str, x: float) -> float:
        """The error at ``x`` (base units) of ``function``, on the range that reads it (a
        readout's reading, labauto.sim.readout); the specification is evaluated at x to 3
        significant digits (cached: a readout reads nearly the same value hundreds of times;
        a specification changes by far less than 0.1 % over 0.1 % of its range)."""
        xr = float(f"{x:.3g}")
        key = (function, xr)
        r = self._ranges.get(key)
        if r is None:
            r = self._ranges[key] = self.range_of(function, xr)
        return self.error(function, r, xr, None)

    def set(self, function: str, r: RangeSpec, err: Any) -> None:   # pragma: no cover - not a DUT
        raise TypeError("the reference's errors are drawn from its specification")


#: how far (relative) a signal's true frequency may lie from a band edge and still be taken at
#: it: a calibrator's timebase is within a few ppm; a reference meter reading its 20 kHz output
#: sees 20.00004 kHz, which must not move it into the next band of the meter's specification
EDGE_TOLERANCE = 1e-4


def _nominal_edge(r: RangeSpec, f: Any) -> Any:
    """``f``, or the band edge it lies within EDGE_TOLERANCE of: the budget takes the
    reference meter's specification in the band of the point's nominal frequency, so its
    error is drawn from that band too (a source's error is drawn at its set frequency)."""
    hz = float(f.to("Hz").magnitude)
    for b in r.bands:
        for edge in (b.low, b.high):
            e = float(edge.to("Hz").magnitude)
            if e > 0 and abs(hz / e - 1.0) <= EDGE_TOLERANCE:
                return edge
    return f


def with_stated_reference(truth: Any, rng: np.random.Generator,
                          contributions: tuple[Any, ...] = ()) -> Any:
    """Give ``truth``'s reference standard (the source for a meter under test, the meter for
    a source under test) errors drawn from its specification, plus the procedure's
    contributions marked ``of: reference`` (errors of the standard its specification leaves
    out, e.g. the 10 V standard the 3458A's 24-hour figures are relative to): one draw per
    run from the contribution's distribution, a gain for a relative amount, an offset for an
    absolute one, for every value of the functions it applies to; returns ``truth``."""
    model = truth.source_model if truth.dut == "meter" else truth.meter_model
    extra = []
    for c in contributions:
        if not c.of_reference:
            continue
        draw = (float(rng.uniform(-1.0, 1.0)) * c.half_width if c.distribution == "rectangular"
                else float(rng.standard_normal()) * c.u)
        if draw.dimensionless:
            extra.append((c.functions, float(draw.to("dimensionless").magnitude), 0.0))
        else:
            extra.append((c.functions, 0.0, float(draw.to_base_units().magnitude)))
    truth.use_reference_errors(StatedErrors(model, rng, tuple(extra)))
    return truth


def certificate_offset(reference: Any, rng: np.random.Generator) -> Callable[[float], float]:
    """A reference thermometer's true error δ(t) in K as its calibration certificate states it
    (labauto.procedure.reference_thermometer): the calibration's error, normal with
    σ = U(t)/k, one draw per row of the certificate's uncertainty table (a row is one
    calibrated sub-range: its temperatures share the draw), plus the drift since, uniform
    within ± the drift allowance (the budget's rectangular distribution)."""
    k = float(reference.coverage_factor)
    rows = [(up_to, float(U.to("K").m)) for up_to, U in reference.uncertainty]
    z = [float(rng.standard_normal()) for _ in rows]
    drift = float(reference.drift.to("K").m) * float(rng.uniform(-1.0, 1.0))

    def offset(t_c: float) -> float:
        i = next((i for i, (up_to, _) in enumerate(rows) if t_c <= up_to + 1e-9), len(rows) - 1)
        return z[i] * rows[i][1] / k + drift

    return offset

"""The inputs every measurement model shares: symbols per function, the reference standard
(by its specification), the resolution of the DUT, Type A, and the procedure's contributions."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pint

from labauto.instruments import RangeSpec
from labauto.procedure.contributions import Contribution
from labauto.uncertainty import Normal, Rectangular, TypeA
from labauto.units import Q_

_LETTERS = (("V", "V"), ("A", "I"), ("ohm", "R"), ("Hz", "f"))
RESOLUTION_NAME = "dX_res"


def letter(unit: pint.Unit) -> str:
    """The quantity symbol of a function's unit: V, I, R, f (X for anything else)."""
    dim = Q_(1, unit).dimensionality
    return next((sym for u, sym in _LETTERS if Q_(1, u).dimensionality == dim), "X")


def type_a(readings: pint.Quantity, unit: pint.Unit, label: str) -> Any:
    return TypeA.from_observations(readings.to(unit), label=label)


def specification(value: pint.Quantity, rng: RangeSpec, frequency: pint.Quantity | None,
                  confidence: float | None, unit: pint.Unit, label: str,
                  estimate: pint.Quantity | None = None) -> Any:
    """An input whose uncertainty is a manufacturer's specification at ``value``: normal at
    its stated coverage probability (e.g. 99 % -> k = 2.576), or rectangular limits.  Its
    estimate is ``value`` unless given (0 for an error term)."""
    spec = rng.accuracy_halfwidth(value, frequency).to(unit)
    x = (value if estimate is None else estimate).to(unit)
    if confidence:
        return Normal.from_expanded(x, spec, coverage_probability=confidence,
                                    label=f"{label} (manufacturer's specification)")
    return Rectangular(x, spec, label=f"{label} (specification limits)")


def certified(procedure: Any, point: Any, unit: pint.Unit, label: str, sign: float) -> Any:
    """An input from the standard's calibration certificate at the point (labauto.models.
    reference): estimate ``sign × error`` (a correction: −error; an output: +error), u = U/k,
    normal, ν = ∞."""
    cert = procedure.reference_certificate
    v = cert.value_for(point.function, point.standard_range.range, point.nominal)
    return Normal.from_expanded(sign * v.error.to(unit), v.U.to(unit), k=v.k,
                                label=f"{label} (certificate {cert.certificate_id}: error "
                                      f"{v.error:~P} at {v.at:~P}, U = {v.U:~P}, k = {v.k:g})")


def reference_meter(procedure: Any, point: Any, readings: pint.Quantity,
                    unit: pint.Unit) -> dict[str, Any]:
    """``X_ref`` (mean indication of the reference meter; Type A) and ``dX_ref`` (its
    correction: by its specification at the mean reading, estimate 0, or by its calibration
    certificate, estimate −error) — the reference side of every source-under-test model."""
    if procedure.reference_certificate is None:
        mean = Q_(float(readings.to(unit).magnitude.mean()), unit)
        std_fn = procedure.standard_model.function(point.function)
        correction = specification(mean, point.standard_range, point.frequency,
                                   std_fn.confidence, unit, "error of the reference meter",
                                   estimate=Q_(0.0, unit))
    else:
        correction = certified(procedure, point, unit, "correction of the reference meter", -1.0)
    return {"X_ref": type_a(readings, unit, "mean indication of the reference meter"),
            "dX_ref": correction}


def resolution(rng: RangeSpec, unit: pint.Unit, label: str = "resolution of the DUT",
               readings: pint.Quantity | None = None) -> Any:
    """The DUT's resolution q as a rectangular input about 0.  Without ``readings``: half-width
    q/2 (GUM F.2.2.1).  With the readings whose mean is the indication: the part of the
    rounding their scatter does not already average out, :func:`dithered_halfwidth`."""
    q = float(rng.resolution.to(unit).magnitude)
    if readings is None:
        return Rectangular(Q_(0.0, unit), Q_(q / 2, unit), label=label)
    values = np.asarray(readings.to(unit).magnitude, dtype=float)
    s = float(values.std(ddof=1)) if values.size > 1 else 0.0
    a = dithered_halfwidth(q, s)
    note = "" if a >= q / 2 else f"; the readings' scatter (s = {s:.3g} {unit:~P}) averages the rest"
    return Rectangular(Q_(0.0, unit), Q_(a, unit), label=label + note)


def dithered_halfwidth(q: float, s: float, terms: int = 64) -> float:
    """Bound of the rounding error left in the mean of readings rounded to steps of ``q`` when
    the signal carries noise of standard deviation ``s``: the rounding error's Fourier series
    Σ (q/πk)(−1)^(k+1) sin(2πkx/q) has its k-th term damped, in the mean over the noise, by the
    noise's characteristic function exp(−2π²k²s²/q²) (Widrow and Kollár, Quantization Noise,
    2008, from memory, not checked against the book; the damping is the Gaussian's
    characteristic function at 2πk/q), so |bias| ≤ (q/π) Σ exp(−2π²k²s²/q²)/k, at most q/2.
    The noise's own part of the rounding is in the readings' scatter, hence in the Type A
    input: counting ±q/2 again (the readings of a 34401A on its 1000 V range scatter over
    several steps) overstated u_c (docs/validation.md)."""
    if q <= 0:
        return 0.0
    if s <= 0:
        return q / 2
    k = np.arange(1, terms + 1, dtype=float)
    bound = q / math.pi * float(np.sum(np.exp(-2 * math.pi ** 2 * k ** 2 * s ** 2 / q ** 2) / k))
    return min(q / 2, bound)


def contributions(inputs: dict[str, Any], terms: list[str], found: tuple[Contribution, ...],
                  symbol: str, unit: pint.Unit, nominal: pint.Quantity) -> None:
    """Add the procedure's contributions as ``d<symbol>_1 ...`` (estimate 0, sign +)."""
    for i, c in enumerate(found, 1):
        name = f"d{symbol}_{i}"
        inputs[name] = c.as_input(unit, nominal)
        terms.append(f"+ {name}")

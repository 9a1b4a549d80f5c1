"""The inputs every measurement model shares: symbols per function, the reference standard
(by its specification), the resolution of the DUT, Type A, and the procedure's contributions."""
from __future__ import annotations

from typing import Any

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


def resolution(rng: RangeSpec, unit: pint.Unit, label: str = "resolution of the DUT") -> Any:
    return Rectangular(Q_(0.0, unit), rng.resolution.to(unit) / 2, label=label)


def contributions(inputs: dict[str, Any], terms: list[str], found: tuple[Contribution, ...],
                  symbol: str, unit: pint.Unit, nominal: pint.Quantity) -> None:
    """Add the procedure's contributions as ``d<symbol>_1 ...`` (estimate 0, sign +)."""
    for i, c in enumerate(found, 1):
        name = f"d{symbol}_{i}"
        inputs[name] = c.as_input(unit, nominal)
        terms.append(f"+ {name}")

"""Error of output of a source under test (a calibrator, a power supply) read by a reference
meter::

    E = S_set - X_ref - dX_ref + dX_res + sum(dS_i)     S: V, I, R or f, by the function

    S_set     the DUT's set value (exact)
    X_ref     mean of the n indications of the reference meter; Type A, u = s/sqrt(n)
    dX_ref    correction of the reference meter, by its specification (estimate 0,
              uncertainty from its accuracy specification at the reading (and frequency), normal
              at its stated coverage probability or rectangular limits) or by its calibration
              certificate (``reference: {certificate: FILE}``: estimate −error at the point,
              u = U/k, normal; labauto.models.reference); nu = inf
    dX_res    resolution of the DUT's setting: rectangular, half-width = resolution / 2, only
              when the nominal is not a whole number of setting steps (the DUT then outputs a
              rounded setting).  A set value the DUT can represent is exact: what its output
              does about it is the error E the reference measures, not an uncertainty of E
              (with the term a power supply's 1 mV setting step was 100 % of u_c and every
              simulated run was covered: docs/validation.md)
    dS_i      the procedure's contributions for this function, estimate 0 or their correction

U as for the error of indication (labauto.models.indication): the GUM's, or where JCGM 101
clause 8 does not validate it, the 95 % interval of E propagated by convolution.

The error is the DUT's output minus its set value, with the sign convention of an error of
indication (E = shown - true): E = S_set - S_true and S_true = X_ref + dX_ref.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pint

from labauto.models import inputs as mi
from labauto.uncertainty import Constant, Model, gum, validated_budget
from labauto.uncertainty.budget import UncertaintyBudget

if TYPE_CHECKING:
    from labauto.procedure import Procedure, TestPoint


def error_budget(point: "TestPoint", procedure: "Procedure",
                 readings: pint.Quantity) -> UncertaintyBudget:
    unit = point.nominal.units
    sym = mi.letter(unit)
    inputs: dict[str, Any] = {
        f"{sym}_set": Constant(point.nominal.to(unit), label="set value of the DUT"),
        **mi.reference_meter(procedure, point, readings, unit),
    }
    terms = [f"{sym}_set", "- X_ref", "- dX_ref"]
    if not _representable(point.nominal, point.dut_range.resolution):
        inputs[mi.RESOLUTION_NAME] = mi.resolution(point.dut_range, unit,
                                                   "setting resolution of the DUT (the nominal "
                                                   "is not a whole number of setting steps)")
        terms.append(f"+ {mi.RESOLUTION_NAME}")
    mi.contributions(inputs, terms, point.contributions, sym, unit, point.nominal)
    model = Model("E = " + " ".join(terms), inputs=inputs)
    return validated_budget(gum(model), "E")



def _representable(nominal: pint.Quantity, resolution: pint.Quantity) -> bool:
    """``nominal`` is a whole number of setting steps of ``resolution``."""
    steps = float((nominal / resolution).to("dimensionless").magnitude)
    return abs(steps - round(steps)) <= 1e-6

"""Error of indication of a meter under test reading a reference source (EURAMET cg-15,
EA-4/02 style; every input named in the budget)::

    E = X_ind - S_ref + dX_res + sum(dS_i)          S: V, I, R or f, by the function

    X_ind     mean of the n indications; Type A, u = s/sqrt(n), nu = n - 1
    S_ref     the source's output = its set value; uncertainty from the source's accuracy
              specification at that value (and frequency), normal at its stated coverage
              probability (e.g. 99 % -> k = 2.576) or rectangular limits, nu = inf
    dX_res    DUT resolution: rectangular, half-width = resolution / 2, estimate 0 — less the
              part the readings' scatter already averages (labauto.models.inputs.
              dithered_halfwidth: readings scattered over several steps)
    dS_i      the procedure's contributions for this function (thermal EMFs, lead resistance,
              AC flatness, loading, shunt self-heating ...), estimate 0 or the contribution's
              ``correction`` (a one-sided effect: labauto.procedure.contributions)

All sensitivity coefficients are +-1.  The GUM law of propagation gives u_c(E); Welch-
Satterthwaite gives nu_eff and k = t_0.975(nu_eff); U = k u_c, reported per ILAC-P14.  The GUM
interval is validated (JCGM 101 clause 8) against the distribution of E propagated by
convolution; where it is not (a rectangular input dominating u_c), U is the half-width of
that distribution's 95 % interval and k = U/u_c (labauto.uncertainty.convolution).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pint

from labauto.models import inputs as mi
from labauto.uncertainty import Model, gum, validated_budget
from labauto.uncertainty.budget import UncertaintyBudget

if TYPE_CHECKING:
    from labauto.procedure import Procedure, TestPoint


def _certified_output(procedure: "Procedure", point: "TestPoint", unit: pint.Unit) -> Any:
    """The source's true output by its certificate: set value + certified error, u = U/k."""
    from labauto.uncertainty import Normal

    error = mi.certified(procedure, point, unit, "reference source output", +1.0)
    return Normal(point.nominal.to(unit) + error.estimate, error.u, label=error.label)


def error_budget(point: "TestPoint", procedure: "Procedure",
                 readings: pint.Quantity) -> UncertaintyBudget:
    """GUM budget of the error of indication at ``point`` from its raw ``readings``."""
    unit = point.nominal.units
    sym = mi.letter(unit)
    std_fn = procedure.standard_model.function(point.function)
    inputs: dict[str, Any] = {
        "X_ind": mi.type_a(readings, unit, "mean indication of the DUT"),
        f"{sym}_ref": mi.specification(point.nominal, point.standard_range, point.frequency,
                                       std_fn.confidence, unit, "reference source output")
        if procedure.reference_certificate is None else
        _certified_output(procedure, point, unit),
        mi.RESOLUTION_NAME: mi.resolution(point.dut_range, unit, readings=readings),
    }
    terms = ["X_ind", f"- {sym}_ref", f"+ {mi.RESOLUTION_NAME}"]
    mi.contributions(inputs, terms, point.contributions, sym, unit, point.nominal)
    model = Model("E = " + " ".join(terms), inputs=inputs)
    return validated_budget(gum(model), "E")

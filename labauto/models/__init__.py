"""Measurement models by name: each turns a point's readings and reference values into an
uncertainty budget (labauto.uncertainty) whose inputs the procedure names.

    error of indication   a meter under test reads a reference source   (labauto.models.indication)
    error of output       a reference meter reads a source under test   (labauto.models.output)
    (readback points)     a source's own measurement of its output against the reference
                          meter's reading                               (labauto.models.readback)

    from labauto.models import budget_for
    budget = budget_for(procedure, point, readings)     # UncertaintyBudget of the error E

Symbols follow the function: V for voltage, I for current, R for resistance, f for frequency
(``V_ref``, ``I_ref``, ``dR_1`` ...); ``X`` names the instrument's indication or setting.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import pint

    from labauto.procedure import Procedure, TestPoint
    from labauto.uncertainty.budget import UncertaintyBudget

MODEL_NAMES = ("error of indication", "error of output")


def budget_for(procedure: "Procedure", point: "TestPoint", readings: "pint.Quantity",
               readbacks: "pint.Quantity | None" = None) -> "UncertaintyBudget":
    """The GUM budget of ``point``'s error from its raw ``readings`` by the procedure's
    measurement model; a readback point (a source's own measurement of its output against
    the reference meter, labauto.models.readback) from its ``readbacks`` too."""
    if getattr(point, "shunt", None) is not None:
        from labauto.models.shunt import error_budget as through_shunt
        return through_shunt(point, procedure, readings)
    if getattr(point, "readback", False):
        from labauto.models.readback import error_budget
        return error_budget(point, procedure, readings, readbacks)
    return _model(procedure.measurement_model)(point, procedure, readings)


def _model(name: str) -> Callable[..., Any]:
    if name == "error of indication":
        from labauto.models.indication import error_budget
        return error_budget
    if name == "error of output":
        from labauto.models.output import error_budget
        return error_budget
    raise KeyError(f"unknown measurement model {name!r}; known: {', '.join(MODEL_NAMES)}")

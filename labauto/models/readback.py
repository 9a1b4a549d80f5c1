"""Error of a source's readback: a power supply measures its own output (``MEAS:VOLT?``) and
the reference meter measures the same output at the same time::

    E = X_rb - X_ref - dX_ref + dX_res + sum(dS_i)

    X_rb      mean of the source's n readbacks; Type A, u = s/sqrt(n), nu = n - 1, or, with
              the procedure's readback characterisation (``readback_noise: FILE``), the
              characterised scatter of one readback (labauto.models.readback_noise)
    X_ref     mean of the reference meter's n readings, taken with them; Type A
    dX_ref    correction of the reference meter: by its specification at the reading (estimate
              0) or by its calibration certificate (labauto.models.reference), as in the error
              of the output setting (labauto.models.output)
    dX_res    resolution of the readback: rectangular, half-width = resolution / 2 (less what
              the readbacks' scatter averages out); with the characterisation, the rounding
              bias the n readbacks share for the characterised noise ahead of the rounding
    dS_i      the procedure's contributions for this function, estimate 0 or their correction

An error of indication of the source's built-in meter (E = shown − true); its tolerance is the
model file's readback specification of the range in use (``readback: {resolution, accuracy}``).
The two means see the same output: its slow fluctuations cancel in E, so treating them as
independent Type A inputs overstates u(E) slightly, never understates it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pint

from labauto.models import inputs as mi
from labauto.uncertainty import Model, gum, validated_budget
from labauto.uncertainty.budget import UncertaintyBudget

if TYPE_CHECKING:
    from labauto.procedure import Procedure, TestPoint


def error_budget(point: "TestPoint", procedure: "Procedure", readings: pint.Quantity,
                 readbacks: pint.Quantity) -> UncertaintyBudget:
    unit = point.nominal.units
    noise = getattr(procedure, "readback_noise", None)
    channel = point.source_settings.get("channel")
    entry = None if noise is None else noise.entry_for(
        point.function, None if channel is None else int(channel))
    if entry is not None:
        from labauto.models.readback_noise import readback_inputs

        x_rb, res = readback_inputs(entry, readbacks, unit, f"characterised {noise.date}, "
                                    f"{entry.readings} readbacks at {entry.levels} levels")
    else:
        x_rb = mi.type_a(readbacks, unit, "mean readback of the DUT")
        res = mi.resolution(point.dut_range, unit, "readback resolution of the DUT",
                            readings=readbacks)
    inputs: dict[str, Any] = {"X_rb": x_rb, **mi.reference_meter(procedure, point, readings, unit),
                              mi.RESOLUTION_NAME: res}
    terms = ["X_rb", "- X_ref", "- dX_ref", f"+ {mi.RESOLUTION_NAME}"]
    mi.contributions(inputs, terms, point.contributions, mi.letter(unit), unit, point.nominal)
    return validated_budget(gum(Model("E = " + " ".join(terms), inputs=inputs)), "E")

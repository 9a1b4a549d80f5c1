"""Error of the output setting of a current source measured through an external current shunt
(a point with ``shunt:``, labauto.procedure.shunts): the reference meter reads the voltage V
across the shunt's potential terminals on a DC voltage range, and the current is V / R_s::

    E = I_set - (V + dV_ref + V_emf + sum(dV_j)) / (R_s × (1 + d_T + d_P)) + dX_res + sum(dI_i)

    I_set     the DUT's set current (exact)
    V         mean of the n voltage readings across the shunt; Type A, u = s/sqrt(n)
    dV_ref    correction of the reference meter's DC voltage reading, by its specification on
              the range in use at V (estimate 0; normal at its stated coverage probability or
              rectangular limits), nu = inf
    V_emf     thermal EMF at the shunt's potential terminals: rectangular ± the procedure's
              ``thermal_emf`` of the shunt, estimate 0
    dV_j      the procedure's contributions of the meter's voltage function (DCV, in V) that
              apply at I × R_s on the range in use: the thermal EMF of the meter's own input
              connections, a second pair of junctions (the simulated lab has both)
    R_s       the shunt's certified value at its reference conditions: normal, u = U/k
    d_T       relative change of R_s with the ambient temperature: rectangular
              ± |alpha| × the procedure's ``temperature_deviation`` (the room's largest
              departure from the certificate's reference temperature), estimate 0
    d_P       relative change of R_s by self-heating (the power coefficient beta, a steady-
              state figure, sign not stated): the certificate's value holds at its measuring
              power P_cal; at the test current the shunt warms from the room towards
              beta × (P - P_cal) with its time constant, so the change lies between
              -beta × P_cal (not yet warm) and beta × (P - P_cal) (steady):
              rectangular ± |beta| × max(P_cal, |P - P_cal|), estimate 0
    dX_res    setting resolution of the DUT, only when the nominal is not a whole number of
              setting steps (as in labauto.models.output)
    dI_i      the procedure's contributions for this function (in A), estimate 0 or their
              correction

The readings a run journals are the meter's voltages; the engine's indication of a shunt
point is V / R_s (labauto.procedure.shunts.ShuntUse.indicated), so the budget takes the
indicated currents and multiplies them back by the same certified value.  U as in every model:
the GUM's, or where JCGM 101 clause 8 does not validate it, the 95 % interval of E propagated
by convolution (labauto.uncertainty.validated_budget).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pint

from labauto.models import inputs as mi
from labauto.models.output import _representable
from labauto.uncertainty import Constant, Model, Normal, Rectangular, gum, validated_budget
from labauto.uncertainty.budget import UncertaintyBudget
from labauto.units import Q_

if TYPE_CHECKING:
    from labauto.procedure import Procedure, TestPoint

EQUATION = "E = I_set - ({volts}) / (R_s * (1 + d_T + d_P))"


def power_halfwidth(beta: float, power_w: float, calibration_power_w: float) -> float:
    """Bound of the relative self-heating change at ``power_w`` of a shunt certified at
    ``calibration_power_w`` (see the module documentation)."""
    return abs(beta) * max(calibration_power_w, abs(power_w - calibration_power_w))


def shunt_inputs(point: "TestPoint", procedure: "Procedure", readings: pint.Quantity
                 ) -> dict[str, Any]:
    """The inputs of the current through the shunt: V, dV_ref, V_emf, R_s, d_T, d_P."""
    use = point.shunt
    shunt, cert, ratings = use.shunt, use.shunt.certificate, use.shunt.ratings
    r = cert.value.to("ohm")
    volts = (readings.to("A") * r).to("V")
    mean = Q_(float(volts.magnitude.mean()), "V")
    meter_fn = procedure.standard_model.function(use.meter_function)
    p = float(shunt.power_at(point.nominal).to("W").magnitude)
    p_cal = float(shunt.power_at(cert.current).to("W").magnitude)
    alpha = float(ratings.temperature_coefficient.to("1/K").magnitude)
    beta = float(ratings.power_coefficient.to("1/W").magnitude)
    d_t = alpha * float(use.temperature_deviation.to("K").magnitude)
    return {
        "V": mi.type_a(volts, Q_(1, "V").units, "mean reading of the reference meter across "
                                                "the shunt's potential terminals"),
        "dV_ref": mi.specification(mean, point.standard_range, None, meter_fn.confidence,
                                   Q_(1, "V").units, "error of the reference meter's "
                                   f"{use.meter_function} reading", estimate=Q_(0.0, "V")),
        "V_emf": Rectangular(Q_(0.0, "V"), use.thermal_emf.to("V"),
                             label="thermal EMF of the shunt's potential connections"),
        "R_s": Normal.from_expanded(r, cert.U.to("ohm"), k=cert.k,
                                    label=f"shunt {shunt.name}, certificate "
                                          f"{cert.certificate_id}: {cert.value:~P}, U = "
                                          f"{cert.U:~P}, k = {cert.k:g} at "
                                          f"{cert.temperature:~P}, {cert.current:~P}"),
        "d_T": Rectangular(Q_(0.0, ""), Q_(d_t, ""),
                           label=f"shunt temperature coefficient |alpha| <= "
                                 f"{ratings.temperature_coefficient.to('ppm/K'):~P} over "
                                 f"± {use.temperature_deviation:~P} from its reference "
                                 "temperature"),
        "d_P": Rectangular(Q_(0.0, ""), Q_(power_halfwidth(beta, p, p_cal), ""),
                           label=f"shunt self-heating: power coefficient |beta| <= "
                                 f"{ratings.power_coefficient.to('ppm/W'):~P} at {p:.3g} W "
                                 f"(certified at {p_cal:.3g} W)"),
    }


def error_budget(point: "TestPoint", procedure: "Procedure",
                 readings: pint.Quantity) -> UncertaintyBudget:
    """GUM budget of the error of the output setting at a shunt point from the indicated
    currents ``readings`` (V / R_s of each voltage reading)."""
    unit = point.nominal.units
    inputs: dict[str, Any] = {"I_set": Constant(point.nominal.to(unit), label="set value of the DUT"),
                              **shunt_inputs(point, procedure, readings)}
    volts = ["V", "dV_ref", "V_emf"]
    across = (point.nominal * point.shunt.resistance).to("V")
    for i, c in enumerate(point.shunt.contributions, 1):
        inputs[f"dV_{i}"] = c.as_input(Q_(1, "V").units, across)
        volts.append(f"dV_{i}")
    terms = [EQUATION.format(volts=" + ".join(volts))]
    if not _representable(point.nominal, point.dut_range.resolution):
        inputs[mi.RESOLUTION_NAME] = mi.resolution(point.dut_range, unit,
                                                   "setting resolution of the DUT (the nominal "
                                                   "is not a whole number of setting steps)")
        terms.append(f"+ {mi.RESOLUTION_NAME}")
    mi.contributions(inputs, terms, point.contributions, "I", unit, point.nominal)
    return validated_budget(gum(Model(" ".join(terms), inputs=inputs)), "E")

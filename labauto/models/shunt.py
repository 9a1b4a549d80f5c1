"""Error of the output setting of a current source measured through an external current shunt
(a point with ``shunt:``, labauto.procedure.shunts): the reference meter reads the voltage V
across the shunt's potential terminals on a DC voltage range, and the current is V / R_s::

    E = I_set - (V + dV_ref + V_emf + sum(dV_j)) / (R_s × (1 + dR_s + d_T + d_P [+ d_ac]))
        + dX_res + sum(dI_i)

evaluated to first order in the small relative terms (they are ppm; the second-order terms
are below 1e-9 of the current), so that the model is linear in its inputs:

    E = I_set - (V + dV_ref + V_emf + sum(dV_j)) / R_s + I_s × (dR_s + d_T + d_P [+ d_ac]) + ...

with R_s the certified value and I_s = V / R_s the indicated current (constants).  A linear
model's GUM interval is checked against the propagated distribution (JCGM 101 clause 8,
labauto.uncertainty.convolution): at the AC points the 3458A's rectangular ACV specification
is 96 % of u_c, and the GUM's k = 1.96 over-covered (validation 1.000, docs/validation.md)

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
    dR_s      relative deviation of the shunt's value at its reference conditions from the
              certified value R_s: normal, estimate 0, u = (U/k) / R_s
    d_T       relative change of R_s with the ambient temperature: rectangular
              ± |alpha| × the procedure's ``temperature_deviation`` (the room's largest
              departure from the certificate's reference temperature), estimate 0
    d_P       relative change of R_s by self-heating (the power coefficient beta, a steady-
              state figure, sign not stated): the certificate's value holds at its measuring
              power P_cal; at the test current the shunt warms from the room towards
              beta × (P - P_cal) with its time constant: d_P = beta × (h × P - P_cal), h the
              part of the way it has warmed (0: not yet, 1: steady).  Both factors are
              unknown: beta uniform in ± |beta|, h uniform in [0, 1], independent, so
              E[d_P] = 0 and u² = (beta²/3) × (P²/3 - P × P_cal + P_cal²) (the variance of the
              product), normal with that u.  (Rectangular ± |beta| × max(P_cal, |P - P_cal|),
              the product's bounds taken as equally likely, over-covered at the 5522A's 10 A
              AC point: docs/validation.md)
    d_ac      an AC current (ACI, the meter on ACV): the shunt's certified AC-DC difference at
              the point's frequency (V_ac / I_ac = R_dc × (1 + d_ac)): normal, estimate the
              certified difference, u = U/k.  A thermal EMF is a DC offset, which the meter's
              AC-coupled rms measurement does not see: no V_emf at an AC point
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

import math
from typing import TYPE_CHECKING, Any

import pint

from labauto.models import inputs as mi
from labauto.models.output import _representable
from labauto.uncertainty import Constant, Model, Normal, Rectangular, gum, validated_budget
from labauto.uncertainty.budget import UncertaintyBudget
from labauto.units import Q_

if TYPE_CHECKING:
    from labauto.procedure import Procedure, TestPoint

EQUATION = "E = I_set - ({volts}) / R_s + I_s * ({relative})"


def power_uncertainty(beta: float, power_w: float, calibration_power_w: float) -> float:
    """Standard uncertainty of the relative self-heating change beta × (h P − P_cal) at
    ``power_w`` of a shunt certified at ``calibration_power_w``, beta uniform in ± ``beta``
    and h uniform in [0, 1] (see the module documentation)."""
    p, pc = power_w, calibration_power_w
    return abs(beta) / math.sqrt(3) * math.sqrt(p * p / 3 - p * pc + pc * pc)


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
        "dV_ref": mi.specification(mean, point.standard_range, point.frequency, meter_fn.confidence,
                                   Q_(1, "V").units, "error of the reference meter's "
                                   f"{use.meter_function} reading", estimate=Q_(0.0, "V")),
        "V_emf": Rectangular(Q_(0.0, "V"), use.thermal_emf.to("V"),
                             label="thermal EMF of the shunt's potential connections"),
        "R_s": Constant(r, label="certified value of the shunt"),
        "I_s": Constant((mean / r).to("A"), label="indicated current V / R_s"),
        "dR_s": Normal.from_expanded(Q_(0.0, ""), (cert.U / cert.value).to(""), k=cert.k,
                                     label=f"shunt {shunt.name}, certificate "
                                           f"{cert.certificate_id}: {cert.value:~P}, U = "
                                           f"{cert.U:~P}, k = {cert.k:g} at "
                                           f"{cert.temperature:~P}, {cert.current:~P}"),
        "d_T": Rectangular(Q_(0.0, ""), Q_(d_t, ""),
                           label=f"shunt temperature coefficient |alpha| <= "
                                 f"{ratings.temperature_coefficient.to('ppm/K'):~P} over "
                                 f"± {use.temperature_deviation:~P} from its reference "
                                 "temperature"),
        "d_P": Normal(Q_(0.0, ""), Q_(power_uncertainty(beta, p, p_cal), ""),
                      label=f"shunt self-heating: power coefficient |beta| <= "
                            f"{ratings.power_coefficient.to('ppm/W'):~P} at {p:.3g} W "
                            f"(certified at {p_cal:.3g} W), its heating state unknown"),
    }


def error_budget(point: "TestPoint", procedure: "Procedure",
                 readings: pint.Quantity) -> UncertaintyBudget:
    """GUM budget of the error of the output setting at a shunt point from the indicated
    currents ``readings`` (V / R_s of each voltage reading)."""
    unit = point.nominal.units
    inputs: dict[str, Any] = {"I_set": Constant(point.nominal.to(unit), label="set value of the DUT"),
                              **shunt_inputs(point, procedure, readings)}
    volts = ["V", "dV_ref"] + (["V_emf"] if point.frequency is None else [])
    relative = ["dR_s", "d_T", "d_P"]
    if point.frequency is not None:
        del inputs["V_emf"]
        ac = point.shunt.shunt.certificate.ac_dc_at(point.frequency)
        inputs["d_ac"] = Normal.from_expanded(Q_(ac.difference, ""), Q_(ac.U, ""), k=ac.k,
                                              label=f"AC-DC difference of the shunt at "
                                                    f"{ac.frequency:~P} (certificate "
                                                    f"{point.shunt.shunt.certificate.certificate_id}"
                                                    f": {ac.difference * 1e6:g} ppm, U = "
                                                    f"{ac.U * 1e6:g} ppm, k = {ac.k:g})")
        relative.append("d_ac")
    across = (point.nominal * point.shunt.resistance).to("V")
    for i, c in enumerate(point.shunt.contributions, 1):
        inputs[f"dV_{i}"] = c.as_input(Q_(1, "V").units, across)
        volts.append(f"dV_{i}")
    terms = [EQUATION.format(volts=" + ".join(volts), relative=" + ".join(relative))]
    if not _representable(point.nominal, point.dut_range.resolution):
        inputs[mi.RESOLUTION_NAME] = mi.resolution(point.dut_range, unit,
                                                   "setting resolution of the DUT (the nominal "
                                                   "is not a whole number of setting steps)")
        terms.append(f"+ {mi.RESOLUTION_NAME}")
    mi.contributions(inputs, terms, point.contributions, "I", unit, point.nominal)
    return validated_budget(gum(Model(" ".join(terms), inputs=inputs)), "E")

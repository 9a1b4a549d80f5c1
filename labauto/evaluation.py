"""Evaluate a run: per test point, the error of indication, its uncertainty budget and the
conformity decision; then the whole :class:`CalibrationResult`.

Measurement model of the error of indication of a DMM measuring a calibrator output
(EURAMET cg-15 / EA-4/02 style; every input is named in the budget)::

    E = X_ind - V_ref + dX_res + sum(dV_extra_i)

    X_ind     mean of the n indications; Type A, u = s/sqrt(n), nu = n - 1
    V_ref     calibrator output = its set value; uncertainty from the calibrator's accuracy
              specification at that value (normal, at the stated coverage probability, e.g.
              99 % -> k = 2.576), nu = inf
    dX_res    DUT resolution: rectangular, half-width = resolution / 2, estimate 0
    dV_extra  procedure-listed contributions (thermal EMFs, leads, ...), estimate 0

All sensitivity coefficients are +-1.  The GUM law of propagation gives u_c(E); Welch-
Satterthwaite gives nu_eff and k = t_0.975(nu_eff); U = k u_c, reported per ILAC-P14.
"""
from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import pint

from labauto import __version__
from labauto.engine.run import Run
from labauto.lab import LabConfig
from labauto.procedure import Procedure, TestPoint
from labauto.results import CalibrationResult, Equipment, PointResult, ProcedureRef
from labauto.uncertainty import Model, Normal, Rectangular, TypeA, gum
from labauto.uncertainty.budget import UncertaintyBudget
from labauto.uncertainty.rounding import round_quantity_pair
from labauto.units import Q_, engineering_unit

RESOLUTION_NAME = "dX_res"


def error_budget(point: TestPoint, procedure: Procedure, readings: pint.Quantity) -> UncertaintyBudget:
    """GUM budget of the error of indication at ``point`` from its raw ``readings``."""
    unit = point.nominal.units
    std_range = point.standard_range
    confidence = procedure.standard_model.function(point.function).confidence
    spec = std_range.accuracy_halfwidth(point.nominal).to(unit)
    inputs: dict[str, Any] = {
        "X_ind": TypeA.from_observations(readings.to(unit), label="mean indication of the DUT"),
        "V_ref": (Normal.from_expanded(point.nominal, spec, coverage_probability=confidence,
                                       label="calibrator output (manufacturer's specification)")
                  if confidence else
                  Rectangular(point.nominal, spec, label="calibrator output (specification limits)")),
        RESOLUTION_NAME: Rectangular(Q_(0.0, unit), point.dut_range.resolution.to(unit) / 2,
                                     label="resolution of the DUT"),
    }
    terms = ["X_ind", "- V_ref", f"+ {RESOLUTION_NAME}"]
    for i, c in enumerate(procedure.contributions, 1):
        name = f"dV_{i}"
        inputs[name] = c.as_input(unit)
        terms.append(f"+ {name}")
    model = Model("E = " + " ".join(terms), inputs=inputs)
    return gum(model).budget("E")


def evaluate_point(point: TestPoint, procedure: Procedure, readings: list[float], unit: str,
                   timestamps: tuple[str, ...] = ()) -> PointResult:
    if len(readings) < 2:
        raise ValueError(f"point {point.id}: {len(readings)} reading(s); at least 2 are needed "
                         "for a Type A evaluation")
    values = Q_(readings, unit).to(point.nominal.units)
    budget = error_budget(point, procedure, values)
    report_unit = engineering_unit(budget.expanded_uncertainty)     # "6.4 µV", not "6.4e-06 V"
    U = budget.expanded_uncertainty.to(report_unit)
    error = budget.estimate.to(report_unit)
    _, U_reported = round_quantity_pair(error, U)
    # decide with the U stated on the certificate (rounded up per ILAC-P14), so that a reader
    # can reproduce every decision from the certificate alone
    decision = procedure.decision_rule.decide(error, U_reported, point.tolerance,
                                              coverage_factor=budget.coverage_factor)
    mags = [float(x) for x in values.magnitude]
    return PointResult(
        point_id=point.id, function=point.function, range=point.range, nominal=point.nominal,
        reference=point.nominal, readings=tuple(readings), reading_unit=unit,
        reading_timestamps=timestamps,
        mean=Q_(statistics.fmean(mags), point.nominal.units),
        std_dev=Q_(statistics.stdev(mags), point.nominal.units),
        error=error, budget=budget, expanded_uncertainty=U_reported,
        coverage_factor=budget.coverage_factor, coverage_probability=budget.coverage_probability,
        tolerance=point.tolerance.to(U_reported.units), acceptance_limit=decision.acceptance_limit,
        decision=decision.decision, tur=float((point.tolerance / U_reported).to("dimensionless").magnitude),
        conformance_probability=decision.conformance_probability,
        specific_risk=decision.specific_risk,
    )


def _equipment(rec: dict[str, Any], role: str) -> Equipment:
    return Equipment(role=role, manufacturer=rec["manufacturer"], model=rec["model"],
                     serial_number=rec["serial"], firmware=rec.get("firmware", ""),
                     resource=rec.get("resource", ""), identity=rec.get("identity", ""))


def _environment(state: Any, lab: LabConfig, today: dt.date) -> dict[str, Any]:
    """The conditions the run's environment logger recorded (journal ``conditions`` records),
    summarised for the certificate; "not recorded" without a logger."""
    from labauto.conditions import summarize

    logger = state.instruments.get("environment")
    if logger is None or not state.conditions:
        return summarize([], None, {}, {})
    from labauto.drivers.environment import load_environment_logger_model

    model = load_environment_logger_model(state.conditions[0].get("model") or lab.environment.logger_model)
    entry = lab.reference_equipment(logger["manufacturer"], logger["model"], logger["serial"],
                                    logger.get("resource", ""), logger.get("identity", ""),
                                    logger.get("firmware", ""), today=today)
    who = {"manufacturer": entry.manufacturer, "model": entry.model, "serial": entry.serial_number,
           "certificate_id": entry.certificate_id, "calibration_due": entry.calibration_due,
           "datasheet": model.datasheet}
    return summarize(state.conditions, who, model.quantities, lab.environment.limits)


def evaluate_run(run: Run, lab: LabConfig, *, issue_date: dt.date | None = None) -> CalibrationResult:
    """All points of a completed run -> the certificate's data."""
    state = run.state()
    missing = [p.id for p in run.procedure.points if p.id not in state.completed_ids()]
    if missing:
        raise ValueError(f"run {run.run_id} is incomplete: points {', '.join(missing)} have no "
                         f"completed measurement; resume it with `labauto resume {run.folder}`")
    if "item" not in state.instruments or "reference" not in state.instruments:
        raise ValueError(f"run {run.run_id}: the journal does not identify the instruments")
    points = []
    times: list[str] = []
    for p in run.procedure.points:
        recs = state.points[p.id].readings
        times += [r["t"] for r in recs]
        points.append(evaluate_point(p, run.procedure, [r["value"] for r in recs], recs[0]["unit"],
                                     tuple(r["t"] for r in recs)))
    ref = state.instruments["reference"]
    standard = lab.reference_equipment(ref["manufacturer"], ref["model"], ref["serial"],
                                       ref.get("resource", ""), ref.get("identity", ""),
                                       ref.get("firmware", ""),
                                       today=dt.date.fromisoformat(min(times)[:10]))
    start, end = min(times), max(times)
    environment = _environment(state, lab, today=dt.date.fromisoformat(start[:10]))
    conditions_remark = (() if environment.get("within_limits", True)
                         else (environment["statement"],))
    issued = issue_date or dt.date.today()
    proc = run.procedure
    return CalibrationResult(
        certificate_id=f"{lab.certificate_prefix}-{start[:4]}-{run.run_id}",
        run_id=run.run_id,
        title=f"Calibration certificate — {proc.dut_model.description.split('(')[0].strip()}",
        laboratory=lab.laboratory, customer=lab.customer, authoriser=lab.authoriser,
        performed_by=run.settings.operator or lab.performed_by,
        item=_equipment(state.instruments["item"], "item"), standards=(standard,),
        procedure=ProcedureRef(proc.id, proc.title, proc.version, str(proc.path), proc.sha256),
        decision_rule=proc.decision_rule.ref,
        calibration_date=start[:10], calibration_end=end, issue_date=issued.isoformat(),
        receipt_date=state.header["t"][:10], location=lab.location,
        environment=environment, points=tuple(points), traceability=lab.traceability,
        # the uncertainty statement (U, k, p, GUM) is written by each certificate writer from
        # the points' data; a remark repeating it was printed twice
        remarks=(f"Method: {proc.method}", *conditions_remark),
        software=f"labauto {__version__}", country=lab.country,
        language="en",     # the certificate texts labauto writes are English
    )

"""Evaluate a run: per test point, the error (of indication, or of output for a source under
test), its uncertainty budget by the procedure's measurement model (labauto.models) and the
conformity decision; then the whole :class:`CalibrationResult`.
"""
from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import pint

from labauto import __version__
from labauto.engine.run import Run
from labauto.lab import LabConfig
from labauto.models import budget_for
from labauto.procedure import Procedure, TestPoint
from labauto.results import CalibrationResult, Equipment, PointResult, ProcedureRef
from labauto.uncertainty.budget import UncertaintyBudget
from labauto.uncertainty.rounding import round_quantity_pair
from labauto.units import Q_, engineering_unit, quantity_kind


def error_budget(point: TestPoint, procedure: Procedure, readings: pint.Quantity,
                 readbacks: pint.Quantity | None = None) -> UncertaintyBudget:
    """GUM budget of the point's error from its raw ``readings`` (labauto.models); a readback
    point also needs the source's own ``readbacks``."""
    return budget_for(procedure, point, readings, readbacks)


def report_unit_for(point: TestPoint, U: pint.Quantity) -> pint.Unit:
    """The unit a point's error and U are stated in: the engineering unit of U ("6.4 µV", not
    "6.4e-06 V"); frequency results in hertz (a counter's error reads as "1.61 Hz", not
    "1610 mHz" beside "230 mHz")."""
    if quantity_kind(point.nominal.units) == "frequency":
        return Q_(1, "Hz").units
    return engineering_unit(U)


def evaluate_point(point: TestPoint, procedure: Procedure, readings: list[float], unit: str,
                   timestamps: tuple[str, ...] = (),
                   readbacks: list[float] | None = None) -> PointResult:
    if len(readings) < 2:
        raise ValueError(f"point {point.id}: {len(readings)} reading(s); at least 2 are needed "
                         "for a Type A evaluation")
    values = point.indicated(Q_(readings, unit))      # V / R_s at a shunt point
    rb = None
    if getattr(point, "readback", False):
        if readbacks is None or len(readbacks) != len(readings) or None in readbacks:
            raise ValueError(f"point {point.id} is a readback point but the journal lacks the "
                             "source's readback with some of its readings")
        rb = Q_(readbacks, unit).to(point.nominal.units)
    budget = error_budget(point, procedure, values, rb)
    report_unit = report_unit_for(point, budget.expanded_uncertainty)
    U = budget.expanded_uncertainty.to(report_unit)
    error = budget.estimate.to(report_unit)
    _, U_reported = round_quantity_pair(error, U)
    # decide with the U stated on the certificate (rounded up per ILAC-P14), so that a reader
    # can reproduce every decision from the certificate alone
    decision = procedure.decision_rule.decide(error, U_reported, point.tolerance,
                                              coverage_factor=budget.coverage_factor)
    # the row's indication: the meter's readings, or a readback point's own readbacks (the
    # source's indication, compared with the reference meter's mean, the reference value)
    shown = values if rb is None else rb
    mags = [float(x) for x in shown.magnitude]
    return PointResult(
        point_id=point.id, function=point.function, range=point.range, nominal=point.nominal,
        reference=_reference(point, procedure, values), readings=tuple(readings), reading_unit=unit,
        reading_timestamps=timestamps, readbacks=tuple(readbacks) if rb is not None else (),
        mean=Q_(statistics.fmean(mags), point.nominal.units),
        std_dev=Q_(statistics.stdev(mags), point.nominal.units),
        error=error, budget=budget, expanded_uncertainty=U_reported,
        coverage_factor=budget.coverage_factor, coverage_probability=budget.coverage_probability,
        tolerance=point.tolerance.to(U_reported.units), acceptance_limit=decision.acceptance_limit,
        decision=decision.decision, tur=float((point.tolerance / U_reported).to("dimensionless").magnitude),
        conformance_probability=decision.conformance_probability,
        specific_risk=decision.specific_risk, frequency=point.frequency,
    )


def _reference(point: TestPoint, procedure: Procedure, values: pint.Quantity) -> pint.Quantity:
    """The reference value: the source's set value for a meter under test; the reference
    meter's mean reading for a source under test."""
    if procedure.direction == "source":
        return Q_(statistics.fmean(float(x) for x in values.magnitude), point.nominal.units)
    return point.nominal


def _shunts_used(procedure: Procedure, points: list[PointResult]) -> tuple[Equipment, ...]:
    """The external current shunts the points were measured through, as reference standards
    (their certificates are part of the traceability)."""
    used = {p.point_id for p in points}
    names = dict.fromkeys(q.shunt.name for q in procedure.points
                          if q.shunt is not None and q.id in used)
    return tuple(u.shunt.equipment() for u in procedure.shunts if u.name in names)


def _equipment(rec: dict[str, Any], role: str) -> Equipment:
    return Equipment(role=role, manufacturer=rec["manufacturer"], model=rec["model"],
                     serial_number=rec["serial"], firmware=rec.get("firmware", ""),
                     resource=rec.get("resource", ""), identity=rec.get("identity", ""))


def _environment(state: Any, lab: LabConfig, today: dt.date, procedure: Any = None) -> dict[str, Any]:
    """The conditions the run's environment logger recorded (journal ``conditions`` records),
    summarised for the certificate against the lab's limits narrowed by ``procedure``'s;
    "not recorded" without a logger."""
    from labauto.conditions import limits_owner, procedure_limits, summarize

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
    limits = procedure_limits(lab.environment.limits, procedure)
    return summarize(state.conditions, who, model.quantities, limits,
                     limits_owner(getattr(procedure, "environment_limits", None)))


def _evaluate_points(run: Run, state: Any, plan: Any, times: list[str] | None = None,
                     prefix: str = "") -> list[PointResult]:
    """The points of ``plan`` from the journal (ids ``prefix + id``), in the procedure's ids."""
    points = []
    for p in plan:
        recs = state.points[prefix + p.id].readings
        if times is not None:
            times += [r["t"] for r in recs]
        points.append(evaluate_point(p, run.procedure, [r["value"] for r in recs], recs[0]["unit"],
                                     tuple(r["t"] for r in recs),
                                     [r.get("readback") for r in recs] if p.readback else None))
    return points


def evaluate_as_found(run: Run) -> list[PointResult]:
    """The as-found results of a run whose procedure points are all measured."""
    return _evaluate_points(run, run.state(), run.procedure.points)


def _adjustment(run: Run, state: Any, times: list[str]) -> tuple[tuple[PointResult, ...], dict[str, Any]]:
    """As-left results and what the certificate states about the adjustment: the policy, the
    decision and why, the points adjusted (empty without a declared adjustment)."""
    plan = run.procedure.adjustment
    if plan is None:
        return (), {}
    from labauto.engine import adjustment as adj

    decision = adj.decision(run)
    if decision is None:
        raise ValueError(f"run {run.run_id}: the adjustment policy was not applied yet; resume it "
                         f"with `labauto resume {run.folder}`")
    info: dict[str, Any] = {"policy": decision["policy"], "policy_text": decision["policy_text"],
                            "adjusted": bool(decision["adjust"]), "reason": decision["reason"],
                            "commands_reference": plan.commands.reference, "points": []}
    if not decision["adjust"]:
        return (), info
    if not adj.records(run, "adjustment_done"):
        raise ValueError(f"run {run.run_id}: the adjustment did not finish; resume it with "
                         f"`labauto resume {run.folder}`")
    info["points"] = [{k: v for k, v in r.items() if k not in ("type",)}
                      for r in adj.records(run, "adjustment_point")]
    left = adj.as_left_points(run)
    missing = [p.id for p in left if p.id not in state.completed_ids()]
    if missing:
        raise ValueError(f"run {run.run_id}: {len(missing)} as-left point(s) are not measured; "
                         f"resume it with `labauto resume {run.folder}`")
    return tuple(_evaluate_points(run, state, run.procedure.points, times, adj.AS_LEFT)), info


def evaluate_run(run: Run, lab: LabConfig, *, issue_date: dt.date | None = None) -> CalibrationResult:
    """All points of a completed run -> the certificate's data."""
    state = run.state()
    missing = [p.id for p in run.procedure.points if p.id not in state.completed_ids()]
    if missing:
        raise ValueError(f"run {run.run_id} is incomplete: points {', '.join(missing)} have no "
                         f"completed measurement; resume it with `labauto resume {run.folder}`")
    if "item" not in state.instruments or "reference" not in state.instruments:
        raise ValueError(f"run {run.run_id}: the journal does not identify the instruments")
    times: list[str] = []
    points = _evaluate_points(run, state, run.procedure.points, times)
    as_left, adjustment = _adjustment(run, state, times)
    ref = state.instruments["reference"]
    standard = lab.reference_equipment(ref["manufacturer"], ref["model"], ref["serial"],
                                       ref.get("resource", ""), ref.get("identity", ""),
                                       ref.get("firmware", ""),
                                       today=dt.date.fromisoformat(min(times)[:10]))
    start, end = min(times), max(times)
    environment = _environment(state, lab, today=dt.date.fromisoformat(start[:10]),
                               procedure=run.procedure)
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
        item=_equipment(state.instruments["item"], "item"),
        standards=(standard, *_shunts_used(proc, points)),
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
        as_left_points=as_left, adjustment=adjustment, adjusted=bool(as_left),
        item_condition=run.settings.item_condition,
        item_condition_confirmed=run.settings.item_condition_confirmed,
        measurement_model=proc.measurement_model,
    )

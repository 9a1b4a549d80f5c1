"""A temperature comparison run's journal -> per-point budgets and the fitted characteristic,
through labauto.temperature (budgets in the manner of EA-4/02 S5 and EURAMET cg-8/cg-13; CVD or
thermocouple deviation fits).

Where each influence of a point's budget comes from:

    reference calibration      the reference's certificate: U(t), k          (procedure file)
    reference drift            the certificate's drift allowance (rectangular)
    reference readout          the readout model's RES4W specification at R_S, through dR/dt
    axial / radial uniformity  the heat source model's performance figures at t (rectangular)
    Type A                     the scatter of the paired differences (each DUT reading against
                               the mean of the two reference readings bracketing it):
                               ComparisonPoint.paired
    source stability           no row: the bracketing cancels the source's wander (exactly for
                               a linear drift; what is left varies from pair to pair and is in
                               the differences' scatter), docs/validation.md
    DUT self-heating           measured, when the procedure states the DUT's
                               ``self_heating_current``: the readings at the second current
                               against those at the first, corrected (∝ I²;
                               labauto.temperature.budgets.measured_self_heating)
    immersion, self-heating,   the procedure's ``evaluation`` half-widths; the reference's
    hysteresis                 self-heating at its measuring current, as its certificate
                               states it (``self_heating`` at 1 mA, x (I/1 mA)^2), corrected:
                               its certified characteristic is at zero power
    DUT hysteresis             measured, when a point revisits an earlier one (``return_of``,
                               e.g. 100 °C after the highest temperature): the difference of the
                               two visits, ±|d|/2 and its Type A, in every point's budget
                               (labauto.temperature.budgets.measured_hysteresis)
    DUT readout                the readout's (channel 2) or the DMM's specification at the
                               DUT's value (a DMM's limits as a rectangular distribution)
    DUT resolution             the digital thermometer's display resolution
    reference junction         a thermocouple's (the DUT's, a reference thermocouple's): the
                               procedure's ``reference_junction`` half-width, else an ice point's
                               0.01 K or a compensated junction's 0.2 K (rectangular)
    parasitic emfs, cables     the procedure's ``parasitic_emf`` and ``compensating_cable``
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from labauto.drivers.heat_source import heat_source_performance
from labauto.engine.journal import JournalState
from labauto.errors import LabautoError
from labauto.procedure.temperature import TemperatureProcedure
from labauto.units import Q_

DUT_KIND = {"pt100": "prt", "thermocouple": "thermocouple", "digital": "indicating"}
ICE_POINT_HALF_WIDTH_K = 0.01          # a well-made ice point (EA-4/02 S5 takes ±0.1 K)


@dataclass(frozen=True)
class ComparisonEvaluation:
    procedure: TemperatureProcedure
    points: tuple[Any, ...]              # labauto.temperature.budgets.PointResult, by setpoint
    fit: Any | None                      # CvdFit | ThermocoupleFit | None

    @property
    def dut_kind(self) -> str:
        return DUT_KIND[self.procedure.dut.sensor]


def comparison_points(procedure: TemperatureProcedure, state: JournalState) -> list[Any]:
    """One :class:`labauto.temperature.budgets.ComparisonPoint` per completed setpoint (a
    return point's too: it is reported as measured)."""
    from labauto.temperature.budgets import ComparisonPoint, Influence, dut_influences, \
        measured_hysteresis, measured_self_heating, reference_influences

    ev = procedure.evaluation
    kind = DUT_KIND[procedure.dut.sensor]
    ref = procedure.reference
    out = []
    for point in procedure.points:
        rec = state.points.get(point.id)
        if rec is None or not rec.completed:
            raise LabautoError(f"point {point.id} of run {state.header.get('run_id')} has no "
                               "completed measurement; resume the run first")
        second = [r for r in rec.readings if "dut_current_mA" in r]   # the self-heating series
        readings = [r for r in rec.readings if "dut_current_mA" not in r]
        t = float(point.setpoint.to("degC").m)
        t_ref = [r["reference"]["mean_degC"] for r in readings]
        r_ref = [sum(r["reference"]["values"]) / 2 for r in readings]      # ohm, or mV
        dut = [r["value"] for r in readings]
        unit = readings[0]["unit"]
        hs = procedure.heat_sources[point.heat_source]
        perf = heat_source_performance(hs.model)

        def figure(name: str) -> float:
            q = perf.at(name, point.setpoint)
            return float(q.to("K").m) if q is not None else 0.0

        # the readout's specification at the reference's value, in K through its sensitivity
        ref_fn = procedure.readout_model.function(ref.function)
        ro = ref_fn.ranges[0]
        r_mean = sum(r_ref) / len(r_ref)
        readout_k = _k(ref_fn.confidence)
        s_ref = ref.sensitivity(t)                        # ohm/K, or mV/K
        readout_U = float(ro.accuracy_halfwidth(Q_(r_mean, ref.value_unit).to(ref_fn.unit))
                          .to(ref.value_unit).m) / s_ref
        ref_junction = {}
        if ref.is_thermocouple:       # its reference junction through -S(0 °C)/S(t) (EA-4/02 S5.8)
            ref_junction = dict(reference_junction=_ev(ev, "reference_junction") or ICE_POINT_HALF_WIDTH_K,
                                reference_junction_sensitivity=-ref.sensitivity(0.0) / s_ref)
        influences = reference_influences(
            calibration_U=float(ref.expanded_uncertainty(t).to("K").m),
            calibration_k=ref.coverage_factor, drift=float(ref.drift.to("K").m),
            readout_U=readout_U, readout_k=readout_k, axial=figure("axial_uniformity"),
            radial=figure("radial_uniformity"),
            immersion=_ev(ev, "reference_immersion"), self_heating=_ev(ev, "reference_self_heating"),
            self_heating_correction=-_certified_self_heating(procedure), **ref_junction)
        parasitic = ev.get("parasitic_emf")
        if ref.is_thermocouple and parasitic is not None:
            influences.append(Influence("dV_S", "parasitic emfs of the reference (switch)",
                                        "reference", "rectangular", float(parasitic.to("mV").m),
                                        "mV", sensitivity=1.0 / s_ref, sensitivity_unit="K/mV"))
        dut_extra: list[Any] = []
        if procedure.dut.read_by == "readout":
            dut_fn = procedure.readout_model.function("DCV" if kind == "thermocouple" else "RES4W")
            value = Q_(sum(dut) / len(dut), unit)
            spec = dut_fn.ranges[0].accuracy_halfwidth(value.to(dut_fn.unit)).to(unit).m
            dut_side = dict(readout_U=float(spec), readout_k=_k(dut_fn.confidence))
        elif procedure.dut.read_by == "dmm":
            fn = procedure.dmm_model.function("DCV" if kind == "thermocouple" else "RES4W")
            rng = fn.range_named(procedure.dut.dmm_range)
            value = Q_(sum(dut) / len(dut), unit)
            half = float(rng.accuracy_halfwidth(value.to(fn.unit)).to(unit).m)
            dut_extra.append(Influence("dX_dmm", f"DMM {procedure.dmm_model.model} "
                                       f"(specification)", "dut", "rectangular", half, unit))
            dut_side = {}
        else:
            dut_side = {"resolution": float(procedure.dut.resolution.to("K").m)
                        if procedure.dut.resolution is not None else 0.0}
        if kind == "thermocouple":
            junction = _ev(ev, "reference_junction") or (
                ICE_POINT_HALF_WIDTH_K if procedure.dut.reference_junction == "ice point" else 0.2)
            dut_side.update(thermocouple_type=procedure.dut.type, reference_junction=junction)
            for key, name in (("parasitic_emf", "parasitic"), ("compensating_cable", "cable")):
                if key in ev:
                    dut_side[name] = float(ev[key].to(unit).m)
        influences += dut_influences(
            kind, unit=unit, hysteresis=_ev(ev, "hysteresis"),
            self_heating=0.0 if second else _ev(ev, "dut_self_heating"),
            immersion=_dut_immersion(procedure, ev, t, point.heat_source), **dut_side) + dut_extra
        cp = ComparisonPoint(nominal=t, reference=t_ref, dut=dut, dut_kind=kind, dut_unit=unit,
                             thermocouple_type=procedure.dut.type or None, influences=influences,
                             label=point.id, paired=True)
        if second:
            measured = measured_self_heating(
                cp, [r["reference"]["mean_degC"] for r in second], [r["value"] for r in second],
                float(procedure.dut.current.to("A").m), second[0]["dut_current_mA"] * 1e-3)
            cp = replace(cp, influences=(*cp.influences, measured))
        out.append(cp)
    # the DUT's hysteresis measured at each return point; the largest goes into every budget
    by_id = {p.id: cp for p, cp in zip(procedure.points, out)}
    measured_h = [measured_hysteresis(by_id[p.return_of], by_id[p.id],
                                      f"{p.setpoint.to('degC').m:g} °C revisited ({p.id})")
                  for p in procedure.points if p.return_of is not None]
    if measured_h:
        rows = max(measured_h, key=lambda rs: math.fsum(r.value ** 2 / (3.0 if r.distribution ==
                                                                        "rectangular" else 1.0)
                                                        for r in rs))
        out = [replace(cp, influences=(*cp.influences, *rows)) for cp in out]
    return out


def fitted_points(procedure: TemperatureProcedure) -> list[bool]:
    """Which of the procedure's points the fit uses: all but the return points (a revisit
    measures the hysteresis; it adds no temperature)."""
    return [p.return_of is None for p in procedure.points]


def evaluate_comparison(procedure: TemperatureProcedure, state: JournalState) -> ComparisonEvaluation:
    """Budgets of every point and the fit the procedure asks for."""
    import numpy as np

    from labauto.temperature.budgets import point_budget, values_covariance
    from labauto.temperature.curve_coverage import curve_coverage
    from labauto.temperature.fits import fit_cvd, fit_thermocouple

    k = procedure.evaluation.get("coverage_factor")
    results = tuple(point_budget(p, k=k) for p in comparison_points(procedure, state))
    fit_kind = procedure.evaluation.get("fit", "none")
    used = fitted_points(procedure)
    fitted = [r for r, keep in zip(results, used) if keep]
    t = [r.nominal for r in fitted]
    y = [r.value for r in fitted]
    u = [r.u for r in fitted]
    fit = None
    if fit_kind == "cvd" or (isinstance(fit_kind, int) and not isinstance(fit_kind, bool)):
        # what the points share (one reference certificate, one readout, the DUT's own
        # self-heating ...): the fitted curve cannot average it away
        rows = [up_to for up_to, _ in procedure.reference.uncertainty]
        shared = dict(
            heat_sources=[p.heat_source for p, keep in zip(procedure.points, used) if keep],
            sub_ranges=[next((i for i, up_to in enumerate(rows) if x <= up_to + 1e-9),
                             len(rows) - 1) for x in t])
        cov = values_covariance(fitted, **shared)
        f = 1.0
        if fit_kind == "cvd":
            fit = fit_cvd(t, y, u, r_covariance=cov)
        else:
            f = Q_(1.0, results[0].unit).to("mV").m
            fit = fit_thermocouple(procedure.dut.type, t, [v * f for v in y], [v * f for v in u],
                                   degree=fit_kind, emf_covariance=cov * f * f)
        # the curve's 95 % interval from the propagated distribution of the points' inputs
        # (a furnace's rectangular non-uniformity, shared by every point, dominates it)
        fit = replace(fit, coverage=curve_coverage(
            np.asarray([fit._basis(x) for x in t]), fitted, factor=f, stated_k=k, **shared))
    return ComparisonEvaluation(procedure, results, fit)


def _certified_self_heating(procedure: TemperatureProcedure) -> float:
    """The reference's self-heating (K) at the procedure's measuring current, from its
    certificate's figure at 1 mA (it grows as I²); 0 for a thermocouple or when unstated."""
    ref = procedure.reference
    if ref.is_thermocouple or ref.self_heating is None:
        return 0.0
    ratio = float(procedure.reference_current.to("mA").m)
    return float(ref.self_heating.to("K").m) * ratio ** 2


def _dut_immersion(procedure: TemperatureProcedure, ev: dict[str, Any], t: float,
                   heat_source: str) -> float:
    """The DUT's immersion half-width (K) at ``t`` (°C) in ``heat_source``: from its stated
    immersion depth there (labauto.temperature.immersion: the largest published decay length,
    the room's temperature farthest from ``t``), else the procedure's flat
    ``evaluation.dut_immersion``."""
    imm = procedure.dut.immersion_in(heat_source)
    return imm.bound(t) if imm is not None else _ev(ev, "dut_immersion")


def _stated_depth(procedure: TemperatureProcedure) -> float | None:
    """The DUT's immersion depth (m) for the certificate: stated for every heat source its
    points use, else None (one depth would not be true of every point)."""
    imm = procedure.dut.immersion
    if imm is None or any(procedure.dut.immersion_in(p.heat_source) is None for p in procedure.points):
        return None
    return imm.depth_m


def _ev(ev: dict[str, Any], key: str) -> float:
    q = ev.get(key)
    return float(q.to("K").m) if q is not None else 0.0


def _k(confidence: float | None) -> float:
    """Coverage factor of a specification stated at ``confidence`` (normal distribution)."""
    if confidence is None:
        return math.sqrt(3.0)      # limits: a rectangular half-width is u·√3
    from statistics import NormalDist
    return NormalDist().inv_cdf(0.5 + confidence / 2)


# ------------------------------------------------------------------------------ certificate

def calibration_result(run: Any, evaluation: ComparisonEvaluation, lab: Any,
                       issue_date: Any = None) -> Any:
    """The certificate's data (:class:`labauto.temperature.results.TemperatureCalibrationResult`)
    of a completed comparison run: the lab file's parties, the item, the standards (the
    reference thermometer from its certificate; the readout and a DMM from the lab's register,
    refused there if unregistered or overdue; the heat sources as identified), the points and
    the fit."""
    import datetime as dt

    from labauto.results import Equipment, ProcedureRef
    from labauto.temperature.results import TemperatureCalibrationResult

    state = run.state()
    proc = evaluation.procedure
    times = [r["t"] for p in proc.points for r in state.points[p.id].readings]
    start, end = min(times), max(times)
    day = dt.date.fromisoformat(start[:10])
    ref = proc.reference
    standards = [Equipment("reference", ref.manufacturer, f"{ref.model} ({ref.kind})", ref.serial,
                           certificate_id=ref.certificate_id, calibrated_by=ref.issued_by,
                           calibration_due=ref.due.isoformat())]
    for role, rec in state.instruments.items():
        if role in ("reference readout", "dmm"):
            standards.append(lab.reference_equipment(rec["manufacturer"], rec["model"],
                                                     rec["serial"], rec.get("resource", ""),
                                                     rec.get("identity", ""),
                                                     rec.get("firmware", ""), today=day))
    for role, rec in state.instruments.items():
        if role.startswith("heat source "):
            standards.append(Equipment("reference", rec["manufacturer"], rec["model"],
                                       rec["serial"], firmware=rec.get("firmware", ""),
                                       resource=rec.get("resource", ""),
                                       identity=rec.get("identity", "")))
    item = run.settings.item or {}
    issued = issue_date or dt.date.today()
    from labauto.evaluation import _environment          # the electrical runs' summary
    environment = _environment(state, lab, today=day)
    return TemperatureCalibrationResult(
        certificate_id=f"{lab.certificate_prefix}-{start[:4]}-{run.run_id}",
        run_id=run.run_id, title=f"Calibration certificate — {proc.title}",
        laboratory=lab.laboratory, customer=lab.customer, authoriser=lab.authoriser,
        performed_by=run.settings.operator or lab.performed_by,
        item=Equipment("item", item.get("manufacturer", "not stated"),
                       item.get("model", proc.dut.description or proc.dut.sensor),
                       item.get("serial", "not stated")),
        standards=tuple(standards),
        procedure=ProcedureRef(proc.id, proc.title, proc.version, str(proc.path), proc.sha256),
        calibration_date=start[:10], calibration_end=end, issue_date=issued.isoformat(),
        receipt_date=state.header["t"][:10], points=evaluation.points,
        traceability=lab.traceability, fit=evaluation.fit, environment=environment,
        immersion_depth_m=_stated_depth(proc),
        remarks=(f"Method: {proc.method}",
                 "The reference readings bracket each reading of the item; readings were taken "
                 f"once the reference was stable ({proc.stability.describe()})."),
        country=lab.country, language="en")


def issue_comparison_certificate(run: Any, evaluation: ComparisonEvaluation, lab: Any,
                                 out_dir: Any, *, verify_base_url: str | None = None,
                                 queue: bool = True) -> Any:
    """Issue the temperature certificate of a completed run (PDF, signed DCC, JSON, the run's
    journal beside them) through :func:`labauto.temperature.issue.issue_temperature_certificate`."""
    from labauto.temperature.issue import issue_temperature_certificate

    result = calibration_result(run, evaluation, lab)
    return result, issue_temperature_certificate(result, out_dir, lab=lab,
                                                 verify_base_url=verify_base_url,
                                                 journal=run.journal.path, queue=queue)

"""The whole calibration chain as plain Python: run -> evaluate -> issue -> publish.

The Prefect flow (``flows/calibrate.py``) calls these same functions one task at a time; tests
and the ``--no-prefect`` CLI path call :func:`run_calibration` directly.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from labauto.certificate.wording import in_words
from labauto.engine.observer import RunObserver
from labauto.conditions import procedure_limits
from labauto.engine.preflight import reserved_instruments
from labauto.engine.run import Run, RunSettings, execute_points, new_run_id, open_run, start_run
from labauto.evaluation import evaluate_run
from labauto.issuing import IssuedCertificate, issue_certificate
from labauto.lab import LabConfig, load_lab
from labauto.procedure import Procedure, load_procedure
from labauto.publishing import not_requested, publish_issued
from labauto.results import CalibrationResult
from labauto.uncertainty.rounding import round_for_report


@dataclass
class CalibrationOutcome:
    result: CalibrationResult
    issued: IssuedCertificate
    run_folder: Path
    publication: dict[str, Any] = field(default_factory=dict)

    @property
    def files(self) -> dict[str, Path]:
        return self.issued.files


@dataclass(frozen=True)
class Checked:
    """What the pre-flight checks found: the run id, the procedure, the lab, and who the
    instruments are (``{"item": Identity, "reference": Identity}``)."""

    run_id: str
    procedure: Procedure
    lab: LabConfig
    identities: dict[str, Any]


@contextmanager
def preflight(procedure_path: str | Path, *, dut_resource: str, standard_resource: str,
              lab_file: str | Path | None = None, resume_folder: str | Path | None = None,
              run_id: str | None = None, timeout_ms: int = 10000,
              resource_manager: Any = None) -> Iterator[Checked]:
    """Check procedure, lab register and instruments before a run exists, and hold the
    instrument locks for the ``with`` block (see :mod:`labauto.engine.preflight`).  The run id
    is a resumed run's own, ``run_id``, or a new one.  Nothing is created on disk."""
    lab = load_lab(lab_file)
    if resume_folder:
        run = open_run(resume_folder, procedure_path)     # refuses a changed procedure or model
        procedure, run_id = run.procedure, run.run_id
    else:
        procedure, run_id = load_procedure(procedure_path), run_id or new_run_id()
    certificate = procedure.reference_certificate     # the standard known by its certificate
    if certificate is not None:
        certificate.check_usable(dt.date.today())     # in date, before any instrument is touched
    for use in procedure.shunts:                      # so are the external current shunts
        use.shunt.check_usable(dt.date.today())
    procedure_limits(lab.environment.limits, procedure)       # limits both can hold

    def check_identities(identities: dict[str, Any]) -> None:
        lab.check_identities(identities)
        if certificate is not None:                   # and the certified instrument
            certificate.check_usable(dt.date.today(), identities["reference"].serial)

    with reserved_instruments(run_id, procedure, dut_resource, standard_resource,
                              timeout_ms=timeout_ms, check_identities=check_identities,
                              resource_manager=resource_manager) as identities:
        yield Checked(run_id, procedure, lab, identities)


def start_or_resume_run(procedure_path: str | Path, *, runs_dir: str | Path,
                        dut_resource: str, standard_resource: str,
                        resume_folder: str | Path | None = None, settle_scale: float = 1.0,
                        timeout_ms: int = 10000, lab_file: str | Path | None = None,
                        environment_resource: str | None = None,
                        run_id: str | None = None, item_condition: str | None = None,
                        item_condition_confirmed: bool = False) -> Run:
    """A new run, or an interrupted one reopened with these resources.

    ``item_condition``: the item's condition on receipt as the technician stated it
    (``item_condition_confirmed``); None: the lab file's default, recorded as not confirmed by a
    technician.  A resumed run keeps the condition recorded when it started."""
    lab = load_lab(lab_file)
    if item_condition is None:
        item_condition, item_condition_confirmed = lab.item_condition_default, False
    settings = RunSettings(dut_resource, standard_resource, timeout_ms, settle_scale,
                           lab.performed_by, environment_resource or "",
                           " ".join(item_condition.split()), bool(item_condition_confirmed))
    if resume_folder:
        run = open_run(resume_folder, procedure_path)
        kept = {k: getattr(run.settings, k) for k in ("item_condition", "item_condition_confirmed")}
        run.settings = dataclasses.replace(settings, **kept)
        return run
    return start_run(load_procedure(procedure_path), runs_dir, settings, run_id)


def reopen_run(folder: str | Path, *, dut_resource: str, standard_resource: str,
               settle_scale: float = 1.0, timeout_ms: int = 10000,
               environment_resource: str | None = None) -> Run:
    """Reopen a run with these resources (the operator and, unless given, the environment
    logger as the run started)."""
    run = open_run(folder)
    run.settings = dataclasses.replace(
        run.settings, dut_resource=dut_resource, standard_resource=standard_resource,
        timeout_ms=timeout_ms, settle_scale=settle_scale,
        environment_resource=run.settings.environment_resource if environment_resource is None
        else environment_resource)
    return run


def measure_points(run: Run, point_ids: Sequence[str] | None = None, *,
                   lab_file: str | Path | None = None, lab: LabConfig | None = None,
                   resource_manager: Any = None, observer: RunObserver | None = None,
                   sleep: Any = None, ask_steps: bool = True) -> None:
    """Measure the given points (default: all pending) after checking the standard's register
    entry (listed, calibration not overdue); ``ask_steps=False``: the caller had the operator
    steps done (see :func:`labauto.engine.run.execute_points`)."""
    lab = lab or load_lab(lab_file)
    points = None
    if point_ids is not None:
        by_id = {p.id: p for p in run.procedure.points}
        points = [by_id[i] for i in point_ids]
    kwargs: dict[str, Any] = {"resource_manager": resource_manager, "observer": observer,
                              "check_identities": lab.check_identities,
                              "environment": lab.environment, "ask_steps": ask_steps}
    if sleep is not None:
        kwargs["sleep"] = sleep
    execute_points(run, points, **kwargs)


def adjust_if_needed(run: Run, *, lab_file: str | Path | None = None, lab: LabConfig | None = None,
                     resource_manager: Any = None, observer: RunObserver | None = None,
                     sleep: Any = None) -> dict[str, Any] | None:
    """As found -> adjustment -> as left, when the procedure declares an adjustment: decide
    with its policy from the as-found results (journalled once), adjust the DUT and measure
    every point again.  Returns the decision (None: the procedure declares no adjustment)."""
    if run.procedure.adjustment is None:
        return None
    from labauto.engine import adjustment as adj
    from labauto.evaluation import evaluate_as_found

    lab = lab or load_lab(lab_file)
    decision = adj.decision(run)
    if decision is None:
        adjust, reason = run.procedure.adjustment.decide(evaluate_as_found(run))
        decision = adj.record_decision(run, adjust, reason)
    if not decision["adjust"]:
        return decision
    kwargs: dict[str, Any] = {"resource_manager": resource_manager, "observer": observer,
                              "check_identities": lab.check_identities}
    if sleep is not None:
        kwargs["sleep"] = sleep
    adj.adjust(run, **kwargs)
    adj.measure_as_left(run, environment=lab.environment, **kwargs)
    return decision


def evaluate_and_issue(run_folder: str | Path, *, lab_file: str | Path | None = None,
                       out_dir: str | Path = "certificates",
                       verify_base_url: str | None = None,
                       issue_date: dt.date | None = None, queue: bool = True) -> CalibrationOutcome:
    """Evaluate the run and issue its certificate; ``queue``: put the signed DCC in the
    publishing outbox (False when publication was not requested)."""
    run = open_run(run_folder)
    lab = load_lab(lab_file)
    result = evaluate_run(run, lab, issue_date=issue_date)
    issued = issue_certificate(result, Path(out_dir), lab=lab, verify_base_url=verify_base_url,
                               journal=run.journal.path, queue=queue)
    run.journal.run_end("issued", certificate_id=result.certificate_id,
                        dcc_sha256=issued.dcc_sha256)
    return CalibrationOutcome(result, issued, Path(run_folder))


def publish_outcome(outcome: CalibrationOutcome) -> dict[str, Any]:
    outcome.publication = publish_issued(outcome.issued)
    return outcome.publication


def run_calibration(procedure_path: str | Path, *, dut_resource: str, standard_resource: str,
                    runs_dir: str | Path = "runs", out_dir: str | Path = "certificates",
                    lab_file: str | Path | None = None, resume_folder: str | Path | None = None,
                    settle_scale: float = 1.0, timeout_ms: int = 10000,
                    verify_base_url: str | None = None, publish: bool = True,
                    observer: RunObserver | None = None,
                    resource_manager: Any = None, run_id: str | None = None,
                    environment_resource: str | None = None, item_condition: str | None = None,
                    item_condition_confirmed: bool = False) -> CalibrationOutcome:
    """The main job without Prefect: pre-flight checks, every point, then evaluation,
    certificate and publishing.  The instrument locks are held from the pre-flight checks
    until the last point's instruments are safe and closed.  ``environment_resource``: the
    thermo-hygrometer recording the ambient conditions; ``item_condition``: see
    :func:`start_or_resume_run`."""
    with preflight(procedure_path, dut_resource=dut_resource, standard_resource=standard_resource,
                   lab_file=lab_file, resume_folder=resume_folder, run_id=run_id,
                   timeout_ms=timeout_ms, resource_manager=resource_manager) as checked:
        run = start_or_resume_run(procedure_path, runs_dir=runs_dir, dut_resource=dut_resource,
                                  standard_resource=standard_resource, resume_folder=resume_folder,
                                  settle_scale=settle_scale, timeout_ms=timeout_ms,
                                  lab_file=lab_file, environment_resource=environment_resource,
                                  run_id=checked.run_id, item_condition=item_condition,
                                  item_condition_confirmed=item_condition_confirmed)
        measure_points(run, lab_file=lab_file, observer=observer, resource_manager=resource_manager)
        adjust_if_needed(run, lab_file=lab_file, observer=observer, resource_manager=resource_manager)
    outcome = evaluate_and_issue(run.folder, lab_file=lab_file, out_dir=out_dir,
                                 verify_base_url=verify_base_url, queue=publish)
    if publish:
        publish_outcome(outcome)
    else:
        outcome.publication = not_requested(outcome.issued)
    return outcome


def _fmt(q: Any, unit: Any = None) -> str:
    """``q`` (in ``unit``) in its shortest exact form."""
    q = q.to(unit) if unit is not None else q
    return f"{q.magnitude:.10g} {q.units:~P}"


def results_table_rows(result: CalibrationResult) -> list[dict[str, Any]]:
    """Per-point rows as the certificate states them: U rounded up to two significant digits
    (ILAC-P14), error and mean reading rounded to the same decimal place, error/U/tolerance in
    the engineering unit of U."""
    rows = []
    for p in result.points:
        unit = p.expanded_uncertainty.units
        err, U = round_for_report(p.error, p.expanded_uncertainty)
        mean, _ = round_for_report(p.mean, p.expanded_uncertainty, p.nominal.units)
        rows.append({
            "point": p.point_id,
            "range": _fmt(p.range),
            "nominal": _fmt(p.nominal),
            "mean reading": f"{mean:f} {p.nominal.units:~P}",
            "error": f"{err:f} {unit:~P}",
            "U": f"{U:f} {unit:~P}",
            "k": f"{p.coverage_factor:.2f}",
            "tolerance": "± " + _fmt(p.tolerance, unit),
            "TUR": f"{p.tur:.1f}",
            "decision": p.decision,
        })
    return rows


def summary_markdown(outcome: CalibrationOutcome) -> str:
    r = outcome.result
    rows = results_table_rows(r)
    head = list(rows[0]) if rows else []
    lines = [f"# Calibration certificate {r.certificate_id}", "",
             f"- Item: {r.item.manufacturer} {r.item.model}, serial {r.item.serial_number}",
             f"- Procedure: {r.procedure.id} v{r.procedure.version} (sha256 {r.procedure.sha256[:16]}…)",
             f"- Decision rule: {in_words(r.decision_rule.description, r.measurement_model)}",
             f"- Overall: **{r.overall_decision}**",
             f"- Signed DCC sha256: `{outcome.issued.dcc_sha256}`", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(row[h]) for h in head) + " |" for row in rows]
    return "\n".join(lines) + "\n"

"""The ``calibrate`` Prefect flow: one task per stretch of test points that needs no person (all
the points when the procedure has no operator steps), then evaluation, certificate, publish.

The calibration engine (``labauto.engine``) is plain Python; this module only orchestrates it:

    instrument slots (Prefect global concurrency, one per instrument: flows/instrument_slots.py)
    pre-flight: procedure, register, instrument identities; instrument locks held from here
    operator steps before a point: the terminal, or a pause for input (flows/operator_input.py)
    measure <points up to the next operator step> (retried on transient VISA errors from the
        point that failed, never cached)
      -> evaluate -> issue certificate (PDF, signed DCC XML, JSON) -> publish via the outbox

Tasks receive resource strings and paths, never pyvisa objects, so retries and the Prefect
server see only plain data.  The points are not one task each: a task run costs the Prefect
server about 30 ms of CPU (its state events: task-run records, event store), more than the
25 ms per point the flow may add to the plain engine; the journal, not the task states, is
what a run resumes from.  Every reading is in the run journal before the task returns; a
crashed or interrupted flow is resumed with ``resume_run``.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from labauto.calibration import (
    CalibrationOutcome,
    evaluate_and_issue,
    measure_points,
    preflight,
    publish_outcome,
    reopen_run,
    results_table_rows,
    start_or_resume_run,
    summary_markdown,
)
from labauto.engine.observer import current_observer
from labauto.engine.preflight import DUT, STANDARD
from labauto.engine.run import Run, instruments_kept_open, new_run_id, stretches
from labauto.publishing import not_requested
from labauto.visa.errors import TransientVisaError

from flows.heartbeat import dont_wait_for_heartbeat_thread
from flows.instrument_slots import InstrumentSlots
from flows.operator_input import asking_by_pause, confirm_step, wait_for_technician

dont_wait_for_heartbeat_thread()      # (process-wide: a flow run's end waited up to 1 s for it)


def _retry_transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Retry points only for transient VISA faults (timeouts, lost connections)."""
    try:
        state.result()
    except TransientVisaError:
        return True
    except BaseException:  # noqa: BLE001 - anything else is permanent: do not retry
        return False
    return False


def _points_label() -> str:
    from prefect.runtime import task_run

    ids = task_run.parameters["point_ids"]
    return "measure " + (ids[0] if len(ids) == 1 else f"{ids[0]} … {ids[-1]} ({len(ids)} points)")


@task(name="measure-points", task_run_name=_points_label, retries=2, retry_delay_seconds=1,
      retry_condition_fn=_retry_transient_only, cache_policy=NO_CACHE)
def measure_points_task(run_folder: str, point_ids: list[str], dut_resource: str,
                        standard_resource: str, lab_file: str | None, settle_scale: float,
                        timeout_ms: int, environment_resource: str | None = None) -> list[str]:
    """Measure the points ``point_ids`` not yet completed (a retry goes on from the point that
    failed: every reading is in the journal)."""
    run = reopen_run(run_folder, dut_resource=dut_resource,
                     standard_resource=standard_resource, settle_scale=settle_scale,
                     timeout_ms=timeout_ms, environment_resource=environment_resource)
    # the flow had the operator steps before these points done (flows/operator_input.py)
    measure_points(run, _pending(run, point_ids), lab_file=lab_file, ask_steps=False,
                   observer=LoggedPoints(current_observer(), get_run_logger()))
    return point_ids


class LoggedPoints:
    """The process's observer (e.g. the CLI's progress bars), and a line in the flow run's log
    for each point measured: the Prefect UI shows a run's progress point by point, its points
    being no longer one task each."""

    def __init__(self, inner: Any, log: Any) -> None:
        self._inner, self._log = inner, log

    def point_finished(self, point: Any) -> None:
        self._inner.point_finished(point)
        self._log.info("point %s measured", point.id)

    def __getattr__(self, name: str) -> Any:      # the rest (and optional hooks) as the inner
        return getattr(self._inner, name)


def _pending(run: Run, point_ids: list[str]) -> list[str]:
    done = run.state().completed_ids()
    return [i for i in point_ids if i not in done]


def _measure_in_tasks(run: Run, point_ids: list[str], *args: Any) -> None:
    """The points ``point_ids`` in one task (its retries: two for a transient fault, each going
    on from the point that failed); a task that used its retries but completed points is
    followed by one for the rest: a run fails on transient faults only when a point stalls."""
    todo = _pending(run, point_ids)
    while todo:
        try:
            measure_points_task(str(run.folder), todo, *args)
            return
        except TransientVisaError:
            left = _pending(run, point_ids)
            if len(left) == len(todo):
                raise
            todo = left


@task(name="adjust", cache_policy=NO_CACHE)
def adjust_task(run_folder: str, dut_resource: str, standard_resource: str, lab_file: str | None,
                settle_scale: float, timeout_ms: int,
                environment_resource: str | None = None) -> dict[str, Any] | None:
    """As found -> adjustment -> as left, when the procedure declares an adjustment."""
    from labauto.calibration import adjust_if_needed

    run = reopen_run(run_folder, dut_resource=dut_resource, standard_resource=standard_resource,
                     settle_scale=settle_scale, timeout_ms=timeout_ms,
                     environment_resource=environment_resource)
    return adjust_if_needed(run, lab_file=lab_file)


@task(name="evaluate-and-issue", cache_policy=NO_CACHE)
def evaluate_task(run_folder: str, lab_file: str | None, out_dir: str,
                  verify_base_url: str | None, queue: bool = True) -> CalibrationOutcome:
    return evaluate_and_issue(run_folder, lab_file=lab_file, out_dir=out_dir,
                              verify_base_url=verify_base_url, queue=queue)


@task(name="record-in-register", cache_policy=NO_CACHE)
def record_in_register_task(lab_file: str | None, asset_id: str,
                            outcome: CalibrationOutcome) -> str | None:
    """The issued certificate becomes the item's latest calibration in the equipment register;
    the item's schedule is anchored on its new due date."""
    from flows.schedules import record_calibration, sync

    result = outcome.result
    due = record_calibration(lab_file, asset_id, certificate_id=result.certificate_id,
                             as_found_decision=result.as_found_decision,
                             adjusted=bool(result.adjusted),
                             sha256=outcome.issued.dcc_sha256)
    log = get_run_logger()
    log.info("register item %s: calibrated (certificate %s), next due %s", asset_id,
             result.certificate_id, due)
    try:
        sync(lab_file, only=asset_id)
    except Exception as exc:  # noqa: BLE001 - the calibration is recorded; the schedule can wait
        log.warning("the schedule of %s was not re-anchored (%s); run `labauto schedule sync`",
                    asset_id, exc)
    return due.isoformat() if due else None


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(outcome: CalibrationOutcome) -> dict[str, Any]:
    return publish_outcome(outcome)


@flow(name="calibrate", log_prints=False)
def calibrate(procedure: str, dut_resource: str, standard_resource: str, runs_dir: str = "runs",
              out_dir: str = "certificates", lab_file: str | None = None,
              resume_run: str | None = None, settle_scale: float = 1.0, timeout_ms: int = 10000,
              verify_base_url: str | None = None, publish: bool = True,
              run_id: str | None = None,
              environment_resource: str | None = None, item_condition: str | None = None,
              item_condition_confirmed: bool = False,
              instrument_wait_s: float | None = 3600.0,
              operator_timeout_s: float = 3600.0, register_item: str | None = None,
              attended: bool = False) -> dict[str, Any]:
    """Calibrate the DUT at ``dut_resource`` against the standard at ``standard_resource``;
    ``environment_resource``: the thermo-hygrometer that records the ambient conditions.

    The flow run holds one Prefect concurrency slot per instrument (waiting up to
    ``instrument_wait_s`` for a busy bench; None: as long as it takes), then the pre-flight
    checks take the instrument locks; slots and locks are held until the last point's task has
    left the instruments safe: no other run can take them between two tasks.

    A procedure's operator steps are asked before the point that needs them, between two tasks
    (instruments safe and closed): at the terminal when a person is there, otherwise by pausing
    the flow run for the technician's answer (``operator_timeout_s``; flows/operator_input.py).

    A scheduled calibration of the register's item ``register_item`` (``labauto schedule
    sync``) records its certificate in the register (the item's due date moves on); one marked
    ``attended`` (its procedure has operator steps) first waits for a technician at the bench."""
    log = get_run_logger()
    if attended:
        wait_for_technician(f"the calibration of {register_item or 'this item'} ({procedure})",
                            timeout_s=operator_timeout_s, log=log)
    run_id = run_id or (Path(resume_run).name if resume_run else new_run_id())
    with InstrumentSlots(run_id, wait_s=instrument_wait_s, log=log) as slots, ExitStack() as held:
        slots.hold_resources({DUT: dut_resource, STANDARD: standard_resource,
                              "the environment logger": environment_resource})
        checked = held.enter_context(preflight(
            procedure, dut_resource=dut_resource, standard_resource=standard_resource,
            lab_file=lab_file, resume_folder=resume_run, run_id=run_id, timeout_ms=timeout_ms))
        slots.hold_identities(checked.identities)
        run = start_or_resume_run(
            procedure, runs_dir=runs_dir, resume_folder=resume_run, dut_resource=dut_resource,
            standard_resource=standard_resource, settle_scale=settle_scale, timeout_ms=timeout_ms,
            lab_file=lab_file, environment_resource=environment_resource, run_id=checked.run_id,
            item_condition=item_condition, item_condition_confirmed=item_condition_confirmed)
        pending = run.pending_points()
        log.info("run %s: %d of %d points to measure", run.run_id, len(pending),
                 len(run.procedure.points))
        kept = held.enter_context(instruments_kept_open(run.run_id))  # one session, as the engine
        for steps, points in stretches(run.procedure, pending):  # one DUT, one standard
            if steps:
                kept.close()          # safe and closed while the technician works
            for step in steps:
                confirm_step(run, step, points[0], timeout_s=operator_timeout_s, log=log)
            _measure_in_tasks(run, [p.id for p in points], dut_resource, standard_resource, lab_file,
                              settle_scale, timeout_ms, run.settings.environment_resource or None)
        if run.procedure.adjustment is not None:
            kept.close()        # (the adjustment opens its own session)
            with asking_by_pause(run, timeout_s=operator_timeout_s, log=log):
                adjust_task(str(run.folder), dut_resource, standard_resource, lab_file,
                            settle_scale, timeout_ms, run.settings.environment_resource or None)
    outcome = evaluate_task(str(run.folder), lab_file, out_dir, verify_base_url, queue=publish)
    create_table_artifact(key="calibration-results", table=results_table_rows(outcome.result),
                          description=f"Results of certificate {outcome.result.certificate_id}")
    create_markdown_artifact(key="certificate-summary", markdown=summary_markdown(outcome),
                             description=f"Certificate {outcome.result.certificate_id}")
    publication = publish_task(outcome) if publish else not_requested(outcome.issued)
    if register_item:
        record_in_register_task(lab_file, register_item, outcome)
    return {"run_id": run.run_id, "certificate_id": outcome.result.certificate_id,
            "files": {k: str(v) for k, v in outcome.files.items()},
            "overall_decision": outcome.result.overall_decision, "publication": publication,
            "timestamp": outcome.issued.timestamp, "run_folder": str(Path(run.folder))}

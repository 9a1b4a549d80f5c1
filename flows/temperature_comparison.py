"""The ``temperature-comparison`` Prefect flow: measure every setpoint, then evaluate, issue the
temperature certificate and publish it.

    [operator steps] -> measure <setpoints between two steps> (retried on transient VISA
                        faults: a retry resumes the run at the setpoint it stopped at, mid-ramp)
      -> ... -> evaluate-and-issue -> publish

The setpoints between two operator steps are measured in one task, with one session per
instrument: closing a heat source between two setpoints would send it to its safe setpoint (its
safe state) and undo the ramp.  At an operator step the probes move (from the bath into the
well): the instruments are closed, the sources at their safe setpoints, and the flow asks the
step as the ``calibrate`` flow does (the terminal, or a pause for input in the Prefect UI).
A display-only thermometer's readings are typed by the technician: with nobody at a terminal
and a Prefect server, each one pauses the flow run for a typed answer
(flows/operator_input.py ``TypedReading``: the number, its unit, who read it), answered in the
Prefect UI or with ``labauto operator answer RUN --reading "25.03 degC" --technician NAME``;
the measuring task keeps the heat source at the setpoint meanwhile (the reading is being
taken), and no answer within ``operator_timeout_s`` ends the run (the source to its safe
setpoint, resumable with ``resume_run``).
Tasks receive paths and resource strings; the clock (wall clock, or the zero-latency simulated
lab's) and the operator are the process's (labauto.engine.comparison.set_clock,
labauto.engine.operator.set_operator).
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.calibrate import _retry_transient_only
from flows.instrument_slots import InstrumentSlots
from flows.operator_input import asking_by_pause, confirm_step


@task(name="measure-setpoints", task_run_name="measure {label}", retries=2,
      retry_delay_seconds=1, retry_condition_fn=_retry_transient_only, cache_policy=NO_CACHE)
def measure_setpoints_task(run_folder: str, point_ids: list[str], lab_file: str | None,
                           label: str = "") -> list[str]:
    from labauto.engine.comparison import execute_comparison, open_comparison_run
    from labauto.lab import load_lab

    run = open_comparison_run(run_folder)
    lab = load_lab(lab_file)
    execute_comparison(run, environment=lab.environment, points=point_ids, confirm_steps=False,
                       check_identities=lab.check_identities)
    return sorted(run.state().completed_ids())


@task(name="evaluate-and-issue", cache_policy=NO_CACHE)
def issue_task(run_folder: str, lab_file: str | None, out_dir: str,
               verify_base_url: str | None, queue: bool) -> tuple[Any, Any, Any]:
    from labauto.comparison_evaluation import evaluate_comparison, issue_comparison_certificate
    from labauto.engine.comparison import open_comparison_run
    from labauto.lab import load_lab

    run = open_comparison_run(run_folder)
    evaluation = evaluate_comparison(run.procedure, run.state())
    result, issued = issue_comparison_certificate(run, evaluation, load_lab(lab_file), out_dir,
                                                  verify_base_url=verify_base_url, queue=queue)
    return evaluation, result, issued


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(issued: Any) -> dict[str, Any]:
    from labauto.publishing import publish_issued
    return publish_issued(issued)


def _tag_flow_run(run_id: str) -> None:
    """Tag the flow run ``run:<run id>`` on a Prefect server, as the ``calibrate`` flow's
    instrument slots do: `labauto operator pending|answer` name a paused run by its labauto run
    id, and a bench's recovery resumes its journal."""
    from prefect.context import FlowRunContext

    from flows.instrument_slots import server_url

    context = FlowRunContext.get()
    if server_url() is None or context is None or context.flow_run is None:
        return
    from prefect.client.orchestration import get_client

    tags = list(dict.fromkeys([*(context.flow_run.tags or []), f"run:{run_id}"]))
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=tags)
    context.flow_run.tags = tags


def _described_resources(run: Any) -> dict[str, str | None]:
    """``{what: VISA resource}`` of every instrument the run drives (its instrument slots)."""
    names = {"readout": "the reference readout", "dmm": "the DMM"}
    described: dict[str, str | None] = {
        names.get(key, f"the heat source {key}" if key in run.procedure.heat_sources
                  else f"the {key}"): resource
        for key, resource in run.settings.resources.items()}
    described["the environment logger"] = run.settings.environment_resource or None
    return described


@flow(name="temperature-comparison", log_prints=False)
def temperature_comparison(procedure: str, resources: dict[str, str], runs_dir: str = "runs",
                           out_dir: str = "certificates", lab_file: str | None = None,
                           resume_run: str | None = None, timeout_ms: int = 10000,
                           environment_resource: str | None = None,
                           verify_base_url: str | None = None, publish: bool = True,
                           item: dict[str, str] | None = None, operator: str = "",
                           operator_timeout_s: float = 3600.0, issue: bool = True,
                           run_id: str | None = None,
                           instrument_wait_s: float | None = 3600.0) -> dict[str, Any]:
    """Calibrate the thermometer ``procedure`` describes; ``resources`` maps "readout", each
    heat source's name and "dmm" to VISA resources (``issue=False``: measure only).  The setpoints between two operator steps
    are one task; the steps are asked between the tasks (flows/operator_input.py).

    As the ``calibrate`` flow, the flow run holds one Prefect concurrency slot per instrument
    (flows/instrument_slots.py; waiting up to ``instrument_wait_s`` for a busy bench, None: as
    long as it takes) until its last setpoint is measured."""
    from labauto.engine.comparison import (ComparisonSettings, open_comparison_run,
                                           reserved_instruments, start_comparison_run)
    from labauto.engine.run import stretches
    from labauto.lab import load_lab
    from labauto.procedure.temperature import load_temperature_procedure
    from labauto.publishing import not_requested

    log = get_run_logger()
    if resume_run:
        run = open_comparison_run(resume_run)
    else:
        run = start_comparison_run(load_temperature_procedure(procedure), runs_dir,
                                   ComparisonSettings(dict(resources), timeout_ms=timeout_ms,
                                                      operator=operator, item=dict(item or {}),
                                                      environment_resource=environment_resource or ""),
                                   run_id=run_id)
    _tag_flow_run(run.run_id)
    log.info("run %s: %d of %d setpoints to measure", run.run_id, len(run.pending_points()),
             len(run.procedure.points))
    with InstrumentSlots(run.run_id, wait_s=instrument_wait_s, log=log) as slots, \
            ExitStack() as held:
        slots.hold_resources(_described_resources(run))
        # pre-flight, as the calibrate flow's: the instruments identified (*IDN?) under their
        # resource slots and file locks, then their identity slots, before the first command
        # of the first task; the locks stay held to the end (the tasks re-enter them)
        instruments = held.enter_context(reserved_instruments(
            run, check_identities=load_lab(lab_file).check_identities))
        slots.hold_recorded_identities(instruments)
        for steps, segment in stretches(run.procedure, run.pending_points()):
            # the probes move between segments: the operator steps are asked here, between two
            # tasks, with the instruments closed (the terminal, or a pause for input)
            for step in steps:
                confirm_step(run, step, segment[0], timeout_s=operator_timeout_s, log=log)
            ids = [p.id for p in segment]
            # a display-only DUT's readings are typed inside the task: they pause the flow run
            with asking_by_pause(run, timeout_s=operator_timeout_s, log=log):
                measure_setpoints_task(str(run.folder), ids, lab_file,
                                       label=f"{ids[0]}..{ids[-1]} in {segment[0].heat_source}")
            slots.hold_recorded_identities(run.state().instruments)   # the environment logger
    if not issue:        # measured only: `labauto comparison resume RUN` issues it later
        return {"run_id": run.run_id, "run_folder": str(run.folder),
                "completed": sorted(run.state().completed_ids())}
    evaluation, result, issued = issue_task(str(run.folder), lab_file, out_dir, verify_base_url,
                                            publish)
    create_table_artifact(
        key="temperature-results",
        table=[{"point": p.id, "t / °C": r.nominal, "t_ref / °C": round(r.reference_temperature, 4),
                f"DUT / {r.unit}": r.value, f"U / {r.unit}": r.U, "error / K": r.error,
                "U(error) / K": r.U_error, "k": r.k}
               for p, r in zip(evaluation.procedure.points, evaluation.points)],
        description=f"Results of certificate {result.certificate_id}")
    publication = publish_task(issued) if publish else not_requested(issued)
    return {"run_id": run.run_id, "run_folder": str(run.folder),
            "certificate_id": result.certificate_id,
            "files": {k: str(v) for k, v in issued.files.items()}, "publication": publication,
            "evaluation": evaluation, "result": result, "issued": issued}

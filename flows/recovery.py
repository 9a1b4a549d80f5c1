"""Runs orphaned by a dead worker: found when the bench's worker (re)starts, and resumed.

A worker killed with SIGKILL (with its flow-run process, e.g. the machine) leaves its flow run
"Running" on the server, with nobody running it.  ``labauto lab up`` calls
:func:`recover_bench` before it starts (or restarts) a bench's worker: every flow run of the
bench's work queue that is Running or Pending but whose process (the worker's
``infrastructure_pid``, on this machine) is gone is marked Crashed, and a new flow run of the
same deployment with the same parameters resumes the labauto run from its journal
(``resume_run``: completed points are not measured again, every reading taken is kept; a point
that was being measured is measured again as a new attempt, its earlier readings staying in
the journal).  A run that had not started measuring (no journal yet) is simply run again.

Before anything else, the dead run's DUT and standard are opened and left safe (a source in
standby, :func:`leave_safe`): the process died with them possibly live.  The dead run's
instrument slots are then released at once (the leases it recorded in its
``lease:`` tags; flows/instrument_slots.py): its process is gone, so nobody drives those
instruments.  Slots of a run that recorded no lease are freed when their lease runs out (60 s);
the resumed run waits for them, saying so in its log.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from labauto.benches import Bench


def process_alive(pid: str | int | None) -> bool:
    """Whether a flow-run process ``pid`` still runs on this machine."""
    try:
        pid = int(str(pid).rsplit(":", 1)[-1])
    except (TypeError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:                          # a recycled pid is not our flow run
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"prefect" in cmdline


def orphaned_runs(bench: Bench) -> list[Any]:
    """Running or pending flow runs of the bench's queue whose process is gone."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterState,
                                                FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType

    from flows.deployments import WORK_POOL

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING]))))
        pool_queue = {q.id for q in client.read_work_queues(work_pool_name=WORK_POOL)
                      if q.name == bench.deployment}
    return [r for r in runs if r.deployment_id is not None and r.work_queue_id in pool_queue
            and r.infrastructure_pid and not process_alive(r.infrastructure_pid)]


def resume_parameters(flow_run: Any) -> dict[str, Any]:
    """The dead run's parameters, resuming its labauto run when its journal exists."""
    params = dict(flow_run.parameters or {})
    run_id = next((t[4:] for t in flow_run.tags if t.startswith("run:")), None)
    folder = Path(params.get("runs_dir") or "runs") / run_id if run_id else None
    if params.get("resume_run"):
        return params                                    # it was already a resumption
    if folder is not None and (folder / "journal.jsonl").exists():
        params["resume_run"] = str(folder)
        params.pop("run_id", None)
    elif run_id:
        params["run_id"] = None                          # nothing measured: run it afresh
    return params


def leave_safe(params: dict[str, Any]) -> str:
    """Open the dead run's DUT and standard and leave them safe (a source in standby, output
    off): its process died with them possibly live, and nobody drives them until the resumed
    run starts.  Done before the run's instrument slots are released, under the instruments'
    file locks.  Returns "safe", or why they were not reached (the resumed run's pre-flight
    checks then name the instrument)."""
    from contextlib import ExitStack

    from labauto.engine.locks import InstrumentLocks, open_locked
    from labauto.engine.preflight import DUT, STANDARD
    from labauto.procedure import load_procedure

    from flows.deployments import ROOT

    if not params.get("procedure") or not params.get("standard_resource"):
        return "not a calibration (no procedure and standard): nothing to make safe"
    try:
        path = Path(params["procedure"])
        procedure = load_procedure(path if path.is_absolute() or path.exists() else ROOT / path)
        with ExitStack() as stack:
            locks = stack.enter_context(InstrumentLocks("recovery", timeout_s=0))
            for what, resource, model in ((STANDARD, params["standard_resource"],
                                           procedure.standard_model),
                                          (DUT, params.get("dut_resource"), procedure.dut_model)):
                if resource:            # connecting leaves it safe; so does closing it
                    open_locked(stack, locks, what, resource, model,
                                timeout_ms=int(params.get("timeout_ms") or 10000))
    except Exception as exc:  # noqa: BLE001 - reported; the resumption goes ahead
        return f"not made safe: {exc}"
    return "safe"


def recover_bench(bench: Bench) -> list[dict[str, Any]]:
    """Mark the bench's orphaned flow runs Crashed and submit their resumptions."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    from flows.instrument_slots import release_leases

    done = []
    for run in orphaned_runs(bench):
        params = resume_parameters(run)
        safe = leave_safe(params)
        release_leases(run)
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run.id, Crashed(
                message="its worker died (process gone); resumed by a new flow run"), force=True)
            new = client.create_flow_run_from_deployment(
                run.deployment_id, parameters=params,
                tags=[t for t in run.tags if not t.startswith(("holds:", "run:", "lease:"))]
                + [f"resumes:{run.id}"])
        done.append({"crashed": str(run.id), "name": run.name, "resumed_by": str(new.id),
                     "resume_run": params.get("resume_run"), "instruments": safe})
    return done

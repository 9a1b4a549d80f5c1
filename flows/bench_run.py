"""``labauto run PROCEDURE --bench NAME`` with a Prefect server: submit the calibration to the
bench's deployment (``calibrate/bench-NAME``, run by that bench's worker) and follow it.

While it runs, its state changes are printed; when it pauses for the technician, a person at
this terminal may answer (the same answer as ``labauto operator answer``); the certificate's
summary (the flow run's markdown artifact) is printed at the end.
"""
from __future__ import annotations

import time
from typing import Any, Callable
from uuid import UUID

from labauto.benches import Bench


def submit(bench: Bench, parameters: dict[str, Any]) -> Any:
    """Create a flow run of the bench's calibrate deployment (it runs on the bench's worker)."""
    from prefect.deployments import run_deployment

    return run_deployment(f"calibrate/{bench.deployment}", parameters=parameters, timeout=0,
                          tags=[f"bench:{bench.name}"])


def follow(flow_run_id: UUID, *, say: Callable[[str], None],
           answer: Callable[[dict[str, Any]], Any] | None = None, poll_s: float = 1.0) -> Any:
    """Print the run's state changes until it is final; a pause for input is offered to
    ``answer(waiting) -> StepDone | None`` (None: leave it to the UI or another terminal)."""
    from prefect.client.orchestration import get_client

    from flows.operator_input import send_answer, waiting_runs

    last, offered = None, set()
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            state = run.state
            label = f"{state.type.value} {state.name}" if state else "?"
            if label != last:
                say(f"flow run {run.name}: {state.name if state else '?'}"
                    + (f" ({state.message})" if state and state.message else ""))
                last = label
            if state is not None and state.is_final():
                return run
            if state is not None and state.is_paused() and answer is not None:
                key = (state.state_details.pause_key or "") if state.state_details else ""
                if key not in offered:
                    offered.add(key)
                    waiting = next((w for w in waiting_runs() if w["flow_run_id"] == str(run.id)), None)
                    if waiting is not None:
                        reply = answer(waiting)
                        if reply is not None:
                            send_answer(str(run.id), reply)
            time.sleep(poll_s)


def summary(flow_run_id: UUID) -> str | None:
    """The certificate summary the flow run published (markdown), if any."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return next((a.data for a in arts if a.key == "certificate-summary"), None)

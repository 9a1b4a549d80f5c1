"""The lab's Prefect deployments: one work pool, one work queue and worker per bench.

    work pool  labauto (type process)         queues  bench-<name>, one per bench
    calibrate/bench-<name>        the bench's calibrations, launched by a technician (Prefect UI,
                                  ``labauto run ... --bench NAME``); the bench's instruments
                                  and folders are its default parameters
    calibrate/item-<asset id>     a register item's scheduled calibration (``labauto schedule
                                  sync``), on its bench's queue
    check-standard/bench-<name>   intermediate checks with check standards on the bench
    validate/bench-<name>         software validation runs on the bench

A worker per bench (``prefect worker start --pool labauto --work-queue bench-<name>``, started
by ``labauto lab up``) runs the flow runs of its bench in a subprocess of the project folder.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Iterable

from labauto.benches import Bench

ROOT = Path(__file__).resolve().parents[1]
WORK_POOL = "labauto"
ENTRYPOINTS = {               # flow name -> entrypoint (relative to the project folder)
    "calibrate": "flows/calibrate.py:calibrate",
    "check-standard": "flows/check_standard.py:check_standard",
    "validate": "flows/validate.py:validate",
}


def job_variables(lab_file: Path) -> dict[str, Any]:
    """How the bench's worker starts a flow run: in the project folder, with the lab file."""
    env = {"PYTHONPATH": str(ROOT), "LABAUTO_LAB": str(lab_file),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    for name in ("LABAUTO_HOME", "LABAUTO_LOCK_DIR", "LABAUTO_PLATFORM_URL", "LABAUTO_OUTBOX"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return {"working_dir": str(ROOT), "env": env}


def bench_parameters(bench: Bench, lab_file: Path) -> dict[str, Any]:
    """The calibrate flow's defaults on ``bench`` (a technician gives procedure and DUT)."""
    params: dict[str, Any] = {"standard_resource": bench.standard, "lab_file": str(lab_file),
                              "runs_dir": str(bench.runs_dir), "out_dir": str(bench.out_dir)}
    if bench.dut:
        params["dut_resource"] = bench.dut
    if bench.environment:
        params["environment_resource"] = bench.environment
    return params


@functools.lru_cache(maxsize=None)
def _source_flow(flow_name: str) -> Any:
    """The flow loaded from its file in the project folder (its storage: that folder)."""
    from prefect import Flow

    return Flow.from_source(source=str(ROOT), entrypoint=ENTRYPOINTS[flow_name])


def _deployment(flow_name: str, name: str, *, queue: str, lab_file: Path,
                parameters: dict[str, Any] | None = None, tags: Iterable[str] = (),
                description: str = "", schedules: list[Any] | None = None) -> Any:
    """A deployment of the flow at ``ENTRYPOINTS[flow_name]`` whose runs start in the project
    folder (its pull step sets the working directory; nothing is copied)."""
    return _source_flow(flow_name).to_deployment(
        name=name, parameters=parameters or {}, tags=list(tags), description=description,
        work_queue_name=queue, job_variables=job_variables(lab_file), schedules=schedules)


def bench_deployments(benches: Iterable[Bench], lab_file: Path) -> list[Any]:
    """The deployments of every bench: calibrate, check-standard, validate."""
    out = []
    for b in benches:
        tags = [f"bench:{b.name}"]
        out.append(_deployment("calibrate", b.deployment, queue=b.deployment, lab_file=lab_file,
                               parameters=bench_parameters(b, lab_file), tags=tags,
                               description=f"Calibrations on bench {b.name} (standard {b.standard})"))
        out.append(_deployment("check-standard", b.deployment, queue=b.deployment,
                               lab_file=lab_file, tags=tags,
                               description=f"Intermediate checks on bench {b.name}"))
        out.append(_deployment("validate", b.deployment, queue=b.deployment, lab_file=lab_file,
                               tags=tags, description=f"Software validation on bench {b.name}"))
    return out


def ensure_work_pool(benches: Iterable[Bench]) -> None:
    """The lab's work pool (process) and one work queue per bench."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process",
                                                   description="labauto: one queue per bench"))
        except ObjectAlreadyExists:
            pass
        existing = {q.name for q in client.read_work_queues(work_pool_name=WORK_POOL)}
        for b in benches:
            if b.deployment not in existing:
                client.create_work_queue(name=b.deployment, work_pool_name=WORK_POOL,
                                         description=f"bench {b.name}")


def apply(deployments: Iterable[Any]) -> list[str]:
    """Create or update ``deployments`` on the server; returns ``flow/deployment`` names."""
    names = []
    for d in deployments:
        d.apply(work_pool_name=WORK_POOL)
        names.append(f"{d.flow_name}/{d.name}")
    return names


def deploy_lab(lab_file: str | Path | None = None) -> list[str]:
    """Work pool, queues and the benches' deployments of the lab file, on the server of
    ``PREFECT_API_URL``."""
    from labauto.benches import lab_file_path, load_benches

    path = lab_file_path(lab_file)
    benches = list(load_benches(path).values())
    ensure_work_pool(benches)
    return apply(bench_deployments(benches, path))

"""Schedules from the register: ``labauto schedule sync``.

Every item of the lab's equipment register that names a ``procedure`` (it is calibrated
in-house) and a ``bench`` gets a deployment ``calibrate/item-<asset id>`` on its bench's work
queue, with a Prefect interval schedule: every ``interval`` of the item, the first run on its
due date (the latest calibration's due date; an item never calibrated or overdue is due now).
The calibration records itself in the register when its certificate is issued (the item's due
date moves on) and re-anchors the item's schedule on the new due date.

An item whose procedure has operator steps (a person must move leads, fit a short) is scheduled
*attended*: its run waits, paused, for a technician to say they are at the bench before anything
is touched (Prefect UI or ``labauto operator answer``), and is never run unattended.

``sync`` checks every scheduled item first (its bench exists and has a DUT port, its procedure
loads) and changes nothing when one is wrong; it then creates or updates the items' deployments
and deletes those of items no longer scheduled.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labauto.benches import Bench, lab_file_path, load_benches
from labauto.errors import LabautoError

PREFIX = "item-"


class ScheduleRefused(LabautoError):
    """The register cannot be scheduled as it is (the message lists every problem)."""


@dataclass(frozen=True)
class ItemSchedule:
    asset_id: str
    bench: Bench
    procedure: Path
    procedure_id: str
    interval_days: float
    due: dt.date
    attended: bool               # the procedure needs a person: the run waits for a technician

    @property
    def deployment(self) -> str:
        return PREFIX + self.asset_id

    def anchor(self, now: dt.datetime | None = None) -> dt.datetime:
        """The first run: 06:00 UTC on the due date when that is a later day; a minute from now
        when the item is due today or overdue (due means due now, not later today)."""
        now = now or dt.datetime.now(dt.timezone.utc)
        if self.due <= now.date():
            return now + dt.timedelta(minutes=1)
        return dt.datetime.combine(self.due, dt.time(6, 0), tzinfo=dt.timezone.utc)

    def describe(self) -> dict[str, Any]:
        return {"item": self.asset_id, "bench": self.bench.name, "procedure": str(self.procedure),
                "interval_days": self.interval_days, "due": self.due.isoformat(),
                "attended": self.attended, "deployment": f"calibrate/{self.deployment}"}


def plan_schedules(lab_file: str | Path | None = None,
                   today: dt.date | None = None) -> tuple[list[ItemSchedule], list[str]]:
    """The schedules the register asks for, and the items not scheduled (with why); raises
    :class:`ScheduleRefused` listing every item that cannot be scheduled."""
    from labauto.lab import load_lab
    from labauto.procedure import load_procedure

    path = lab_file_path(lab_file)
    lab = load_lab(path)
    store = lab.open_register()
    if store is None:
        raise ScheduleRefused(f"the lab file {path} names no equipment register (register: a "
                              "folder or a database URL); schedules are made from its items")
    benches = load_benches(path)
    today = today or dt.date.today()
    plans, skipped, problems = [], [], []
    for item in store.items():
        if not item.procedure:
            skipped.append(f"{item.asset_id}: no procedure (calibrated outside the lab)")
            continue
        where = f"register item {item.asset_id} ({store.location})"
        if not item.bench:
            problems.append(f"{where}: procedure {item.procedure} but no bench: say on which "
                            f"bench of the lab file it is calibrated ({', '.join(benches) or 'none defined'})")
            continue
        bench = benches.get(item.bench)
        if bench is None:
            problems.append(f"{where}: bench {item.bench!r} is not a bench of the lab file {path} "
                            f"(benches: {', '.join(sorted(benches)) or 'none'})")
            continue
        if not bench.dut:
            problems.append(f"{where}: bench {bench.name} has no dut port in the lab file: a "
                            "scheduled calibration needs to know where the item is connected")
            continue
        proc_path = Path(item.procedure)
        if not proc_path.is_absolute():
            proc_path = (path.parent / proc_path).resolve()
        if not proc_path.is_file():
            problems.append(f"{where}: unknown procedure {item.procedure!r} (no file {proc_path})")
            continue
        try:
            procedure = load_procedure(proc_path)
        except LabautoError as exc:
            problems.append(f"{where}: procedure {item.procedure} is not valid: {exc}")
            continue
        if item.status != "in_service":
            skipped.append(f"{item.asset_id}: {item.status.replace('_', ' ')}")
            continue
        plans.append(ItemSchedule(item.asset_id, bench, proc_path, procedure.id,
                                  item.interval_days, item.due_date() or today,
                                  any(p.steps for p in procedure.points)))
    if problems:
        raise ScheduleRefused("the register cannot be scheduled; nothing was changed:\n  "
                              + "\n  ".join(problems))
    return plans, skipped


def item_deployment(plan: ItemSchedule, lab_file: Path) -> Any:
    from prefect.schedules import Interval

    from flows.deployments import _deployment, bench_parameters

    params = {**bench_parameters(plan.bench, lab_file), "procedure": str(plan.procedure),
              "register_item": plan.asset_id, "attended": plan.attended}
    who = ("attended: the run waits for a technician at the bench (the procedure has operator "
           "steps)" if plan.attended else "unattended")
    return _deployment(
        "calibrate", plan.deployment, queue=plan.bench.deployment, lab_file=lab_file,
        parameters=params,
        tags=[f"bench:{plan.bench.name}", f"item:{plan.asset_id}",
              "attended" if plan.attended else "unattended"],
        description=f"Calibration of {plan.asset_id} ({plan.procedure_id}) every "
                    f"{plan.interval_days:g} days on bench {plan.bench.name}; {who}",
        schedules=[Interval(dt.timedelta(days=plan.interval_days), anchor_date=plan.anchor())])


def sync(lab_file: str | Path | None = None, *, only: str | None = None) -> dict[str, Any]:
    """Create or update the items' deployments; delete those of items no longer scheduled
    (``only``: just this item, nothing deleted).  Returns what was done."""
    from prefect.client.orchestration import get_client

    from flows.deployments import apply, ensure_work_pool

    path = lab_file_path(lab_file)
    plans, skipped = plan_schedules(path)
    if only is not None:
        plans = [p for p in plans if p.asset_id == only]
    ensure_work_pool({p.bench.name: p.bench for p in plans}.values())
    applied = apply(item_deployment(p, path) for p in plans)
    deleted = []
    if only is None:
        keep = {p.deployment for p in plans}
        with get_client(sync_client=True) as client:
            for d in client.read_deployments():
                if d.name.startswith(PREFIX) and d.name not in keep and "calibrate" in _flow_name(client, d):
                    client.delete_deployment(d.id)
                    deleted.append(f"calibrate/{d.name}")
    return {"scheduled": [p.describe() for p in plans], "deployments": applied,
            "deleted": deleted, "not_scheduled": skipped}


def _flow_name(client: Any, deployment: Any) -> str:
    return client.read_flow(deployment.flow_id).name


def record_calibration(lab_file: str | Path | None, asset_id: str, *, certificate_id: str,
                       as_found_decision: str, adjusted: bool, sha256: str = "",
                       today: dt.date | None = None) -> dt.date | None:
    """Record an issued certificate as the item's latest calibration in the register (its due
    date moves on); returns the new due date."""
    from labauto.lab import load_lab
    from labauto.quality.records import Calibration

    lab = load_lab(lab_file_path(lab_file))
    store = lab.open_register()
    if store is None:
        raise ScheduleRefused(f"the lab file {lab.path} names no equipment register to record "
                              f"the calibration of {asset_id} in")
    item = store.add_calibration(asset_id, Calibration(
        certificate_id, today or dt.date.today(), lab.laboratory.name,
        as_found="in_tolerance" if as_found_decision == "pass" else "out_of_tolerance",
        adjusted=adjusted, certificate_sha256=sha256))
    return item.due_date()

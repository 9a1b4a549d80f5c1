"""As found, adjustment, as left (ISO/IEC 17025 7.8.4.1): the instrument side.

After the as-found points, :func:`labauto.calibration.adjust_if_needed` decides with the
procedure's policy; this module journals that decision, adjusts the DUT at the procedure's
adjustment points (:mod:`labauto.drivers.adjustment`, the source applying each value, operator
steps confirmed with the sources in standby) and names the as-left points, which the engine
then measures like any other (their journal ids start with ``as-left:``).

Journal records: ``adjustment_decision`` (adjust or not, why, the policy), one
``adjustment_point`` per point adjusted, ``adjustment_done``.  An interrupted adjustment is done
again from its first point when the run resumes (adjusting twice at a point gives the same
constants); an interrupted as-left measurement continues with its pending points.
"""
from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Callable

from labauto.engine.journal import now_iso
from labauto.engine.observer import RunObserver
from labauto.engine.operator import current_operator
from labauto.engine.run import IdentityCheck, Run, execute_points, lab_instruments, run_lock
from labauto.procedure import TestPoint

AS_LEFT = "as-left:"


def records(run: Run, kind: str) -> list[dict[str, Any]]:
    """The journal's records of ``kind`` (the journal state keeps only readings and points)."""
    out = []
    for line in run.journal.path.read_bytes().split(b"\n"):
        if kind.encode() not in line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue                 # a torn last line
        if rec.get("type") == kind:
            out.append(rec)
    return out


def decision(run: Run) -> dict[str, Any] | None:
    """The journalled adjustment decision, if the run made one."""
    found = records(run, "adjustment_decision")
    return found[-1] if found else None


def record_decision(run: Run, adjust: bool, reason: str) -> dict[str, Any]:
    plan = run.procedure.adjustment
    rec = {"type": "adjustment_decision", "adjust": adjust, "reason": reason,
           "policy": plan.policy, "policy_text": plan.describe(), "threshold": plan.threshold,
           "t": now_iso()}
    run.journal.append(rec)
    return rec


def as_left_points(run: Run) -> list[TestPoint]:
    """Every test point again, measured after the adjustment (journal id ``as-left:<id>``)."""
    return [dataclasses.replace(p, id=AS_LEFT + p.id) for p in run.procedure.points]


def adjust(run: Run, *, resource_manager: Any = None, check_identities: IdentityCheck | None = None,
           sleep: Callable[[float], None] = time.sleep, observer: RunObserver | None = None) -> None:
    # (``observer`` is accepted for the same keywords as execute_points; points report, steps do not)
    """Adjust the DUT at every adjustment point of the procedure (unless the journal says it
    was done), under the run's lock and the instrument locks."""
    if records(run, "adjustment_done"):
        return
    from labauto.drivers.adjustment import adjusting

    plan = run.procedure.adjustment
    operator = current_operator()
    with run_lock(run), lab_instruments(run, resource_manager, check_identities) as (dut, standard):
        meter, source = dut, standard                # an adjustment is for a meter under test
        confirmed = None
        with adjusting(meter, plan.commands) as adjust_at:
            for ap in plan.points:
                for step in ap.steps:
                    if step.text != confirmed:
                        source.standby()             # nobody moves leads on live terminals
                        operator.confirm(step, ap)
                        run.journal.append({"type": "operator_step", "adjustment_id": ap.id,
                                            "text": step.text, "line": step.line, "t": now_iso()})
                        confirmed = step.text
                source.standby()
                meter.configure(ap.function, ap.range, **ap.point.meter_settings)
                source.apply(ap.function, ap.value, frequency=ap.frequency, **ap.point.source_settings)
                source.operate()
                sleep(ap.point.settle_time.to("s").magnitude * run.settings.settle_scale)
                answer = adjust_at(ap.value)
                source.standby()
                run.journal.append({"type": "adjustment_point", **ap.to_dict(), "answer": answer,
                                    "t": now_iso()})
        run.journal.append({"type": "adjustment_done", "points": len(plan.points), "t": now_iso()})


def measure_as_left(run: Run, **kwargs: Any) -> None:
    """Measure the as-left points not yet completed (see :func:`execute_points`)."""
    done = run.state().completed_ids()
    todo = [p for p in as_left_points(run) if p.id not in done]
    if todo:
        execute_points(run, todo, **kwargs)

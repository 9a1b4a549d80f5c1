"""The ``check-standard`` Prefect flow: an intermediate check of an item with a check standard.

    measure    the item (a meter) reads the check standard (a 10 V reference, a 10 kΩ resistor)
    judge      the value on the item's control chart (Shewhart limits, run rules); recorded in
               the register; out of control: the item is quarantined and the certificates
               issued with it since its last good check are listed (recall impact)
    report     control chart PNG + markdown report in ``report_dir``; the same as Prefect
               artifacts (markdown with the chart inline, the chart's points as a table)

Tasks take resource strings, asset ids and paths.  Schedule it as a deployment (e.g. weekly):

    check_standard.serve(name="weekly-10V", cron="0 6 * * MON", parameters={...})
"""
from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from labauto.quality import checks
from labauto.quality.register import open_register

from flows.heartbeat import dont_wait_for_heartbeat_thread

dont_wait_for_heartbeat_thread()      # (process-wide: a flow run's end waited up to 1 s for it)


@task(name="measure-check-standard", retries=1, retry_delay_seconds=1, cache_policy=NO_CACHE)
def measure_task(equipment_register: str, item: str, check_standard: str, resource: str, model: str,
                 function: str, range_: str, readings: int, settings: dict[str, Any],
                 timeout_ms: int) -> tuple[float, str]:
    store = open_register(equipment_register)
    checks.usable_check_standard(store, check_standard)
    return checks.measure_check(resource, model, store.get(item), function, range_, readings,
                                timeout_ms=timeout_ms, run_id=f"check-{flow_run.get_id()}",
                                **settings)


@task(name="judge-and-record", cache_policy=NO_CACHE)
def judge_task(equipment_register: str, item: str, value: float, unit: str, check_standard: str,
               certificates: list[str], platform_url: str | None) -> checks.CheckOutcome:
    return checks.judge_and_record(open_register(equipment_register), item, value, unit,
                                   check_standard=check_standard, flow_run=str(flow_run.get_id()),
                                   certificates=[Path(c) for c in certificates],
                                   platform_url=platform_url)


@task(name="report", cache_policy=NO_CACHE)
def report_task(outcome: checks.CheckOutcome, report_dir: str) -> dict[str, str]:
    png, report = checks.write_report(outcome, Path(report_dir))
    inline = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    key = outcome.item.asset_id.lower().replace("_", "-").replace(".", "-")
    create_markdown_artifact(checks.report_markdown(outcome, inline), key=f"check-{key}",
                             description=f"intermediate check of {outcome.item.asset_id}")
    rows = [{"check": i + 1, "time": c.time.isoformat(timespec="seconds"), "value": c.value,
             "unit": c.unit, "in_control": c.in_control, "rules": "; ".join(c.rules)}
            for i, c in enumerate(checks.chart_values(outcome.item, outcome.check.unit))]
    create_table_artifact(rows, key=f"chart-{key}",
                          description=f"control chart of {outcome.item.asset_id}")
    return {"png": str(png), "report": str(report)}


@flow(name="check-standard", flow_run_name="check {item} with {check_standard}")
def check_standard(item: str, check_standard: str, resource: str, equipment_register: str,
                   model: str = "keysight_34465a", function: str = "DCV", range_: str = "10 V",
                   readings: int = 10, settings: dict[str, Any] | None = None,
                   certificates: list[str] | None = None, platform_url: str | None = None,
                   report_dir: str = "checks", timeout_ms: int = 10000,
                   instrument_wait_s: float | None = 3600.0) -> dict[str, Any]:
    """Measure ``check_standard`` with ``item`` at ``resource``, judge, record, report.

    As the ``calibrate`` flow, the flow run holds the meter's Prefect concurrency slots, by
    resource and by identity (the register's maker, model and serial of ``item``), from before
    its first command until it is closed (flows/instrument_slots.py; waiting up to
    ``instrument_wait_s`` for a busy instrument, None: as long as it takes)."""
    from flows.instrument_slots import InstrumentSlots

    log = get_run_logger()
    meter = open_register(equipment_register).get(item)
    with InstrumentSlots(f"check-{flow_run.get_id()}", wait_s=instrument_wait_s,
                         log=log) as slots:
        # the meter's resource slot and its identity slot (the register's item: the measuring
        # task refuses any other instrument at the resource), both before its first command
        slots.hold_known_instruments(
            {f"the meter {item} reading the check standard {check_standard}": resource},
            {f"meter {item}": {"manufacturer": meter.manufacturer, "model": meter.model,
                               "serial": meter.serial}})
        value, unit = measure_task(equipment_register, item, check_standard, resource, model,
                                   function, range_, readings, settings or {}, timeout_ms)
    outcome = judge_task(equipment_register, item, value, unit, check_standard, certificates or [],
                         platform_url)
    files = report_task(outcome, report_dir)
    verdict = outcome.verdict
    log.info("%s: %s %s -> %s (status %s)", item, value, unit, verdict, outcome.item.status)
    if not outcome.in_control:
        log.warning("%s quarantined; recall impact: %s", item,
                    ", ".join(r["certificate_id"] for r in outcome.recall) or "none")
    return {**outcome.to_dict(), **files, "verdict": verdict,
            "checked_at": dt.datetime.now(dt.timezone.utc).isoformat()}

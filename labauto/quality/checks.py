"""An intermediate check (ISO/IEC 17025 6.4.10): measure a check standard with the item, judge
the value on the item's control chart, record it, and act on an out-of-control result.

    measure_check(...)     the item (a meter) reads the check standard N times -> mean
    judge_and_record(...)  chart limits (declared, or estimated from the first ``baseline``
                           checks), run rules on the new point, the result appended to the
                           item's record; out of control: the item is quarantined (the gate
                           then refuses every calibration that needs it) and the recall impact
                           is listed: the certificates issued with it since its last good check
    recall_impact(...)     those certificates, from the lab's certificate folders and, given a
                           platform, its dependents of the item's calibration certificates
    chart_png(...)         the control chart (matplotlib; labauto/quality/chart.py)

The Prefect flow (``flows/check_standard.py``) calls these, task by task.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from labauto.errors import LabautoError
from labauto.quality.chart import chart_png
from labauto.quality.control import Limits, Violation, estimate_limits, violations_at
from labauto.quality.records import (IN_SERVICE, QUARANTINED, CheckResult, Item, RegisterError,
                                     StatusChange)


class CheckRefused(LabautoError):
    """The check cannot be made (check standard not usable, wrong instrument ...)."""


@dataclass(frozen=True)
class CheckOutcome:
    item: Item                          # the item after the check was recorded
    check: CheckResult
    limits: Limits | None               # None while the baseline is being collected
    violations: tuple[Violation, ...]
    baseline_needed: int                # checks still needed before limits exist (0: judged)
    last_good: CheckResult | None
    recall: tuple[dict[str, Any], ...] = field(default=())
    recall_note: str = ""               # e.g. the platform could not be asked

    @property
    def in_control(self) -> bool:
        return self.check.in_control

    @property
    def verdict(self) -> str:
        return ("baseline" if self.limits is None
                else "in control" if self.in_control else "OUT OF CONTROL")

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item.asset_id, "status": self.item.status,
                "check": self.check.to_dict(),
                "limits": None if self.limits is None else {
                    "center": self.limits.center, "sigma": self.limits.sigma,
                    "lcl": self.limits.lcl, "ucl": self.limits.ucl},
                "violations": [{"rule": v.rule, "description": v.description} for v in self.violations],
                "baseline_needed": self.baseline_needed,
                "last_good": None if self.last_good is None else self.last_good.time.isoformat(),
                "recall": list(self.recall), "recall_note": self.recall_note}


def baseline_text(needed: int) -> str:
    """What a check made while the baseline is collected means for the chart; ``needed`` is the
    outcome's ``baseline_needed``, which counts that check."""
    left = needed - 1
    return "baseline: recorded, not judged; " + (
        f"{left} more check{'s' if left > 1 else ''} before the chart has its limits" if left
        else "the chart has its limits from the next check on")


def usable_check_standard(store: Any, asset_id: str) -> Item:
    std = store.get(asset_id)
    if std.role != "check_standard":
        raise CheckRefused(f"{asset_id} has role {std.role!r}, not check_standard; a check "
                           "needs a stable artifact registered as a check standard")
    if std.status != IN_SERVICE:
        raise CheckRefused(f"check standard {asset_id} is {std.status.replace('_', ' ')}; a check "
                           "with it would say nothing about the item")
    return std


def measure_check(resource: str, model: str, item: Item, function: str, range_: str,
                  readings: int, *, timeout_ms: int = 10000, resource_manager: Any = None,
                  run_id: str | None = None, **settings: Any) -> tuple[float, str]:
    """The item (a meter) reads the check standard ``readings`` times: (mean, unit).

    The instrument at ``resource`` must be the register's item (serial checked after
    ``*IDN?``, before any other command) and is held under the engine's instrument locks."""
    from labauto.drivers.open import open_instrument
    from labauto.engine.locks import InstrumentLocks
    from labauto.units import parse_quantity

    rng = parse_quantity(range_, None)
    with InstrumentLocks(run_id or f"check-{uuid.uuid4().hex[:12]}") as locks:
        locks.acquire_resource(resource, f"the meter of check {item.asset_id}")

        def identity(ident: Any) -> None:
            if not item.matches(ident.manufacturer, ident.model, ident.serial):
                raise CheckRefused(
                    f"the instrument at {resource} is {ident.manufacturer} {ident.model} serial "
                    f"{ident.serial}, not the register's {item.asset_id} ({item.manufacturer} "
                    f"{item.model} serial {item.serial})")
            locks.acquire_identity(ident.manufacturer, ident.model, ident.serial,
                                   f"the meter of check {item.asset_id}")

        with open_instrument(resource, model, timeout_ms=timeout_ms,
                             resource_manager=resource_manager, on_identity=identity) as meter:
            meter.configure(function, rng, **settings)
            values = meter.read(readings)
    mean = values.mean()
    return float(mean.magnitude), f"{mean.units:~}"


def chart_values(item: Item, unit: str) -> list[CheckResult]:
    return [c for c in item.checks if c.unit == unit]


def chart_limits(item: Item, history: Sequence[CheckResult]) -> tuple[Limits | None, int]:
    """(limits, checks still needed for a baseline)."""
    c = item.control
    baseline = c.baseline if c else 20
    if c is not None and c.center is not None and c.sigma is not None:
        return Limits(c.center, c.sigma), 0
    if len(history) < baseline:
        return None, baseline - len(history)
    est = estimate_limits([h.value for h in history[:baseline]])
    center = c.center if c is not None and c.center is not None else est.center
    sigma = c.sigma if c is not None and c.sigma is not None else est.sigma
    return Limits(center, sigma), 0


def judge_and_record(store: Any, asset_id: str, value: float, unit: str, *,
                     time: dt.datetime | None = None, check_standard: str = "",
                     flow_run: str = "", certificates: Iterable[Path] = (),
                     platform_url: str | None = None, by: str = "check flow") -> CheckOutcome:
    """Judge one check on the item's chart, record it, quarantine on out of control."""
    time = time or dt.datetime.now(dt.timezone.utc)
    item = store.get(asset_id)
    history = chart_values(item, unit)
    limits, needed = chart_limits(item, history)
    found: list[Violation] = []
    note = ""
    if limits is not None:
        values = [h.value for h in history] + [value]
        rule_set = item.control.rules if item.control else "western_electric"
        try:
            found = violations_at(values, limits, len(values) - 1, rule_set)
        except ValueError as exc:
            raise RegisterError(f"item {asset_id}: control: {exc}") from None
    check = CheckResult(time, value, unit, check_standard, not found,
                        tuple(f"{v.rule}: {v.description}" for v in found), flow_run)
    item = store.add_check(asset_id, check)
    last_good = next((h for h in reversed(history) if h.in_control), None)
    recall: tuple[dict[str, Any], ...] = ()
    if found:
        if item.status != QUARANTINED:
            item = store.set_status(asset_id, StatusChange(
                time.date(), QUARANTINED,
                f"intermediate check {time.isoformat(timespec='seconds')} out of control "
                f"({', '.join(v.rule for v in found)}; value {value:.9g} {unit})", by))
        since = last_good.time.date() if last_good else _last_calibration_date(item)
        certificates = list(certificates)
        if not certificates and not platform_url:
            note = ("the recall impact was not searched: no certificate folders and no platform "
                    "were given")
        try:
            recall = tuple(recall_impact(item, since, certificates, platform_url=platform_url))
        except LabautoError as exc:      # the platform is down: the lab's own list still counts
            recall = tuple(recall_impact(item, since, certificates))
            note = str(exc)
    return CheckOutcome(item, check, limits, tuple(found), needed, last_good, recall, note)


def _last_calibration_date(item: Item) -> dt.date:
    cal = item.latest_calibration()
    return cal.date if cal else dt.date.min


def recall_impact(item: Item, since: dt.date, certificates: Iterable[Path] = (), *,
                  platform_url: str | None = None) -> list[dict[str, Any]]:
    """Certificates issued with ``item`` as a standard, calibrated on or after ``since``.

    ``certificates``: the lab's certificate folders (``<folder>/<id>/certificate.json``);
    ``platform_url``: the NQI platform, asked for the dependents of each of the item's
    calibration certificates (``GET /api/v1/certificates/{id}/dependents``)."""
    found: dict[str, dict[str, Any]] = {}
    for folder in certificates:
        for path in sorted(Path(folder).glob("*/certificate.json")):
            try:
                doc = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            used = [s for s in doc.get("standards", ())
                    if item.matches(str(s.get("manufacturer", "")), str(s.get("model", "")),
                                    str(s.get("serial_number", "")))]
            date = str(doc.get("calibration_date", ""))[:10]
            if used and date >= since.isoformat():
                found[doc["certificate_id"]] = {
                    "certificate_id": doc["certificate_id"], "calibration_date": date,
                    "via": used[0].get("certificate_id", ""), "source": str(path.parent)}
    if platform_url:
        found.update({d["certificate_id"]: d for d in _platform_dependents(item, since, platform_url)
                      if d["certificate_id"] not in found})
    return sorted(found.values(), key=lambda d: (d["calibration_date"], d["certificate_id"]))


def _platform_dependents(item: Item, since: dt.date, url: str) -> list[dict[str, Any]]:
    import httpx

    out = []
    with httpx.Client(base_url=url.rstrip("/"), timeout=30.0) as client:
        for cal in item.calibrations:
            try:
                r = client.get(f"/api/v1/certificates/{cal.certificate_id}/dependents")
            except httpx.HTTPError as exc:
                raise LabautoError(f"platform {url} unreachable for the recall impact of "
                                   f"{item.asset_id}: {exc}; the local certificates were listed, "
                                   "ask again when it is up") from None
            if r.status_code == 404:          # that certificate is not on the platform
                continue
            r.raise_for_status()
            for d in r.json().get("dependents", ()):
                date = str(d.get("end_performance") or "")[:10]
                if date >= since.isoformat():
                    out.append({"certificate_id": d["certificate_id"], "calibration_date": date,
                                "via": d.get("via", cal.certificate_id), "source": url,
                                "lab": d.get("lab", ""), "depth": d.get("depth", 1)})
    return out


def write_report(outcome: CheckOutcome, report_dir: Path) -> tuple[Path, Path]:
    """The chart PNG and the markdown report in ``report_dir``, named by item and check time:
    (png, report)."""
    folder = Path(report_dir)
    stamp = outcome.check.time.strftime("%Y%m%dT%H%M%SZ")
    base = f"{outcome.item.asset_id}-{stamp}"
    png = chart_png(outcome.item, outcome.check.unit, folder / f"{base}.png", outcome.limits)
    report = folder / f"{base}.md"
    report.write_text(report_markdown(outcome, png.name), encoding="utf-8")
    return png, report


def report_markdown(outcome: CheckOutcome, chart: str | None = None) -> str:
    """The check's report: verdict, limits, rules, recall impact (and the chart)."""
    c, item = outcome.check, outcome.item
    lines = [f"# Intermediate check of {item.asset_id} ({item.manufacturer} {item.model} "
             f"s/n {item.serial})", "",
             f"- time: {c.time.isoformat(timespec='seconds')}",
             f"- check standard: {c.check_standard or '-'}",
             f"- value: {c.value:.9g} {c.unit}"]
    if outcome.limits is None:
        lines.append(f"- {baseline_text(outcome.baseline_needed)}")
    else:
        lim = outcome.limits
        lines += [f"- centre line {lim.center:.9g} {c.unit}, sigma {lim.sigma:.3g} {c.unit}, "
                  f"limits {lim.lcl:.9g} to {lim.ucl:.9g} {c.unit}",
                  f"- verdict: **{'in control' if c.in_control else 'OUT OF CONTROL'}**"]
    for v in outcome.violations:
        lines.append(f"  - {v.rule}: {v.description}")
    lines.append(f"- item status: {item.status}")
    if not c.in_control:
        since = outcome.last_good.time.date().isoformat() if outcome.last_good else "its last calibration"
        lines += ["", f"## Recall impact: certificates issued with {item.asset_id} since its "
                      f"last good check ({since})", ""]
        if outcome.recall:
            lines += ["| certificate | calibration date | via | source |", "|---|---|---|---|"]
            lines += [f"| {r['certificate_id']} | {r['calibration_date']} | {r['via']} | "
                      f"{r['source']} |" for r in outcome.recall]
        else:
            lines.append("none found")
        if outcome.recall_note:
            lines += ["", f"**Incomplete:** {outcome.recall_note}"]
    if chart:
        lines += ["", f"![control chart]({chart})"]
    return "\n".join(lines) + "\n"

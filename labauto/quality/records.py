"""The register's data model: one record per item of equipment, as files, database rows and the
CLI all read it.

After msl-equipment's register schema (an equipment record with its identity, status and
calibration reports, each report with its id, dates, issuing laboratory and measured values),
cut to what a calibration lab's gate, intermediate checks and interval analysis read:

    Item                 identity (asset id, manufacturer, model, serial), role, bench, interval,
                         reliability target, status (+ its history), calibrations, checks
    Calibration          one certificate: id, date, due date (or date + interval), issuing lab,
                         as-found condition, adjusted, values with U and k, DCC SHA-256
    StatusChange         when, to which status, why, by whom
    CheckResult          one intermediate check: when, the value measured on the check standard,
                         in control or not, the run rules that fired, the flow run

A file (``<asset id>.yaml``) holds ``Item.to_dict()``; :func:`item_from_mapping` reads it back
with every error naming file and line.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace
from typing import Any

from labauto.errors import LabautoError, SourceError
from labauto.units import UnitError, parse_quantity
from labauto.yamlsource import SourceMap, iso_date

IN_SERVICE, OUT_OF_SERVICE, QUARANTINED = "in_service", "out_of_service", "quarantined"
STATUSES = (IN_SERVICE, OUT_OF_SERVICE, QUARANTINED)
ROLES = ("reference", "check_standard", "environment", "working_standard", "auxiliary")
AS_FOUND = ("in_tolerance", "out_of_tolerance")
ASSET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_RELIABILITY_TARGET = 0.95


class RegisterError(LabautoError):
    """A register operation cannot be done (unknown item, duplicate, bad value)."""


def parse_interval(text: Any) -> float:
    """``"12 months"``, ``"365 d"``, ``"1 year"``, a number of days -> days (float > 0)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        days = float(text)
    else:
        try:
            days = float(parse_quantity(str(text), "day").to("day").magnitude)
        except UnitError as exc:
            raise RegisterError(f"interval {text!r}: {exc}") from None
    if not math.isfinite(days) or days <= 0:
        raise RegisterError(f"interval {text!r} must be a positive time, e.g. '12 months'")
    return days


MONTH_DAYS = 365.25 / 12          # pint's month (a Julian year / 12)


def format_interval(days: float) -> str:
    """Days as the register writes them: whole months when exact, else days (round trip)."""
    months = days / MONTH_DAYS
    if round(months) > 0 and abs(months - round(months)) < 1e-9:
        return f"{round(months)} months"
    return f"{days:.10g} d"


def parse_date(value: Any, what: str) -> dt.date:
    try:
        return iso_date(value)
    except ValueError:
        raise RegisterError(f"{what} must be an ISO date (YYYY-MM-DD), not {value!r}") from None


def parse_time(value: Any, what: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, dt.date):
        t = dt.datetime.combine(value, dt.time())
    else:
        try:
            t = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise RegisterError(f"{what} must be an ISO date or time (YYYY-MM-DD[THH:MM:SS]), "
                                f"not {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def check_status(value: Any) -> str:
    s = str(value).strip().replace(" ", "_").replace("-", "_").lower()
    if s not in STATUSES:
        raise RegisterError(f"unknown status {value!r}; use one of {', '.join(STATUSES)}")
    return s


@dataclass(frozen=True)
class CalibrationValue:
    """One calibrated point: ``point`` names it (``"DCV 10 V"``); ``value`` is the measured
    value or error as the certificate states it, ``uncertainty`` its expanded uncertainty U at
    coverage factor ``k``."""
    point: str
    value: str
    uncertainty: str
    k: float = 2.0

    def __post_init__(self) -> None:
        try:
            v = parse_quantity(self.value, None)
            u = parse_quantity(self.uncertainty, None)
        except UnitError as exc:
            raise RegisterError(f"point {self.point!r}: {exc}") from None
        if v.dimensionality != u.dimensionality:
            raise RegisterError(f"point {self.point!r}: U {self.uncertainty!r} has not the unit "
                                f"of the value {self.value!r}")
        if not u.magnitude > 0:
            raise RegisterError(f"point {self.point!r}: U must be positive, not {self.uncertainty!r}")
        if not (isinstance(self.k, (int, float)) and 0 < float(self.k) < 10):
            raise RegisterError(f"point {self.point!r}: k must be a number between 0 and 10")

    def to_dict(self) -> dict[str, Any]:
        return {"point": self.point, "value": self.value, "U": self.uncertainty, "k": self.k}


@dataclass(frozen=True)
class Calibration:
    certificate_id: str
    date: dt.date
    laboratory: str
    due: dt.date | None = None            # when the certificate or the lab sets one
    as_found: str | None = None           # in_tolerance | out_of_tolerance (before adjustment)
    adjusted: bool = False
    values: tuple[CalibrationValue, ...] = ()
    certificate_sha256: str = ""

    def __post_init__(self) -> None:
        if not str(self.certificate_id).strip():
            raise RegisterError("a calibration needs its certificate id")
        if self.as_found is not None and self.as_found not in AS_FOUND:
            raise RegisterError(f"as_found {self.as_found!r}: use one of {', '.join(AS_FOUND)}")
        if self.due is not None and self.due <= self.date:
            raise RegisterError(f"calibration {self.certificate_id}: due {self.due} is not after "
                                f"its date {self.date}")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"certificate_id": self.certificate_id, "date": self.date.isoformat(),
                             "laboratory": self.laboratory}
        if self.due is not None:
            d["due"] = self.due.isoformat()
        if self.as_found is not None:
            d["as_found"] = self.as_found
        if self.adjusted:
            d["adjusted"] = True
        if self.values:
            d["values"] = [v.to_dict() for v in self.values]
        if self.certificate_sha256:
            d["certificate_sha256"] = self.certificate_sha256
        return d


@dataclass(frozen=True)
class StatusChange:
    date: dt.date
    status: str
    reason: str
    by: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"date": self.date.isoformat(), "status": self.status, "reason": self.reason}
        if self.by:
            d["by"] = self.by
        return d


@dataclass(frozen=True)
class CheckResult:
    """One intermediate check (ISO/IEC 17025 6.4.10) of the item with a check standard."""
    time: dt.datetime
    value: float                          # in ``unit``
    unit: str
    check_standard: str = ""              # asset id of the artifact measured (or "")
    in_control: bool = True
    rules: tuple[str, ...] = ()           # run rules that fired on this point
    flow_run: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"time": self.time.isoformat(), "value": self.value,
                             "unit": self.unit, "in_control": self.in_control}
        if self.check_standard:
            d["check_standard"] = self.check_standard
        if self.rules:
            d["rules"] = list(self.rules)
        if self.flow_run:
            d["flow_run"] = self.flow_run
        return d


@dataclass(frozen=True)
class ControlSettings:
    """How the item's control chart is judged: centre line and sigma declared, or estimated
    from the first ``baseline`` checks (phase I); ``rules``: the run-rule set."""
    center: float | None = None
    sigma: float | None = None
    unit: str = ""
    baseline: int = 20
    rules: str = "western_electric"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.center is not None:
            d["center"] = self.center
        if self.sigma is not None:
            d["sigma"] = self.sigma
        if self.unit:
            d["unit"] = self.unit
        d["baseline"] = self.baseline
        d["rules"] = self.rules
        return d


@dataclass(frozen=True)
class Item:
    asset_id: str
    manufacturer: str
    model: str
    serial: str
    role: str
    interval_days: float
    bench: str = ""
    description: str = ""
    reliability_target: float = DEFAULT_RELIABILITY_TARGET
    status: str = IN_SERVICE
    status_history: tuple[StatusChange, ...] = ()
    calibrations: tuple[Calibration, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    control: ControlSettings | None = None
    procedure: str = ""       # the procedure that calibrates it in-house (labauto schedule sync)

    def __post_init__(self) -> None:
        if not ASSET_ID.match(self.asset_id):
            raise RegisterError(f"asset id {self.asset_id!r}: letters, digits, '.', '_' and '-' "
                                "only (it names the item's file), starting with a letter or digit")
        for name in ("manufacturer", "model", "serial"):
            if not str(getattr(self, name)).strip():
                raise RegisterError(f"item {self.asset_id}: {name} must not be empty")
        if self.role not in ROLES:
            raise RegisterError(f"item {self.asset_id}: unknown role {self.role!r}; use one of "
                                f"{', '.join(ROLES)}")
        check_status(self.status)
        if not 0 < self.reliability_target < 1:
            raise RegisterError(f"item {self.asset_id}: reliability_target must be between 0 "
                                f"and 1 (e.g. 0.95), not {self.reliability_target}")
        ids = [c.certificate_id for c in self.calibrations]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise RegisterError(f"item {self.asset_id}: certificate {dup} recorded twice")

    # -- what the gate, the checks and the interval analysis read ------------------------------
    def matches(self, manufacturer: str, model: str, serial: str) -> bool:
        return (self.manufacturer.casefold() == manufacturer.casefold()
                and self.model == model and self.serial == serial)

    def latest_calibration(self) -> Calibration | None:
        return max(self.calibrations, key=lambda c: c.date, default=None)

    def due_date(self) -> dt.date | None:
        cal = self.latest_calibration()
        if cal is None:
            return None
        return cal.due or cal.date + dt.timedelta(days=round(self.interval_days))

    def sorted_calibrations(self) -> list[Calibration]:
        return sorted(self.calibrations, key=lambda c: c.date)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "asset_id": self.asset_id, "manufacturer": self.manufacturer, "model": self.model,
            "serial": self.serial, "role": self.role}
        if self.description:
            d["description"] = self.description
        if self.bench:
            d["bench"] = self.bench
        if self.procedure:
            d["procedure"] = self.procedure
        d["interval"] = format_interval(self.interval_days)
        d["reliability_target"] = self.reliability_target
        d["status"] = self.status
        if self.status_history:
            d["status_history"] = [s.to_dict() for s in self.status_history]
        d["calibrations"] = [c.to_dict() for c in self.sorted_calibrations()]
        if self.control is not None:
            d["control"] = self.control.to_dict()
        if self.checks:
            d["checks"] = [c.to_dict() for c in self.checks]
        return d

    # -- changes (a new Item; the stores persist it) -------------------------------------------
    def with_status(self, change: StatusChange) -> "Item":
        return replace(self, status=check_status(change.status),
                       status_history=self.status_history + (change,))

    def with_calibration(self, cal: Calibration) -> "Item":
        if any(c.certificate_id == cal.certificate_id for c in self.calibrations):
            raise RegisterError(f"item {self.asset_id}: certificate {cal.certificate_id} is "
                                "already recorded")
        return replace(self, calibrations=self.calibrations + (cal,))

    def with_check(self, check: CheckResult) -> "Item":
        return replace(self, checks=self.checks + (check,))


# -- reading a mapping (a file, JSON) with file:line errors -----------------------------------
_ITEM_KEYS = {"asset_id", "manufacturer", "model", "serial", "role", "bench", "description",
              "interval", "reliability_target", "status", "status_history", "calibrations",
              "checks", "control", "procedure"}
_REQUIRED = ("asset_id", "manufacturer", "model", "serial", "role", "interval")
_CAL_KEYS = {"certificate_id", "date", "due", "laboratory", "as_found", "adjusted", "values",
             "certificate_sha256"}
_VALUE_KEYS = {"point", "value", "U", "k"}


def _keys(src: SourceMap, at: tuple, d: Any, allowed: set[str], required: tuple[str, ...],
          what: str) -> dict:
    if not isinstance(d, dict):
        raise src.error(at, f"{what} must be a mapping")
    unknown = sorted(set(map(str, d)) - allowed)
    if unknown:
        raise src.error(at + (unknown[0],), f"unknown key {unknown[0]!r} in {what} "
                        f"(known: {', '.join(sorted(allowed))})")
    missing = [k for k in required if k not in d]
    if missing:
        raise src.error(at, f"{what} misses {', '.join(missing)}")
    return d


def _list(src: SourceMap, at: tuple, value: Any, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise src.error(at, f"{what} must be a list")
    return value


def _at(src: SourceMap, at: tuple, fn: Any, *args: Any) -> Any:
    """Call ``fn``; a RegisterError becomes a SourceError at ``at``."""
    try:
        return fn(*args)
    except RegisterError as exc:
        raise src.error(at, str(exc)) from None


def _calibration(src: SourceMap, at: tuple, d: Any) -> Calibration:
    d = _keys(src, at, d, _CAL_KEYS, ("certificate_id", "date", "laboratory"), "a calibration")
    values = []
    for j, v in enumerate(_list(src, at + ("values",), d.get("values"), "values")):
        vat = at + ("values", j)
        v = _keys(src, vat, v, _VALUE_KEYS, ("point", "value", "U"), "a calibrated value")
        values.append(_at(src, vat, lambda v=v: CalibrationValue(
            str(v["point"]), str(v["value"]), str(v["U"]), v.get("k", 2.0))))
    adjusted = d.get("adjusted", False)
    if not isinstance(adjusted, bool):
        raise src.error(at + ("adjusted",), "adjusted must be true or false")
    date = _at(src, at + ("date",), parse_date, d["date"], "date")
    due = None if d.get("due") is None else _at(src, at + ("due",), parse_date, d["due"], "due")
    return _at(src, at, lambda: Calibration(
        str(d["certificate_id"]), date, str(d["laboratory"]), due,
        None if d.get("as_found") is None else str(d["as_found"]), adjusted, tuple(values),
        str(d.get("certificate_sha256", ""))))


def _number(src: SourceMap, at: tuple, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise src.error(at, f"{what} must be a number, not {value!r}")
    return float(value)


def item_from_mapping(d: Any, src: SourceMap, at: tuple = ()) -> Item:
    """An :class:`Item` from its mapping (``Item.to_dict()`` or a hand-written file)."""
    d = _keys(src, at, d, _ITEM_KEYS, _REQUIRED, "a register item")
    status = _at(src, at + ("status",), check_status, d.get("status", IN_SERVICE))
    history = []
    for i, s in enumerate(_list(src, at + ("status_history",), d.get("status_history"),
                                "status_history")):
        sat = at + ("status_history", i)
        s = _keys(src, sat, s, {"date", "status", "reason", "by"}, ("date", "status", "reason"),
                  "a status change")
        history.append(StatusChange(_at(src, sat + ("date",), parse_date, s["date"], "date"),
                                    _at(src, sat + ("status",), check_status, s["status"]),
                                    str(s["reason"]), str(s.get("by", ""))))
    cals = [_calibration(src, at + ("calibrations", i), c)
            for i, c in enumerate(_list(src, at + ("calibrations",), d.get("calibrations"),
                                        "calibrations"))]
    checks = []
    for i, c in enumerate(_list(src, at + ("checks",), d.get("checks"), "checks")):
        cat = at + ("checks", i)
        c = _keys(src, cat, c, {"time", "value", "unit", "check_standard", "in_control", "rules",
                                "flow_run"}, ("time", "value", "unit"), "a check result")
        checks.append(CheckResult(
            _at(src, cat + ("time",), parse_time, c["time"], "time"),
            _number(src, cat + ("value",), c["value"], "value"), str(c["unit"]),
            str(c.get("check_standard", "")), bool(c.get("in_control", True)),
            tuple(map(str, c.get("rules") or ())), str(c.get("flow_run", ""))))
    control = None
    if d.get("control") is not None:
        cat = at + ("control",)
        c = _keys(src, cat, d["control"], {"center", "sigma", "unit", "baseline", "rules"}, (),
                  "control")
        control = ControlSettings(
            None if c.get("center") is None else _number(src, cat + ("center",), c["center"], "center"),
            None if c.get("sigma") is None else _number(src, cat + ("sigma",), c["sigma"], "sigma"),
            str(c.get("unit", "")), int(_number(src, cat + ("baseline",), c.get("baseline", 20),
                                                "baseline")),
            str(c.get("rules", "western_electric")))
        if control.sigma is not None and not control.sigma > 0:
            raise src.error(cat + ("sigma",), "sigma must be positive")
        if control.baseline < 2:
            raise src.error(cat + ("baseline",), "baseline needs at least 2 checks")
    if str(d["role"]) not in ROLES:
        raise src.error(at + ("role",), f"unknown role {d['role']!r}; use one of {', '.join(ROLES)}")
    target = d.get("reliability_target", DEFAULT_RELIABILITY_TARGET)
    target = _number(src, at + ("reliability_target",), target, "reliability_target")
    interval = _at(src, at + ("interval",), parse_interval, d["interval"])
    return _at(src, at, lambda: Item(
        str(d["asset_id"]), str(d["manufacturer"]), str(d["model"]), str(d["serial"]),
        str(d["role"]), interval, str(d.get("bench", "")), str(d.get("description", "")),
        target, status, tuple(history), tuple(cals), tuple(checks), control,
        str(d.get("procedure", "") or "")))


def item_from_dict(d: dict[str, Any], where: str = "<register>") -> Item:
    """An item from a plain mapping (database JSON, API): errors name ``where``."""
    return item_from_mapping(d, SourceMap(where))


__all__ = ["AS_FOUND", "Calibration", "CalibrationValue", "CheckResult", "ControlSettings",
           "IN_SERVICE", "Item", "OUT_OF_SERVICE", "QUARANTINED", "ROLES", "RegisterError",
           "STATUSES", "SourceError", "StatusChange", "check_status", "format_interval",
           "item_from_dict", "item_from_mapping", "parse_date", "parse_interval", "parse_time"]

"""Laboratory configuration: who we are, who the customer is, and the register of reference
standards (certificate ids, due dates) that a run checks before it measures anything.

The embedded default (``labauto/data/lab.yaml``) lets the demo run on a fresh machine; a real
lab passes its own file (``--lab`` or ``LABAUTO_LAB``).
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labauto.conditions import QUANTITY_UNITS, EnvironmentSettings, Limits
from labauto.errors import LabautoError
from labauto.quality.register import ItemNotUsable
from labauto.results import Equipment, Party
from labauto.units import UnitError, parse_quantity
from labauto.yamlsource import SourceMap, load

DEFAULT_LAB_FILE = Path(__file__).parent / "data" / "lab.yaml"
_REQUIRED = ("laboratory", "country", "certificate_prefix", "location", "performed_by",
             "authoriser", "customer", "environment", "traceability")


# a reference standard is not in the register, is quarantined or out of service, or its
# calibration is overdue (one exception for the lab file's list and the equipment register)
StandardNotUsable = ItemNotUsable


@dataclass(frozen=True)
class RegisteredStandard:
    manufacturer: str
    model: str
    serial: str
    certificate_id: str
    calibrated_by: str
    calibration_due: dt.date
    certificate_sha256: str = ""


@dataclass(frozen=True)
class LabConfig:
    path: Path
    laboratory: Party
    country: str
    language: str
    certificate_prefix: str
    location: str
    performed_by: str
    authoriser: Party
    customer: Party
    environment: EnvironmentSettings
    traceability: str
    standards: tuple[RegisteredStandard, ...]
    home: Path | None = None       # the lab home (keys, outbox, state); see labauto.labhome
    register: str | None = None    # the equipment register (folder or database URL), if used
    item_condition_default: str = ""   # offered when asking for the item's condition on receipt

    def open_register(self) -> Any:
        """The equipment register the lab file names (``register:``); None without one."""
        if self.register is None:
            return None
        from labauto.quality.register import open_register
        return open_register(self.register)

    def reference_equipment(self, manufacturer: str, model: str, serial: str, resource: str,
                            identity: str, firmware: str,
                            today: dt.date | None = None) -> Equipment:
        """The register entry for a connected standard, checked for being calibrated and due."""
        today = today or dt.date.today()
        store = self.open_register()
        if store is not None:       # read at every check: a quarantine elsewhere counts at once
            from labauto.quality.register import usable
            item, cal = usable(store.items(), store.location, manufacturer, model, serial,
                               resource, today)
            due = item.due_date()
            return Equipment(role="reference", manufacturer=manufacturer, model=model,
                             serial_number=serial, firmware=firmware, resource=resource,
                             identity=identity, certificate_id=cal.certificate_id,
                             calibrated_by=cal.laboratory,
                             calibration_due=due.isoformat() if due else "",
                             certificate_sha256=cal.certificate_sha256)
        for s in self.standards:
            if (s.manufacturer.casefold() == manufacturer.casefold() and s.model == model
                    and s.serial == serial):
                if s.calibration_due < today:
                    raise StandardNotUsable(
                        f"reference standard {manufacturer} {model} serial {serial} was due for "
                        f"calibration on {s.calibration_due.isoformat()} (certificate "
                        f"{s.certificate_id}); it must not be used until recalibrated "
                        f"(register: {self.path})")
                return Equipment(role="reference", manufacturer=manufacturer, model=model,
                                 serial_number=serial, firmware=firmware, resource=resource,
                                 identity=identity, certificate_id=s.certificate_id,
                                 calibrated_by=s.calibrated_by,
                                 calibration_due=s.calibration_due.isoformat(),
                                 certificate_sha256=s.certificate_sha256)
        raise StandardNotUsable(
            f"reference standard {manufacturer} {model} serial {serial} (at {resource}) is not in "
            f"the register of reference standards in {self.path}; add it with its calibration "
            "certificate and due date before using it")

    def check_identities(self, identities: dict[str, Any]) -> None:
        """Refuse a run whose reference standard or environment logger is unregistered or
        overdue (before measuring)."""
        for role in ("reference", "environment"):
            ident = identities.get(role)
            if ident is not None:
                self.reference_equipment(ident.manufacturer, ident.model, ident.serial,
                                         ident.resource, ident.raw, ident.firmware)


def _party(src: SourceMap, key: str, d: Any) -> Party:
    if not isinstance(d, dict) or "name" not in d:
        raise src.error((key,), f"{key} needs at least a name")
    extra = set(d) - {"name", "address", "email", "identifier"}
    if extra:
        raise src.error((key, sorted(extra)[0]), f"unknown key {sorted(extra)[0]!r} in {key}")
    return Party(**{k: str(v) for k, v in d.items()})


def load_lab(path: str | Path | None = None) -> LabConfig:
    p = Path(path or os.environ.get("LABAUTO_LAB") or DEFAULT_LAB_FILE)
    try:            # a flow reads the lab file once per point: parse it again only if it changed
        st = p.stat()
        key = (str(p), str(p.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    hit = _parsed.get(key) if key is not None else None
    if hit is not None:
        return hit
    lab = _load_lab(p)
    if key is not None:
        if len(_parsed) > 32:
            _parsed.clear()
        _parsed[key] = lab
    return lab


_parsed: dict[tuple[str, str, int, int], LabConfig] = {}   # (path, resolved, mtime, size) -> lab


def _load_lab(p: Path) -> LabConfig:
    doc = load(p)
    d, src = doc.data, doc.source
    if not isinstance(d, dict):
        raise src.error((), "a lab configuration must be a mapping")
    for key in _REQUIRED:
        if key not in d:
            raise src.error((), f"missing required key {key!r}")
    unknown = set(d) - set(_REQUIRED) - {"language", "home", "reference_standards", "register",
                                         "item_condition_default",
                                         "benches"}        # (labauto/benches.py reads them)
    if unknown:
        raise src.error((sorted(unknown)[0],), f"unknown key {sorted(unknown)[0]!r}")
    if ("reference_standards" in d) == ("register" in d):
        raise src.error((), "give the standards either as reference_standards (a list) or as "
                        "register (the equipment register: a folder or a database URL), not "
                        + ("both" if "register" in d else "neither"))
    env = _environment(src, d["environment"])
    standards = []
    for i, s in enumerate(d.get("reference_standards") or ()):
        missing = {"manufacturer", "model", "serial", "certificate_id", "calibrated_by",
                   "calibration_due"} - set(s)
        if missing:
            raise src.error(("reference_standards", i), f"reference standard misses {sorted(missing)}")
        try:
            due = dt.date.fromisoformat(str(s["calibration_due"]))
        except ValueError:
            raise src.error(("reference_standards", i, "calibration_due"),
                            "calibration_due must be an ISO date (YYYY-MM-DD)") from None
        standards.append(RegisteredStandard(
            str(s["manufacturer"]), str(s["model"]), str(s["serial"]), str(s["certificate_id"]),
            str(s["calibrated_by"]), due, str(s.get("certificate_sha256", ""))))
    return LabConfig(
        path=p, laboratory=_party(src, "laboratory", d["laboratory"]), country=str(d["country"]),
        language=str(d.get("language", "en")), certificate_prefix=str(d["certificate_prefix"]),
        location=str(d["location"]), performed_by=str(d["performed_by"]),
        authoriser=_party(src, "authoriser", d["authoriser"]),
        customer=_party(src, "customer", d["customer"]), environment=env,
        traceability=" ".join(str(d["traceability"]).split()), standards=tuple(standards),
        home=_home(src, p, d.get("home")), register=_register(src, p, d.get("register")),
        item_condition_default=" ".join(str(d.get("item_condition_default") or "").split()))


def _register(src: SourceMap, lab_file: Path, value: Any) -> str | None:
    """``register:`` of the lab file: a folder (relative to the lab file's folder) or a
    database URL (``postgresql+psycopg://host/db``)."""
    if value is None:
        return None
    from labauto.quality.register import is_database_url

    if not isinstance(value, str) or not value.strip():
        raise src.error(("register",), "register must be a folder path or a database URL")
    if is_database_url(value):
        return value
    folder = (lab_file.parent / Path(value).expanduser()).resolve()
    if not folder.is_dir():
        raise src.error(("register",), f"register folder {folder} does not exist; create it "
                        f"with `labauto register init {folder}`")
    return str(folder)


def _environment(src: SourceMap, d: Any) -> EnvironmentSettings:
    """``environment: {logger_model: NAME, limits: {temperature: {min: .., max: ..}, ...}}``."""
    if not isinstance(d, dict):
        raise src.error(("environment",), "environment must be a mapping with logger_model and limits")
    unknown = set(d) - {"logger_model", "limits"}
    if unknown:
        key = sorted(unknown)[0]
        raise src.error(("environment", key), f"unknown key {key!r} in environment (logger_model, "
                        "limits); the conditions are measured during the run, not set here")
    limits = {}
    for name, lim in (d.get("limits") or {}).items():
        at = ("environment", "limits", name)
        if name not in QUANTITY_UNITS:
            raise src.error(at, f"unknown quantity {name!r}; use {sorted(QUANTITY_UNITS)}")
        if not isinstance(lim, dict) or set(lim) != {"min", "max"}:
            raise src.error(at, "limits need min and max, e.g. {min: 22 degC, max: 24 degC}")
        try:
            lo, hi = (parse_quantity(lim[k], QUANTITY_UNITS[name]) for k in ("min", "max"))
        except UnitError as exc:
            raise src.error(at, str(exc)) from None
        if not lo < hi:
            raise src.error(at + ("max",), f"max must be above min ({lim['min']})")
        limits[name] = Limits(lo, hi)
    model = d.get("logger_model")
    return EnvironmentSettings(str(model) if model else None, limits)


def _home(src: SourceMap, lab_file: Path, value: Any) -> Path | None:
    """``home:`` of the lab file: a folder, relative to the lab file's own folder."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise src.error(("home",), "home must be a folder path (the lab home: keys, outbox, state)")
    return (lab_file.parent / Path(value).expanduser()).resolve()

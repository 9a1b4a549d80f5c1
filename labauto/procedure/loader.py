"""Load and validate a procedure file (``procedures/*.yaml``) into a :class:`Procedure`.

Everything a run depends on is checked here, before any instrument is touched, against the
instrument models in ``instruments/``: unknown keys, units, ranges, the DUT range limits, the
standard's capability, settings the DUT offers, the decision rule, contributions and point ids.
Every problem found is reported as ``file:line: reason`` (all of them, in line order) in one
:class:`ProcedureError`.  See docs/procedures.md for the file format.
"""
from __future__ import annotations

import math
import hashlib
import re
from pathlib import Path
from typing import Any

import pint

from labauto.conformity import ConformityError, DecisionRule, parse_rule
from labauto.errors import LabautoError, SourceError
from labauto.instruments import FunctionSpec, InstrumentModel, RangeSpec, load_instrument_model
from labauto.procedure.contributions import Contribution, parse_contribution
from labauto.procedure.model import Procedure, TestPoint
from labauto.engine.plausibility import DEFAULT_LIMIT
from labauto.procedure.schema import Invalid, ProcedureError, Problems, check_keys, quantity, text
from labauto.units import Q_
from labauto.yamlsource import PathKey, load

# What the calibration engine (labauto.engine.measure) can drive today: a DMM measuring the DC
# voltage sourced by a calibrator.  A procedure for anything else would load but fail mid-run.
SUPPORTED_FUNCTIONS = ("DCV",)
DUT_ROLES = ("digital_multimeter",)
STANDARD_ROLES = ("calibrator",)

TOP_REQUIRED = ("procedure", "dut", "standard", "function", "settings", "decision_rule", "points")
TOP_OPTIONAL = ("contributions",)
META_REQUIRED = ("id", "title", "version", "method")
META_OPTIONAL = ("description",)
SETTINGS_KEYS = ("nplc", "autozero", "readings", "settle_time")
SETTINGS_OPTIONAL = ("plausibility_limit",)
POINT_REQUIRED = ("range", "nominal")
POINT_OPTIONAL = ("id", "readings", "settle_time")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$")


_CACHE: dict[tuple[str, str], Procedure] = {}


def load_procedure(path: str | Path) -> Procedure:
    """Load, validate and resolve the procedure file at ``path``.

    Raises :class:`labauto.errors.SourceError` for unreadable or malformed YAML and
    :class:`ProcedureError` (a SourceError) listing every problem of a well-formed file.

    A :class:`Procedure` is immutable, so a file whose bytes (SHA-256) were already loaded in
    this process is not parsed again (each test-point task of a flow reopens its run).
    """
    path = Path(path)
    try:
        key = (str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest())
    except OSError:
        key = None       # _load reports the unreadable file with its path
    hit = _CACHE.get(key) if key is not None else None
    if hit is not None and _models_unchanged(hit):
        return hit
    procedure = _load(path)
    if key is not None and procedure.sha256 == key[1]:
        _CACHE[key] = procedure
    return procedure


def _models_unchanged(procedure: Procedure) -> bool:
    """The instrument model files the cached procedure was resolved with are still the same
    (their specifications set its tolerances)."""
    return all(load_instrument_model(str(m.folder)).sha256 == m.sha256
               for m in (procedure.dut_model, procedure.standard_model))


def _load(path: Path) -> Procedure:
    doc = load(path)
    problems = Problems(doc.source)
    d = doc.data
    if not isinstance(d, dict):
        raise ProcedureError(str(path), [(1, "a procedure file must be a mapping with keys "
                                             f"{', '.join(TOP_REQUIRED + TOP_OPTIONAL)}")])
    try:
        check_keys(problems, (), d, "the procedure file", required=TOP_REQUIRED,
                   optional=TOP_OPTIONAL)
    except Invalid:
        pass   # report the rest of the file too

    meta = _section(problems, d, "procedure", _meta)
    dut = _section(problems, d, "dut", lambda p, v: _instrument(p, "dut", v, path, DUT_ROLES))
    standard = _section(problems, d, "standard",
                        lambda p, v: _instrument(p, "standard", v, path, STANDARD_ROLES))
    functions = _section(problems, d, "function", lambda p, v: _function(p, v, dut, standard))
    dut_fn, std_fn = functions if functions else (None, None)
    settings = _section(problems, d, "settings", lambda p, v: _settings(p, v, dut_fn, dut))
    rule = _section(problems, d, "decision_rule", _decision_rule)
    contributions: tuple[Contribution, ...] = ()
    if "contributions" in d and dut_fn is not None:
        contributions = _contributions(problems, d["contributions"], dut_fn)
    points: list[TestPoint] = []
    if "points" in d and dut_fn is not None and std_fn is not None and dut and standard:
        default_readings, default_settle = (settings["readings"], settings["settle_time"]) \
            if settings else (2, Q_(0, "s"))
        points = _points(problems, d["points"], dut, dut_fn, standard, std_fn,
                         default_readings, default_settle)
    problems.raise_if_any()
    assert meta and dut and standard and dut_fn and settings and rule is not None
    return Procedure(
        id=meta["id"], title=meta["title"], version=meta["version"], method=meta["method"],
        description=meta.get("description", ""), path=path, sha256=doc.sha256,
        function=dut_fn.name, dut_model=dut, standard_model=standard, nplc=settings["nplc"],
        autozero=settings["autozero"], readings=settings["readings"],
        settle_time=settings["settle_time"], plausibility_limit=settings["plausibility_limit"],
        decision_rule=rule,
        contributions=contributions, points=tuple(points))


def _section(problems: Problems, d: dict[str, Any], key: str, parse: Any) -> Any:
    """Parse ``d[key]`` with ``parse(problems, value)``; None when absent or invalid."""
    if key not in d:
        return None
    try:
        return parse(problems, d[key])
    except Invalid:
        return None


def _meta(problems: Problems, data: Any) -> dict[str, str]:
    check_keys(problems, ("procedure",), data, "the 'procedure' section",
               required=META_REQUIRED, optional=META_OPTIONAL)
    out: dict[str, str] = {}
    for key in META_REQUIRED + META_OPTIONAL:
        if key in data:
            try:
                out[key] = text(problems, ("procedure", key), data[key], f"procedure {key}")
            except Invalid:
                pass
    if "id" in out and not _ID.match(out["id"]):
        problems.add(("procedure", "id"), f"procedure id {out['id']!r} may contain only letters, "
                                          "digits and . _ + - (it names runs and certificates)")
    if len(out) < len(META_REQUIRED) + sum(k in data for k in META_OPTIONAL):
        raise Invalid("procedure")
    return out


def _instrument(problems: Problems, key: str, value: Any, path: Path,
                roles: tuple[str, ...]) -> InstrumentModel:
    name = text(problems, (key,), value, f"{key} (an instrument model, e.g. keysight_34465a)")
    local = path.parent / name
    try:
        model = load_instrument_model(str(local) if "/" in name and local.exists() else name)
    except SourceError as exc:
        raise problems.fail((key,), f"instrument model {name!r} is invalid: {exc}") from None
    except LabautoError as exc:
        raise problems.fail((key,), str(exc)) from None
    if model.role not in roles:
        raise problems.fail((key,), f"{key} {name!r} is a {model.role} "
                                    f"({model.manufacturer} {model.model}); the {key} must be a "
                                    f"{' or '.join(roles)}")
    return model


def _function(problems: Problems, value: Any, dut: InstrumentModel | None,
              standard: InstrumentModel | None) -> tuple[FunctionSpec, FunctionSpec]:
    name = text(problems, ("function",), value, "function (e.g. DCV)")
    if name not in SUPPORTED_FUNCTIONS:
        raise problems.fail(("function",), f"function {name!r} is not supported by the "
                                           f"calibration engine; supported: "
                                           f"{', '.join(SUPPORTED_FUNCTIONS)}")
    if dut is None or standard is None:
        raise Invalid("function")
    try:
        dut_fn = dut.function(name)
    except KeyError as exc:
        raise problems.fail(("function",), f"the dut {dut.key}: {exc.args[0]}") from None
    try:
        std_fn = standard.function(name)
    except KeyError as exc:
        raise problems.fail(("function",), f"the standard {standard.key} cannot source {name}: "
                                           f"{exc.args[0]}") from None
    if dut_fn.unit.dimensionality != std_fn.unit.dimensionality:
        raise problems.fail(("function",), f"{name} is in {dut_fn.unit:~P} on the dut but in "
                                           f"{std_fn.unit:~P} on the standard")
    return dut_fn, std_fn


def _readings(problems: Problems, path: PathKey, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise problems.fail(path, f"readings must be a whole number >= 2, not {value!r}")
    if value < 2:
        raise problems.fail(path, f"readings must be at least 2 (the Type A evaluation needs "
                                  f"n >= 2 to estimate a standard deviation); got {value}")
    return value


def _settle_time(problems: Problems, path: PathKey, value: Any) -> pint.Quantity:
    q = quantity(problems, path, value, "s", "settle_time")
    if q.magnitude < 0:
        raise problems.fail(path, f"settle_time must not be negative, not {value!r}")
    return q


def _settings(problems: Problems, data: Any, dut_fn: FunctionSpec | None,
              dut: InstrumentModel | None) -> dict[str, Any]:
    check_keys(problems, ("settings",), data, "the 'settings' section", required=SETTINGS_KEYS,
               optional=SETTINGS_OPTIONAL)
    out: dict[str, Any] = {}
    nplc = data["nplc"]
    if isinstance(nplc, bool) or not isinstance(nplc, (int, float)) or not nplc > 0:
        problems.add(("settings", "nplc"), f"nplc must be a positive number of power-line cycles, "
                                           f"not {nplc!r}")
    elif dut_fn is not None and dut is not None and dut_fn.nplc and not any(
            math.isclose(nplc, x, rel_tol=1e-9) for x in dut_fn.nplc):
        offered = ", ".join(f"{x:g}" for x in dut_fn.nplc)
        problems.add(("settings", "nplc"), f"NPLC {nplc:g} is not offered by the "
                                           f"{dut.manufacturer} {dut.model} on {dut_fn.name}; "
                                           f"choose one of {offered}")
    else:
        out["nplc"] = float(nplc)
    if isinstance(data["autozero"], bool):
        out["autozero"] = data["autozero"]
    else:
        problems.add(("settings", "autozero"), f"autozero must be true or false, not "
                                               f"{data['autozero']!r}")
    for key, parse in (("readings", _readings), ("settle_time", _settle_time)):
        try:
            out[key] = parse(problems, ("settings", key), data[key])
        except Invalid:
            pass
    if len(out) < len(SETTINGS_KEYS):
        raise Invalid("settings")
    limit = data.get("plausibility_limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
        raise problems.fail(("settings", "plausibility_limit"),
                            f"plausibility_limit must be a positive number of tolerances, not {limit!r}")
    out["plausibility_limit"] = float(limit)
    return out


RULE_KEYS = ("guard_band", "conformance_probability", "false_accept_risk", "in_tolerance_probability")


def _decision_rule(problems: Problems, value: Any) -> DecisionRule:
    """A rule name (``guard-band-U``, ``guarded-acceptance-dobbert`` ...) or a mapping
    ``{rule: guarded-acceptance | guarded-rejection, <guard band or risk target>}``."""
    if isinstance(value, dict):
        check_keys(problems, ("decision_rule",), value, "the decision_rule mapping",
                   required=("rule",), optional=RULE_KEYS)
        try:
            return parse_rule(value)
        except ConformityError as exc:
            reason = str(exc)
            key = next((k for k in ("rule",) + RULE_KEYS if reason.startswith(k) and k in value),
                       None)
            raise problems.fail(("decision_rule", key) if key else ("decision_rule",),
                                f"decision_rule: {reason}") from None
    if not isinstance(value, str):
        raise problems.fail(("decision_rule",), "decision_rule must be a rule name such as "
                                                "simple-acceptance or guard-band-U, or a mapping "
                                                "{rule: guarded-acceptance, guard_band: dobbert}")
    try:
        return parse_rule(value)
    except ConformityError as exc:
        raise problems.fail(("decision_rule",), str(exc)) from None


def _contributions(problems: Problems, data: Any, fn: FunctionSpec) -> tuple[Contribution, ...]:
    if not isinstance(data, list):
        problems.add(("contributions",), "contributions must be a list of mappings")
        return ()
    out: list[Contribution] = []
    seen: dict[str, int | None] = {}
    for i, entry in enumerate(data):
        path = ("contributions", i)
        try:
            c = parse_contribution(problems, path, entry, f"{fn.unit:~P}", fn.name)
        except Invalid:
            continue
        if c.name in seen:
            problems.add(path + ("name",), f"duplicate contribution name {c.name!r} (first at "
                                           f"line {seen[c.name]})")
            continue
        seen[c.name] = problems.source.line(path + ("name",))
        out.append(c)
    return tuple(out)


def _compact(q: pint.Quantity, signed: bool = False) -> str:
    """``10 V`` -> ``10V`` / ``+10V``; ASCII units (µ -> u) so ids are safe everywhere."""
    m = float(q.magnitude)
    unit = f"{q.units:~P}".replace("µ", "u").replace("Ω", "Ohm").replace(" ", "")
    if m == 0:
        return f"0{unit}"
    return (f"{m:+g}" if signed else f"{abs(m):g}") + unit


def point_id(function: str, dut_range: RangeSpec, nominal: pint.Quantity) -> str:
    """Stable id of a point: ``DCV-10V-+10V`` (function, DUT range, signed nominal)."""
    return f"{function}-{_compact(dut_range.range)}-{_compact(nominal, signed=True)}"


def _points(problems: Problems, data: Any, dut: InstrumentModel, dut_fn: FunctionSpec,
            standard: InstrumentModel, std_fn: FunctionSpec, default_readings: int,
            default_settle: pint.Quantity) -> list[TestPoint]:
    if not isinstance(data, list) or not data:
        problems.add(("points",), "points must be a non-empty list of "
                                  "{range: ..., nominal: ...} entries")
        return []
    unit = f"{dut_fn.unit:~P}"
    points: list[TestPoint] = []
    first_line: dict[str, int | None] = {}
    for i, entry in enumerate(data):
        path: PathKey = ("points", i)
        try:
            check_keys(problems, path, entry, "a test point", required=POINT_REQUIRED,
                       optional=POINT_OPTIONAL)
            dut_range = _dut_range(problems, path + ("range",), entry["range"], dut, dut_fn)
        except Invalid:
            continue
        readings, settle = default_readings, default_settle
        try:
            if "readings" in entry:
                readings = _readings(problems, path + ("readings",), entry["readings"])
            if "settle_time" in entry:
                settle = _settle_time(problems, path + ("settle_time",), entry["settle_time"])
        except Invalid:
            continue
        raw = entry["nominal"]
        nominals = [(path + ("nominal", j), v) for j, v in enumerate(raw)] \
            if isinstance(raw, list) else [(path + ("nominal",), raw)]
        if not nominals:
            problems.add(path + ("nominal",), "nominal is an empty list; give at least one value")
            continue
        given_id = None
        if "id" in entry:
            try:
                given_id = text(problems, path + ("id",), entry["id"], "point id")
                if len(nominals) > 1:
                    raise problems.fail(path + ("id",), "an explicit id names one point; give "
                                                        "nominal as a single value or drop the id")
                if not _ID.match(given_id):
                    raise problems.fail(path + ("id",), f"point id {given_id!r} may contain only "
                                                        "letters, digits and . _ + -")
            except Invalid:
                continue
        for npath, value in nominals:
            try:
                nominal = _nominal(problems, npath, value, unit, dut, dut_fn, dut_range)
                std_range = _standard_range(problems, npath, nominal, standard, std_fn)
            except Invalid:
                continue
            pid = given_id or point_id(dut_fn.name, dut_range, nominal)
            line = problems.source.line(npath)
            if pid in first_line:
                problems.add(npath, f"duplicate point id {pid!r} (first at line "
                                    f"{first_line[pid]}); measure each value once per range or "
                                    "give the point an explicit distinct id")
                continue
            first_line[pid] = line
            points.append(TestPoint(
                id=pid, index=len(points), function=dut_fn.name, range=dut_range.range,
                nominal=nominal, readings=readings, settle_time=settle,
                tolerance=dut_range.accuracy_halfwidth(nominal).to(nominal.units),
                dut_range=dut_range, standard_range=std_range, line=line))
    return points


def _dut_range(problems: Problems, path: PathKey, value: Any, dut: InstrumentModel,
               fn: FunctionSpec) -> RangeSpec:
    rng = quantity(problems, path, value, f"{fn.unit:~P}", "range")
    try:
        return fn.range_named(rng)
    except KeyError as exc:
        raise problems.fail(path, f"the {dut.manufacturer} {dut.model} has {exc.args[0]}") from None


def _nominal(problems: Problems, path: PathKey, value: Any, unit: str, dut: InstrumentModel,
             fn: FunctionSpec, rng: RangeSpec) -> pint.Quantity:
    q = quantity(problems, path, value, unit, "nominal", note=f"{fn.name} values are in {unit}")
    if not rng.covers(q):
        raise problems.fail(path, f"nominal {q:~P} is outside the limits of the "
                                  f"{rng.range:~P} range of the {dut.manufacturer} {dut.model} "
                                  f"({rng.minimum:~P} to {rng.maximum:~P}); use a range that "
                                  "covers it")
    return q


def _standard_range(problems: Problems, path: PathKey, nominal: pint.Quantity,
                    standard: InstrumentModel, fn: FunctionSpec) -> RangeSpec:
    try:
        return fn.range_for(nominal)
    except KeyError:
        lo = min(r.minimum.to(fn.unit) for r in fn.ranges)
        hi = max(r.maximum.to(fn.unit) for r in fn.ranges)
        raise problems.fail(path, f"nominal {nominal:~P} is beyond the capability of the "
                                  f"standard {standard.manufacturer} {standard.model} "
                                  f"({standard.key}): no {fn.name} range covers it (it sources "
                                  f"{lo:~P} to {hi:~P})") from None

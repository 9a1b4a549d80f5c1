"""Load and validate a procedure file (``procedures/*.yaml``) into a :class:`Procedure`.

Everything a run depends on is checked here, before any instrument is touched, against the
instrument models in ``instruments/``: unknown keys, units, ranges, the DUT range limits, the
standard's capability, settings the DUT offers, the decision rule, contributions and point ids.
Every problem found is reported as ``file:line: reason`` (all of them, in line order) in one
:class:`ProcedureError`.  See docs/procedures.md for the file format.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pint

from labauto.conformity import ConformityError, DecisionRule, parse_rule
from labauto.errors import LabautoError, SourceError
from labauto.instruments import (FunctionSpec, InstrumentModel, RangeSpec, load_instrument_model,
                                 setting_word)
from labauto.models.reference import ReferenceCertificate, load_reference_certificate
from labauto.procedure.contributions import Contribution, parse_contribution
from labauto.procedure.model import OperatorStep, Procedure, TestPoint
from labauto.procedure import shunts as sh
from labauto.engine.plausibility import DEFAULT_LIMIT
from labauto.procedure.schema import Invalid, ProcedureError, Problems, check_keys, quantity, text
from labauto.units import Q_
from labauto.yamlsource import PathKey, load

# The functions the engine, the measurement models and the simulated lab handle.  A model file
# may describe others (they load), but a procedure may only use these.
SUPPORTED_FUNCTIONS = ("DCV", "ACV", "DCI", "ACI", "RES2W", "RES4W", "FREQ")
METER_ROLES = ("meter",)
SOURCE_ROLES = ("source",)
MEASUREMENT_MODELS = {"meter": "error of indication", "source": "error of output"}

TOP_REQUIRED = ("procedure", "dut", "standard", "settings", "decision_rule", "points")
TOP_OPTIONAL = ("function", "contributions", "measurement_model", "reference", "load",
                "adjustment", "readback_noise", "shunts", "environment")
META_REQUIRED = ("id", "title", "version", "method")
META_OPTIONAL = ("description",)
SETTINGS_REQUIRED = ("readings", "settle_time")
SETTINGS_OPTIONAL = ("plausibility_limit",)
POINT_REQUIRED = ("range", "nominal")
POINT_OPTIONAL = ("id", "function", "frequency", "settings", "readings", "settle_time",
                  "readback", "shunt")
STEP_KEYS = ("step",)
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
    for cert in (procedure.reference_certificate, procedure.readback_noise):
        if cert is None:
            continue
        try:
            if hashlib.sha256(cert.path.read_bytes()).hexdigest() != cert.sha256:
                return False
        except OSError:
            return False
    for use in procedure.shunts:         # and the shunts' files (their certified values)
        try:
            if hashlib.sha256(use.shunt.path.read_bytes()).hexdigest() != use.shunt.sha256:
                return False
        except OSError:
            return False
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
    dut = _section(problems, d, "dut", lambda p, v: _instrument(p, "dut", v, path))
    standard = _section(problems, d, "standard", lambda p, v: _instrument(p, "standard", v, path))
    direction = _direction(problems, dut, standard) if dut and standard else None
    default_fn = _section(problems, d, "function",
                          lambda p, v: _default_function(p, v, dut, standard, direction))
    settings = _section(problems, d, "settings",
                        lambda p, v: _settings(p, v, dut, standard, direction))
    rule = _section(problems, d, "decision_rule", _decision_rule)
    model_name = _section(problems, d, "measurement_model",
                          lambda p, v: _measurement_model(p, v, direction))
    if model_name is None and direction is not None:
        model_name = MEASUREMENT_MODELS[direction]
    certificate, period = _section(problems, d, "reference",
                                   lambda p, v: _reference(p, v, path, standard)) or (None, None)
    if period is not None and standard is not None:
        named = {d.get("function")} | {e.get("function") for e in d.get("points") or ()
                                         if isinstance(e, dict)}
        standard = _section(problems, d, "reference", lambda p, v, std=standard: _period_model(
            p, std, period, {n for n in named if isinstance(n, str)}))
    # a default function that is invalid was reported: points and contributions depend on it
    load_r = _section(problems, d, "load", lambda p, v: _load_resistance(p, v, direction))
    environment = _section(problems, d, "environment", _environment_limits) or {}
    shunt_uses = _section(problems, d, "shunts",
                          lambda p, v: sh.parse_shunts(p, v, path, direction)) or {}
    usable = direction is not None and ("function" not in d or default_fn is not None)
    contributions: tuple[Contribution, ...] = ()
    if "contributions" in d and dut is not None and standard is not None and usable:
        contributions = _contributions(problems, d["contributions"], default_fn,
                                       _meter(direction, dut, standard))
    points: list[TestPoint] = []
    if "points" in d and dut and standard and usable:
        points = _points(problems, d["points"], _Context(
            dut, standard, direction, default_fn, settings or {}, contributions, load_r,
            shunt_uses))
    if certificate is not None:
        _check_certified(problems, certificate, points)
    noise = None
    if "readback_noise" in d and dut is not None:
        noise = _section(problems, d, "readback_noise",
                         lambda p, v: _readback_noise(p, v, path, dut, points))
    adjustment = None
    if "adjustment" in d and points and dut is not None and direction is not None:
        from labauto.procedure.adjustment import parse_adjustment

        adjustment = parse_adjustment(problems, d["adjustment"], points, dut, direction)
    problems.raise_if_any()
    assert meta and dut and standard and settings is not None and rule is not None and direction
    return Procedure(
        id=meta["id"], title=meta["title"], version=meta["version"], method=meta["method"],
        description=meta.get("description", ""), path=path, sha256=doc.sha256,
        function=default_fn or points[0].function, dut_model=dut, standard_model=standard,
        settings={k: v for k, v in settings.items()
                  if k not in SETTINGS_REQUIRED + SETTINGS_OPTIONAL},
        plausibility_limit=settings.get("plausibility_limit", DEFAULT_LIMIT),
        readings=settings["readings"], settle_time=settings["settle_time"], decision_rule=rule,
        contributions=contributions, points=tuple(points), measurement_model=model_name,
        reference="certificate" if certificate is not None else (
            f"specification ({period})" if period else "specification"),
        reference_certificate=certificate, load=load_r, adjustment=adjustment,
        readback_noise=noise, shunts=tuple(shunt_uses.values()), environment_limits=environment)


def _environment_limits(problems: Problems, data: Any) -> dict[str, Any]:
    """``environment: {limits: {temperature: {min: 22 degC, max: 24 degC}, relative_humidity:
    {...}}}``: the ambient conditions the procedure's uncertainty budget holds for.  They narrow
    the lab file's limits (labauto.conditions.combined_limits); the conditions themselves are
    measured during the run, never written here."""
    from labauto.conditions import QUANTITY_UNITS, Limits

    check_keys(problems, ("environment",), data, "environment", required=("limits",))
    out: dict[str, Any] = {}
    limits = data["limits"]
    if not isinstance(limits, dict) or not limits:
        raise problems.fail(("environment", "limits"), "limits must name temperature and/or "
                            "relative_humidity, e.g. temperature: {min: 22 degC, max: 24 degC}")
    for name, lim in limits.items():
        at = ("environment", "limits", name)
        if name not in QUANTITY_UNITS:
            problems.add(at, f"unknown quantity {name!r} in environment limits; use "
                             f"{', '.join(sorted(QUANTITY_UNITS))}")
            continue
        try:
            check_keys(problems, at, lim, f"the {name} limits", required=("min", "max"))
            lo, hi = (quantity(problems, at + (k,), lim[k], QUANTITY_UNITS[name], f"{name} {k}")
                      for k in ("min", "max"))
        except Invalid:
            continue
        if not lo < hi:
            problems.add(at + ("max",), f"{name} max must be above min ({lim['min']})")
            continue
        out[name] = Limits(lo, hi)
    return out


def _meter(direction: str, dut: InstrumentModel, standard: InstrumentModel) -> InstrumentModel:
    return standard if direction == "source" else dut


def _direction(problems: Problems, dut: InstrumentModel, standard: InstrumentModel) -> str | None:
    """``meter`` (a meter under test against a reference source) or ``source`` (a source
    under test against a reference meter)."""
    if dut.role in METER_ROLES and standard.role in SOURCE_ROLES:
        return "meter"
    if dut.role in SOURCE_ROLES and standard.role in METER_ROLES:
        return "source"
    if dut.role in METER_ROLES:
        problems.add(("standard",), f"standard {standard.key!r} is a {standard.role} "
                                    f"({standard.manufacturer} {standard.model}); for a meter "
                                    "under test the standard must be a calibrator or another source")
    elif dut.role in SOURCE_ROLES:
        problems.add(("standard",), f"standard {standard.key!r} is a {standard.role} "
                                    f"({standard.manufacturer} {standard.model}); for a source "
                                    "under test the standard must be a reference meter")
    else:
        problems.add(("dut",), f"dut {dut.key!r} is a {dut.role}; the dut must be a meter or "
                               "a source")
    return None


def _measurement_model(problems: Problems, value: Any, direction: str | None) -> str:
    name = text(problems, ("measurement_model",), value, "measurement_model")
    if name not in MEASUREMENT_MODELS.values():
        raise problems.fail(("measurement_model",), f"unknown measurement model {name!r}; "
                                                    f"use {' or '.join(MEASUREMENT_MODELS.values())}")
    if direction is not None and name != MEASUREMENT_MODELS[direction]:
        raise problems.fail(("measurement_model",), f"{name!r} does not fit a {direction} under "
                                                    f"test; use {MEASUREMENT_MODELS[direction]!r}")
    return name


def _reference(problems: Problems, value: Any, path: Path, standard: InstrumentModel | None
               ) -> tuple[ReferenceCertificate | None, str | None]:
    """(certificate, period): ``reference: specification`` (None, None); ``{specification:
    PERIOD}`` (None, '24 hours'): the standard's figures for that period in its model file
    (a range's ``periods:``); ``{certificate: FILE}`` (relative to the procedure): the
    standard's calibration certificate (labauto.models.reference)."""
    if value == "specification":
        return None, None
    if isinstance(value, dict) and set(value) == {"specification"}:
        return None, text(problems, ("reference", "specification"), value["specification"],
                          "the specification period")
    if not isinstance(value, dict) or set(value) != {"certificate"}:
        raise problems.fail(("reference",), "reference is 'specification' (the standard's "
                                            "model file), {specification: PERIOD} (its figures "
                                            "for another period, e.g. 24 hours) or "
                                            "{certificate: FILE} (its calibration certificate's "
                                            f"values), not {value!r}")
    file = path.parent / str(value["certificate"])
    try:
        cert = load_reference_certificate(file)
    except (SourceError, OSError) as exc:
        raise problems.fail(("reference", "certificate"), f"reference certificate: {exc}") from None
    if standard is not None and (cert.manufacturer.casefold(), cert.model) != (
            standard.manufacturer.casefold(), standard.model):
        raise problems.fail(("reference", "certificate"),
                            f"certificate {cert.certificate_id} ({file}) is for a "
                            f"{cert.manufacturer} {cert.model}, not the standard "
                            f"{standard.manufacturer} {standard.model}")
    return cert, None


def _period_model(problems: Problems, standard: InstrumentModel, period: str,
                  functions: set[str]) -> InstrumentModel:
    """The standard with its ``period`` figures; only its functions that state them (each of
    ``functions``, the procedure's, must be one)."""
    try:
        model = standard.for_period(period)
    except KeyError as exc:
        raise problems.fail(("reference", "specification"), exc.args[0]) from None
    lacking = sorted(f for f in functions if f in standard.functions and f not in model.functions)
    if lacking:
        raise problems.fail(("reference", "specification"),
                            f"the {standard.name}'s model file states {period} figures for "
                            f"{', '.join(model.functions)} only, not {', '.join(lacking)}: use "
                            "'reference: specification' for those points")
    return model


def _check_certified(problems: Problems, cert: ReferenceCertificate,
                     points: list[TestPoint]) -> None:
    """Every point finds the certified value of the standard it uses."""
    for p in points:
        if p.shunt is not None:
            problems.items.append((p.line, f"point {p.id}: a shunt point takes the reference "
                                           "meter by its specification (reference: "
                                           "specification); its certificate's values are not "
                                           "looked up at the shunt's voltage"))
            continue
        try:
            cert.value_for(p.function, p.standard_range.range, p.nominal)
        except KeyError as exc:
            problems.items.append((p.line, f"point {p.id}: {exc.args[0]}"))


def _readback_noise(problems: Problems, value: Any, path: Path, dut: InstrumentModel,
                    points: list[TestPoint]) -> Any:
    """``readback_noise: FILE`` (relative to the procedure): the DUT's readback noise as a
    characterisation measured it (labauto.models.readback_noise); every readback point must
    find its function and channel there, at the readback resolution of the model file."""
    from labauto.models.readback_noise import load_readback_noise

    if not isinstance(value, str):
        raise problems.fail(("readback_noise",), "readback_noise is the file of the DUT's "
                                                 f"readback characterisation, not {value!r}")
    file = path.parent / value
    try:
        noise = load_readback_noise(file)
    except (SourceError, OSError) as exc:
        raise problems.fail(("readback_noise",), f"readback noise: {exc}") from None
    if (noise.manufacturer.casefold(), noise.model) != (dut.manufacturer.casefold(), dut.model):
        raise problems.fail(("readback_noise",), f"{file} characterises a {noise.manufacturer} "
                                                 f"{noise.model}, not the DUT {dut.manufacturer} "
                                                 f"{dut.model}")
    for p in points:
        if not p.readback:
            continue
        channel = p.source_settings.get("channel")
        entry = noise.entry_for(p.function, None if channel is None else int(channel))
        if entry is None:
            problems.items.append((p.line, f"point {p.id}: {file.name} has no {p.function} "
                                           f"entry for channel {channel}"))
        elif abs((entry.resolution - p.dut_range.resolution).to(entry.resolution.units).m) > \
                1e-9 * entry.resolution.m:
            problems.items.append((p.line, f"point {p.id}: {file.name} characterised the "
                                           f"readback at {entry.resolution:~P} steps, the model "
                                           f"file states {p.dut_range.resolution:~P}"))
    return noise


def _load_resistance(problems: Problems, value: Any, direction: str | None) -> pint.Quantity:
    """``load: 2 ohm``: the load resistor a source under test drives on its current points
    (in series with the reference meter's current input)."""
    r = quantity(problems, ("load",), value, "ohm", "load")
    if not r.magnitude > 0:
        raise problems.fail(("load",), f"load must be a positive resistance, not {value!r}")
    if direction == "meter":
        raise problems.fail(("load",), "load is the load resistor of a source under test's "
                                       "current points; a meter under test takes none")
    return r


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


def _instrument(problems: Problems, key: str, value: Any, path: Path) -> InstrumentModel:
    name = text(problems, (key,), value, f"{key} (an instrument model, e.g. keysight_34465a)")
    local = path.parent / name
    try:
        model = load_instrument_model(str(local) if "/" in name and local.exists() else name)
    except SourceError as exc:
        raise problems.fail((key,), f"instrument model {name!r} is invalid: {exc}") from None
    except LabautoError as exc:
        raise problems.fail((key,), str(exc)) from None
    if model.role not in METER_ROLES + SOURCE_ROLES:
        raise problems.fail((key,), f"{key} {name!r} is a {model.role} ({model.manufacturer} "
                                    f"{model.model}); a calibration needs a meter and a source")
    return model


def _function_pair(problems: Problems, path: PathKey, name: str, dut: InstrumentModel,
                   standard: InstrumentModel) -> tuple[FunctionSpec, FunctionSpec]:
    """The function ``name`` on the DUT and on the standard, or a problem at ``path``."""
    if name not in SUPPORTED_FUNCTIONS:
        raise problems.fail(path, f"function {name!r} is not supported by the calibration "
                                  f"engine; supported: {', '.join(SUPPORTED_FUNCTIONS)}")
    pair = []
    for who, m in (("dut", dut), ("standard", standard)):
        try:
            pair.append(m.function(name))
        except KeyError as exc:
            hint = ""
            if name == "RES4W" and "RES2W" in m.functions:
                hint = f"; the {m.manufacturer} {m.model} is a 2-wire-only model: use RES2W"
            raise problems.fail(path, f"the {who} {m.key}: {exc.args[0]}{hint}") from None
    dut_fn, std_fn = pair
    if dut_fn.unit.dimensionality != std_fn.unit.dimensionality:
        raise problems.fail(path, f"{name} is in {dut_fn.unit:~P} on the dut but in "
                                  f"{std_fn.unit:~P} on the standard")
    return dut_fn, std_fn


def _default_function(problems: Problems, value: Any, dut: InstrumentModel | None,
                      standard: InstrumentModel | None, direction: str | None) -> str:
    name = text(problems, ("function",), value, "function (e.g. DCV)")
    if name not in SUPPORTED_FUNCTIONS:
        raise problems.fail(("function",), f"function {name!r} is not supported by the "
                                           f"calibration engine; supported: "
                                           f"{', '.join(SUPPORTED_FUNCTIONS)}")
    if dut is None or standard is None or direction is None:
        raise Invalid("function")
    _function_pair(problems, ("function",), name, dut, standard)
    return name


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


def _settings(problems: Problems, data: Any, dut: InstrumentModel | None,
              standard: InstrumentModel | None, direction: str | None) -> dict[str, Any]:
    """readings and settle_time (required), and defaults of instrument settings (nplc,
    autozero, bandwidth ...) for every point whose function offers them."""
    offered = _offered_settings(dut, standard) if direction else \
        set(data if isinstance(data, dict) else ())     # instruments unknown: check them later
    check_keys(problems, ("settings",), data, "the 'settings' section",
               required=SETTINGS_REQUIRED,
               optional=SETTINGS_OPTIONAL + tuple(sorted(offered)))
    out: dict[str, Any] = {}
    for key, parse in (("readings", _readings), ("settle_time", _settle_time)):
        try:
            out[key] = parse(problems, ("settings", key), data[key])
        except Invalid:
            pass
    for key, value in data.items():
        if key in SETTINGS_REQUIRED:
            continue
        if isinstance(value, str):
            value = setting_word(value)
        out[key] = value
    if any(k not in out for k in SETTINGS_REQUIRED):
        raise Invalid("settings")
    limit = data.get("plausibility_limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
        raise problems.fail(("settings", "plausibility_limit"),
                            f"plausibility_limit must be a positive number of tolerances, not {limit!r}")
    out["plausibility_limit"] = float(limit)
    return out


def _offered_settings(*models: InstrumentModel | None) -> set[str]:
    return {name for m in models if m is not None for f in m.functions.values()
            for name in f.settings}


def _setting_label(name: str) -> str:
    return "NPLC" if name == "nplc" else name


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


def _contributions(problems: Problems, data: Any, default_fn: str | None,
                   meter: InstrumentModel) -> tuple[Contribution, ...]:
    if not isinstance(data, list):
        problems.add(("contributions",), "contributions must be a list of mappings")
        return ()
    out: list[Contribution] = []
    seen: dict[tuple[str, str], int | None] = {}
    for i, entry in enumerate(data):
        path = ("contributions", i)
        try:
            scope = _contribution_scope(problems, path, entry, default_fn, meter)
            unit = f"{meter.function(scope[0]).unit:~P}"
            c = parse_contribution(problems, path, entry, unit, "/".join(scope), scope)
        except Invalid:
            continue
        clash = [f for f in c.functions if (f, c.name) in seen]
        if clash:
            problems.add(path + ("name",), f"duplicate contribution name {c.name!r} (first at "
                                           f"line {seen[(clash[0], c.name)]})")
            continue
        for f in c.functions:
            seen[(f, c.name)] = problems.source.line(path + ("name",))
        out.append(c)
    return tuple(out)


def _contribution_scope(problems: Problems, path: PathKey, entry: Any, default_fn: str | None,
                        meter: InstrumentModel) -> tuple[str, ...]:
    if not isinstance(entry, dict) or "function" not in entry:
        if default_fn is None:
            if isinstance(entry, dict):
                raise problems.fail(path, "say which function this contribution applies to "
                                          "(function: DCV, or a list), or give the procedure a "
                                          "default 'function:'")
            return ("DCV",)   # parse_contribution reports the malformed entry
        return (default_fn,)
    raw = entry["function"]
    names = raw if isinstance(raw, list) else [raw]
    if not names or not all(isinstance(n, str) for n in names):
        raise problems.fail(path + ("function",), "function must be a function name or a list "
                                                  "of them")
    units = set()
    for n in names:
        if n not in meter.functions:
            raise problems.fail(path + ("function",), f"{meter.manufacturer} {meter.model} has no "
                                                      f"function {n!r}")
        units.add(meter.function(n).unit)
    if len(units) > 1:
        raise problems.fail(path + ("function",), "the functions of one contribution must share "
                                                  "a unit (give one contribution per unit)")
    return tuple(names)


def _compact(q: pint.Quantity, signed: bool = False) -> str:
    """``10 V`` -> ``10V`` / ``+10V``; ASCII units (µ -> u) so ids are safe everywhere."""
    m = float(q.magnitude)
    unit = f"{q.units:~P}".replace("µ", "u").replace("Ω", "Ohm").replace(" ", "")
    if m == 0:
        return f"0{unit}"
    return (f"{m:+g}" if signed else f"{abs(m):g}") + unit


def point_id(function: str, dut_range: RangeSpec, nominal: pint.Quantity,
             frequency: pint.Quantity | None = None) -> str:
    """Stable id of a point: ``DCV-10V-+10V`` (function, meter range, signed nominal), with
    the frequency for AC: ``ACV-1V-+1V-1kHz``."""
    pid = f"{function}-{_compact(dut_range.range)}-{_compact(nominal, signed=True)}"
    if frequency is not None:
        pid += f"-{_compact(frequency.to_compact())}"
    return pid


@dataclass(frozen=True)
class _Context:
    dut: InstrumentModel
    standard: InstrumentModel
    direction: str
    default_fn: str | None
    settings: dict[str, Any]
    contributions: tuple[Contribution, ...]
    load: pint.Quantity | None = None      # the load resistor in series with a current point
    shunts: dict[str, Any] | None = None   # the procedure's external current shunts by name

    @property
    def meter(self) -> InstrumentModel:
        return _meter(self.direction, self.dut, self.standard)

    @property
    def source(self) -> InstrumentModel:
        return self.dut if self.direction == "source" else self.standard


def _points(problems: Problems, data: Any, ctx: _Context) -> list[TestPoint]:
    if not isinstance(data, list) or not data:
        problems.add(("points",), "points must be a non-empty list of "
                                  "{range: ..., nominal: ...} entries")
        return []
    points: list[TestPoint] = []
    first_line: dict[str, int | None] = {}
    steps: list[OperatorStep] = []
    reported: set[tuple] = set()
    for i, entry in enumerate(data):
        path: PathKey = ("points", i)
        if isinstance(entry, dict) and "step" in entry:
            try:
                check_keys(problems, path, entry, "an operator step", required=STEP_KEYS)
                steps.append(OperatorStep(text(problems, path + ("step",), entry["step"],
                                               "step"), problems.source.line(path + ("step",))))
            except Invalid:
                pass
            continue
        try:
            check_keys(problems, path, entry, "a test point", required=POINT_REQUIRED,
                       optional=POINT_OPTIONAL)
            group = _point_group(problems, path, entry, ctx, reported)
        except Invalid:
            continue
        for npath, nominal_raw, fpath, freq_raw in group.values:
            try:
                point = _point(problems, npath, nominal_raw, fpath, freq_raw, group, ctx,
                               len(points))
            except Invalid:
                continue
            if point.id in first_line:
                problems.add(npath, f"duplicate point id {point.id!r} (first at line "
                                    f"{first_line[point.id]}); measure each value once per range "
                                    "or give the point an explicit distinct id")
                continue
            first_line[point.id] = point.line
            if steps:
                point = replace(point, steps=tuple(steps))
                steps = []
            points.append(point)
    if steps:
        problems.add(("points",), f"operator step {steps[0].text!r} (line {steps[0].line}) "
                                  "comes after the last point; a step belongs before the point "
                                  "that needs it")
    return points


@dataclass
class _Group:
    """One entry of ``points:``: what its nominal values share."""

    function: str
    dut_fn: FunctionSpec
    std_fn: FunctionSpec
    meter_fn: FunctionSpec
    source_fn: FunctionSpec
    meter_range: RangeSpec
    readings: int
    settle: pint.Quantity
    given_id: str | None
    meter_given: dict[str, tuple[PathKey, Any]]
    source_given: dict[str, tuple[PathKey, Any]]
    values: list[tuple[PathKey, Any, PathKey | None, Any]]
    readback: bool = False
    shunt: Any = None          # labauto.procedure.shunts.ShuntUse of a point above the meter's ranges


def _point_group(problems: Problems, path: PathKey, entry: dict[str, Any], ctx: _Context,
                 reported: set[tuple]) -> _Group:
    if "function" in entry:
        name = text(problems, path + ("function",), entry["function"], "function")
        fpath = path + ("function",)
    elif ctx.default_fn is not None:
        name, fpath = ctx.default_fn, ("function",)
    else:
        raise problems.fail(path, "a point needs a function (function: DCV ...) or the "
                                  "procedure a default 'function:'")
    if "function" in entry:
        dut_fn, std_fn = _function_pair(problems, fpath, name, ctx.dut, ctx.standard)
    else:
        dut_fn, std_fn = ctx.dut.function(name), ctx.standard.function(name)
    meter_fn, source_fn = (std_fn, dut_fn) if ctx.direction == "source" else (dut_fn, std_fn)
    shunt = None
    if "shunt" in entry:
        shunt = sh.point_shunt(problems, path + ("shunt",), entry["shunt"], ctx.shunts or {},
                               name, ctx.direction)
        meter_fn = ctx.meter.function(shunt.meter_function)   # the meter reads the shunt's voltage
    meter_range = _meter_range(problems, path + ("range",), entry["range"], ctx.meter, meter_fn,
                               current_hint=shunt is None and name in sh.METER_FUNCTION
                               and ctx.direction == "source")
    readings, settle = ctx.settings.get("readings", 2), ctx.settings.get("settle_time", Q_(0, "s"))
    if "readings" in entry:
        readings = _readings(problems, path + ("readings",), entry["readings"])
    if "settle_time" in entry:
        settle = _settle_time(problems, path + ("settle_time",), entry["settle_time"])
    meter_given, source_given = _point_settings(problems, path, entry, ctx, meter_fn, source_fn,
                                                reported)
    raw = entry["nominal"]
    nominals = [(path + ("nominal", j), v) for j, v in enumerate(raw)] \
        if isinstance(raw, list) else [(path + ("nominal",), raw)]
    if not nominals:
        raise problems.fail(path + ("nominal",), "nominal is an empty list; give at least one value")
    freqs: list[tuple[PathKey | None, Any]] = [(None, None)]
    if "frequency" in entry:
        if not dut_fn.needs_frequency and not std_fn.needs_frequency:
            raise problems.fail(path + ("frequency",), f"{name} is not an AC function: its points "
                                                       "take no frequency")
        raw_f = entry["frequency"]
        freqs = [(path + ("frequency", j), v) for j, v in enumerate(raw_f)] \
            if isinstance(raw_f, list) else [(path + ("frequency",), raw_f)]
        if not freqs:
            raise problems.fail(path + ("frequency",), "frequency is an empty list")
    elif dut_fn.needs_frequency or std_fn.needs_frequency:
        raise problems.fail(path, f"an {name} point needs a frequency (frequency: 1 kHz, or a "
                                  "list of them)")
    given_id = None
    if "id" in entry:
        given_id = text(problems, path + ("id",), entry["id"], "point id")
        if len(nominals) * len(freqs) > 1:
            raise problems.fail(path + ("id",), "an explicit id names one point; give "
                                                "nominal as a single value or drop the id")
        if not _ID.match(given_id):
            raise problems.fail(path + ("id",), f"point id {given_id!r} may contain only "
                                                "letters, digits and . _ + -")
    values = [(np_, nv, fp, fv) for np_, nv in nominals for fp, fv in freqs]
    readback = entry.get("readback", False)
    if not isinstance(readback, bool):
        raise problems.fail(path + ("readback",), f"readback is true or false, not {readback!r}")
    if readback and shunt is not None:
        raise problems.fail(path + ("readback",), "a readback point through a shunt is not "
                                                  "supported yet: measure the readback at a "
                                                  "current the meter reads directly")
    return _Group(name, dut_fn, std_fn, meter_fn, source_fn, meter_range, readings, settle,
                  given_id, meter_given, source_given, values, readback, shunt)


def _point_settings(problems: Problems, path: PathKey, entry: dict[str, Any], ctx: _Context,
                    meter_fn: FunctionSpec, source_fn: FunctionSpec, reported: set[tuple]
                    ) -> tuple[dict[str, tuple[PathKey, Any]], dict[str, tuple[PathKey, Any]]]:
    """The settings a point's instruments are given: the procedure's defaults for the settings
    the function offers, overridden by the point's own ``settings:``."""
    meter: dict[str, tuple[PathKey, Any]] = {}
    source: dict[str, tuple[PathKey, Any]] = {}
    for key, value in ctx.settings.items():
        if key in SETTINGS_REQUIRED:
            continue
        if key in meter_fn.settings:
            meter[key] = (("settings", key), value)
        elif key in source_fn.settings:
            source[key] = (("settings", key), value)
    own = entry.get("settings", {})
    if not isinstance(own, dict):
        raise problems.fail(path + ("settings",), "a point's settings must be a mapping "
                                                  "(e.g. {bandwidth: 200 Hz})")
    for key, value in own.items():
        value = setting_word(value) if isinstance(value, str) else value
        if key in meter_fn.settings:
            meter[key] = (path + ("settings", key), value)
        elif key in source_fn.settings:
            source[key] = (path + ("settings", key), value)
        else:
            offered = sorted(set(meter_fn.settings) | set(source_fn.settings))
            raise problems.fail(path + ("settings", key),
                                f"{meter_fn.name} has no setting {key!r} on the "
                                f"{ctx.meter.model} or the {ctx.source.model}; settings: "
                                f"{', '.join(offered) or 'none'}")
    for given, fn, model in ((meter, meter_fn, ctx.meter), (source, source_fn, ctx.source)):
        for key, (kpath, value) in list(given.items()):
            try:
                given[key] = (kpath, fn.settings[key].normalise(value))
            except ValueError as exc:
                reason = str(exc).replace(f"{key} ", f"{_setting_label(key)} ", 1)
                reason = reason.replace(" is not offered;", f" is not offered by the "
                                        f"{model.manufacturer} {model.model} on {fn.name}; choose "
                                        "one of").replace("choose one of use one of", "choose one of")
                if (kpath, reason) not in reported:
                    reported.add((kpath, reason))
                    problems.add(kpath, reason)
                del given[key]        # reported once; go on checking the rest of the point
    return meter, source


def _point(problems: Problems, npath: PathKey, nominal_raw: Any, fpath: PathKey | None,
           freq_raw: Any, g: _Group, ctx: _Context, index: int) -> TestPoint:
    unit = f"{g.dut_fn.unit:~P}"
    nominal = quantity(problems, npath, nominal_raw, unit, "nominal",
                       note=f"{g.function} values are in {unit}")
    meter_model = ctx.meter
    if g.shunt is None and not g.meter_range.covers(nominal):
        raise problems.fail(npath, f"nominal {nominal:~P} is outside the limits of the "
                                   f"{g.meter_range.range:~P} range of the "
                                   f"{meter_model.manufacturer} {meter_model.model} "
                                   f"({g.meter_range.minimum:~P} to {g.meter_range.maximum:~P}); "
                                   "use a range that covers it" + _shunt_hint(g, ctx, nominal))
    frequency = None
    if freq_raw is not None:
        assert fpath is not None
        frequency = quantity(problems, fpath, freq_raw, "Hz", "frequency")
        if frequency.magnitude <= 0:
            raise problems.fail(fpath, f"frequency must be positive, not {freq_raw!r}")
    source_settings = g.source_fn.resolved_settings({k: v for k, (_, v) in g.source_given.items()})
    channel = source_settings.get("channel")
    source_range = _source_range(problems, npath, nominal, ctx.source, g.source_fn,
                                 "standard" if ctx.direction == "meter" else "dut",
                                 None if channel is None else int(channel))
    dut_range, std_range = (source_range, g.meter_range) if ctx.direction == "source" \
        else (g.meter_range, source_range)
    if g.readback:
        dut_range = _readback_range(problems, npath, source_range, g, ctx)
    line = problems.source.line(npath)
    for who, model, rng in (("dut", ctx.dut, dut_range), ("standard", ctx.standard, std_range)):
        if rng.bands and not g.dut_fn.is_frequency:
            try:
                rng.band_for(frequency)
            except KeyError as exc:
                raise problems.fail(fpath or npath, f"the {who} {model.manufacturer} "
                                                    f"{model.model}: {exc.args[0]}") from None
    _check_bandwidth(problems, g, frequency, fpath)
    if g.shunt is not None:      # the shunt is the load: its rating, the meter range, compliance
        sh.check_point(problems, npath, nominal, g.shunt, g.meter_range, meter_model,
                       source_range, ctx.source, frequency)
    else:
        _check_compliance(problems, npath, nominal, g, source_range, ctx)
    meter_settings = g.meter_fn.resolved_settings({k: v for k, (_, v) in g.meter_given.items()})
    if "bandwidth" in g.meter_fn.settings and "bandwidth" not in g.meter_given and frequency is not None:
        meter_settings["bandwidth"] = _fastest_filter(g.meter_fn, frequency)
    pid = g.given_id or point_id(g.function, g.meter_range, nominal, frequency)
    if not g.given_id and channel is not None and len(g.source_fn.channels) > 1:
        pid += f"-ch{int(channel)}"
    if not g.given_id and g.readback:
        pid += "-readback"
    tolerance = dut_range.accuracy_halfwidth(nominal, frequency).to(nominal.units)
    return TestPoint(
        id=pid, index=index, function=g.function, range=g.meter_range.range, nominal=nominal,
        readings=g.readings, settle_time=g.settle, tolerance=tolerance, dut_range=dut_range,
        standard_range=std_range, line=line, frequency=frequency, meter_settings=meter_settings,
        source_settings=source_settings, readback=g.readback, meter_range=g.meter_range,
        shunt=None if g.shunt is None else sh.at_point(g.shunt, nominal, g.meter_range,
                                                         ctx.contributions),
        contributions=tuple(c for c in ctx.contributions
                            if c.applies_to(g.function, g.meter_range.range, nominal)))


def _readback_range(problems: Problems, npath: PathKey, source_range: RangeSpec, g: "_Group",
                    ctx: _Context) -> RangeSpec:
    """A readback point compares the source's own measurement with the reference meter: the
    DUT's 'range' is its readback specification on the range in use."""
    src = ctx.source
    if ctx.direction != "source":
        raise problems.fail(npath, "readback: true compares a source under test's own "
                                   "measurement with the reference meter; this DUT is a meter")
    if "readback" not in g.source_fn.commands:
        raise problems.fail(npath, f"the {src.manufacturer} {src.model} has no 'readback' "
                                   f"command for {g.function} (its model file): it cannot "
                                   "report its own output")
    if source_range.readback is None:
        raise problems.fail(npath, f"the {source_range.range:~P} {g.function} range of the "
                                   f"{src.manufacturer} {src.model} states no readback "
                                   "specification (readback: {resolution, accuracy})")
    return source_range.readback


def _fastest_filter(fn: FunctionSpec, frequency: pint.Quantity) -> Any:
    """The widest AC filter the signal allows (the usual lab choice: its bandwidth at most the
    signal frequency); the narrowest one below that."""
    offered = sorted(fn.settings["bandwidth"].values, key=lambda q: q.to("Hz").magnitude)
    fitting = [b for b in offered if b.to("Hz").magnitude <= frequency.to("Hz").magnitude]
    return fitting[-1] if fitting else offered[0]


def _check_bandwidth(problems: Problems, g: _Group, frequency: pint.Quantity | None,
                     fpath: PathKey | None) -> None:
    given = g.meter_given.get("bandwidth")
    if given is None or frequency is None:
        return
    kpath, bw = given
    if bw.to("Hz").magnitude > frequency.to("Hz").magnitude:
        raise problems.fail(fpath or kpath, f"the {bw:~P} AC filter is specified for signals "
                                            f"above {bw:~P}, not {frequency:~P}; give this point "
                                            f"bandwidth: {_fastest_filter(g.meter_fn, frequency):~P}")


def _check_compliance(problems: Problems, npath: PathKey, nominal: pint.Quantity, g: _Group,
                      source_range: RangeSpec, ctx: _Context) -> None:
    """The source can drive the meter's input: a current through the meter's shunt needs
    I × R_shunt within the source's compliance voltage; a voltage across the meter's input
    resistance draws V / R_in within its compliance current."""
    compliance = source_range.property("compliance")
    if compliance is None:
        return
    src = ctx.source
    if nominal.check("[current]") and compliance.check("[length] ** 2 * [mass] / [current] / [time] ** 3"):
        shunt = g.meter_range.property("shunt_resistance")
        load = ctx.load if ctx.direction == "source" else None
        through = f"the {g.meter_range.range:~P} range's {shunt:~P} shunt" if shunt is not None \
            else "the meter"
        if load is not None:
            through = f"the {load:~P} load and {through}"
        total = (shunt if shunt is not None else Q_(0, "ohm")) + (load if load is not None
                                                                  else Q_(0, "ohm"))
        if total.magnitude > 0 and (abs(nominal) * total).to("V") > compliance:
            raise problems.fail(npath, f"{nominal:~P} through {through} needs "
                                       f"{(abs(nominal) * total).to('V'):.4g~P}, beyond the "
                                       f"{src.manufacturer} {src.model}'s compliance voltage "
                                       f"{compliance:~P} on this range"
                                       + (" (channel {})".format(source_range.channel)
                                          if source_range.channel is not None else "")
                                       + ("; use a smaller load" if load is not None else ""))
    elif nominal.check("[length] ** 2 * [mass] / [current] / [time] ** 3") and compliance.check("[current]"):
        r_in = g.meter_range.property("input_resistance")
        if r_in is not None and (abs(nominal) / r_in).to("A") > compliance:
            raise problems.fail(npath, f"{nominal:~P} across the {r_in:~P} input draws "
                                       f"{(abs(nominal) / r_in).to('mA'):.4g~P}, beyond the "
                                       f"{src.manufacturer} {src.model}'s compliance current "
                                       f"{compliance:~P}")


def _meter_range(problems: Problems, path: PathKey, value: Any, meter: InstrumentModel,
                 fn: FunctionSpec, current_hint: bool = False) -> RangeSpec:
    hint = (f"; a current above the {meter.model}'s {fn.name} ranges is measured through an "
            "external shunt: name one (shunt: NAME, from the procedure's shunts:) and give the "
            f"meter's {sh.METER_FUNCTION.get(fn.name, 'voltage')} range") if current_hint else ""
    rng = quantity(problems, path, value, f"{fn.unit:~P}", "range",
                   note=hint[2:])
    try:
        return fn.range_named(rng)
    except KeyError as exc:
        raise problems.fail(path, f"the {meter.manufacturer} {meter.model} has "
                                  f"{exc.args[0]}{hint}") from None


def _shunt_hint(g: "_Group", ctx: "_Context", nominal: pint.Quantity) -> str:
    """Why a current beyond every current range of the reference meter needs a shunt."""
    if ctx.direction != "source" or g.function not in sh.METER_FUNCTION:
        return ""
    top = max((r.maximum for r in g.meter_fn.ranges), key=lambda q: abs(q.to("A").magnitude))
    if abs(nominal) <= top:
        return ""
    return (f"; the {ctx.meter.manufacturer} {ctx.meter.model} measures {g.function} up to "
            f"{top:~P}: a current above it is measured through an external shunt (shunt: NAME "
            "from the procedure's shunts:, range: the meter's "
            f"{sh.METER_FUNCTION[g.function]} range for I × R_s)")


def _source_range(problems: Problems, path: PathKey, nominal: pint.Quantity,
                  source: InstrumentModel, fn: FunctionSpec, who: str,
                  channel: int | None = None) -> RangeSpec:
    try:
        return fn.range_for(nominal, channel)
    except KeyError:
        ranges = [r for r in fn.ranges if channel is None or r.channel == channel]
        if not ranges:
            raise problems.fail(path, f"the {who} {source.manufacturer} {source.model} has no "
                                      f"{fn.name} channel {channel}; its channels: "
                                      f"{', '.join(map(str, fn.channels))}") from None
        lo = min(r.minimum.to(fn.unit) for r in ranges)
        hi = max(r.maximum.to(fn.unit) for r in ranges)
        if channel is not None:
            raise problems.fail(path, f"nominal {nominal:~P} is beyond channel {channel} of the "
                                      f"{who} {source.manufacturer} {source.model} "
                                      f"({source.key}): it sources {lo:~P} to {hi:~P} there") from None
        raise problems.fail(path, f"nominal {nominal:~P} is beyond the capability of the "
                                  f"{who} {source.manufacturer} {source.model} "
                                  f"({source.key}): no {fn.name} range covers it (it sources "
                                  f"{lo:~P} to {hi:~P})") from None

"""Temperature comparison procedures (``kind: temperature comparison``): a thermometer under
test and a reference thermometer in a heat source, setpoint by setpoint.

    procedure:    {id, title, version, method[, description]}
    kind:         temperature comparison
    reference:    {certificate: FILE, readout: MODEL, channel: 1, current: 1 mA}
    dut:          {sensor: pt100 | thermocouple | digital, range: {min, max}, read_by: readout |
                   dmm | operator, ...}      (thermocouple: type, reference_junction;
                                             digital: resolution; pt100: current,
                                             self_heating_current; any: immersion: {depth,
                                             sensing_length, diameter, room: {min, max}[,
                                             heat_sources: [NAME, ...]]})
    dmm:          MODEL                      (when the DUT is read by a DMM)
    heat_sources: {NAME: {model: MODEL, safe_setpoint: 20 degC}, ...}
    stability:    {window, max_slope, max_std, sample_period, timeout, max_offset}
    settings:     {readings: N[, aperture: 2 s]}
    points:       [{setpoint: 100 degC, heat_source: NAME[, readings: N][, id: ID]
                   [, return_of: ID]} | {step: TEXT}, ...]
                  (return_of: the point revisits an earlier one, e.g. after the highest
                  temperature: the budget's hysteresis is the measured difference)

Everything a run depends on is checked before any instrument is touched; every problem is
reported as ``file:line: reason`` in one :class:`ProcedureError`: a setpoint outside the heat
source's setpoint range, the DUT's range or the reference's calibrated range, a thermocouple
type the IEC 60584-1 tables lack, a reference certificate past its due date (named at its
own file and line), unknown keys, units.  File format: docs/temperature-lab.md.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pint

from labauto.errors import LabautoError, SourceError
from labauto.instruments import InstrumentModel, load_instrument_model
from labauto.procedure.model import OperatorStep
from labauto.procedure.reference_thermometer import (ReferenceThermometer, check_due,
                                                     load_reference_thermometer)
from labauto.procedure.schema import Invalid, ProcedureError, Problems, check_keys, quantity, text
from labauto.engine.stability import StabilityCriterion
from labauto.units import Q_
from labauto.yamlsource import PathKey, load

KIND = "temperature comparison"
SENSORS = ("pt100", "thermocouple", "digital")
READ_BY = {"pt100": ("readout", "dmm"), "thermocouple": ("dmm", "readout"), "digital": ("operator",)}
JUNCTIONS = ("ice point", "compensated")
TOP_REQUIRED = ("procedure", "kind", "reference", "dut", "heat_sources", "stability",
                "settings", "points")
TOP_OPTIONAL = ("dmm", "evaluation")


@dataclass(frozen=True)
class HeatSourceUse:
    name: str
    model: InstrumentModel
    safe_setpoint: pint.Quantity
    line: int | None = None

    @property
    def setpoint_range(self) -> tuple[pint.Quantity, pint.Quantity]:
        fn = self.model.function("TEMP")
        return min(r.minimum for r in fn.ranges), max(r.maximum for r in fn.ranges)


@dataclass(frozen=True)
class DutSpec:
    sensor: str                      # pt100 | thermocouple | digital
    read_by: str                     # readout | dmm | operator
    minimum: pint.Quantity
    maximum: pint.Quantity
    description: str = ""
    channel: int = 2                 # readout channel of a PRT DUT
    current: pint.Quantity = Q_(1, "mA")
    type: str = ""                   # thermocouple type letter
    reference_junction: str = ""     # thermocouple: "ice point" | "compensated"
    resolution: pint.Quantity | None = None   # digital thermometer display resolution
    dmm_range: pint.Quantity | None = None
    # a PRT's second measuring current: after its readings at ``current`` each setpoint takes as
    # many at this one, and the budget corrects the self-heating they measure (∝ I²)
    self_heating_current: pint.Quantity | None = None
    # how deep the probe is immersed (labauto.temperature.immersion): the simulated lab's stem
    # conduction and the budget's immersion allowance follow from it
    immersion: Any = None
    # the heat sources the stated immersion is for (None: every one); in the others the
    # simulated probe has no stem conduction and the budget keeps ``evaluation.dut_immersion``
    immersion_heat_sources: tuple[str, ...] | None = None

    def immersion_in(self, heat_source: str) -> Any:
        """The stated immersion (labauto.temperature.immersion.ProbeImmersion) in
        ``heat_source``, None where none is stated for it."""
        if self.immersion is None or (self.immersion_heat_sources is not None
                                      and heat_source not in self.immersion_heat_sources):
            return None
        return self.immersion


@dataclass(frozen=True)
class TemperaturePoint:
    """One setpoint: the heat source, the readings (reference/DUT pairs) to take."""

    __test__ = False

    id: str
    index: int
    setpoint: pint.Quantity
    heat_source: str
    readings: int
    line: int | None = None
    steps: tuple[OperatorStep, ...] = ()
    # the id of an earlier point this one revisits (same setpoint and heat source): the DUT's
    # hysteresis is measured as the difference between the two visits (DKD-R 5-1 practice)
    return_of: str | None = None

    @property
    def nominal(self) -> pint.Quantity:      # what progress displays show
        return self.setpoint

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "index": self.index, "setpoint": float(self.setpoint.to("degC").m),
             "unit": "degC", "heat_source": self.heat_source, "readings": self.readings,
             "line": self.line, "steps": [s.to_dict() for s in self.steps]}
        if self.return_of is not None:
            d["return_of"] = self.return_of
        return d


@dataclass(frozen=True)
class TemperatureProcedure:
    id: str
    title: str
    version: str
    method: str
    path: Path
    sha256: str
    reference: ReferenceThermometer
    readout_model: InstrumentModel
    reference_channel: int
    reference_current: pint.Quantity
    dut: DutSpec
    dmm_model: InstrumentModel | None
    heat_sources: dict[str, HeatSourceUse]
    stability: StabilityCriterion
    readings: int
    aperture: pint.Quantity
    points: tuple[TemperaturePoint, ...]
    description: str = ""
    evaluation: dict[str, Any] = field(default_factory=dict)

    kind = KIND

    def point(self, point_id: str) -> TemperaturePoint:
        for p in self.points:
            if p.id == point_id:
                return p
        raise KeyError(f"procedure {self.id} has no point {point_id!r}")

    @property
    def steps(self) -> tuple[OperatorStep, ...]:
        return tuple(s for p in self.points for s in p.steps)

    def instrument_models(self) -> dict[str, InstrumentModel]:
        models = {"readout": self.readout_model,
                  **{name: hs.model for name, hs in self.heat_sources.items()}}
        if self.dmm_model is not None:
            models["dmm"] = self.dmm_model
        return models


def is_temperature_procedure(path: str | Path) -> bool:
    """Whether ``path`` is a temperature comparison procedure (``kind: temperature comparison``)."""
    try:
        data = load(path).data
    except SourceError:
        return False
    return isinstance(data, dict) and data.get("kind") == KIND


def load_temperature_procedure(path: str | Path, today: dt.date | None = None) -> TemperatureProcedure:
    """Load and check a temperature comparison procedure (see the module's docstring)."""
    path = Path(path)
    doc = load(path)
    problems = Problems(doc.source)
    d = doc.data
    if not isinstance(d, dict):
        raise ProcedureError(str(path), [(1, "a procedure file must be a mapping")])
    try:
        check_keys(problems, (), d, "a temperature procedure", required=TOP_REQUIRED,
                   optional=TOP_OPTIONAL)
    except Invalid:
        pass
    if "kind" in d and d["kind"] != KIND:
        problems.add(("kind",), f"kind must be {KIND!r}, not {d['kind']!r}")
    meta = _try(problems, lambda: _meta(problems, d["procedure"])) if "procedure" in d else None
    ref = _try(problems, lambda: _reference(problems, d["reference"], path, today)) \
        if "reference" in d else None
    dut = _try(problems, lambda: _dut(problems, d["dut"])) if "dut" in d else None
    if dut is not None and ref is not None and dut.read_by == "readout":
        need = "DCV" if dut.sensor == "thermocouple" else "RES4W"
        if need not in ref[1].functions:
            problems.add(("dut", "read_by"), f"the DUT is read by the readout, but the "
                                             f"{ref[1].name} has no {need} function")
    dmm = None
    if "dmm" in d:
        dmm = _try(problems, lambda: _model(problems, ("dmm",), d["dmm"], "meter"))
    if dut is not None and dut.read_by == "dmm" and "dmm" not in d:
        problems.add(("dut", "read_by"), "the DUT is read by a DMM: name its model under 'dmm'")
    sources = _try(problems, lambda: _heat_sources(problems, d["heat_sources"])) \
        if "heat_sources" in d else None
    stability = _try(problems, lambda: _stability(problems, d["stability"])) \
        if "stability" in d else None
    settings = _try(problems, lambda: _settings(problems, d["settings"], ref)) \
        if "settings" in d else None
    points: list[TemperaturePoint] = []
    if "points" in d and settings is not None and sources is not None:
        points = _points(problems, d["points"], sources, dut, ref, settings["readings"])
    evaluation = _try(problems, lambda: _evaluation(problems, d.get("evaluation", {}), dut))
    if evaluation and points:
        if "fit" in (d.get("evaluation") or {}):
            _check_fit_points(problems, evaluation["fit"], points)
        else:
            evaluation["fit"] = _default_fit(evaluation["fit"], points)
    if dut is not None and dut.immersion is not None and sources is not None:
        _check_immersion(problems, dut, sources, points, (d.get("evaluation") or {}))
    if any(pt.return_of is not None for pt in points) and "hysteresis" in (d.get("evaluation") or {}):
        problems.add(("evaluation", "hysteresis"), "hysteresis: the DUT's hysteresis is measured "
                     "at the return point (return_of); state one or the other")
    problems.raise_if_any()
    assert meta and ref and dut and sources and stability and settings
    return TemperatureProcedure(
        id=meta["id"], title=meta["title"], version=meta["version"], method=meta["method"],
        description=meta.get("description", ""), path=path, sha256=doc.sha256,
        reference=ref[0], readout_model=ref[1], reference_channel=ref[2],
        reference_current=ref[3], dut=dut, dmm_model=dmm, heat_sources=sources,
        stability=stability, readings=settings["readings"], aperture=settings["aperture"],
        points=tuple(points), evaluation=evaluation or {})


def _try(problems: Problems, fn: Any) -> Any:
    try:
        return fn()
    except Invalid:
        return None


def _meta(problems: Problems, d: Any) -> dict[str, str]:
    check_keys(problems, ("procedure",), d, "procedure", required=("id", "title", "version", "method"),
               optional=("description",))
    return {k: text(problems, ("procedure", k), v, k, allow_number=k == "version")
            for k, v in d.items()}


def _model(problems: Problems, path: PathKey, value: Any, role: str) -> InstrumentModel:
    try:
        model = load_instrument_model(str(value))
    except SourceError as exc:
        raise problems.fail(path, f"instrument model {value!r}: {exc}") from None
    except LabautoError as exc:
        raise problems.fail(path, str(exc)) from None
    if model.role != role:
        raise problems.fail(path, f"{model.name} is a {model.role}, not a {role.replace('_', ' ')}")
    return model


def _reference(problems: Problems, d: Any, proc_path: Path, today: dt.date | None) -> tuple:
    p = ("reference",)
    check_keys(problems, p, d, "reference", required=("certificate", "readout"),
               optional=("channel", "current"))
    readout = _model(problems, p + ("readout",), d["readout"], "meter")
    cert_path = (proc_path.parent / str(d["certificate"])).resolve()
    try:
        ref = load_reference_thermometer(cert_path)
        check_due(ref, today, used_at=f"{proc_path}:{problems.source.line(p + ('certificate',))}")
    except SourceError as exc:
        # the problem is in the certificate's own file: name it, and where the procedure uses it
        raise problems.fail(p + ("certificate",), str(exc)) from None
    if ref.function not in readout.functions:
        raise problems.fail(p + ("readout",), f"{readout.name} has no {ref.function} function to "
                                              f"read the reference ({ref.kind})")
    channel = int(d.get("channel", 1))
    current = quantity(problems, p + ("current",), d.get("current", "1 mA"), "A", "current")
    fn = readout.function(ref.function)
    try:
        fn.resolved_settings(reference_settings(ref, channel, current))
    except ValueError as exc:
        raise problems.fail(p, f"{readout.name}: {exc}") from None
    return ref, readout, channel, current


def reference_settings(ref: ReferenceThermometer, channel: int, current: pint.Quantity) -> dict[str, Any]:
    """The readout settings that read the reference: its channel (and a PRT's current)."""
    return {"channel": channel} if ref.is_thermocouple else {"channel": channel, "current": current}


def _dut(problems: Problems, d: Any) -> DutSpec:
    p = ("dut",)
    check_keys(problems, p, d, "dut", required=("sensor", "range", "read_by"),
               optional=("description", "channel", "current", "type", "reference_junction",
                         "resolution", "dmm_range", "self_heating_current", "immersion"))
    sensor = str(d["sensor"]).lower()
    if sensor not in SENSORS:
        raise problems.fail(p + ("sensor",), f"sensor must be one of {', '.join(SENSORS)}, not {d['sensor']!r}")
    read_by = str(d["read_by"])
    if read_by not in READ_BY[sensor]:
        raise problems.fail(p + ("read_by",), f"a {sensor} DUT is read by "
                                              f"{' or '.join(READ_BY[sensor])}, not {read_by!r}")
    rng = d["range"]
    check_keys(problems, p + ("range",), rng, "the DUT's range", required=("min", "max"))
    lo = quantity(problems, p + ("range", "min"), rng["min"], "degC", "min")
    hi = quantity(problems, p + ("range", "max"), rng["max"], "degC", "max")
    if not lo < hi:
        raise problems.fail(p + ("range",), f"the DUT's range {lo:~P} to {hi:~P} is empty")
    extra: dict[str, Any] = {}
    if sensor == "thermocouple":
        from labauto.temperature import thermocouples
        if "type" not in d:
            raise problems.fail(p, "a thermocouple DUT needs its 'type' (K, N, S ...)")
        letter = str(d["type"]).strip().upper()
        known = thermocouples.thermocouple_types()
        if letter not in known:
            raise problems.fail(p + ("type",), f"unknown thermocouple type {d['type']!r}: the "
                                               f"IEC 60584-1 tables have types {', '.join(known)}")
        tlo, thi = thermocouples.temperature_range(letter)
        if lo.to("degC").m < tlo - 1e-9 or hi.to("degC").m > thi + 1e-9:
            raise problems.fail(p + ("range",), f"the DUT's range {lo:~P} to {hi:~P} goes beyond "
                                                f"type {letter}'s reference function ({tlo:g} °C to {thi:g} °C)")
        junction = str(d.get("reference_junction", "ice point"))
        if junction not in JUNCTIONS:
            raise problems.fail(p + ("reference_junction",), f"reference_junction must be "
                                                             f"{' or '.join(JUNCTIONS)}, not {junction!r}")
        extra.update(type=letter, reference_junction=junction, channel=int(d.get("channel", 2)),
                     dmm_range=quantity(problems, p + ("dmm_range",), d.get("dmm_range", "100 mV"),
                                        "V", "dmm_range"))
    elif "type" in d or "reference_junction" in d:
        problems.add(p + ("type" if "type" in d else "reference_junction",),
                     f"'type' and 'reference_junction' belong to a thermocouple DUT, not a {sensor}")
    if sensor == "digital":
        extra["resolution"] = quantity(problems, p + ("resolution",), d.get("resolution", "0.01 K"),
                                       "delta_degC", "resolution").to("K")
    if sensor == "pt100":
        extra["channel"] = int(d.get("channel", 2))
        extra["current"] = quantity(problems, p + ("current",), d.get("current", "1 mA"), "A", "current")
        extra["dmm_range"] = quantity(problems, p + ("dmm_range",), d.get("dmm_range", "1 kohm"),
                                      "ohm", "dmm_range")
    if "self_heating_current" in d:
        key = p + ("self_heating_current",)
        if sensor != "pt100" or read_by != "readout":
            raise problems.fail(key, "self_heating_current: the second measuring current of a "
                                     "PRT read by the readout (a DMM's current is its range's)")
        second = quantity(problems, key, d["self_heating_current"], "A", "self_heating_current")
        if not second.to("A").m > extra["current"].to("A").m * 1.1:
            raise problems.fail(key, f"self_heating_current {second:~P} must be larger than the "
                                     f"measuring current {extra['current']:~P} (by 10 % at least)")
        extra["self_heating_current"] = second
    if "immersion" in d:
        extra["immersion"], extra["immersion_heat_sources"] = _immersion(
            problems, p + ("immersion",), d["immersion"])
    return DutSpec(sensor=sensor, read_by=read_by, minimum=lo, maximum=hi,
                   description=str(d.get("description", "")), **extra)


def _immersion(problems: Problems, p: tuple, d: Any) -> tuple[Any, tuple[str, ...] | None]:
    """``immersion: {depth: 150 mm, sensing_length: 20 mm, diameter: 3 mm, room: {min: 22 degC,
    max: 24 degC}[, heat_sources: [bath]]}``: at least the sensing length plus 20 diameters
    (NPL's rule, on which the budget's bound rests: labauto.temperature.immersion).  The model
    and its rules are for stirred liquids: ``heat_sources`` names the ones it is stated for
    (default: every one), the others keep ``evaluation.dut_immersion``."""
    from labauto.temperature.immersion import NPL_DIAMETERS, ProbeImmersion

    check_keys(problems, p, d, "the DUT's immersion",
               required=("depth", "sensing_length", "diameter", "room"), optional=("heat_sources",))
    names = None
    if "heat_sources" in d:
        raw = d["heat_sources"]
        if not isinstance(raw, list) or not raw or not all(isinstance(n, str) for n in raw):
            raise problems.fail(p + ("heat_sources",), "immersion: heat_sources lists the names "
                                                       "of the heat sources it is for: [bath]")
        names = tuple(raw)
    depth, length, diameter = (quantity(problems, p + (k,), d[k], "m", k).to("m").m
                               for k in ("depth", "sensing_length", "diameter"))
    room = d["room"]
    check_keys(problems, p + ("room",), room, "the room's temperature range", required=("min", "max"))
    lo, hi = (quantity(problems, p + ("room", k), room[k], "degC", k).to("degC").m for k in ("min", "max"))
    if not (depth > 0 and diameter > 0 and length >= 0):
        raise problems.fail(p, "immersion: depth and diameter must be positive, sensing_length not negative")
    if lo > hi:
        raise problems.fail(p + ("room",), f"the room's range {lo:g} °C to {hi:g} °C is empty")
    need = length + NPL_DIAMETERS * diameter
    if depth < need - 1e-12:
        raise problems.fail(p + ("depth",), f"immersed {depth * 1e3:g} mm: a {diameter * 1e3:g} mm "
                                            f"probe needs its sensing length plus {NPL_DIAMETERS:g} "
                                            f"diameters, {need * 1e3:g} mm (NPL's rule, on which the "
                                            "budget's immersion bound rests)")
    return ProbeImmersion(depth_m=depth, sensing_length_m=length, diameter_m=diameter,
                          room_min_c=lo, room_max_c=hi), names


def _check_immersion(problems: Problems, dut: DutSpec, sources: dict[str, HeatSourceUse],
                     points: list["TemperaturePoint"], evaluation: dict[str, Any]) -> None:
    """A stated immersion names heat sources the procedure has, fits every one it is stated
    for that the points use (their model's ``immersion_depth``), and replaces
    ``evaluation.dut_immersion`` (not both) unless some point's heat source is not covered."""
    from labauto.drivers.heat_source import heat_source_performance

    imm = dut.immersion
    named = dut.immersion_heat_sources
    unknown = [n for n in (named or ()) if n not in sources]
    if unknown:
        problems.add(("dut", "immersion", "heat_sources"),
                     f"immersion: no heat source {', '.join(map(repr, unknown))}; the procedure "
                     f"has {', '.join(sources)}")
    used = sorted({pt.heat_source for pt in points})
    uncovered = [n for n in used if dut.immersion_in(n) is None]
    if "dut_immersion" in evaluation and not uncovered:
        problems.add(("evaluation", "dut_immersion"), "dut_immersion: the DUT's immersion is "
                     "stated under dut.immersion, whose depth gives the budget's allowance; "
                     "state one or the other")
    for name in used:
        if dut.immersion_in(name) is None:
            continue
        hs = sources[name]
        well = heat_source_performance(hs.model).at("immersion_depth", Q_(20, "degC"))
        if well is not None and imm.depth_m > float(well.to("m").m) + 1e-12:
            problems.add(("dut", "immersion", "depth"),
                         f"immersed {imm.depth_m * 1e3:g} mm: deeper than the {hs.model.name}'s "
                         f"({name}) immersion depth {well.to('mm'):~P}")


def _heat_sources(problems: Problems, d: Any) -> dict[str, HeatSourceUse]:
    p = ("heat_sources",)
    if not isinstance(d, dict) or not d:
        raise problems.fail(p, "heat_sources: name each heat source: {bath: {model: ..., "
                               "safe_setpoint: ...}}")
    out = {}
    for name, entry in d.items():
        q = p + (name,)
        try:
            check_keys(problems, q, entry, f"heat source {name!r}", required=("model", "safe_setpoint"))
            model = _model(problems, q + ("model",), entry["model"], "heat_source")
            safe = quantity(problems, q + ("safe_setpoint",), entry["safe_setpoint"], "degC",
                            "safe_setpoint")
            use = HeatSourceUse(str(name), model, safe, problems.source.line(q))
            lo, hi = use.setpoint_range
            if not lo <= safe <= hi:
                raise problems.fail(q + ("safe_setpoint",), f"safe_setpoint {safe:~P} is outside "
                                                            f"the {model.name}'s setpoint range {lo:~P} to {hi:~P}")
            out[str(name)] = use
        except Invalid:
            continue
    if len(out) != len(d):
        raise Invalid("heat_sources")
    return out


def _stability(problems: Problems, d: Any) -> StabilityCriterion:
    p = ("stability",)
    check_keys(problems, p, d, "stability", required=("window", "max_slope", "max_std", "timeout"),
               optional=("sample_period", "max_offset"))
    window = quantity(problems, p + ("window",), d["window"], "s", "window")
    slope = quantity(problems, p + ("max_slope",), d["max_slope"], "K/min", "max_slope")
    std = quantity(problems, p + ("max_std",), d["max_std"], "delta_degC", "max_std").to("K")
    timeout = quantity(problems, p + ("timeout",), d["timeout"], "s", "timeout")
    period = quantity(problems, p + ("sample_period",), d.get("sample_period", "10 s"), "s",
                      "sample_period")
    offset = quantity(problems, p + ("max_offset",), d["max_offset"], "delta_degC",
                      "max_offset").to("K") if "max_offset" in d else None
    for key, value in (("window", window), ("max_slope", slope), ("max_std", std),
                       ("timeout", timeout), ("sample_period", period), ("max_offset", offset)):
        if value is None:
            continue
        if value.m <= 0:
            raise problems.fail(p + (key,), f"{key} must be positive")
    if timeout <= window:
        raise problems.fail(p + ("timeout",), f"timeout {timeout:~P} must be longer than the window {window:~P}")
    if period * 3 > window:
        raise problems.fail(p + ("sample_period",), f"sample_period {period:~P}: the window "
                                                    f"{window:~P} needs at least 3 readings")
    return StabilityCriterion(window=window, max_slope=slope, max_std=std, timeout=timeout,
                              sample_period=period, max_offset=offset)


def _settings(problems: Problems, d: Any, ref: tuple | None) -> dict[str, Any]:
    p = ("settings",)
    check_keys(problems, p, d, "settings", required=("readings",), optional=("aperture",))
    readings = d["readings"]
    if not isinstance(readings, int) or isinstance(readings, bool) or readings < 2:
        raise problems.fail(p + ("readings",), "readings must be an integer >= 2 (a standard "
                                               "deviation needs two)")
    aperture = quantity(problems, p + ("aperture",), d.get("aperture", "2 s"), "s", "aperture")
    if ref is not None:
        try:
            ref[1].function(ref[0].function).resolved_settings({"aperture": aperture})
        except ValueError as exc:
            raise problems.fail(p + ("aperture",), f"{ref[1].name}: {exc}") from None
    return {"readings": readings, "aperture": aperture}


#: the evaluation's influence quantities a procedure states (half-widths, K; emfs in V)
EVALUATION_FIGURES = ("reference_immersion", "reference_self_heating", "dut_immersion",
                      "dut_self_heating", "hysteresis", "reference_junction")
EVALUATION_EMFS = ("parasitic_emf", "compensating_cable")


def _evaluation(problems: Problems, d: Any, dut: DutSpec | None) -> dict[str, Any]:
    """``evaluation: {fit: cvd | none | <degree>, coverage_factor: 2, reference_immersion:
    2 mK, ...}``: the fit of the DUT's characteristic and the budget's influence half-widths."""
    p = ("evaluation",)
    check_keys(problems, p, d, "evaluation",
               optional=("fit", "coverage_factor", *EVALUATION_FIGURES, *EVALUATION_EMFS))
    out: dict[str, Any] = {}
    for key in EVALUATION_FIGURES:
        if key in d:
            out[key] = quantity(problems, p + (key,), d[key], "delta_degC", key).to("K")
    for key in EVALUATION_EMFS:
        if key in d:
            out[key] = quantity(problems, p + (key,), d[key], "V", key)
    if "coverage_factor" in d:
        k = d["coverage_factor"]
        if not isinstance(k, (int, float)) or isinstance(k, bool) or k <= 0:
            raise problems.fail(p + ("coverage_factor",), "coverage_factor must be a positive number")
        out["coverage_factor"] = float(k)
    fit = d.get("fit", None)
    sensor = dut.sensor if dut is not None else None
    if fit is None:
        fit = {"pt100": "cvd", "thermocouple": 2}.get(sensor or "", "none")
    if fit == "none" or (fit == "cvd" and sensor == "pt100") or (
            isinstance(fit, int) and not isinstance(fit, bool) and 0 <= fit <= 4
            and sensor == "thermocouple"):
        out["fit"] = fit
    else:
        raise problems.fail(p + ("fit",), f"fit: 'cvd' fits a pt100, a degree 0..4 a "
                                          f"thermocouple's deviation, 'none' fits nothing; not "
                                          f"{fit!r} for a {sensor} DUT")
    return out


def _fit_size(fit: Any, points: list[TemperaturePoint]) -> tuple[int, int, str]:
    """(distinct setpoints, coefficients the fit needs, what they are)."""
    temps = {round(float(p.setpoint.m), 9) for p in points}
    if fit == "cvd":
        needed = 4 if len({t for t in temps if t < 0}) >= 2 else 3
        return len(temps), needed, "R0, A, B" + (", C" if needed == 4 else "")
    if isinstance(fit, int) and not isinstance(fit, bool):
        return len(temps), fit + 1, f"a degree-{fit} deviation polynomial's {fit + 1} coefficients"
    return len(temps), 0, ""


def _default_fit(fit: Any, points: list[TemperaturePoint]) -> Any:
    """Without a stated fit: CVD for a Pt100 with three setpoints or more, a thermocouple
    deviation of degree min(2, setpoints - 1); otherwise none."""
    n, needed, _ = _fit_size(fit, points)
    if fit == "cvd":
        return "cvd" if n >= needed else "none"
    if isinstance(fit, int) and not isinstance(fit, bool):
        return min(fit, n - 1)
    return fit


def _check_fit_points(problems: Problems, fit: Any, points: list[TemperaturePoint]) -> None:
    """A stated fit needs at least as many setpoints as it has coefficients: R0, A, B (and C
    with two or more setpoints below 0 °C) for a Callendar–Van Dusen curve, degree + 1 for a
    thermocouple's deviation polynomial."""
    n, needed, what = _fit_size(fit, points)
    if n < needed:
        problems.add(("evaluation", "fit"), f"fit {fit!r}: {n} distinct setpoint(s) cannot "
                                            f"determine {what}; measure at least {needed} "
                                            "temperatures or fit less")


def _points(problems: Problems, data: Any, sources: dict[str, HeatSourceUse],
            dut: DutSpec | None, ref: tuple | None, readings: int) -> list[TemperaturePoint]:
    if not isinstance(data, list) or not data:
        problems.add(("points",), "points must be a non-empty list of {setpoint: ..., "
                                  "heat_source: ...} entries")
        return []
    points: list[TemperaturePoint] = []
    steps: list[OperatorStep] = []
    seen: dict[str, int | None] = {}
    for i, entry in enumerate(data):
        path: PathKey = ("points", i)
        try:
            if isinstance(entry, dict) and "step" in entry:
                check_keys(problems, path, entry, "an operator step", required=("step",))
                steps.append(OperatorStep(text(problems, path + ("step",), entry["step"], "step"),
                                          problems.source.line(path + ("step",))))
                continue
            check_keys(problems, path, entry, "a setpoint", required=("setpoint", "heat_source"),
                       optional=("id", "readings", "return_of"))
            sp = quantity(problems, path + ("setpoint",), entry["setpoint"], "degC", "setpoint")
            name = str(entry["heat_source"])
            if name not in sources:
                raise problems.fail(path + ("heat_source",), f"no heat source {name!r}; the "
                                                             f"procedure names {', '.join(sources)}")
            hs = sources[name]
            lo, hi = hs.setpoint_range
            if not lo <= sp <= hi:
                raise problems.fail(path + ("setpoint",), f"setpoint {sp:~P} is outside the "
                                                          f"{hs.model.name}'s ({name}) setpoint range {lo:~P} to {hi:~P}")
            if dut is not None and not dut.minimum <= sp <= dut.maximum:
                raise problems.fail(path + ("setpoint",), f"setpoint {sp:~P} is outside the DUT's "
                                                          f"range {dut.minimum:~P} to {dut.maximum:~P}")
            if ref is not None:
                rlo, rhi = ref[0].range
                if not rlo - 1e-9 <= sp.to("degC").m <= rhi + 1e-9:
                    raise problems.fail(path + ("setpoint",), f"setpoint {sp:~P} is outside the "
                                                              f"reference's calibrated range {rlo:g} °C to {rhi:g} °C")
            n = entry.get("readings", readings)
            if not isinstance(n, int) or isinstance(n, bool) or n < 2:
                raise problems.fail(path + ("readings",), "readings must be an integer >= 2")
            pid = str(entry.get("id") or f"T{sp.to('degC').m:g}C")
            if pid in seen:
                raise problems.fail(path, f"duplicate point id {pid!r} (first at line {seen[pid]})")
            back = None
            if "return_of" in entry:
                back = str(entry["return_of"])
                first = next((q for q in points if q.id == back), None)
                if first is None:
                    raise problems.fail(path + ("return_of",), f"return_of: no earlier point "
                                                               f"{back!r}")
                if first.return_of is not None or abs(
                        first.setpoint.to("degC").m - sp.to("degC").m) > 1e-9 \
                        or first.heat_source != name:
                    raise problems.fail(path + ("return_of",), f"return_of: a return point "
                                        f"revisits a first visit at its setpoint in its heat source; "
                                        f"{back!r} is {first.setpoint:~P} in {first.heat_source}")
            seen[pid] = problems.source.line(path)
            points.append(TemperaturePoint(pid, len(points), sp.to("degC"), name, n,
                                           problems.source.line(path + ("setpoint",)),
                                           tuple(steps), back))
            steps = []
        except Invalid:
            continue
    if steps:
        problems.add(("points",), f"operator step {steps[0].text!r} (line {steps[0].line}) "
                                  "comes after the last setpoint")
    return points


__all__ = ["DutSpec", "HeatSourceUse", "KIND", "TemperaturePoint", "TemperatureProcedure",
           "is_temperature_procedure", "load_temperature_procedure"]

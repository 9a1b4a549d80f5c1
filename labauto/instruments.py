"""Instrument model files (``instruments/<model>/model.yaml``) -> :class:`InstrumentModel`:
identity, role, command language and templates, and the table of functions with their
ranges, settings and the manufacturer's accuracy specifications.

Adding an instrument model, or a function its role already supports, means adding or editing a
folder under ``instruments/``; nothing here changes.  The catalog is searched in the
directories of ``LABAUTO_INSTRUMENTS_PATH`` (os.pathsep separated), then in the project's
``instruments/`` folder.  File format: docs/instruments.md.

Accuracy specifications are ± half-widths built from any of these terms::

    reading / output: fraction of |value|   (e.g. 0.0035 %, 12 ppm)
    range:            fraction of the range (e.g. 0.0005 %)
    floor:            a fixed amount        (e.g. 20 uV)
    counts:           a number of counts of the range's resolution

AC functions state them per frequency band (``bands: [{from: 10 Hz, to: 20 kHz, accuracy:
{...}}]``); a value outside every band has no specification and is refused.
"""
from __future__ import annotations

import dataclasses

import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pint

from labauto.commands import ROLES, SETTING_PARAMETERS, placeholders
from labauto.errors import LabautoError, SourceError
from labauto.units import Q_, UnitError, parse_quantity
from labauto.yamlsource import SourceMap, load

PROJECT_INSTRUMENTS = Path(__file__).resolve().parents[1] / "instruments"
_ACCURACY_TERMS = {"reading", "output", "range", "floor", "counts"}

#: per-range electrical properties a model file may state (unit each must have)
RANGE_PROPERTIES = {
    "input_resistance": "ohm",     # meter: input resistance on a voltage range (loading)
    "shunt_resistance": "ohm",     # meter: current shunt (burden voltage = I × R)
    "test_current": "A",           # meter: resistance test current
    "compliance": None,            # source: V for current functions, A for voltage functions
    "output_resistance": "ohm",    # source: output resistance
    "noise": "dimensionless",      # published rms noise as a fraction of range (at 1 PLC)
    "channel": "dimensionless",    # source: the output channel the range belongs to (1, 2 ...)
}
_RANGE_KEYS = {"range", "full_scale", "min", "resolution", "accuracy", "bands", "readback",
               "periods", *RANGE_PROPERTIES}
_FUNCTION_KEYS = {"quantity", "mnemonic", "unit", "amplitude", "fields", "specification",
                  "specification_period", "confidence", "settings", "ranges", "commands"}
_MODEL_KEYS = {"manufacturer", "model", "description", "role", "language", "identity",
               "simulation", "datasheet", "commands", "functions", "driver", "sim",
               "error_query", "performance", "adjustment"}
#: what the command-language unit word of a function defaults to, by its quantity
_UNIT_WORDS = {"V": "V", "A": "A", "Ω": "OHM", "Hz": "HZ"}


class IdentityMismatch(LabautoError):
    """*IDN? did not match the identity pattern of the expected instrument model."""


@dataclass(frozen=True)
class Band:
    """A frequency band of an AC specification: ``low <= f <= high``."""

    low: pint.Quantity
    high: pint.Quantity
    accuracy: dict[str, pint.Quantity]

    def covers(self, frequency: pint.Quantity) -> bool:
        lo, hi = self._edges_hz
        return lo <= frequency.to("Hz").magnitude <= hi

    @cached_property
    def _edges_hz(self) -> tuple[float, float]:
        return (self.low.to("Hz").magnitude * (1 - 1e-12), self.high.to("Hz").magnitude * (1 + 1e-12))

    def __str__(self) -> str:
        return f"{self.low:~P} to {self.high:~P}"


@dataclass(frozen=True)
class RangeSpec:
    """One range of one function: nominal range, limits, resolution, accuracy terms (flat, or
    per frequency band), and electrical properties (input resistance, shunt, compliance ...)."""

    range: pint.Quantity
    maximum: pint.Quantity           # largest |value| measurable/sourceable on this range
    minimum: pint.Quantity           # most negative value (−maximum unless stated)
    resolution: pint.Quantity
    accuracy: dict[str, pint.Quantity]   # term -> fraction (dimensionless) or quantity
    bands: tuple[Band, ...] = ()
    properties: dict[str, pint.Quantity] = field(default_factory=dict)
    #: a source's own measurement of its output on this range (a power supply's readback):
    #: its resolution and accuracy, as a range of its own
    readback: "RangeSpec | None" = None
    #: the accuracy for other specification periods than the function's own (``24 hours``,
    #: ``90 days``: a reference meter's short-term figures), period -> accuracy terms
    periods: dict[str, dict[str, pint.Quantity]] = field(default_factory=dict)

    @property
    def channel(self) -> int | None:
        c = self.properties.get("channel")
        return None if c is None else int(round(float(c.magnitude)))

    def covers(self, value: pint.Quantity) -> bool:
        return self.minimum <= value <= self.maximum

    def band_for(self, frequency: pint.Quantity) -> Band:
        """The band that specifies ``frequency`` (KeyError naming the bands otherwise).  A
        frequency on the edge of two bands belongs to the band that ends there, as data sheets
        mean it (1 kHz is in "100 Hz to 1 kHz"): bands are (from, to], except the first."""
        for b in self.bands:
            if b.covers(frequency):
                return b
        raise KeyError(f"{frequency:~P} is outside every specified band of the {self.range:~P} "
                       f"range ({', '.join(str(b) for b in self.bands)})")

    def terms(self, frequency: pint.Quantity | None = None) -> dict[str, pint.Quantity]:
        """The accuracy terms that apply (at ``frequency`` for a range specified per band)."""
        if not self.bands:
            return self.accuracy
        if frequency is None:
            raise KeyError(f"the {self.range:~P} range is specified per frequency band: give "
                           "a frequency")
        return self.band_for(frequency).accuracy

    def accuracy_halfwidth(self, value: pint.Quantity,
                           frequency: pint.Quantity | None = None) -> pint.Quantity:
        """± half-width of the specification at ``value`` (unit of the range).  A frequency
        function (unit Hz) picks its band by the value itself."""
        unit = self.range.units
        if frequency is None and self.bands and value.check("[frequency]"):
            frequency = value
        try:      # the same value is asked for again and again (plausibility of every reading)
            key = (value.magnitude, value.units, None if frequency is None else
                   (frequency.magnitude, frequency.units))
            return Q_(self._halfwidths[key], unit)
        except (KeyError, TypeError):     # not yet computed; an array (unhashable) value
            pass
        total = self._halfwidth(value, frequency)
        try:
            self._halfwidths[key] = float(total.magnitude)
        except (TypeError, ValueError):
            pass
        return total

    @cached_property
    def _halfwidths(self) -> dict[Any, float]:
        return {}

    def _halfwidth(self, value: pint.Quantity, frequency: pint.Quantity | None) -> pint.Quantity:
        unit = self.range.units
        total = Q_(0.0, unit)
        for term, amount in self.terms(frequency).items():
            if term in ("reading", "output"):
                total += amount.to("dimensionless").magnitude * abs(value.to(unit))
            elif term == "range":
                total += amount.to("dimensionless").magnitude * self.range.to(unit)
            elif term == "floor":
                total += amount.to(unit)
            elif term == "counts":
                total += amount.to("dimensionless").magnitude * self.resolution.to(unit)
        return total

    def property(self, name: str) -> pint.Quantity | None:
        return self.properties.get(name)


@dataclass(frozen=True)
class SettingSpec:
    """A measurement setting a function offers (NPLC, autozero, bandwidth ...): its allowed
    values and the default the engine uses when a procedure does not set it."""

    name: str
    values: tuple[Any, ...]          # bools, floats or quantities
    default: Any

    def normalise(self, value: Any) -> Any:
        """``value`` as one of the allowed values; ValueError naming them otherwise."""
        for allowed in self.values:
            if _same_setting(value, allowed):
                return allowed
        raise ValueError(f"{self.name} {_fmt_setting(value)} is not offered; use one of "
                         f"{', '.join(_fmt_setting(v) for v in self.values)}")


def _same_setting(value: Any, allowed: Any) -> bool:
    if isinstance(allowed, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(allowed, bool) and value == allowed
    if isinstance(allowed, pint.Quantity):
        if not isinstance(value, pint.Quantity) or value.dimensionality != allowed.dimensionality:
            return False
        a, v = allowed.to_base_units().magnitude, value.to_base_units().magnitude
        return math.isclose(a, v, rel_tol=1e-9)
    if isinstance(value, (int, float)) and isinstance(allowed, (int, float)):
        return math.isclose(float(value), float(allowed), rel_tol=1e-9)
    return value == allowed


def _fmt_setting(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, pint.Quantity):
        return f"{v:~P}"
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class FunctionSpec:
    """One function of a model (a row of its function table)."""

    name: str                        # "DCV"
    unit: pint.Unit
    ranges: tuple[RangeSpec, ...]
    confidence: float | None = None  # coverage probability of the accuracy spec (None: limits)
    specification_period: str = ""
    specification: str = ""          # where the figures come from (datasheet, page)
    settings: dict[str, SettingSpec] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)      # template placeholders
    commands: dict[str, str] = field(default_factory=dict)    # effective operation templates
    setting_commands: dict[str, str] = field(default_factory=dict)

    @property
    def nplc(self) -> tuple[float, ...]:
        s = self.settings.get("nplc")
        return tuple(float(v) for v in s.values) if s else ()

    @property
    def is_ac(self) -> bool:
        """Specified per frequency band: its points need a frequency (FREQ uses its value)."""
        return any(r.bands for r in self.ranges)

    @property
    def needs_frequency(self) -> bool:
        return self.is_ac and not self.is_frequency

    @property
    def is_frequency(self) -> bool:
        return self.unit.dimensionality == Q_(1, "Hz").dimensionality

    def range_named(self, rng: pint.Quantity) -> RangeSpec:
        """The range whose nominal value equals ``rng`` (e.g. the DUT's 10 V range)."""
        if rng.dimensionality != self.unit.dimensionality:
            raise KeyError(f"{rng:~P} is not a {self.name} range (they are in {self.unit:~P})")
        for r in self.ranges:
            if abs(r.range.to(self.unit).magnitude - rng.to(self.unit).magnitude) <= 1e-9 * abs(
                    r.range.to(self.unit).magnitude):
                return r
        names = ", ".join(f"{r.range:~P}" for r in self.ranges)
        raise KeyError(f"no {self.name} range {rng:~P}; ranges are {names}")

    def range_for(self, value: pint.Quantity, channel: int | None = None) -> RangeSpec:
        """Smallest range that covers ``value`` (how a source picks its range); of output
        ``channel`` when given (a multi-output power supply)."""
        if channel is not None and not any(r.channel == int(channel) for r in self.ranges):
            raise KeyError(f"{self.name} has no channel {channel}; channels: "
                           f"{', '.join(str(c) for c in self.channels)}")
        x = value.to(self.unit).magnitude
        for lo, hi, r in self._by_size:
            if (channel is None or r.channel == int(channel)) and lo <= x <= hi:
                return r
        where = f" of channel {channel}" if channel is not None else ""
        raise KeyError(f"{value:~P} is outside every {self.name} range{where}")

    @property
    def channels(self) -> tuple[int, ...]:
        """The output channels the ranges belong to (empty: a single-output instrument)."""
        return tuple(dict.fromkeys(r.channel for r in self.ranges if r.channel is not None))

    @cached_property
    def _by_size(self) -> tuple[tuple[float, float, RangeSpec], ...]:
        """(minimum, maximum, range) in the function's unit, smallest range first."""
        return tuple(sorted(((r.minimum.to(self.unit).magnitude, r.maximum.to(self.unit).magnitude, r)
                             for r in self.ranges), key=lambda t: t[1]))

    def resolved_settings(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every setting of the function: the given ones (checked), defaults for the rest."""
        out = {}
        for name, spec in self.settings.items():
            out[name] = spec.normalise(given[name]) if name in given else spec.default
        unknown = set(given) - set(self.settings)
        if unknown:
            raise ValueError(f"{self.name} has no setting {sorted(unknown)[0]!r}; its settings: "
                             f"{', '.join(self.settings) or 'none'}")
        return out


@dataclass(frozen=True)
class InstrumentModel:
    manufacturer: str
    model: str
    description: str
    role: str                        # "meter" | "source" | another role's name
    language: str                    # "scpi" or "package.module:Class"
    identity: re.Pattern[str]
    folder: Path
    simulation: Path | None
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    sha256: str = ""                 # of model.yaml: its specifications set tolerances and budgets
    datasheet: str = ""
    driver: str = ""                 # optional "package.module:Class" replacing the role class
    extra: dict[str, Any] = field(default_factory=dict)   # keys other roles define (sim: ...)
    error_query: str = ""            # "" : the command language's own (SYST:ERR? for SCPI)

    @property
    def key(self) -> str:
        return self.folder.name

    @property
    def name(self) -> str:
        return f"{self.manufacturer} {self.model}"

    def for_period(self, period: str) -> "InstrumentModel":
        """This model with the accuracy of specification ``period`` (``24 hours``) on every
        range that states it (``periods:``); the functions none of whose ranges state it are
        left out (KeyError when no range states it at all)."""
        functions = {}
        for name, fn in self.functions.items():
            if not fn.ranges or any(period not in r.periods for r in fn.ranges):
                continue
            functions[name] = dataclasses.replace(
                fn, specification_period=period,
                specification=f"{fn.specification}; {period} figures",
                ranges=tuple(dataclasses.replace(r, accuracy=r.periods[period])
                             for r in fn.ranges))
        if not functions:
            raise KeyError(f"the {self.name}'s model file states no {period} specification "
                           "(a range's 'periods:')")
        return dataclasses.replace(self, functions=functions)

    def function(self, name: str) -> FunctionSpec:
        try:
            return self.functions[name]
        except KeyError:
            raise KeyError(f"{self.manufacturer} {self.model} has no function {name!r}; "
                           f"it has {', '.join(self.functions)}") from None

    def match_identity(self, idn: str, resource: str = "") -> dict[str, str]:
        """Check an ``*IDN?`` answer; return its named groups (serial, firmware)."""
        m = self.identity.match(idn.strip())
        if not m:
            where = f" at {resource}" if resource else ""
            raise IdentityMismatch(
                f"instrument{where} answered its identity query with {idn.strip()!r}, which is "
                f"not a {self.manufacturer} {self.model} (pattern {self.identity.pattern!r}); "
                "check the resource string and the procedure's instrument model")
        return {k: v for k, v in m.groupdict().items() if v is not None}

    def load_driver_class(self) -> type:
        """The driver: the role's class (``labauto.drivers.roles``), unless the model names
        its own (``driver: package.module:Class``)."""
        import importlib

        if self.driver:
            module, _, cls = self.driver.partition(":")
            return getattr(importlib.import_module(module), cls)
        from labauto.drivers.roles import ROLE_CLASSES

        if self.role == "heat_source":      # its module imports the role classes
            from labauto.drivers.heat_source import HeatSource
            return HeatSource
        try:
            return ROLE_CLASSES[self.role]
        except KeyError:
            raise LabautoError(f"{self.name} ({self.folder / 'model.yaml'}) has role "
                               f"{self.role!r}, which has no driver; give 'driver: "
                               "package.module:Class'") from None


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("LABAUTO_INSTRUMENTS_PATH", "").split(os.pathsep) if p]
    return [*extra, PROJECT_INSTRUMENTS]


def available_models() -> list[str]:
    names: list[str] = []
    for d in search_path():
        if d.is_dir():
            names += sorted(p.parent.name for p in d.glob("*/model.yaml"))
    return list(dict.fromkeys(names))


# ------------------------------------------------------------------------------ parsing

def _q(src: SourceMap, path: tuple, value: Any, unit: str | None) -> pint.Quantity:
    try:
        return parse_quantity(value, unit)
    except UnitError as exc:
        raise src.error(path, str(exc)) from None


def _unknown(src: SourceMap, path: tuple, d: dict, allowed: set[str], what: str) -> None:
    import difflib

    for key in d:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            raise src.error(path + (key,), f"unknown key {key!r} in {what}"
                            + (f"; did you mean {hint[0]!r}?" if hint else
                               f"; allowed: {', '.join(sorted(allowed))}"))


def _parse_accuracy(src: SourceMap, path: tuple, d: Any, unit: str) -> dict[str, pint.Quantity]:
    if not isinstance(d, dict) or not d:
        raise src.error(path, "accuracy must map terms (reading, output, range, floor, counts) "
                              "to amounts")
    acc: dict[str, pint.Quantity] = {}
    for term, amount in d.items():
        p = path + (term,)
        if term not in _ACCURACY_TERMS:
            raise src.error(p, f"unknown accuracy term {term!r}; use {sorted(_ACCURACY_TERMS)}")
        acc[term] = _q(src, p, amount, unit if term == "floor" else "dimensionless")
    return acc


def _parse_bands(src: SourceMap, path: tuple, d: Any, unit: str) -> tuple[Band, ...]:
    if not isinstance(d, list) or not d:
        raise src.error(path, "bands must be a list of {from: ..., to: ..., accuracy: {...}}")
    bands = []
    for i, b in enumerate(d):
        p = path + (i,)
        if not isinstance(b, dict):
            raise src.error(p, "a band must be a mapping with from, to, accuracy")
        _unknown(src, p, b, {"from", "to", "accuracy"}, "a frequency band")
        for key in ("from", "to", "accuracy"):
            if key not in b:
                raise src.error(p, f"band is missing {key!r}")
        low, high = _q(src, p + ("from",), b["from"], "Hz"), _q(src, p + ("to",), b["to"], "Hz")
        if not low < high:
            raise src.error(p, f"band from {low:~P} to {high:~P}: 'from' must be below 'to'")
        if bands and low < bands[-1].high * (1 - 1e-12):
            raise src.error(p, f"band from {low:~P} overlaps the band before it (to "
                               f"{bands[-1].high:~P}); list bands in increasing frequency")
        bands.append(Band(low, high, _parse_accuracy(src, p + ("accuracy",), b["accuracy"], unit)))
    return tuple(bands)


def _parse_range(src: SourceMap, path: tuple, d: Any, unit: str) -> RangeSpec:
    if not isinstance(d, dict):
        raise src.error(path, "a range must be a mapping with range, resolution, accuracy")
    _unknown(src, path, d, _RANGE_KEYS, "a range")
    for key in ("range", "resolution"):
        if key not in d:
            raise src.error(path, f"range is missing {key!r}")
    if ("accuracy" in d) == ("bands" in d):
        raise src.error(path, "a range needs exactly one of 'accuracy' (one specification) or "
                              "'bands' (a specification per frequency band)")
    rng = _q(src, path + ("range",), d["range"], unit)
    maximum = _q(src, path + ("full_scale",), d.get("full_scale", d["range"]), unit)
    minimum = _q(src, path + ("min",), d["min"], unit) if "min" in d else -maximum
    acc = _parse_accuracy(src, path + ("accuracy",), d["accuracy"], unit) if "accuracy" in d else {}
    bands = _parse_bands(src, path + ("bands",), d["bands"], unit) if "bands" in d else ()
    props = {}
    for key, punit in RANGE_PROPERTIES.items():
        if key in d:
            props[key] = _q(src, path + (key,), d[key], punit)
    readback = None
    if "readback" in d:
        rb = d["readback"]
        if not isinstance(rb, dict) or set(rb) != {"resolution", "accuracy"}:
            raise src.error(path + ("readback",), "readback is {resolution: ..., accuracy: {...}}: "
                                                  "the source's own measurement of its output")
        readback = RangeSpec(rng, maximum, minimum,
                             _q(src, path + ("readback", "resolution"), rb["resolution"], unit),
                             _parse_accuracy(src, path + ("readback", "accuracy"), rb["accuracy"],
                                             unit), (), props)
    periods = {}
    if "periods" in d:
        if not isinstance(d["periods"], dict) or "accuracy" not in d:
            raise src.error(path + ("periods",), "periods maps a specification period to its "
                                                 "accuracy ({24 hours: {reading: ..., range: "
                                                 "...}}), beside the range's own 'accuracy'")
        periods = {str(k): _parse_accuracy(src, path + ("periods", k), v, unit)
                   for k, v in d["periods"].items()}
    return RangeSpec(rng, maximum, minimum, _q(src, path + ("resolution",), d["resolution"], unit),
                     acc, bands, props, readback, periods)


def _parse_setting(src: SourceMap, path: tuple, name: str, d: Any) -> SettingSpec:
    if not isinstance(d, dict) or "values" not in d or not isinstance(d["values"], list) \
            or not d["values"]:
        raise src.error(path, f"setting {name!r} needs 'values' (a list) and 'default'")
    _unknown(src, path, d, {"values", "default"}, f"setting {name!r}")
    values = []
    for i, v in enumerate(d["values"]):
        if isinstance(v, bool) or (isinstance(v, (int, float))):
            values.append(v if isinstance(v, bool) else float(v))
        elif isinstance(v, str):
            values.append(setting_word(v))
        else:
            raise src.error(path + ("values", i), f"a {name} value must be a number, true/false "
                                                  f"or a quantity such as '20 Hz', not {v!r}")
    spec = SettingSpec(name, tuple(values), values[0])
    if "default" not in d:
        raise src.error(path, f"setting {name!r} needs a 'default' (one of its values)")
    default = d["default"]
    if isinstance(default, str):
        default = setting_word(default)
    try:
        default = spec.normalise(default)
    except ValueError as exc:
        raise src.error(path + ("default",), f"default: {exc}") from None
    return SettingSpec(name, tuple(values), default)


def setting_word(text: str) -> Any:
    """A setting value written as text: a quantity (``20 Hz``) or a word (``WIRE2``)."""
    try:
        q = parse_quantity(text, None)
    except UnitError:
        return text.strip()
    return text.strip() if q.dimensionless else q


def _templates(src: SourceMap, path: tuple, d: Any, role: str) -> tuple[dict[str, str], dict[str, str]]:
    """``commands:`` -> (operation templates, setting templates)."""
    if not isinstance(d, dict):
        raise src.error(path, "commands must map operations to command templates")
    ops = ROLES.get(role, {})
    allowed = set(ops) | {"settings"}
    if ops:
        _unknown(src, path, d, allowed, f"the commands of a {role}")
    out: dict[str, str] = {}
    settings: dict[str, str] = {}
    for key, value in d.items():
        if key == "settings":
            if not isinstance(value, dict):
                raise src.error(path + (key,), "commands.settings must map setting names to "
                                               "command templates")
            for name, t in value.items():
                settings[name] = _template_text(src, path + (key, name), t)
        else:
            out[key] = _template_text(src, path + (key,), value)
    return out, settings


def _template_text(src: SourceMap, path: tuple, t: Any) -> str:
    if not isinstance(t, str) or not t.strip():
        raise src.error(path, "a command template must be non-empty text, e.g. 'CONF:{mnemonic} {range}'")
    try:
        placeholders(t)
    except ValueError as exc:
        raise src.error(path, f"command template {t!r}: {exc}") from None
    return t


def _check_template(src: SourceMap, path: tuple, template: str, allowed: set[str],
                    function: str, operation: str) -> None:
    for name in placeholders(template):
        if name not in allowed:
            raise src.error(path, f"command template {template!r} ({operation}) uses "
                                  f"{{{name}}}, which the {function} row does not define; "
                                  f"available: {', '.join('{' + a + '}' for a in sorted(allowed))}")


def _parse_function(src: SourceMap, fp: tuple, fname: str, f: Any, role: str,
                    model_ops: dict[str, str], model_settings: dict[str, str],
                    ops_path: dict[str, tuple]) -> FunctionSpec:
    if not isinstance(f, dict) or "quantity" not in f or "ranges" not in f:
        raise src.error(fp, "a function needs 'quantity' (its unit) and 'ranges'")
    _unknown(src, fp, f, _FUNCTION_KEYS, f"function {fname}")
    unit = str(f["quantity"])
    try:
        unit_obj = Q_(1, unit).units
    except Exception:  # noqa: BLE001 - pint raises several kinds
        raise src.error(fp + ("quantity",), f"unknown unit {unit!r}") from None
    if not isinstance(f["ranges"], list) or not f["ranges"]:
        raise src.error(fp + ("ranges",), "ranges must be a non-empty list")
    ranges = tuple(_parse_range(src, fp + ("ranges", i), r, unit) for i, r in enumerate(f["ranges"]))
    settings = {}
    if "settings" in f:
        if not isinstance(f["settings"], dict):
            raise src.error(fp + ("settings",), "settings must map names to {values, default}")
        settings = {n: _parse_setting(src, fp + ("settings", n), n, s)
                    for n, s in f["settings"].items()}
    fields: dict[str, Any] = {}
    if "mnemonic" in f:
        fields["mnemonic"] = str(f["mnemonic"])
    fields["unit"] = str(f.get("unit", _UNIT_WORDS.get(f"{unit_obj:~P}", f"{unit_obj:~P}")))
    if "amplitude" in f:
        fields["amplitude"] = _q(src, fp + ("amplitude",), f["amplitude"], None)
    if "fields" in f:
        if not isinstance(f["fields"], dict):
            raise src.error(fp + ("fields",), "fields must map placeholder names to values")
        fields.update({str(k): v for k, v in f["fields"].items()})
    own_ops, own_settings = ({}, {})
    if "commands" in f:
        own_ops, own_settings = _templates(src, fp + ("commands",), f["commands"], role)
    ops = {**model_ops, **own_ops}
    set_cmds = {**model_settings, **own_settings}
    spec = FunctionSpec(
        name=fname, unit=unit_obj, ranges=ranges,
        confidence=float(f["confidence"]) if "confidence" in f else None,
        specification_period=str(f.get("specification_period", "")),
        specification=str(f.get("specification", "")), settings=settings, fields=fields,
        commands=ops, setting_commands={k: v for k, v in set_cmds.items() if k in settings})
    role_ops = ROLES.get(role)
    if role_ops is None:
        return spec
    available = set(fields)
    for op, template in ops.items():
        where = fp + ("commands", op) if op in own_ops else ops_path[op]
        _check_template(src, where, template, available | role_ops[op].parameters, fname, op)
    for name in ("channel", "compliance") if role == "source" else ():   # supplied by the range
        users = [op for op, t in ops.items() if name in placeholders(t) and name not in fields]
        lacking = [r for r in ranges if (r.channel if name == "channel" else
                                         r.property("compliance")) is None]
        if users and lacking:
            raise src.error(fp + ("ranges",), f"the {users[0]} template uses {{{name}}}, but the "
                                              f"{lacking[0].range:~P} range of {fname} gives no "
                                              f"{name}")
    for op, o in role_ops.items():
        if o.required and op not in ops:
            raise src.error(fp, f"the {role} operation {op!r} has no command template (give it "
                                "under the model's 'commands')")
    if role == "source" and (spec.is_ac or spec.is_frequency) and "output_ac" not in ops:
        raise src.error(fp, f"{fname} is an AC function (it has a frequency): the source "
                            "needs an 'output_ac' command template")
    for name in settings:
        if name not in set_cmds:
            raise src.error(fp + ("settings", name),
                            f"setting {name!r} has no command template; add it under "
                            f"commands.settings (e.g. {name}: '{{mnemonic}}:...{{value}}')")
        where = fp + ("commands", "settings", name) if name in own_settings else \
            ops_path.get(f"settings.{name}", fp)
        _check_template(src, where, set_cmds[name], available | SETTING_PARAMETERS, fname,
                        f"setting {name}")
    return spec


def parse_model(path: Path) -> InstrumentModel:
    doc = load(path)
    d, src = doc.data, doc.source
    if not isinstance(d, dict):
        raise SourceError(str(path), 1, "an instrument description must be a mapping")
    if d.get("role") == "environment_logger":
        raise src.error(("role",), "this is an environment-logger model: it is read by "
                        "labauto.drivers.environment.load_environment_logger_model")
    for key in ("manufacturer", "model", "role", "identity", "functions"):
        if key not in d:
            raise src.error((), f"missing required key {key!r}")
    role = str(d["role"])
    if role in ROLES:
        _unknown(src, (), d, _MODEL_KEYS, "an instrument model")
        if "commands" not in d:
            raise src.error((), f"a {role} model needs 'commands' (its command templates)")
    try:
        identity = re.compile(d["identity"])
    except re.error as exc:
        raise src.error(("identity",), f"identity is not a valid regular expression: {exc}") from None
    model_ops, model_settings = ({}, {})
    if "commands" in d:
        model_ops, model_settings = _templates(src, ("commands",), d["commands"], role)
    ops_path = {op: ("commands", op) for op in model_ops}
    ops_path.update({f"settings.{n}": ("commands", "settings", n) for n in model_settings})
    if not isinstance(d["functions"], dict) or not d["functions"]:
        raise src.error(("functions",), "functions must map function names (DCV, ACV, ...) to "
                                        "their tables")
    functions = {str(fname): _parse_function(src, ("functions", fname), str(fname), f, role,
                                             model_ops, model_settings, ops_path)
                 for fname, f in d["functions"].items()}
    used = {n for f in functions.values() for n in f.settings}
    for name in model_settings:
        if name not in used:
            raise src.error(("commands", "settings", name),
                            f"setting command {name!r} is used by no function (a typo?); "
                            f"function settings: {', '.join(sorted(used)) or 'none'}")
    sim = d.get("simulation")
    extra = {k: v for k, v in d.items() if k not in _MODEL_KEYS}
    if "sim" in d:
        extra["sim"] = d["sim"]
    if "adjustment" in d:       # the DUT's calibration commands (labauto.procedure.adjustment)
        extra["adjustment"] = d["adjustment"]
    if "performance" in d:      # heat sources: stability, uniformity (labauto.drivers.heat_source)
        extra["performance"] = d["performance"]
    return InstrumentModel(
        manufacturer=str(d["manufacturer"]), model=str(d["model"]),
        description=str(d.get("description", "")), role=role,
        language=str(d.get("language", "scpi")), identity=identity, folder=path.parent,
        simulation=(path.parent / sim) if sim else None, functions=functions,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        datasheet=str(d.get("datasheet", "")), driver=str(d.get("driver", "")), extra=extra,
        error_query=str(d.get("error_query", "")))


_MODELS: dict[Path, tuple[tuple[int, int], InstrumentModel]] = {}


def load_instrument_model(name: str) -> InstrumentModel:
    """Instrument model by folder name (``keysight_34465a``) or path to a model.yaml/folder.

    Parsed once per file and parsed again when the file changes (its modification time or
    size), so a long-running process never uses a stale specification."""
    path = _model_file(name)
    st = path.stat()
    signature = (st.st_mtime_ns, st.st_size)
    hit = _MODELS.get(path)
    if hit is not None and hit[0] == signature:
        return hit[1]
    model = parse_model(path)
    _MODELS[path] = (signature, model)
    return model


def _model_file(name: str) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p.resolve()
    if (p / "model.yaml").exists():
        return (p / "model.yaml").resolve()
    for d in search_path():
        candidate = d / name / "model.yaml"
        if candidate.exists():
            return candidate.resolve()
    raise LabautoError(f"unknown instrument model {name!r}; known models: "
                       f"{', '.join(available_models()) or 'none'} (searched {search_path()})")

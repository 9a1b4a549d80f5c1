"""Instrument model descriptions (``instruments/<model>/model.yaml``): identity, ranges,
resolution and the manufacturer's accuracy specification.

Adding an instrument model means adding a folder under ``instruments/``; nothing here changes.
The catalog is searched in the directories of ``LABAUTO_INSTRUMENTS_PATH`` (os.pathsep
separated) and then in the project's ``instruments/`` folder.

Accuracy specifications are ± half-widths built from any of these terms::

    reading / output: fraction of |value|   (e.g. 0.0035 %, 12 ppm)
    range:            fraction of the range (e.g. 0.0005 %)
    floor:            a fixed amount        (e.g. 20 uV)
    counts:           a number of counts of the range's resolution
"""
from __future__ import annotations

import os
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pint

from labauto.errors import LabautoError, SourceError
from labauto.units import Q_, UnitError, parse_quantity
from labauto.yamlsource import SourceMap, load

PROJECT_INSTRUMENTS = Path(__file__).resolve().parents[1] / "instruments"
_ACCURACY_TERMS = {"reading", "output", "range", "floor", "counts"}


class IdentityMismatch(LabautoError):
    """*IDN? did not match the identity pattern of the expected instrument model."""


@dataclass(frozen=True)
class RangeSpec:
    """One range of one function: nominal range, limits, resolution, accuracy terms."""

    range: pint.Quantity
    maximum: pint.Quantity           # largest |value| measurable/sourceable on this range
    minimum: pint.Quantity           # most negative value (−maximum unless stated)
    resolution: pint.Quantity
    accuracy: dict[str, pint.Quantity]   # term -> fraction (dimensionless) or quantity

    def covers(self, value: pint.Quantity) -> bool:
        return self.minimum <= value <= self.maximum

    def accuracy_halfwidth(self, value: pint.Quantity) -> pint.Quantity:
        """± half-width of the specification at ``value`` (unit of the range)."""
        unit = self.range.units
        total = Q_(0.0, unit)
        for term, amount in self.accuracy.items():
            if term in ("reading", "output"):
                total += amount.to("dimensionless").magnitude * abs(value.to(unit))
            elif term == "range":
                total += amount.to("dimensionless").magnitude * self.range.to(unit)
            elif term == "floor":
                total += amount.to(unit)
            elif term == "counts":
                total += amount.to("dimensionless").magnitude * self.resolution.to(unit)
        return total


@dataclass(frozen=True)
class FunctionSpec:
    name: str                        # "DCV"
    unit: pint.Unit
    ranges: tuple[RangeSpec, ...]
    confidence: float | None = None  # coverage probability of the accuracy spec (None: limits)
    specification_period: str = ""
    nplc: tuple[float, ...] = ()

    def range_named(self, rng: pint.Quantity) -> RangeSpec:
        """The range whose nominal value equals ``rng`` (e.g. the DUT's 10 V range)."""
        for r in self.ranges:
            if abs(r.range.to(self.unit).magnitude - rng.to(self.unit).magnitude) <= 1e-9 * abs(
                    r.range.to(self.unit).magnitude):
                return r
        names = ", ".join(f"{r.range:~P}" for r in self.ranges)
        raise KeyError(f"no {self.name} range {rng:~P}; ranges are {names}")

    def range_for(self, value: pint.Quantity) -> RangeSpec:
        """Smallest range that covers ``value`` (how a source picks its range)."""
        for r in sorted(self.ranges, key=lambda r: r.maximum.to(self.unit).magnitude):
            if r.covers(value):
                return r
        raise KeyError(f"{value:~P} is outside every {self.name} range")


@dataclass(frozen=True)
class InstrumentModel:
    manufacturer: str
    model: str
    description: str
    role: str
    driver: str                      # "package.module:Class"
    identity: re.Pattern[str]
    folder: Path
    simulation: Path | None
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    sha256: str = ""                 # of model.yaml: its specifications set tolerances and budgets

    @property
    def key(self) -> str:
        return self.folder.name

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
                f"instrument{where} answered *IDN? with {idn.strip()!r}, which is not a "
                f"{self.manufacturer} {self.model} (pattern {self.identity.pattern!r}); "
                "check the resource string and the procedure's instrument model")
        return {k: v for k, v in m.groupdict().items() if v is not None}

    def load_driver_class(self) -> type:
        import importlib

        module, _, cls = self.driver.partition(":")
        return getattr(importlib.import_module(module), cls)


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("LABAUTO_INSTRUMENTS_PATH", "").split(os.pathsep) if p]
    return [*extra, PROJECT_INSTRUMENTS]


def available_models() -> list[str]:
    names: list[str] = []
    for d in search_path():
        if d.is_dir():
            names += sorted(p.parent.name for p in d.glob("*/model.yaml"))
    return list(dict.fromkeys(names))


def _q(src: SourceMap, path: tuple, value: Any, unit: str | None) -> pint.Quantity:
    try:
        return parse_quantity(value, unit)
    except UnitError as exc:
        raise src.error(path, str(exc)) from None


def _parse_range(src: SourceMap, path: tuple, d: Any, unit: str) -> RangeSpec:
    if not isinstance(d, dict):
        raise src.error(path, "a range must be a mapping with range, resolution, accuracy")
    unknown = set(d) - {"range", "full_scale", "min", "resolution", "accuracy"}
    if unknown:
        raise src.error(path + (sorted(unknown)[0],), f"unknown key {sorted(unknown)[0]!r} in a range")
    for key in ("range", "resolution", "accuracy"):
        if key not in d:
            raise src.error(path, f"range is missing {key!r}")
    rng = _q(src, path + ("range",), d["range"], unit)
    maximum = _q(src, path + ("full_scale",), d.get("full_scale", d["range"]), unit)
    minimum = _q(src, path + ("min",), d["min"], unit) if "min" in d else -maximum
    acc: dict[str, pint.Quantity] = {}
    if not isinstance(d["accuracy"], dict) or not d["accuracy"]:
        raise src.error(path + ("accuracy",), "accuracy must map terms (reading, output, range, "
                        "floor, counts) to amounts")
    for term, amount in d["accuracy"].items():
        p = path + ("accuracy", term)
        if term not in _ACCURACY_TERMS:
            raise src.error(p, f"unknown accuracy term {term!r}; use {sorted(_ACCURACY_TERMS)}")
        acc[term] = _q(src, p, amount, unit if term == "floor" else "dimensionless")
    return RangeSpec(rng, maximum, minimum, _q(src, path + ("resolution",), d["resolution"], unit), acc)


def parse_model(path: Path) -> InstrumentModel:
    doc = load(path)
    d, src = doc.data, doc.source
    if not isinstance(d, dict):
        raise SourceError(str(path), 1, "an instrument description must be a mapping")
    if d.get("role") == "environment_logger":
        raise src.error(("role",), "this is an environment-logger model: it is read by "
                        "labauto.drivers.environment.load_environment_logger_model")
    for key in ("manufacturer", "model", "role", "driver", "identity", "functions"):
        if key not in d:
            raise src.error((), f"missing required key {key!r}")
    try:
        identity = re.compile(d["identity"])
    except re.error as exc:
        raise src.error(("identity",), f"identity is not a valid regular expression: {exc}") from None
    functions: dict[str, FunctionSpec] = {}
    for fname, f in d["functions"].items():
        fp = ("functions", fname)
        if not isinstance(f, dict) or "quantity" not in f or "ranges" not in f:
            raise src.error(fp, "a function needs 'quantity' (its unit) and 'ranges'")
        unit = str(f["quantity"])
        ranges = tuple(_parse_range(src, fp + ("ranges", i), r, unit) for i, r in enumerate(f["ranges"]))
        functions[fname] = FunctionSpec(
            name=fname, unit=Q_(1, unit).units, ranges=ranges,
            confidence=float(f["confidence"]) if "confidence" in f else None,
            specification_period=str(f.get("specification_period", "")),
            nplc=tuple(float(x) for x in f.get("nplc", ())))
    sim = d.get("simulation")
    return InstrumentModel(
        manufacturer=str(d["manufacturer"]), model=str(d["model"]),
        description=str(d.get("description", "")), role=str(d["role"]), driver=str(d["driver"]),
        identity=identity, folder=path.parent, simulation=(path.parent / sim) if sim else None,
        functions=functions, sha256=hashlib.sha256(path.read_bytes()).hexdigest())


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
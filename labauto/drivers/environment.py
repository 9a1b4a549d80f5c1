"""The environment-logger role: a thermo-hygrometer polled for the ambient temperature and
relative humidity during a calibration.

The model file (``instruments/<model>/model.yaml`` with ``role: environment_logger``) owns
everything model-specific: the identify and read commands, the patterns that parse their
answers, the line terminations, and per quantity the measuring range, resolution and the
manufacturer's accuracy limits with their datasheet citation.  A logger that speaks another
line protocol is a new model file, not new code.

    with open_environment_logger(resource, "vaisala_hmt330") as logger:
        logger.identity          # Identity(manufacturer, model, serial, firmware, ...)
        logger.read()            # ConditionsReading(temperature=Q_(23.1, "degC"), ...)
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pint

from labauto.drivers.identity import Identity
from labauto.errors import LabautoError
from labauto.instruments import IdentityMismatch, search_path
from labauto.units import Q_, UnitError, parse_quantity
from labauto.visa.errors import CommunicationError
from labauto.visa.session import VisaSession
from labauto.yamlsource import SourceMap, load

ROLE = "environment_logger"
QUANTITIES = ("temperature", "relative_humidity")


@dataclass(frozen=True)
class AccuracyBand:
    """The manufacturer's accuracy limit ± ``limit`` for readings in [minimum, maximum]."""

    minimum: pint.Quantity
    maximum: pint.Quantity
    limit: pint.Quantity             # a difference (K for temperature)
    note: str = ""

    def covers(self, value: pint.Quantity) -> bool:
        return self.minimum <= value <= self.maximum


@dataclass(frozen=True)
class LoggerQuantity:
    name: str                        # "temperature" | "relative_humidity"
    unit: str                        # unit of the logger's answer: "degC", "percent"
    minimum: pint.Quantity
    maximum: pint.Quantity
    resolution: pint.Quantity
    accuracy: tuple[AccuracyBand, ...]

    def accuracy_at(self, value: pint.Quantity) -> AccuracyBand | None:
        return next((b for b in self.accuracy if b.covers(value)), None)

    def standard_uncertainty(self, value: pint.Quantity) -> pint.Quantity | None:
        """u of one reading from the manufacturer's limit ± a, taken as a rectangular
        distribution (JCGM 100:2008 4.3.7: u = a/√3); None where the datasheet gives no limit."""
        band = self.accuracy_at(value)
        return None if band is None else band.limit / math.sqrt(3)


@dataclass(frozen=True)
class EnvironmentLoggerModel:
    manufacturer: str
    model: str
    description: str
    folder: Path
    sha256: str
    datasheet: str
    commands: dict[str, str]
    identity_model: re.Pattern[str]
    identity_serial: re.Pattern[str]
    identity_max_lines: int
    reading: re.Pattern[str]
    quantities: dict[str, LoggerQuantity]
    read_termination: str = "\n"
    write_termination: str = "\n"
    simulation: Path | None = None

    @property
    def key(self) -> str:
        return self.folder.name


@dataclass(frozen=True)
class ConditionsReading:
    t: str                                            # ISO 8601 UTC time of the reading
    values: dict[str, pint.Quantity] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"t": self.t, **{k: {"value": float(q.magnitude), "unit": str(q.units)}
                               for k, q in self.values.items()}}


class EnvironmentLoggerError(LabautoError):
    """The environment logger answered something that is not a reading."""


# ------------------------------------------------------------------ the model file

def load_environment_logger_model(name: str | Path) -> EnvironmentLoggerModel:
    """An environment-logger model by folder name (``vaisala_hmt330``) or path; errors name
    the file and line."""
    path = _model_file(name)
    doc = load(path)
    d, src = doc.data, doc.source
    if not isinstance(d, dict):
        raise src.error((), "an instrument model must be a mapping")
    for key in ("manufacturer", "model", "role", "commands", "identity", "reading", "quantities",
                "datasheet"):
        if key not in d:
            raise src.error((), f"missing required key {key!r}")
    if d["role"] != ROLE:
        raise src.error(("role",), f"{path.parent.name} is a {d['role']!r}, not an {ROLE}")
    commands = d["commands"]
    for op in ("identify", "read"):
        if not isinstance(commands, dict) or not isinstance(commands.get(op), str):
            raise src.error(("commands",), f"commands needs the {op!r} command")
    ident = d["identity"]
    if not isinstance(ident, dict) or not {"model", "serial"} <= set(ident):
        raise src.error(("identity",), "identity needs the patterns 'model' and 'serial'")
    reading = _regex(src, ("reading",), d["reading"])
    missing = [q for q in d["quantities"] if q not in reading.groupindex]
    if missing:
        raise src.error(("reading",), f"the reading pattern has no group for {missing[0]!r}")
    quantities = {name: _quantity(src, name, q) for name, q in d["quantities"].items()}
    for name in quantities:
        if name not in QUANTITIES:
            raise src.error(("quantities", name), f"unknown quantity {name!r}; use {list(QUANTITIES)}")
    sim = d.get("simulation")
    return EnvironmentLoggerModel(
        manufacturer=str(d["manufacturer"]), model=str(d["model"]),
        description=str(d.get("description", "")), folder=path.parent,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(), datasheet=str(d["datasheet"]),
        commands={k: str(v) for k, v in commands.items()},
        identity_model=_regex(src, ("identity", "model"), ident["model"]),
        identity_serial=_regex(src, ("identity", "serial"), ident["serial"]),
        identity_max_lines=int(ident.get("max_lines", 20)), reading=reading, quantities=quantities,
        read_termination=str(d.get("read_termination", "\n")),
        write_termination=str(d.get("write_termination", "\n")),
        simulation=(path.parent / sim) if sim else None)


def is_environment_logger(name: str | Path) -> bool:
    """Whether the model file ``name`` describes an environment logger (``role:``)."""
    try:
        data = load(_model_file(name)).data
    except LabautoError:
        return False
    return isinstance(data, dict) and data.get("role") == ROLE


def _model_file(name: str | Path) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p.resolve()
    if (p / "model.yaml").exists():
        return (p / "model.yaml").resolve()
    for d in search_path():
        if (d / str(name) / "model.yaml").exists():
            return (d / str(name) / "model.yaml").resolve()
    raise LabautoError(f"unknown environment-logger model {str(name)!r} (searched {search_path()})")


def _regex(src: SourceMap, path: tuple, value: Any) -> re.Pattern[str]:
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise src.error(path, f"not a valid regular expression: {exc}") from None


def _q(src: SourceMap, path: tuple, value: Any, unit: str) -> pint.Quantity:
    try:
        return parse_quantity(value, unit)
    except UnitError as exc:
        raise src.error(path, str(exc)) from None


def _quantity(src: SourceMap, name: str, d: Any) -> LoggerQuantity:
    at = ("quantities", name)
    if not isinstance(d, dict) or not {"unit", "minimum", "maximum", "resolution", "accuracy"} <= set(d):
        raise src.error(at, "a quantity needs unit, minimum, maximum, resolution and accuracy")
    unit = str(d["unit"])
    difference = "K" if unit in ("degC", "K", "degF") else unit
    bands = []
    for i, b in enumerate(d["accuracy"] or ()):
        bp = at + ("accuracy", i)
        if not isinstance(b, dict) or not {"minimum", "maximum", "limit"} <= set(b):
            raise src.error(bp, "an accuracy band needs minimum, maximum and limit")
        bands.append(AccuracyBand(_q(src, bp + ("minimum",), b["minimum"], unit),
                                  _q(src, bp + ("maximum",), b["maximum"], unit),
                                  _q(src, bp + ("limit",), b["limit"], difference),
                                  str(b.get("note", ""))))
    return LoggerQuantity(name, unit, _q(src, at + ("minimum",), d["minimum"], unit),
                          _q(src, at + ("maximum",), d["maximum"], unit),
                          _q(src, at + ("resolution",), d["resolution"], difference), tuple(bands))


# ------------------------------------------------------------------ the role

class EnvironmentLogger:
    """One thermo-hygrometer on a VISA session; commands and parsing from its model file.
    It has no output and no error queue: nothing to put in a safe state, and an answer that
    does not parse is the error."""

    def __init__(self, session: VisaSession, model: EnvironmentLoggerModel):
        self.session, self.model = session, model
        self._identity: Identity | None = None

    @property
    def name(self) -> str:
        return f"{self.model.manufacturer} {self.model.model}"

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            raise CommunicationError(f"{self.session.describe()} has not been identified yet",
                                     instrument=self.name, resource=self.session.resource_name)
        return self._identity

    def connect(self) -> Identity:
        """Ask who it is (the model's identify command) and check it against the model."""
        command = self.model.commands["identify"]
        lines = [self.session.raw_query(command)]
        model_m = self.model.identity_model.match(lines[0].strip())
        serial_m = None
        while serial_m is None and len(lines) < self.model.identity_max_lines:
            line = self.session.raw_read(command).strip()
            lines.append(line)
            serial_m = self.model.identity_serial.match(line)
        if model_m is None or serial_m is None:
            raise IdentityMismatch(
                f"the instrument at {self.session.resource_name} answered {command!r} with "
                f"{' | '.join(lines[:3])!r}…, which is not a {self.name} (model file "
                f"{self.model.folder / 'model.yaml'}); check the environment logger's resource")
        self._drain()
        self._identity = Identity(manufacturer=self.model.manufacturer,
                                  model=model_m.groupdict().get("model") or self.model.model,
                                  serial=serial_m.group("serial"),
                                  firmware=model_m.groupdict().get("firmware") or "",
                                  raw=" | ".join(lines[:2]), resource=self.session.resource_name)
        return self._identity

    def read(self) -> ConditionsReading:
        """One reading of every quantity, stamped with the time it was taken."""
        command = self.model.commands["read"]
        answer = self.session.raw_query(command)
        t = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        m = self.model.reading.search(answer)
        if m is None:
            raise EnvironmentLoggerError(
                f"{self.session.describe()} answered {command!r} with {answer!r}, which is not a "
                f"reading (pattern in {self.model.folder / 'model.yaml'})")
        values = {}
        for name, spec in self.model.quantities.items():
            value = Q_(float(m.group(name)), spec.unit)
            if not spec.minimum <= value <= spec.maximum:
                raise EnvironmentLoggerError(
                    f"{self.session.describe()}: {name.replace('_', ' ')} {value:~P} is outside the "
                    f"logger's measuring range {spec.minimum:~P} to {spec.maximum:~P}: a sensor fault")
            values[name] = value
        return ConditionsReading(t, values)

    def _drain(self) -> None:
        """Discard the rest of a multi-line answer (what follows the serial number line)."""
        saved = self.session.timeout_ms
        self.session.timeout_ms = 150
        try:
            for _ in range(self.model.identity_max_lines):
                try:
                    self.session.raw_read("(rest of the identify answer)")
                except LabautoError:      # nothing more within 150 ms: the answer is complete
                    break
        finally:
            self.session.timeout_ms = saved


@contextlib.contextmanager
def open_environment_logger(resource: str, model: str | EnvironmentLoggerModel, *,
                            timeout_ms: int = 5000,
                            resource_manager: Any = None) -> Iterator[EnvironmentLogger]:
    """Open and identify the logger at ``resource``; closed whichever way the block ends."""
    m = model if isinstance(model, EnvironmentLoggerModel) else load_environment_logger_model(model)
    session = VisaSession.open(resource, instrument=f"{m.manufacturer} {m.model}",
                               timeout_ms=timeout_ms, resource_manager=resource_manager,
                               error_query="", read_termination=m.read_termination,
                               write_termination=m.write_termination)
    try:
        logger = EnvironmentLogger(session, m)
        logger.connect()
        yield logger
    finally:
        session.close()

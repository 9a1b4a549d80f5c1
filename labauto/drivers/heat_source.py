"""The heat-source role: a dry-well / metrology well, a stirred liquid bath or a furnace that a
comparison calibration of thermometers sets to a temperature and waits on.

The model file (``role: heat_source``) owns the command templates (``setpoint``,
``setpoint_query``, ``temperature_query``, optionally ``stability_query`` and ``enable``) and
one function row (``TEMP``) whose range is the source's setpoint range; its ``performance``
section states the manufacturer's stability and uniformity figures the uncertainty budget uses.

    with open_instrument(resource, "fluke_9144", safe_setpoint=Q_(25, "degC")) as well:
        well.set_temperature(Q_(200, "degC"))    # refused outside the setpoint range
        well.temperature()                       # Q_(187.3, "degC"): the control sensor
        well.setpoint()                          # Q_(200, "degC")

Its safe state is the procedure's safe setpoint (``safe_setpoint``), reached on every exit
path of ``open_instrument`` -- after a lost connection too, on a new connection -- so a run
that stops (a fault, Ctrl-C, a cable pulled) never leaves a well heating to 660 °C unattended.
Without a safe setpoint the safe state leaves the setpoint as it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pint

from labauto.commands import render
from labauto.drivers.roles import _Templated
from labauto.instruments import FunctionSpec, InstrumentModel
from labauto.units import Q_, UnitError, parse_quantity
from labauto.visa.errors import CommunicationError, RefusedRequestError, UnsafeRequestError
from labauto.yamlsource import load

FUNCTION = "TEMP"
#: the figures a heat source's ``performance`` section may state, and their unit
PERFORMANCE_TERMS = {
    "stability": "K",            # ± short-term stability of the medium (datasheet: over 30 min)
    "axial_uniformity": "K",     # ± vertical gradient over the measurement zone
    "radial_uniformity": "K",    # ± well-to-well (or point-to-point) difference
    "display_accuracy": "K",     # ± of the control sensor's display
    "loading": "K",              # ± loading effect of the probes
    "hysteresis": "K",
    "immersion_depth": "mm",     # depth of the wells / of the homogeneous zone
    "time_constant": "s",        # first-order approach to a new setpoint
    "ambient": "degC",
}


@dataclass(frozen=True)
class HeatSourcePerformance:
    """The manufacturer's performance figures of a heat source, at a given temperature (each
    figure a table ``[{at: 0 degC, value: 0.005 K}, ...]`` or one value), with their source."""

    figures: dict[str, tuple[tuple[pint.Quantity | None, pint.Quantity], ...]]
    datasheet: str = ""

    def at(self, name: str, temperature: pint.Quantity) -> pint.Quantity | None:
        """The figure ``name`` at ``temperature``: the row of the nearest ``at`` not below
        the temperature's magnitude (datasheets tabulate "at 0 °C, at 200 °C, at 660 °C": a
        value holds up to its temperature); None if the model states none."""
        rows = self.figures.get(name)
        if not rows:
            return None
        return rows[self._row(name, float(temperature.to("degC").magnitude))][1]

    def kelvin_at(self, name: str, t_c: float) -> float:
        """:meth:`at` for a temperature-difference figure as a float in K (0 if the model
        states none), at ``t_c`` in °C: the simulated heat source asks it at every reading."""
        table = self._kelvin_tables.get(name)
        return 0.0 if table is None else table[self._row(name, t_c)]

    def _row(self, name: str, t_c: float) -> int:
        rows = self.figures[name]
        if len(rows) == 1 or rows[0][0] is None:
            return 0
        limits = self._limits.get(name, ())
        for i, at in enumerate(limits):
            if t_c <= at + 1e-9:
                return i
        return len(rows) - 1

    @cached_property
    def _limits(self) -> dict[str, tuple[float, ...]]:
        """Each figure's ``at`` temperatures in °C (NaN for a figure of one value)."""
        return {name: tuple(float(at.to("degC").magnitude) if at is not None else math.nan
                            for at, _ in rows) for name, rows in self.figures.items()}

    @cached_property
    def _kelvin_tables(self) -> dict[str, tuple[float, ...]]:
        """The temperature-difference figures' values as floats in K."""
        return {name: tuple(float(v.to("K").magnitude) for _, v in rows)
                for name, rows in self.figures.items()
                if rows and rows[0][1].check("[temperature]")}


def heat_source_performance(model: InstrumentModel) -> HeatSourcePerformance:
    """The ``performance`` section of a heat-source model file (errors name file:line)."""
    path = model.folder / "model.yaml"
    raw = model.extra.get("performance")
    if raw is None:
        return HeatSourcePerformance({}, model.datasheet)
    src = load(path).source
    if not isinstance(raw, dict):
        raise src.error(("performance",), "performance must map figures (stability, "
                                          "axial_uniformity ...) to values or tables")
    figures: dict[str, tuple] = {}
    datasheet = model.datasheet
    for name, value in raw.items():
        where = ("performance", name)
        if name == "source":
            datasheet = str(value)
            continue
        if name not in PERFORMANCE_TERMS:
            raise src.error(where, f"unknown performance figure {name!r}; use "
                                   f"{', '.join(PERFORMANCE_TERMS)} (or 'source')")
        unit = PERFORMANCE_TERMS[name]
        rows = value if isinstance(value, list) else [{"value": value}]
        parsed = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or "value" not in row or set(row) - {"at", "value"}:
                raise src.error(where + (i,), f"{name}: each row is {{at: <temperature>, "
                                              "value: <amount>}")
            try:
                at = parse_quantity(row["at"], "degC") if "at" in row else None
                amount = parse_quantity(row["value"], "delta_degC" if unit == "K" else unit)
            except UnitError as exc:
                raise src.error(where + (i,), f"{name}: {exc}") from None
            parsed.append((at, amount.to("K") if unit == "K" else amount))
        figures[name] = tuple(parsed)
    return HeatSourcePerformance(figures, datasheet)


class HeatSource(_Templated):
    """A temperature-controlled heat source: set the setpoint, read the control temperature."""

    def __init__(self, session, model: InstrumentModel,
                 safe_setpoint: pint.Quantity | None = None, **options: Any):
        super().__init__(session, model, **options)
        self._fn = self._function(FUNCTION)
        self.safe_setpoint = None
        if safe_setpoint is not None:
            self.check_setpoint(safe_setpoint, "safe setpoint")
            self.safe_setpoint = safe_setpoint

    @property
    def function(self) -> FunctionSpec:
        return self._fn

    @property
    def setpoint_range(self) -> tuple[pint.Quantity, pint.Quantity]:
        lo = min(r.minimum for r in self._fn.ranges)
        hi = max(r.maximum for r in self._fn.ranges)
        return lo, hi

    def check_setpoint(self, value: pint.Quantity, what: str = "setpoint") -> pint.Quantity:
        """``value`` in the model's unit; UnsafeRequestError outside the setpoint range."""
        if not isinstance(value, pint.Quantity) or not value.check("[temperature]"):
            raise RefusedRequestError(f"{self.name}: the {what} must be a temperature (e.g. "
                                      f"Q_(100, 'degC')), not {value!r}")
        v = value.to(self._fn.unit)
        lo, hi = self.setpoint_range
        if not lo <= v <= hi:
            raise UnsafeRequestError(f"{self.name}: refusing the {what} {v:~P}: outside its "
                                     f"setpoint range {lo:~P} to {hi:~P}")
        return v

    def set_temperature(self, value: pint.Quantity) -> None:
        v = self.check_setpoint(value)
        # written in the model's own unit (°C), not converted to kelvin by the language
        self._send(self._fn, "setpoint", value=float(v.magnitude))
        if "enable" in self._fn.commands:
            self._send(self._fn, "enable")

    def setpoint(self) -> pint.Quantity:
        return self._query_temperature("setpoint_query")

    def temperature(self) -> pint.Quantity:
        """The control sensor's temperature (the medium's is measured by the reference)."""
        return self._query_temperature("temperature_query")

    def stable(self) -> bool | None:
        """The source's own stability indicator (None if the model has none)."""
        if "stability_query" not in self._fn.commands:
            return None
        text = self.session.query(render(self._fn.commands["stability_query"], self._fields(self._fn)))
        return self.language.is_live(text)

    def _query_temperature(self, operation: str) -> pint.Quantity:
        command = render(self._fn.commands[operation], self._fields(self._fn))
        text = self.session.query(command)
        try:
            return Q_(float(text.strip().split(",")[0]), self._fn.unit)
        except ValueError:
            raise CommunicationError(f"{self.session.describe()} answered {command} with "
                                     f"{text!r}, not a temperature", instrument=self.name,
                                     resource=self.resource, command=command) from None

    def safe_state(self) -> None:
        if self.safe_setpoint is not None:
            self._send(self._fn, "setpoint", value=float(self.safe_setpoint.to(self._fn.unit).magnitude))


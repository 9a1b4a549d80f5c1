"""Role classes: what the calibration engine asks of a meter and of a source, for any function.

The role owns the operations (configure, read; apply, operate, standby); the model file owns
the table of functions and one command template per operation (see labauto.commands).
Requests are validated against the model *before* anything is sent: a function or range the
model lacks, a setting value it does not offer, a source value beyond its ranges, outside its
specified frequency bands or beyond the session's limit is refused with a clear error.

    with open_instrument(dmm_resource, "keysight_34465a") as dmm:
        dmm.configure("DCV", Q_(10, "V"), nplc=10, autozero=True)
        dmm.read(n=5)                        # Quantity array, volts
    with open_instrument(cal_resource, "fluke_5522a", voltage_limit=Q_(100, "V")) as cal:
        cal.apply("ACV", Q_(1, "V"), frequency=Q_(1, "kHz")); cal.operate(); cal.standby()
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pint

from labauto.commands import render
from labauto.drivers.base import Instrument
from labauto.instruments import FunctionSpec
from labauto.units import Q_, UnitError, quantity_kind
from labauto.visa.errors import (CommunicationError, OverloadError, RefusedRequestError,
                                 UnsafeRequestError)

LINE_PERIOD_S = 0.020        # worst case (50 Hz) for timeouts
OVERLOAD_THRESHOLD = 9.0e37  # SCPI overload indication is ±9.9E37
#: seconds per reading of an AC measurement, by its AC filter (the slow filter settles ~1.7 s)
AC_FILTER_SECONDS = {3.0: 2.5, 20.0: 0.7, 200.0: 0.1}

def quantity_name(unit: pint.Unit) -> str:
    """``V`` -> voltage, ``A`` -> current, ``Ω`` -> resistance, ``Hz`` -> frequency."""
    kind = quantity_kind(unit)
    return kind if kind in ("voltage", "current", "resistance", "frequency") else \
        f"quantity in {unit:~P}"


def _quantity(value: Any, what: str, fn: FunctionSpec) -> pint.Quantity:
    if not isinstance(value, pint.Quantity):
        raise RefusedRequestError(f"{what} must be a quantity with a unit (e.g. Q_(10, "
                                  f"'{fn.unit:~P}')), not {value!r}")
    if value.dimensionality != fn.unit.dimensionality:
        raise UnitError(f"{what} {value:~P} is not a {quantity_name(fn.unit)} ({fn.name} is "
                        f"in {fn.unit:~P})")
    return value.to(fn.unit)


@dataclass(frozen=True)
class MeterConfiguration:
    """What the meter was last configured to: function, range (None: autorange), settings."""

    function: str
    range: pint.Quantity | None
    settings: dict[str, Any]

    # the DCV-era names, still read by a few callers
    @property
    def nplc(self) -> float | None:
        return self.settings.get("nplc")

    @property
    def autozero(self) -> bool | None:
        return self.settings.get("autozero")


class _Templated(Instrument):
    """Renders a model's command templates with its command language."""

    def _fields(self, fn: FunctionSpec, **values: Any) -> dict[str, str]:
        lang = self.language
        out = {k: lang.format_value(v) for k, v in fn.fields.items()}
        out.update({k: lang.format_value(v) for k, v in values.items()})
        return out

    def _send(self, fn: FunctionSpec, operation: str, **values: Any) -> None:
        self.session.write(render(fn.commands[operation], self._fields(fn, **values)))

    def _send_settings(self, fn: FunctionSpec, settings: dict[str, Any]) -> None:
        for name, value in settings.items():
            self.session.write(render(fn.setting_commands[name], self._fields(fn, value=value)))

    def _function(self, name: str) -> FunctionSpec:
        try:
            return self.model.function(name)
        except KeyError as exc:
            raise RefusedRequestError(f"{self.name}: {exc.args[0]}") from None


class Meter(_Templated):
    """A meter of any function: configure a function on a range with its settings, trigger
    and read N values in the function's unit."""

    def __init__(self, session, model, **options: Any):
        super().__init__(session, model, **options)
        self.configuration: MeterConfiguration | None = None
        self._sample_count: int | None = None

    @property
    def settings(self) -> MeterConfiguration | None:
        return self.configuration

    def configure(self, function: str, range_: pint.Quantity | None = None,
                  **settings: Any) -> MeterConfiguration:
        """Select ``function`` on ``range_`` (a nominal range of the model; None: autorange)
        with ``settings`` (the function's settings; defaults from the model file for the rest)."""
        fn = self._function(function)
        rng = None
        if range_ is not None:
            rng = _quantity(range_, "range", fn)
            try:
                rng = fn.range_named(rng).range.to(fn.unit)
            except KeyError as exc:
                raise RefusedRequestError(f"{self.name}: {exc.args[0]}") from None
        try:
            resolved = fn.resolved_settings(settings)
        except ValueError as exc:
            raise RefusedRequestError(f"{self.name}: {_setting_message(exc)}") from None
        self._send(fn, "configure", range=rng if rng is not None else self.language.autorange)
        # SCPI's CONFigure presets sample and trigger counts to 1; a language whose configure
        # keeps the count (the 3458A's FUNC and NRDGS) gets it sent before the next read
        self._sample_count = 1 if self.language.configure_presets_count else None
        self._send_settings(fn, resolved)
        self.configuration = MeterConfiguration(fn.name, rng, resolved)
        return self.configuration

    def read(self, n: int = 1) -> pint.Quantity:
        """Trigger ``n`` readings and fetch them: a Quantity array (numpy) in the unit of the
        configured function."""
        conf = self.configuration
        if conf is None:
            raise RefusedRequestError(f"{self.name}: call configure() before read()")
        if int(n) != n or n < 1:
            raise RefusedRequestError(f"{self.name}: number of readings must be a positive "
                                      f"integer, not {n!r}")
        n = int(n)
        fn = self.model.function(conf.function)
        if self._sample_count != n and "sample_count" in fn.commands:
            self._send(fn, "sample_count", count=n)
            self._sample_count = n
        timeout = self.session.timeout_ms + int(1500 * n * (self.seconds_per_reading() + 0.005))
        command = render(fn.commands["read"], self._fields(fn, count=n))
        try:
            values = np.asarray(self.language.read_values(self.session, command, n, timeout),
                                dtype=float)
        except ValueError as exc:
            raise CommunicationError(f"{self.session.describe()} answered {command} with "
                                     f"something that is not a list of numbers ({exc})",
                                     instrument=self.name, resource=self.resource,
                                     command=command) from None
        if values.size != n:
            raise CommunicationError(f"{self.session.describe()} returned {values.size} "
                                     f"readings, expected {n}", instrument=self.name,
                                     resource=self.resource, command=command)
        if np.any(np.abs(values) >= OVERLOAD_THRESHOLD):
            rng = conf.range
            raise OverloadError(
                f"{self.session.describe()} overloaded on the "
                f"{'auto' if rng is None else f'{rng:~P}'} range ({conf.function}); check the "
                "applied signal and the range of the test point", instrument=self.name, resource=self.resource)
        return Q_(values, fn.unit)

    def seconds_per_reading(self) -> float:
        """Worst-case time of one reading with the current settings (for timeouts)."""
        s = self.configuration.settings if self.configuration else {}
        t = 0.0
        if "nplc" in s:
            t = s["nplc"] * LINE_PERIOD_S * (2 if s.get("autozero") else 1)
        if "aperture" in s:
            t = max(t, float(Q_(s["aperture"]).to("s").magnitude))
        if "bandwidth" in s:
            t = max(t, AC_FILTER_SECONDS.get(float(Q_(s["bandwidth"]).to("Hz").magnitude), 2.5))
        return t


def _setting_message(exc: ValueError) -> str:
    text = str(exc.args[0])
    return "NPLC" + text[4:] if text.startswith("nplc ") else text


class Source(_Templated):
    """A source of any function: apply a value (with its frequency for AC), operate, standby;
    left in standby at zero on every exit.

    ``limits`` (optional, per function, e.g. ``{"DCV": Q_(100, "V")}``) lowers the model's
    maximum output for this session; ``voltage_limit`` applies to every voltage function."""

    def __init__(self, session, model, voltage_limit: pint.Quantity | None = None,
                 limits: dict[str, pint.Quantity] | None = None, **options: Any):
        super().__init__(session, model, **options)
        self.limits: dict[str, pint.Quantity] = {}
        for name, limit in (limits or {}).items():
            _quantity(limit, f"{name} limit", self._function(name))     # checks the unit
            self.limits[name] = limit
        if voltage_limit is not None:
            for fn in model.functions.values():
                if fn.unit.dimensionality == Q_(1, "V").dimensionality:
                    _quantity(voltage_limit, "voltage_limit", fn)
                    self.limits.setdefault(fn.name, voltage_limit)
        self.function: str | None = None
        self._range_fields: dict[str, Any] = {}     # {channel}, {compliance} of the last apply

    def apply(self, function: str, value: pint.Quantity, frequency: pint.Quantity | None = None,
              **settings: Any) -> None:
        """Program ``value`` of ``function`` (refused before sending if beyond the ranges, the
        specified frequency bands, or the session's limit).  A frequency function sources its
        value as the frequency of the model's amplitude."""
        fn = self._function(function)
        v = _quantity(value, f"{quantity_name(fn.unit)}", fn)
        where = f"{self.name} at {self.resource}: refusing to source {value:~P}"
        try:
            resolved = fn.resolved_settings(settings)
        except ValueError as exc:
            raise RefusedRequestError(f"{self.name}: {exc.args[0]}") from None
        channel = resolved.get("channel")
        try:
            rng = fn.range_for(v, None if channel is None else int(channel))
        except KeyError as exc:
            raise UnsafeRequestError(f"{where}: {exc.args[0]}") from None
        limit = self.limits.get(fn.name)
        if limit is not None and abs(v) > abs(limit):
            raise UnsafeRequestError(f"{where}: beyond the session's {quantity_name(fn.unit)} "
                                     f"limit {limit:~P}")
        if fn.is_frequency:
            frequency = v
        elif fn.is_ac or frequency is not None:
            if frequency is None:
                raise RefusedRequestError(f"{where}: {fn.name} needs a frequency")
            if not isinstance(frequency, pint.Quantity) or not frequency.check("[frequency]"):
                raise RefusedRequestError(f"{where}: frequency must be a quantity in Hz, not "
                                          f"{frequency!r}")
            if rng.bands:
                try:
                    rng.band_for(frequency)
                except KeyError as exc:
                    raise UnsafeRequestError(f"{where}: {exc.args[0]}") from None
        extra = _range_fields(rng)
        if frequency is not None:
            self._send(fn, "output_ac", value=v, frequency=frequency, **extra)
        else:
            self._send(fn, "output", value=v, **extra)
        self._send_settings(fn, resolved)
        self.function, self._range_fields = fn.name, extra

    def operate(self) -> None:
        """Connect the output to the terminals."""
        fn = self._any_function()
        self._send(fn, "operate", **self._fields_of(fn))

    def standby(self) -> None:
        """Disconnect the output (terminals at 0)."""
        fn = self._any_function()
        self._send(fn, "standby", **self._fields_of(fn))

    def safe_state(self) -> None:
        """Standby first (most important), then program zero of the first DC function (on
        every output channel of a multi-output supply)."""
        fn = self._safe_function()
        self._send(fn, "standby", **self._fields_of(fn))
        zero = Q_(0.0, fn.unit)
        per_channel = {r.channel: r for r in fn.ranges if r.channel is not None and r.covers(zero)}
        for rng in list(per_channel.values()) or [fn.range_for(zero)]:
            self._send(fn, "output", value=zero, **_range_fields(rng))

    def readback(self) -> pint.Quantity:
        """The source's own measurement of what it outputs now (a power supply's MEAS:VOLT?),
        in the unit of the function last applied."""
        fn = self._any_function()
        if "readback" not in fn.commands:
            raise RefusedRequestError(f"{self.name}: the model file has no 'readback' template "
                                      f"for {fn.name}: it cannot report its own output")
        command = render(fn.commands["readback"], self._fields(fn, **self._fields_of(fn)))
        text = self.session.query(command)
        try:
            return Q_(float(text.split(",")[0]), fn.unit)
        except ValueError:
            raise CommunicationError(f"{self.session.describe()} answered {command} with "
                                     f"{text!r}, not a number", instrument=self.name,
                                     resource=self.resource, command=command) from None

    def _fields_of(self, fn: FunctionSpec) -> dict[str, Any]:
        """{channel}/{compliance} of the last apply, else of the function's first range."""
        if self._range_fields or not fn.ranges:
            return self._range_fields
        return _range_fields(fn.ranges[0])

    def output(self) -> tuple[pint.Quantity, bool]:
        """(programmed output, operating?) as the instrument reports them."""
        fn = self._any_function()
        for op in ("output_query", "operate_query"):
            if op not in fn.commands:
                raise RefusedRequestError(f"{self.name}: the model file has no {op!r} template")
        out = self.session.query(render(fn.commands["output_query"], self._fields(fn)))
        oper = self.session.query(render(fn.commands["operate_query"], self._fields(fn)))
        try:
            return self.language.parse_output(out), self.language.is_live(oper)
        except ValueError:
            raise CommunicationError(f"{self.session.describe()} answered "
                                     f"{fn.commands['output_query']} with {out!r}",
                                     instrument=self.name, resource=self.resource,
                                     command=fn.commands["output_query"]) from None

    def _any_function(self) -> FunctionSpec:
        return self.model.function(self.function) if self.function else self._safe_function()

    def _safe_function(self) -> FunctionSpec:
        fns = self.model.functions
        return fns.get("DCV") or next(f for f in fns.values() if not (f.is_ac or f.is_frequency))


def _range_fields(rng: Any) -> dict[str, Any]:
    """What a source's templates may name of the range in use: its output channel and
    compliance limit (absent when the range states none)."""
    out: dict[str, Any] = {}
    if rng.channel is not None:
        out["channel"] = rng.channel
    if rng.property("compliance") is not None:
        out["compliance"] = rng.property("compliance")
    return out


ROLE_CLASSES: dict[str, type[Instrument]] = {"meter": Meter, "source": Source}

"""Simulated digital multimeter, any model with a meter model file: its commands are the
model file's own command templates, its physics comes from ``Truth``.

The commands the simulated meter accepts are built from the model file (data-driven, no
model's SCPI is built in here).  Each template of the meter role is rendered with each
function's row (``{mnemonic}``, ``{unit}`` ...) and every command of it (templates may hold
several, separated by ``;``) is accepted as spelled there, its engine placeholders taken as
arguments:

* ``configure`` commands select the function; the one with ``{range}`` sets its range (a
  number in the function's unit, or AUTO/DEF/MIN/MAX).  Configuring presets sample and
  trigger counts to 1 and clears the reading memory.  A command several functions share
  (``RNG {range}`` after ``MODE {mnemonic}``) acts on the function selected before it.
* ``sample_count`` sets the readings per trigger from ``{count}``.
* ``read``: a command with ``{count}`` that is not a query sets the count; the query takes
  the burst (``{count}`` readings if it names the count) and returns it; the rest are
  accepted (e.g. clearing a buffer).
* ``settings.<name>`` sets that setting of every function whose rendered template it is
  (``ZERO:AUTO {value}`` without ``{mnemonic}`` is one setting of all of them).

A model whose commands follow the SCPI-1999 measurement tree also gets that tree for
inspection and hand use (``CONFigure:<fn>``, ``[SENSe:]<fn>:RANGe[?]``, ``:NPLCycles``,
``:ZERO:AUTO``, ``:BANDwidth``, ``:OCOMpensated``, ``:APERture``, ``SAMPle:COUNt``,
``TRIGger:COUNt``, ``INIT``, ``FETCh?``, ``READ?``, ``CONFigure?``); a model file turns it off
with ``sim: {scpi_tree: false}`` (e.g. the Keithley DMM6500, whose language is not that tree).
``sim: {idn: "...{serial}...{firmware}", firmware: ...}`` spells its ``*IDN?`` answer.

Readings are taken at INIT (or READ?).  Each one takes its real time (DC: NPLC × 20 ms, twice
with autozero, twice again with offset compensation; AC: the filter's settling; frequency: the
aperture), samples the settling wire at its end, goes through the meter's true error and the
set-up's effects (labauto.sim.physics), gets Gaussian noise and is quantised to the range
resolution.  FETC? waits (really, or on the virtual clock) until the burst is complete.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labauto.commands import ROLES, SETTING_PARAMETERS, placeholders
from labauto.instruments import FunctionSpec, InstrumentModel, RangeSpec
from labauto.sim.physics import (AC_KINDS, LEAD_COMPENSATION, OVERLOAD, ShuntHeating, Signal,
                                 Truth, Wire, fixed_magnitude, quantise,
                                 shunt_thermal_resistance)
from labauto.sim.scpi import (DATA_OUT_OF_RANGE, DATA_STALE, ILLEGAL_PARAMETER, MISSING_PARAMETER,
                              ErrorQueue, Interpreter, ScpiFault, ScpiInstrument, fmt, parse_bool,
                              parse_number)
from labauto.units import Q_

CAL_SECURED = (-203, "Command protected")

PLC_S = 0.020            # one power-line cycle at 50 Hz
READING_OVERHEAD_S = 0.001
MAX_COUNT = 1_000_000
AC_FILTER_READING_S = {3.0: 2.5, 20.0: 0.625, 200.0: 0.025}    # 34465A AC filter settling
#: SCPI long forms of the usual function mnemonics (others are matched as written)
LONG_FORMS = {"VOLT:DC": "VOLTage[:DC]", "VOLT:AC": "VOLTage:AC", "CURR:DC": "CURRent[:DC]",
              "CURR:AC": "CURRent:AC", "RES": "RESistance", "FRES": "FRESistance",
              "FREQ": "FREQuency"}
RANGE_WORDS = {"DCV": "DC voltage", "ACV": "AC voltage", "DCI": "DC current",
               "ACI": "AC current", "RES2W": "resistance", "RES4W": "4-wire resistance",
               "FREQ": "frequency"}
#: what a function measures of the source's signal
MEASURES = {"DCV": "DCV", "ACV": "ACV", "DCI": "DCI", "ACI": "ACI", "RES2W": "RES",
            "RES4W": "RES"}


@dataclass
class _FunctionState:
    range: float | None = None          # None: autorange
    settings: dict[str, Any] = field(default_factory=dict)


class SimulatedDmm(ScpiInstrument):
    """State and SCPI command set of the simulated meter (any function of its model)."""

    error_format = '{code:+d},"{message}"'     # SYST:ERR? answer, as the real one

    def __init__(self, model: InstrumentModel, truth: Truth, wire: Wire, clock, *,
                 serial: str, firmware: str | None = None, seed: int = 0):
        self.model, self.truth, self.wire, self.clock = model, truth, wire, clock
        sim = model.extra.get("sim") or {}
        firmware = firmware or str(sim.get("firmware", "A.03.01-03.15-03.01-00.52-01-01"))
        self.idn = str(sim.get("idn", "{manufacturer},{model},{serial},{firmware}")).format(
            manufacturer=model.manufacturer, model=model.model, serial=serial, firmware=firmware)
        self.functions = {name: fn for name, fn in model.functions.items()
                          if "mnemonic" in fn.fields}
        self.noise = np.random.default_rng([seed, 1])
        self.errors = ErrorQueue()
        self.lock = threading.RLock()
        self.readings_taken = 0
        # one temperature per shunt (ranges with the same shunt resistance share one): the heat
        # a 3 A reading leaves in its 0.1 ohm shunt does not warm the 1 ohm shunt of 10 mA.
        # All from the start, so that every reading on one advances the others (cooling): a
        # shunt's first reading then counts only what flowed since the one before, not the
        # currents the other shunts carried earlier
        self.heating: dict[float, ShuntHeating] = {
            ohm: ShuntHeating(shunt_thermal_resistance(ohm, self._largest_current(ohm)))
            for ohm in self._shunts()}
        self._reset()
        # calibration adjustment (model file: adjustment): secured until the code is given
        self.cal_secured, self.cal_value, self.cal_count = True, None, 0
        self.scpi = Interpreter(self.errors)
        self._register_commands()
        if self.model.extra.get("adjustment"):
            self._register_adjustment()

    def _register_commands(self) -> None:
        """The SCPI command tree (a meter with another language overrides this)."""
        sim = self.model.extra.get("sim") or {}
        for pattern, handler in [
            ("*IDN?", lambda a: self.idn), ("*RST", self._rst), ("*CLS", self._cls),
            ("*OPC?", lambda a: "1"), ("*OPC", lambda a: None), ("*WAI", lambda a: None),
            ("*ESR?", lambda a: "+0"),
            ("SYSTem:ERRor[:NEXT]?", self._err)]:
            self.scpi.add(pattern, handler)
        self._add_templates()
        if not sim.get("scpi_tree", True):
            return
        for pattern, handler in [
            ("CONFigure?", self._conf_q),
            ("SAMPle:COUNt", lambda a: self._count(a, "sample_count")),
            ("SAMPle:COUNt?", lambda a: f"{self.sample_count:+d}"),
            ("TRIGger:COUNt", lambda a: self._count(a, "trigger_count")),
            ("TRIGger:COUNt?", lambda a: f"{self.trigger_count:+d}"),
            ("INITiate[:IMMediate]", self._init), ("FETCh?", self._fetch),
            ("READ?", self._read),
        ]:
            self.scpi.add(pattern, handler)
        for name, fn in self.functions.items():
            self._add_function(name, fn)

    def _register_adjustment(self) -> None:
        """The CALibration subsystem: unsecure with the code, give the value the reference
        applies, adjust (the true errors of the simulated meter change), store, secure."""
        for pattern, handler in [
                ("CALibration:SECure:STATe", self._cal_secure),
                ("CALibration:SECure:STATe?", lambda a: "1" if self.cal_secured else "0"),
                ("CALibration:VALue", self._cal_value),
                ("CALibration:VALue?", lambda a: fmt(self.cal_value or 0.0)),
                ("CALibration[:ALL]?", self._cal_adjust),
                ("CALibration:STORe", self._cal_store),
                ("CALibration:COUNt?", lambda a: f"{self.cal_count:+d}")]:
            self.scpi.add(pattern, handler)

    def _cal_secure(self, args: list[str]) -> None:
        if len(args) < 1:
            raise ScpiFault(MISSING_PARAMETER)
        state = args[0].strip().upper()
        code = args[1].strip().strip('"') if len(args) > 1 else ""
        if code != str(self.model.extra["adjustment"].get("security_code", "")):
            raise ScpiFault(CAL_SECURED, "wrong security code")
        self.cal_secured = state in ("ON", "1")

    def _cal_value(self, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        self.cal_value = _number(args[0])

    def _cal_adjust(self, args: list[str]) -> str:
        if self.cal_secured:
            raise ScpiFault(CAL_SECURED, "calibration is secured")
        if self.cal_value is None:
            raise ScpiFault(MISSING_PARAMETER, "no CAL:VAL given")
        name = self.function
        st = self.state[name]
        t = self.clock.now() + max(1.0, 10 * self.reading_time_s())   # it integrates a while
        applied = self._applied(name, t)
        range_value = st.range if st.range is not None else self._auto_range(name, applied)
        if applied in (float("inf"), 0.0) and self.cal_value != 0.0:
            return "+1"                   # no signal at the input: the adjustment fails
        spec = next(r for r in self._ranges(name) if abs(self._rv(name, r) - range_value)
                    < 1e-9 * range_value)
        seen = self._setup_effects(name, spec, applied, self.wire.signal(t), st.settings, t)
        self.truth.adjust_meter(name, range_value, seen, self.wire.signal(t).frequency,
                                self.cal_value)
        self.cal_count += 1
        return "+0"

    def _cal_store(self, args: list[str]) -> None:
        if self.cal_secured:
            raise ScpiFault(CAL_SECURED, "calibration is secured")

    def _add_templates(self) -> None:
        """Accept every command the model file spells (see the module's docstring)."""
        units: dict[tuple[str, str], list[str]] = {}      # (operation, command) -> functions
        settings: dict[str, list[tuple[str, str]]] = {}
        for name, fn in self.functions.items():
            for op in ROLES["meter"]:
                if op in fn.commands:
                    for unit in _units(_render(fn, fn.commands[op], ROLES["meter"][op].parameters)):
                        units.setdefault((op, unit), []).append(name)
            for setting, template in fn.setting_commands.items():
                for unit in _units(_render(fn, template, SETTING_PARAMETERS)):
                    settings.setdefault(unit, []).append((name, setting))
        for (op, unit), names in units.items():
            # a configure command several functions share ("RNG {range}" after "MODE VDC")
            # acts on the function selected before it
            name = names[0] if len(names) == 1 or op != "configure" else None
            self.scpi.add_template(unit, self._template_handler(op, name, unit))
        for unit, targets in settings.items():
            self.scpi.add_template(unit, lambda g, t=tuple(targets): self._set_all(t, g))

    def _template_handler(self, op: str, name: str | None, unit: str):
        fields = set(placeholders(unit))
        if op == "configure":
            if name is None:
                return lambda g: self._conf(self.function, [g["range"]]) if "range" in g \
                    else None
            return lambda g: self._conf(name, [g["range"]] if "range" in g else [],
                                        select_only="range" not in fields)
        if op == "sample_count":
            return lambda g: self._count([g["count"]], "sample_count")
        # read: a query takes and returns the burst; a command with {count} sets the count
        if unit.split()[0].endswith("?"):
            def read(g: dict[str, str]) -> str:
                if "count" in g:
                    self._count([g["count"]], "sample_count")
                    self.trigger_count = 1
                return self._read([])
            return read
        if "count" in fields:
            return lambda g: self._count([g["count"]], "sample_count")
        return lambda g: None

    def _set_all(self, targets: tuple[tuple[str, str], ...], groups: dict[str, str]) -> None:
        if "value" not in groups:
            raise ScpiFault(MISSING_PARAMETER)
        for name, setting in targets:
            self._set(name, setting, [groups["value"]])

    def _add_function(self, name: str, fn: FunctionSpec) -> None:
        long = LONG_FORMS.get(fn.fields["mnemonic"], fn.fields["mnemonic"])
        add = self.scpi.add
        add(f"CONFigure:{long}" if name != "DCV" else "CONFigure[:VOLTage][:DC]",
            lambda a, n=name: self._conf(n, a))
        add(f"[SENSe:]{long}:RANGe", lambda a, n=name: self._range(n, a))
        add(f"[SENSe:]{long}:RANGe?", lambda a, n=name: fmt(self._range_value(n)))
        add(f"[SENSe:]{long}:RANGe:AUTO", lambda a, n=name: self._range_auto(n, a))
        add(f"[SENSe:]{long}:RANGe:AUTO?",
            lambda a, n=name: "1" if self.state[n].range is None else "0")
        for setting, header in (("nplc", "NPLCycles"), ("autozero", "ZERO:AUTO"),
                                ("bandwidth", "BANDwidth"), ("offset_compensation", "OCOMpensated"),
                                ("aperture", "APERture")):
            if setting in fn.settings:
                add(f"[SENSe:]{long}:{header}", lambda a, n=name, s=setting: self._set(n, s, a))
                add(f"[SENSe:]{long}:{header}?", lambda a, n=name, s=setting: self._get(n, s))

    # -- state -------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.function = "DCV" if "DCV" in self.functions else next(iter(self.functions))
        self.state = {name: _FunctionState(None, {k: s.default for k, s in fn.settings.items()})
                      for name, fn in self.functions.items()}
        self.sample_count = 1
        self.trigger_count = 1
        self._buffer: list[float] | None = None
        self._ready_at = 0.0

    # the DC-voltage lab's attribute names, for tests and inspection
    @property
    def range_v(self) -> float | None:
        return self.state[self.function].range

    @property
    def nplc(self) -> float:
        return float(self.state[self.function].settings.get("nplc", 0.0))

    @property
    def autozero(self) -> bool:
        return bool(self.state[self.function].settings.get("autozero", True))

    def reading_time_s(self) -> float:
        s = self.state[self.function].settings
        if "bandwidth" in s:
            return ac_filter_seconds(float(Q_(s["bandwidth"]).to("Hz").m)) + READING_OVERHEAD_S
        if "aperture" in s:
            return float(Q_(s["aperture"]).to("s").m) + READING_OVERHEAD_S
        t = float(s.get("nplc", 1.0)) * PLC_S * (2 if s.get("autozero", False) else 1)
        if s.get("offset_compensation"):
            t *= 2
        return t + READING_OVERHEAD_S

    # -- handlers ----------------------------------------------------------------------------
    def _rst(self, args: list[str]) -> None:
        self._reset()

    def _cls(self, args: list[str]) -> None:
        self.errors.clear()

    def _ranges(self, name: str) -> list[RangeSpec]:
        fn = self.functions[name]
        return sorted(fn.ranges, key=lambda r: fixed_magnitude(r.range, fn.unit))

    def _rv(self, name: str, r: RangeSpec) -> float:
        return fixed_magnitude(r.range, self.functions[name].unit)

    def _range_value(self, name: str) -> float:
        st = self.state[name].range
        if st is not None:
            return st
        return self._auto_range(name, self._applied(name, self.clock.now()))

    def _pick_range(self, name: str, text: str) -> float | None:
        key = text.strip().upper()
        if key in ("AUTO", "DEF", "DEFAULT"):
            return None
        ranges = self._ranges(name)
        value = abs(parse_number(text, named={"MINimum": self._rv(name, ranges[0]),
                                              "MAXimum": self._rv(name, ranges[-1])}))
        for r in ranges:
            if value <= self._rv(name, r) * (1 + 1e-9):
                return self._rv(name, r)
        raise ScpiFault(DATA_OUT_OF_RANGE, f"no {RANGE_WORDS.get(name, name)} range for {text}")

    def _auto_range(self, name: str, value: float) -> float:
        fn = self.functions[name]
        for r in self._ranges(name):
            if abs(value) <= r.maximum.to(fn.unit).magnitude:
                return self._rv(name, r)
        return self._rv(name, self._ranges(name)[-1])

    def _conf(self, name: str, args: list[str], select_only: bool = False) -> None:
        rng = self._pick_range(name, args[0]) if args else None
        # CONFigure selects the function, presets trigger and sample counts and clears the
        # reading memory (a command of a several-command configure template that only selects
        # the function leaves the range as it is)
        self.function = name
        if not select_only:
            self.state[name].range = rng
        self.sample_count = self.trigger_count = 1
        self._buffer = None

    def _conf_q(self, args: list[str]) -> str:
        name = self.function
        r = self._range_value(name)
        res = next(x.resolution.to(self.functions[name].unit).magnitude for x in self._ranges(name)
                   if abs(self._rv(name, x) - r) < 1e-9 * r)
        word = self.functions[name].fields["mnemonic"].replace(":DC", "")
        return f'"{word} {fmt(r)},{fmt(res)}"'

    def _range(self, name: str, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        self.state[name].range = self._pick_range(name, args[0])
        self._buffer = None

    def _range_auto(self, name: str, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        if parse_bool(args[0]):
            self.state[name].range = None
        elif self.state[name].range is None:
            self.state[name].range = self._range_value(name)

    def _set(self, name: str, setting: str, args: list[str]) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        spec = self.functions[name].settings[setting]
        st = self.state[name].settings
        if all(isinstance(v, bool) for v in spec.values):
            if setting == "autozero" and args[0].strip().upper() == "ONCE":
                return
            st[setting] = parse_bool(args[0])
            return
        if all(isinstance(v, str) for v in spec.values):
            word = next((v for v in spec.values if v.upper() == args[0].strip().upper()), None)
            if word is None:
                raise ScpiFault(ILLEGAL_PARAMETER, f"{args[0]!r}: use {', '.join(spec.values)}")
            st[setting] = word
            return
        numbers = sorted(_number(v) for v in spec.values)
        value = parse_number(args[0], named={"MINimum": numbers[0], "MAXimum": numbers[-1],
                                             "DEFault": _number(spec.default)})
        label = "NPLC" if setting == "nplc" else setting.upper()
        if not numbers[0] * (1 - 1e-9) <= value <= numbers[-1] * (1 + 1e-9):
            raise ScpiFault(DATA_OUT_OF_RANGE, f"{label} {args[0]}")
        # the instrument rounds up to the next value it offers
        chosen = next(v for v in numbers if v >= value * (1 - 1e-9))
        unit_of = next((v for v in spec.values if hasattr(v, "units")), None)
        st[setting] = Q_(chosen, "Hz" if setting == "bandwidth" else "s") if unit_of is not None \
            else chosen

    def _get(self, name: str, setting: str) -> str:
        v = self.state[name].settings[setting]
        if isinstance(v, bool):
            return "1" if v else "0"
        return fmt(_number(v))

    def _count(self, args: list[str], attr: str) -> None:
        if not args:
            raise ScpiFault(MISSING_PARAMETER)
        value = parse_number(args[0], named={"MINimum": 1, "MAXimum": MAX_COUNT, "DEFault": 1})
        if value != int(value):
            raise ScpiFault(ILLEGAL_PARAMETER, f"{args[0]} is not an integer")
        if not 1 <= value <= MAX_COUNT:
            raise ScpiFault(DATA_OUT_OF_RANGE, f"count {args[0]}")
        setattr(self, attr, int(value))

    # -- physics -------------------------------------------------------------------------------
    def _applied(self, name: str, t: float) -> float:
        """What the meter's input sees of the source's terminals in function ``name``
        (before the meter's own error): the settled value when the kinds match; no signal (0,
        or an open circuit for resistance) otherwise."""
        sig = self.wire.signal(t)
        if name == "FREQ":
            return (sig.frequency or 0.0) if sig.kind in AC_KINDS and sig.value > 0 else 0.0
        wanted = MEASURES.get(name, name)
        if wanted == "RES":
            if sig.kind != "RES":
                return float("inf")     # open terminals (standby) or a live voltage: overload
            value = sig.value
            if name == "RES2W":
                leads = 2 * self.truth.lead_resistance_ohm
                value += leads * (1 - LEAD_COMPENSATION) if sig.compensation == "WIRE2" else leads
            return value
        if sig.kind != wanted:
            return 0.0
        return sig.value

    def _init(self, args: list[str]) -> None:
        n = self.sample_count * self.trigger_count
        dt = self.reading_time_s()
        t0 = self.clock.now()
        values = []
        for k in range(n):
            t = t0 + (k + 1) * dt
            values.append(self._one_reading(t))
        self.readings_taken += n
        self._buffer = values
        self._ready_at = t0 + n * dt

    def _one_reading(self, t: float) -> float:
        name = self.function
        fn = self.functions[name]
        applied = self._applied(name, t)
        st = self.state[name]
        range_value = st.range if st.range is not None else self._auto_range(name, applied)
        spec = next(r for r in self._ranges(name) if abs(self._rv(name, r) - range_value)
                    < 1e-9 * range_value)
        if applied == float("inf"):
            return OVERLOAD
        sig = self.wire.signal(t)
        s = st.settings
        value = self._setup_effects(name, spec, applied, sig, s, t)
        value = self.truth.indication(name, range_value, value, sig.frequency,
                                      bool(s.get("autozero", True)))
        if name == "FREQ":
            aperture = float(Q_(s.get("aperture", Q_(1, "s"))).to("s").m)
            value += self.noise.normal(0.0, self.truth.frequency_noise(aperture) * abs(value))
        else:
            value += self.noise.normal(0.0, self.truth.noise_sigma_value(name, range_value, s))
        if name in AC_KINDS:
            value = abs(value)
        if abs(value) > fixed_magnitude(spec.maximum, fn.unit):
            return OVERLOAD if value > 0 else -OVERLOAD
        return quantise(value, fixed_magnitude(spec.resolution, fn.unit))

    def _setup_effects(self, name: str, spec: RangeSpec, applied: float, sig: Signal,
                       s: dict[str, Any], t: float) -> float:
        """The connection's own effects on what the meter sees (not the meter's error)."""
        truth = self.truth
        if name == "DCV":
            r_in = spec.property("input_resistance")
            r_out = 1e-3                      # a calibrator's output: milliohms
            value = applied * (r_in.to("ohm").m / (r_in.to("ohm").m + r_out)) if r_in else applied
            return value + truth.thermal_emf_v
        if name in ("RES2W", "RES4W"):
            i_test = spec.property("test_current")
            if i_test is not None and not s.get("offset_compensation"):
                return applied + truth.thermal_emf_v / i_test.to("A").m
            return applied
        if name in ("DCI", "ACI"):
            shunt = spec.property("shunt_resistance")
            if shunt is not None:
                return applied * (1 + self._shunt_rise(t, applied, shunt.to("ohm").m))
        return applied

    def _shunt_rise(self, t: float, current_a: float, shunt_ohm: float) -> float:
        """Relative error of a current reading through ``shunt_ohm`` at ``t``: the shunt
        carried what the source gave since the last reading on it (its changes, standby
        included); every other shunt cools meanwhile."""
        for ohm, other in self.heating.items():
            if ohm != shunt_ohm:
                other.advance(t, 0.0, ohm)
        heating = self.heating.get(shunt_ohm)
        if heating is None:
            heating = self.heating[shunt_ohm] = ShuntHeating(
                shunt_thermal_resistance(shunt_ohm, self._largest_current(shunt_ohm)))
        # what flowed since the last reading on this shunt: the source's changes (a standby
        # between two points is no current, a cooling of the shunt)
        return heating.advance(t, current_a, shunt_ohm, self.wire.current_changes(heating.t, t))

    def _shunts(self) -> set[float]:
        """The resistances of the current shunts (Ω)."""
        return {fixed_magnitude(s, "ohm") for name in ("DCI", "ACI") if name in self.functions
                for r in self.functions[name].ranges
                if (s := r.property("shunt_resistance")) is not None}

    def _largest_current(self, shunt_ohm: float) -> float:
        """The nominal current of the largest range measured through ``shunt_ohm``."""
        currents = [fixed_magnitude(r.range, "A") for name in ("DCI", "ACI") if name in self.functions
                    for r in self.functions[name].ranges
                    if (s := r.property("shunt_resistance")) is not None
                    and abs(fixed_magnitude(s, "ohm") - shunt_ohm) <= 1e-9 * shunt_ohm]
        return max(currents, default=0.0)

    def _fetch(self, args: list[str]) -> str:
        if self._buffer is None:
            raise ScpiFault(DATA_STALE, "no readings: send INIT (or READ?) first")
        self.clock.sleep_until(self._ready_at)
        return ",".join(f"{v:+.14E}" for v in self._buffer)

    def _read(self, args: list[str]) -> str:
        self._init(args)
        return self._fetch(args)

    def burden_ohm(self) -> float | None:
        """The resistance a current source sees at the input (the range's shunt)."""
        name = self.function
        if name not in ("DCI", "ACI"):
            return None
        st = self.state[name]
        rv = st.range if st.range is not None else self._rv(name, self._ranges(name)[-1])
        spec = next(r for r in self._ranges(name) if abs(self._rv(name, r) - rv) < 1e-9 * rv)
        shunt = spec.property("shunt_resistance")
        return None if shunt is None else float(shunt.to("ohm").magnitude)

    # -- inspection for tests ----------------------------------------------------------------
    def state_dict(self) -> dict:
        st = self.state[self.function]
        return {"function": self.function, "range": st.range, **st.settings,
                "nplc": st.settings.get("nplc"), "autozero": st.settings.get("autozero"),
                "sample_count": self.sample_count, "trigger_count": self.trigger_count,
                "readings_taken": self.readings_taken}


def ac_filter_seconds(bandwidth_hz: float) -> float:
    """Settling time of one AC reading with an AC filter of ``bandwidth_hz``: the 34465A's
    figure for the nearest of its filters (on a log scale: a DMM6500's 30 Hz and 300 Hz
    detector bandwidths take the 20 Hz and 200 Hz figures)."""
    nearest = min(AC_FILTER_READING_S, key=lambda f: abs(math.log(bandwidth_hz / f)))
    return AC_FILTER_READING_S[nearest]


def _render(fn: FunctionSpec, template: str, parameters: frozenset[str]) -> str:
    """``template`` with the function's fields filled in and the engine's placeholders kept."""
    from labauto.drivers.language import ScpiLanguage

    lang = ScpiLanguage()
    values = {k: lang.format_value(v) for k, v in fn.fields.items()}
    values.update({p: "{" + p + "}" for p in parameters})
    return template.format(**values)


def _units(text: str) -> list[str]:
    """The commands of a template (``;`` separates them; a quoted ``;`` does not)."""
    out, cur, quoted = [], "", False
    for c in text:
        if c == '"':
            quoted = not quoted
        if c == ";" and not quoted:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
    out.append(cur.strip())
    return [u for u in out if u]


def _number(v: Any) -> float:
    if hasattr(v, "units"):
        return float(v.to_base_units().magnitude)
    return float(v)

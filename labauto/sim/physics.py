"""The physics of the simulated lab: the true errors behind every reading, for every function.

* Every range of every function of both instruments has a true error ``gain × x + offset``
  drawn from the seeded RNG within ``fraction`` of its specification (the reading/output term
  for the gain, the range and floor terms for the offset).  AC ranges add a *flatness*:
  a smooth roll-off with frequency (a 2nd-order high-frequency droop and a low-frequency rise,
  coefficients drawn per range), clipped to ``fraction`` of the extra allowance the band's
  specification gives; frequency functions err by a relative timebase error.
* The DUT (the meter or the source under test) can instead be given an explicit error, or be
  made out of tolerance on one range (the error then exceeds the specification everywhere).
* The set-up has its own effects, which no specification states: thermal EMFs in the
  connections (a DC offset; in a resistance measurement E/I_test unless offset compensation
  is on), the resistance of the test leads (in full in a 2-wire resistance reading, 10 % of
  it when the calibrator compensates the leads, none in 4-wire), loading of a source by the
  meter's input resistance, the meter's current shunts heating up with I²R (first order,
  τ = 20 s, each shunt its own temperature, integrating the current the source really gave,
  standby included; at most 60 K at its largest range's current) and a source that cannot drive the meter's burden beyond its compliance.
* Reading noise is Gaussian, per range: σ = noise × range / sqrt(NPLC) for DC functions (the
  model file's ``noise`` or the defaults below), by AC filter for AC, by aperture for
  frequency; readings are quantised to the range resolution; autozero off adds an
  uncorrected zero offset.
* What the meter sees follows the source's terminals through the :class:`Wire`, which
  settles exponentially after every change.

``Truth`` is what a test compares a measured calibration result against.
"""
from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
import pint

from labauto.instruments import FunctionSpec, InstrumentModel, RangeSpec
from labauto.units import Q_

# σ of one DCV reading at 1 PLC, in ppm of range (about twice the 34465A's published figures,
# so that type A effects are visible at 10 PLC above the 6½-digit resolution)
NOISE_PPM_AT_1_PLC = {0.1: 10.0, 1.0: 3.0, 10.0: 2.0, 100.0: 2.0, 1000.0: 2.0}
DEFAULT_NOISE_PPM = {"DCV": 2.0, "DCI": 4.0, "RES2W": 3.0, "RES4W": 3.0}
AC_NOISE_PPM_AT_20_HZ_FILTER = 30.0  # ppm of range, medium AC filter
FREQ_NOISE_AT_1_S = 0.2e-6           # relative, 1 s aperture
AUTOZERO_OFF_OFFSET_PPM = 1.0        # uncorrected zero offset (± ppm of range) with autozero OFF
# |EMF| of the connections (a good low-thermal set-up): copper-to-copper junctions give
# < 0.3 µV/°C (Keysight 34410A/11A/L4411A User's Guide, "Thermal EMF Errors", p. 101) and the
# HI and LO junctions are within 1 °C of each other
THERMAL_EMF_MAX_V = 0.3e-6
LEAD_RESISTANCE_OHM = (0.03, 0.08)   # per test lead
LEAD_COMPENSATION = 0.9              # the part of the leads a calibrator's 2-wire comp removes
SHUNT_TEMPCO_PER_K = 15e-6           # manganin shunt
SHUNT_THERMAL_RESISTANCE_K_PER_W = 60.0
SHUNT_MAX_RISE_K = 60.0              # at the nominal current of the largest range through it
SHUNT_TIME_CONSTANT_S = 20.0
WIRE_HISTORY = 4096                  # changes of the terminals a wire remembers (shunt heating)
CURRENT_KINDS = ("DCI", "ACI")       # signals that flow through a meter's current shunt
OVERLOAD = 9.9e37                    # what a SCPI DMM returns for an overload

DC_KINDS = {"DCV": "V", "DCI": "A"}
AC_KINDS = {"ACV": "V", "ACI": "A"}


# Magnitudes of the model files' quantities (ranges, resolutions, accuracy terms), converted
# once: a pint conversion costs microseconds and the simulated instruments ask for the same
# ones at every reading.  Only for quantities that live as long as their model (the cache holds
# them, so an id is never reused while it is in the cache).
_MAGNITUDES: dict[tuple[int, object], tuple[pint.Quantity, float]] = {}


def fixed_magnitude(q: pint.Quantity, unit: object = None) -> float:
    """``q``'s magnitude in ``unit`` (None: base units) for a model file's quantity."""
    key = (id(q), unit)
    hit = _MAGNITUDES.get(key)
    if hit is None or hit[0] is not q:
        value = q.to_base_units() if unit is None else q.to(unit)
        hit = _MAGNITUDES[key] = (q, float(value.magnitude))
    return hit[1]


def _key(q: pint.Quantity) -> float:
    return round(fixed_magnitude(q), 9)


def _rkey(r: RangeSpec) -> float | tuple[float, int]:
    """A range's key in an error table: its nominal value, and its output channel when it has
    one (two channels of a power supply have equal ranges and errors of their own)."""
    return _key(r.range) if r.channel is None else (_key(r.range), r.channel)


@dataclass(frozen=True)
class LinearError:
    """error(x) = gain × x + offset (offset in the function's base unit)."""

    gain: float
    offset: float

    def __call__(self, x: float) -> float:
        return self.gain * x + self.offset


@dataclass(frozen=True)
class Flatness:
    """Relative error of an AC range against frequency: ``hf × (f/100 kHz)² − lf × (10 Hz/f)²``,
    clipped to ``fraction`` of the extra allowance of the band that contains f (the smaller
    one near an edge)."""

    hf: float
    lf: float
    allowance: tuple[tuple[float, float, float], ...]   # (low Hz, high Hz, ± relative)

    def __call__(self, f: float) -> float:
        g = self.hf * (f / 1e5) ** 2 - self.lf * (10.0 / max(f, 1e-3)) ** 2
        # near a band edge (within 5 %) the smaller allowance of the two bands applies: real
        # flatness has no step at a data-sheet edge, and a reading a few ppm beyond the edge
        # must not jump to the next band's allowance
        near = [a for lo, hi, a in self.allowance if lo / 1.05 <= f <= hi * 1.05]
        limit = min(near) if near else (
            self.allowance[-1][2] if f > self.allowance[-1][1] else self.allowance[0][2])
        return max(-limit, min(limit, g))


_TERMS: dict[tuple[int, object, float | None], tuple[RangeSpec, tuple[float, float]]] = {}


def _terms(r: RangeSpec, unit: pint.Unit, frequency: float | None = None) -> tuple[float, float]:
    """(relative term, absolute term in base units at zero) of a range's specification, at
    ``frequency`` for a banded range (None: its best band).  Computed once per range (every
    simulated lab draws its errors from them)."""
    key = (id(r), unit, frequency)
    hit = _TERMS.get(key)
    if hit is None or hit[0] is not r:
        hit = _TERMS[key] = (r, _terms_of(r, frequency))
    return hit[1]


def _terms_of(r: RangeSpec, frequency: float | None) -> tuple[float, float]:
    if r.bands:
        band = min(r.bands, key=lambda b: _rel(b.accuracy)) if frequency is None else \
            next((b for b in r.bands if b.covers(Q_(frequency, "Hz"))), r.bands[-1])
        acc = band.accuracy
    else:
        acc = r.accuracy
    rel = _rel(acc)
    absolute = 0.0
    if "range" in acc:
        absolute += fixed_magnitude(acc["range"], "") * fixed_magnitude(r.range)
    if "floor" in acc:
        absolute += fixed_magnitude(acc["floor"])
    if "counts" in acc:
        absolute += fixed_magnitude(acc["counts"], "") * fixed_magnitude(r.resolution)
    return rel, absolute


def _rel(acc: dict) -> float:
    return float(sum(fixed_magnitude(acc[t], "") for t in ("reading", "output") if t in acc))


class _ErrorTable:
    """The true errors of one instrument: per (function, range) a linear error, AC flatness."""

    def __init__(self, model: InstrumentModel, rng: np.random.Generator, fraction: float,
                 functions: list[str]):
        self.model = model
        self.linear: dict[tuple[str, float], LinearError] = {}
        self.flatness: dict[tuple[str, float], Flatness] = {}
        for name in functions:
            fn = model.functions[name]
            for r in fn.ranges:
                rel, absolute = _terms(r, fn.unit)
                self.linear[(name, _rkey(r))] = LinearError(
                    fraction * rel * rng.uniform(-1, 1), fraction * absolute * rng.uniform(-1, 1))
                if r.bands:
                    allowance = tuple((fixed_magnitude(b.low, "Hz"), fixed_magnitude(b.high, "Hz"),
                                       fraction * max(_rel(b.accuracy) - rel, 0.0))
                                      for b in r.bands)
                    top = max(a for _, _, a in allowance)
                    self.flatness[(name, _rkey(r))] = Flatness(
                        top * rng.uniform(-1.5, 1.5), top * rng.uniform(0, 1.5), allowance)

    def range_of(self, function: str, value: float | None = None,
                 range_: pint.Quantity | None = None) -> RangeSpec:
        fn = self.model.function(function)
        if range_ is not None:
            return fn.range_named(range_)
        return fn.range_for(Q_(value, fn.unit))

    def error(self, function: str, r: RangeSpec, x: float, frequency: float | None) -> float:
        key = (function, _rkey(r))
        e = self.linear[key](x)
        if frequency is None and r.range.check("[frequency]"):
            frequency = x               # a frequency function's band is its own value
        flat = self.flatness.get(key)
        if flat is not None and frequency is not None:
            e += flat(frequency) * abs(x)
        return e

    def set(self, function: str, r: RangeSpec, err: LinearError) -> None:
        self.linear[(function, _rkey(r))] = err
        self.flatness.pop((function, _rkey(r)), None)


class Truth:
    """The hidden true errors of the simulated instruments and the set-up (seeded).

    ``dut`` says which instrument is calibrated: ``"meter"`` (a DMM against a calibrator,
    the default) or ``"source"`` (a calibrator or supply read by a reference meter)."""

    def __init__(self, meter: InstrumentModel, source: InstrumentModel, seed: int, *,
                 fraction: float = 0.3, out_of_tolerance: tuple[str, pint.Quantity] | None = None,
                 out_of_tolerance_factor: float = 2.0, dut: str = "meter"):
        if dut not in ("meter", "source"):
            raise ValueError(f"dut must be 'meter' or 'source', not {dut!r}")
        self.meter_model, self.source_model, self.dut = meter, source, dut
        self.seed = seed
        self.adjustments: list[tuple[str, float, float]] = []   # (function, range, target) adjusted
        rng = np.random.default_rng(seed)
        # DCV first, in the order of the original DC-voltage lab (same seed, same DCV errors)
        dcv_meter = ["DCV"] if "DCV" in meter.functions else []
        dcv_source = ["DCV"] if "DCV" in source.functions else []
        self._meter = _ErrorTable(meter, rng, fraction, [])
        self._autozero: dict[float, float] = {}
        for name in dcv_meter:
            for r in meter.functions[name].ranges:
                rel, absolute = _terms(r, meter.functions[name].unit)
                self._meter.linear[(name, _key(r.range))] = LinearError(
                    fraction * rel * rng.uniform(-1, 1), fraction * absolute * rng.uniform(-1, 1))
                self._autozero[_key(r.range)] = AUTOZERO_OFF_OFFSET_PPM * 1e-6 * \
                    fixed_magnitude(r.range) * rng.uniform(-1, 1)
        self._source = _ErrorTable(source, rng, fraction, dcv_source)
        others = np.random.default_rng([seed, 2])
        extra_m = _ErrorTable(meter, others, fraction, [f for f in meter.functions if f != "DCV"])
        self._meter.linear.update(extra_m.linear)
        self._meter.flatness.update(extra_m.flatness)
        extra_s = _ErrorTable(source, others, fraction, [f for f in source.functions if f != "DCV"])
        self._source.linear.update(extra_s.linear)
        self._source.flatness.update(extra_s.flatness)
        self._autozero_other = {(f, _key(r.range)): AUTOZERO_OFF_OFFSET_PPM * 1e-6 *
                                fixed_magnitude(r.range) * others.uniform(-1, 1)
                                for f, fn in meter.functions.items() if f != "DCV"
                                for r in fn.ranges}
        setup = np.random.default_rng([seed, 3])
        self.thermal_emf_v = THERMAL_EMF_MAX_V * setup.uniform(-1, 1)
        self.lead_resistance_ohm = float(setup.uniform(*LEAD_RESISTANCE_OHM))
        if out_of_tolerance is not None:
            function, rng_q = out_of_tolerance
            self.make_out_of_tolerance(function, rng_q, out_of_tolerance_factor)

    # -- the models, as the DC-voltage lab named them --------------------------------------
    @property
    def dmm_model(self) -> InstrumentModel:
        return self.meter_model

    @property
    def calibrator_model(self) -> InstrumentModel:
        return self.source_model

    def _dut_table(self) -> _ErrorTable:
        return self._meter if self.dut == "meter" else self._source

    def _dut_range(self, function: str, range_: pint.Quantity | None,
                   value: pint.Quantity | None = None, channel: int | None = None) -> RangeSpec:
        model = self._dut_table().model
        if function not in model.functions:
            raise KeyError(f"{model.manufacturer} {model.model} has no function {function!r}")
        fn = model.function(function)
        if range_ is not None:
            return fn.range_named(range_)
        assert value is not None
        return fn.range_for(value, channel)

    # -- setting errors explicitly ---------------------------------------------------------
    def set_dut_error(self, function: str, range_: pint.Quantity, gain: float,
                      offset: pint.Quantity) -> None:
        spec = self._dut_range(function, range_)
        self._dut_table().set(function, spec, LinearError(float(gain),
                                                          float(offset.to_base_units().m)))

    def make_out_of_tolerance(self, function: str, range_: pint.Quantity,
                              factor: float = 2.0) -> None:
        """Give the DUT's ``range_`` of ``function`` an error beyond the specification at every
        value on it.

        offset = factor × spec(full scale), gain = reading-term of the spec (same sign):
        |error(x)| ≥ (factor − 1) × spec(full scale) + … > spec(x) for factor ≥ 2.  For a
        range specified per band, the full-scale spec of its widest band is used."""
        spec = self._dut_range(function, range_)
        unit = spec.range.units
        rel, _ = _terms(spec, unit)
        sign = 1.0 if np.random.default_rng([self.seed, 7]).uniform() < 0.5 else -1.0
        worst = max(spec.bands, key=lambda b: _rel(b.accuracy)).low if spec.bands else None
        full = spec.accuracy_halfwidth(spec.maximum, worst).to_base_units().magnitude
        self._dut_table().set(function, spec, LinearError(sign * rel, sign * factor * full))

    def use_reference_errors(self, table) -> None:
        """Replace the reference standard's error table (the source for a meter under test,
        the meter for a source under test) with ``table`` (anything with the ``error``,
        ``range_of``, ``linear`` and ``flatness`` of an error table): labauto.validation draws
        the reference's errors from its specification this way."""
        if self.dut == "meter":
            self._source = table
        else:
            self._meter = table

    # -- what tests compare against --------------------------------------------------------
    def dut_error(self, function: str, range_: pint.Quantity, applied: pint.Quantity,
                  frequency: pint.Quantity | None = None, channel: int | None = None
                  ) -> pint.Quantity:
        """True error of the DUT at ``applied``: of its indication on ``range_`` (a meter
        under test), or of its output when set to ``applied`` (a source under test, on output
        ``channel`` of a multi-output supply)."""
        spec = self._dut_range(function, range_ if self.dut == "meter" else None, applied,
                               channel)
        unit = self._dut_table().model.function(function).unit
        f = None if frequency is None else float(frequency.to("Hz").magnitude)
        x = float(applied.to(unit).magnitude)
        return Q_(self._dut_table().error(function, spec, x, f), unit).to(applied.units)

    def dut_error_at_setting(self, function: str, range_: pint.Quantity,
                             set_value: pint.Quantity,
                             frequency: pint.Quantity | None = None,
                             channel: int | None = None) -> pint.Quantity:
        """True error of the DUT at a test point, as the measurement model defines it: a meter
        under test sees the calibrator's true output, not its set value (error of indication =
        indication − true output); a source under test has the error of its output setting,
        setting − true output (labauto.models.output), the opposite of how far its output
        lies from the setting (``dut_error``)."""
        if self.dut == "source":
            return -self.dut_error(function, range_, set_value, frequency, channel)
        return self.dut_error(function, range_, self.calibrator_output(set_value, function,
                                                                       frequency), frequency)

    def calibrator_output(self, set_value: pint.Quantity, function: str = "DCV",
                          frequency: pint.Quantity | None = None) -> pint.Quantity:
        """True output of the source when set to ``set_value``."""
        fn = self.source_model.function(function)
        f = None if frequency is None else float(frequency.to("Hz").magnitude)
        x = float(set_value.to(fn.unit).magnitude)
        return Q_(self.true_output(function, x, f), fn.unit).to(set_value.units)

    def dut_error_parameters(self, range_: pint.Quantity, function: str = "DCV") -> LinearError:
        spec = self._dut_range(function, range_)
        return self._dut_table().linear[(function, _rkey(spec))]

    def autozero_offset(self, function: str, range_: pint.Quantity) -> pint.Quantity:
        fn = self.meter_model.function(function)
        r = fn.range_named(range_)
        return Q_(self._autozero_for(function, _key(r.range)), fn.unit)

    # -- used by the simulated instruments (bare base units) ------------------------------
    def source_error(self, function: str, r: RangeSpec, x: float) -> float:
        """True error of the source's output at setting ``x`` (base units) on range ``r``."""
        return self._source.error(function, r, x, None)

    def true_output(self, function: str, set_value: float, frequency: float | None = None) -> float:
        fn = self.source_model.function(function)
        spec = fn.range_for(Q_(set_value, fn.unit))
        return set_value + self._source.error(function, spec, set_value, frequency)

    def true_output_v(self, set_v: float) -> float:
        return self.true_output("DCV", set_v)

    def indication(self, function: str, range_value: float, applied: float,
                   frequency: float | None, autozero: bool) -> float:
        """Noise-free indication of the meter on ``range_value`` (base units) for ``applied``."""
        fn = self.meter_model.function(function)
        r = _range_by_value(fn, range_value)
        value = applied + self._meter.error(function, r, applied, frequency)
        if not autozero and function in ("DCV", "DCI", "RES2W", "RES4W"):
            value += self._autozero_for(function, _key(r.range))
        return value

    def adjust_meter(self, function: str, range_value: float, applied: float,
                     frequency: float | None, target: float) -> None:
        """The meter's calibration adjustment at one point (base units): from now on it reads
        ``target`` (noise aside) when ``applied`` is at its input.  At a zero target the offset
        of the range's error is corrected, otherwise its gain; what remains is the error of the
        value applied (the reference's error becomes the meter's), as on a real meter."""
        fn = self.meter_model.function(function)
        r = _range_by_value(fn, range_value)
        key = (function, _key(r.range))
        lin = self._meter.linear[key]
        flat = self._meter.flatness.get(key)
        f = frequency if frequency is not None else (applied if r.range.check("[frequency]") else None)
        flat_term = flat(f) * abs(applied) if (flat is not None and f is not None) else 0.0
        if abs(target) <= 1e-12 * fixed_magnitude(r.range):
            new = LinearError(lin.gain, target - applied - lin.gain * applied - flat_term)
        else:
            new = LinearError((target - applied - lin.offset - flat_term) / applied, lin.offset)
        self._meter.linear[key] = new
        self.adjustments.append((function, _key(r.range), target))

    def indication_v(self, range_v: float, applied_v: float, autozero: bool) -> float:
        return self.indication("DCV", range_v, applied_v, None, autozero)

    def _autozero_for(self, function: str, key: float) -> float:
        if function == "DCV":
            return self._autozero[key]
        return self._autozero_other.get((function, key), 0.0)

    # -- noise -----------------------------------------------------------------------------
    def noise_sigma_value(self, function: str, range_value: float, settings: dict) -> float:
        fn = self.meter_model.function(function)
        r = _range_by_value(fn, range_value)
        if function in AC_KINDS:
            bw = float(Q_(settings.get("bandwidth", Q_(20, "Hz"))).to("Hz").magnitude)
            ppm = AC_NOISE_PPM_AT_20_HZ_FILTER * math.sqrt(bw / 20.0)
            return ppm * 1e-6 * range_value
        if function == "FREQ":
            return 0.0     # relative; see frequency_noise
        nplc = float(settings.get("nplc", 1.0))
        published = r.property("noise")
        if published is not None:
            ppm = fixed_magnitude(published, "ppm")
        elif function == "DCV":
            ppm = NOISE_PPM_AT_1_PLC.get(round(range_value, 9), 2.0)
        else:
            ppm = DEFAULT_NOISE_PPM.get(function, 3.0)
        return ppm * 1e-6 * range_value / math.sqrt(nplc)

    @staticmethod
    def noise_sigma_v(range_v: float, nplc: float) -> float:
        ppm = NOISE_PPM_AT_1_PLC.get(round(range_v, 9), 2.0)
        return ppm * 1e-6 * range_v / math.sqrt(nplc)

    def noise_sigma(self, range_: pint.Quantity, nplc: float, function: str = "DCV") -> pint.Quantity:
        fn = self.meter_model.function(function)
        return Q_(self.noise_sigma_value(function, float(range_.to(fn.unit).magnitude),
                                         {"nplc": nplc}), fn.unit)

    @staticmethod
    def frequency_noise(aperture_s: float) -> float:
        return FREQ_NOISE_AT_1_S / max(aperture_s, 1e-3)


def _range_by_value(fn: FunctionSpec, value: float) -> RangeSpec:
    for r in fn.ranges:
        v = fixed_magnitude(r.range, fn.unit)
        if abs(v - value) <= 1e-9 * abs(v):
            return r
    raise KeyError(f"no {fn.name} range {value:g} {fn.unit:~P}")


def quantise(value: float, resolution: float) -> float:
    """Round to the display resolution (what a finite-digit instrument reports)."""
    return round(round(value / resolution) * resolution, 15)


@dataclass(frozen=True)
class Signal:
    """What the source puts on its terminals: ``kind`` (DCV, ACV, DCI, ACI, RES, or "" when
    in standby: open terminals), its true value (V, A or Ω; rms for AC) and frequency."""

    kind: str = ""
    value: float = 0.0
    frequency: float | None = None
    compensation: str = ""     # resistance: the calibrator's lead compensation (WIRE2 ...)


class Wire:
    """The source's terminals as the meter sees them: the value follows every change
    exponentially (time constant ``tau_s``); kind and frequency switch at once."""

    def __init__(self, tau_s: float):
        self.tau = float(tau_s)
        self._target = 0.0
        self._from = 0.0
        self._t0 = 0.0
        self._signal = Signal()
        self._changes: deque[tuple[float, Signal]] = deque(maxlen=WIRE_HISTORY)
        self._lock = threading.Lock()

    def _at(self, t: float) -> float:
        if self.tau <= 0 or t <= self._t0:
            return self._target if self.tau <= 0 else self._from
        return self._target + (self._from - self._target) * math.exp(-(t - self._t0) / self.tau)

    def voltage(self, t: float) -> float:
        """The settled value now (volts for a voltage, in general the signal's base unit)."""
        with self._lock:
            return self._at(t)

    def signal(self, t: float) -> Signal:
        with self._lock:
            s = self._signal
            return Signal(s.kind, self._at(t), s.frequency, s.compensation)

    @property
    def changed_at(self) -> float:
        """When the source last changed what its terminals carry."""
        with self._lock:
            return self._t0

    def drive(self, t: float, target: float | Signal) -> None:
        """The source's terminals change to ``target`` at time ``t``."""
        signal = target if isinstance(target, Signal) else Signal("DCV" if target else "", float(target))
        with self._lock:
            same_kind = signal.kind == self._signal.kind
            self._from = self._at(t) if same_kind else 0.0
            self._t0 = t
            self._target = float(signal.value)
            self._signal = signal
            self._changes.append((t, signal))

    def current_changes(self, after: float, until: float) -> list[tuple[float, float]]:
        """(time, current in A) of every change of the current through the terminals from
        ``after`` up to ``until``: a current signal's value (rms for AC), 0 for anything else
        (standby, a voltage, a resistance)."""
        with self._lock:
            return [(t, s.value if s.kind in CURRENT_KINDS else 0.0)
                    for t, s in self._changes if after <= t <= until]


def shunt_thermal_resistance(shunt_ohm: float, nominal_a: float) -> float:
    """θ (K/W) of a shunt whose largest range has the nominal current ``nominal_a``: 60 K/W
    (a small shunt), but a shunt made to dissipate more is heat-sunk so that it rises no more
    than 60 K at that current (60 K/W × 1 W: the 34465A's 10 A shunt).  Without the bound a
    0.05 Ω shunt carrying 10 A (5 W) would rise 300 K."""
    power = nominal_a ** 2 * shunt_ohm
    if power <= 0:
        return SHUNT_THERMAL_RESISTANCE_K_PER_W
    return min(SHUNT_THERMAL_RESISTANCE_K_PER_W, SHUNT_MAX_RISE_K / power)


class ShuntHeating:
    """Temperature rise of one current shunt: first order towards θ·I²·R."""

    def __init__(self, thermal_resistance_k_per_w: float = SHUNT_THERMAL_RESISTANCE_K_PER_W) -> None:
        self.rise_k = 0.0
        self.t = 0.0
        self.current_a = 0.0          # what flowed through it since ``t``
        self.theta = float(thermal_resistance_k_per_w)

    def advance(self, t: float, current_a: float, shunt_ohm: float,
                changes: list[tuple[float, float]] = ()) -> float:
        """Advance to ``t`` with ``current_a`` flowing; ``changes`` are the (time, current) of
        the source's changes since the last call (each current flowed from its time until the
        next change; the current before the first of them flowed until then); return the
        relative error of the reading (the shunt's resistance grew by tempco × ΔT)."""
        for when, current in changes:
            if self.t <= when < t:
                self._step(when, self.current_a, shunt_ohm)
                self.current_a = current
        self._step(t, current_a, shunt_ohm)
        self.current_a = current_a
        return SHUNT_TEMPCO_PER_K * self.rise_k

    def _step(self, t: float, current_a: float, shunt_ohm: float) -> None:
        dt = max(t - self.t, 0.0)
        target = self.theta * current_a ** 2 * shunt_ohm
        self.rise_k = target + (self.rise_k - target) * math.exp(-dt / SHUNT_TIME_CONSTANT_S)
        self.t = max(self.t, t)

"""The physics of the simulated lab: the true errors behind every reading.

* The calibrator's true output is ``set × (1 + gain) + offset`` on the range it selects
  (smallest range covering the value); gain and offset are drawn from the seeded RNG so that
  the total error stays within ``fraction`` of the calibrator's own specification.
* The DUT (the DMM being calibrated) indicates ``applied + gain × applied + offset`` per range,
  drawn likewise within ``fraction`` of the DMM's specification, or set explicitly, or made
  out of tolerance on one range (the error then exceeds the specification everywhere on it).
* Reading noise is Gaussian with σ = ``noise_ppm_at_1_plc × range / sqrt(NPLC)``; readings are
  quantised to the range resolution; autozero off adds an uncorrected zero offset.
* The wire between calibrator and DMM settles exponentially after every change.

``Truth`` is what a test compares a measured calibration result against.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import pint

from labauto.instruments import InstrumentModel, RangeSpec
from labauto.units import Q_

# σ of one reading at 1 PLC, in ppm of range (about twice the 34465A's published figures,
# so that type A effects are visible at 10 PLC above the 6½-digit resolution)
NOISE_PPM_AT_1_PLC = {0.1: 10.0, 1.0: 3.0, 10.0: 2.0, 100.0: 2.0, 1000.0: 2.0}
AUTOZERO_OFF_OFFSET_PPM = 1.0      # uncorrected zero offset (± ppm of range) with autozero OFF
OVERLOAD = 9.9e37                  # what a SCPI DMM returns for an overload


def _key(q: pint.Quantity) -> float:
    return round(float(q.to("V").magnitude), 9)


@dataclass(frozen=True)
class LinearError:
    """error(x) = gain × x + offset (offset in volts)."""

    gain: float
    offset: float

    def __call__(self, x: float) -> float:
        return self.gain * x + self.offset


class Truth:
    """The hidden true errors of the simulated instruments (seeded)."""

    def __init__(self, dmm: InstrumentModel, calibrator: InstrumentModel, seed: int, *,
                 fraction: float = 0.3, out_of_tolerance: tuple[str, pint.Quantity] | None = None,
                 out_of_tolerance_factor: float = 2.0):
        self.dmm_model, self.calibrator_model = dmm, calibrator
        self.seed = seed
        rng = np.random.default_rng(seed)
        self._dut: dict[float, LinearError] = {}
        self._cal: dict[float, LinearError] = {}
        self._autozero: dict[float, float] = {}
        for r in dmm.function("DCV").ranges:
            rng_v = _key(r.range)
            reading, span = _terms(r)
            self._dut[rng_v] = LinearError(
                fraction * reading * rng.uniform(-1, 1),
                fraction * span * rng_v * rng.uniform(-1, 1))
            self._autozero[rng_v] = AUTOZERO_OFF_OFFSET_PPM * 1e-6 * rng_v * rng.uniform(-1, 1)
        for r in calibrator.function("DCV").ranges:
            out = r.accuracy.get("output", Q_(0, "")).to("").magnitude
            floor = r.accuracy.get("floor", Q_(0, "V")).to("V").magnitude
            self._cal[_key(r.range)] = LinearError(fraction * out * rng.uniform(-1, 1),
                                                   fraction * floor * rng.uniform(-1, 1))
        if out_of_tolerance is not None:
            function, rng_q = out_of_tolerance
            self.make_out_of_tolerance(function, rng_q, out_of_tolerance_factor)

    # -- setting errors explicitly ---------------------------------------------------------
    def set_dut_error(self, function: str, range_: pint.Quantity, gain: float,
                      offset: pint.Quantity) -> None:
        spec = self._dmm_range(function, range_)
        self._dut[_key(spec.range)] = LinearError(float(gain), float(offset.to("V").magnitude))

    def make_out_of_tolerance(self, function: str, range_: pint.Quantity,
                              factor: float = 2.0) -> None:
        """Give ``range_`` an error beyond the specification at every value on the range.

        offset = factor × spec(full scale), gain = reading-term of the spec (same sign):
        |error(x)| ≥ (factor − 1) × spec(full scale) + … > spec(x) for factor ≥ 2."""
        spec = self._dmm_range(function, range_)
        reading, _ = _terms(spec)
        sign = 1.0 if np.random.default_rng([self.seed, 7]).uniform() < 0.5 else -1.0
        full = spec.accuracy_halfwidth(spec.maximum).to("V").magnitude
        self._dut[_key(spec.range)] = LinearError(sign * reading, sign * factor * full)

    def _dmm_range(self, function: str, range_: pint.Quantity) -> RangeSpec:
        if function != "DCV":
            raise KeyError(f"the simulated lab only models DCV, not {function!r}")
        return self.dmm_model.function(function).range_named(range_)

    # -- what tests compare against --------------------------------------------------------
    def dut_error(self, function: str, range_: pint.Quantity,
                  applied: pint.Quantity) -> pint.Quantity:
        """True error of the DUT's indication (gain × applied + offset) on ``range_``."""
        spec = self._dmm_range(function, range_)
        return Q_(self._dut[_key(spec.range)](applied.to("V").magnitude), "V")

    def dut_error_at_setting(self, function: str, range_: pint.Quantity,
                             set_value: pint.Quantity) -> pint.Quantity:
        """True error of the DUT's indication while the calibrator is set to ``set_value``:
        the DUT sees the calibrator's true output, not its set value."""
        return self.dut_error(function, range_, self.calibrator_output(set_value))

    def calibrator_output(self, set_value: pint.Quantity) -> pint.Quantity:
        """True output of the calibrator when set to ``set_value``."""
        return Q_(self.true_output_v(set_value.to("V").magnitude), "V")

    def dut_error_parameters(self, range_: pint.Quantity) -> LinearError:
        return self._dut[_key(self._dmm_range("DCV", range_).range)]

    # -- used by the simulated instruments (bare volts) -----------------------------------
    def true_output_v(self, set_v: float) -> float:
        spec = self.calibrator_model.function("DCV").range_for(Q_(set_v, "V"))
        return set_v + self._cal[_key(spec.range)](set_v)

    def indication_v(self, range_v: float, applied_v: float, autozero: bool) -> float:
        """Noise-free indication of the DUT on ``range_v`` for ``applied_v``."""
        value = applied_v + self._dut[round(range_v, 9)](applied_v)
        if not autozero:
            value += self._autozero[round(range_v, 9)]
        return value

    @staticmethod
    def noise_sigma_v(range_v: float, nplc: float) -> float:
        ppm = NOISE_PPM_AT_1_PLC.get(round(range_v, 9), 2.0)
        return ppm * 1e-6 * range_v / math.sqrt(nplc)

    def noise_sigma(self, range_: pint.Quantity, nplc: float) -> pint.Quantity:
        return Q_(self.noise_sigma_v(_key(range_), nplc), "V")


def _terms(r: RangeSpec) -> tuple[float, float]:
    """(reading fraction, range fraction) of a DMM range's accuracy specification."""
    reading = r.accuracy.get("reading", Q_(0, "")).to("").magnitude
    span = r.accuracy.get("range", Q_(0, "")).to("").magnitude
    return float(reading), float(span)


def quantise(value: float, resolution: float) -> float:
    """Round to the display resolution (what a finite-digit instrument reports)."""
    return round(round(value / resolution) * resolution, 12)


class Wire:
    """The voltage at the DMM input: follows the calibrator's terminals exponentially."""

    def __init__(self, tau_s: float):
        self.tau = float(tau_s)
        self._target = 0.0
        self._from = 0.0
        self._t0 = 0.0
        self._lock = threading.Lock()

    def _at(self, t: float) -> float:
        if self.tau <= 0 or t <= self._t0:
            return self._target if self.tau <= 0 else self._from
        return self._target + (self._from - self._target) * math.exp(-(t - self._t0) / self.tau)

    def voltage(self, t: float) -> float:
        with self._lock:
            return self._at(t)

    def drive(self, t: float, target: float) -> None:
        """The calibrator's terminals change to ``target`` volts at time ``t``."""
        with self._lock:
            self._from = self._at(t)
            self._t0 = t
            self._target = float(target)

"""ITS-90 platinum resistance thermometry: reference functions W_r(T90), their inverses, and the
deviation functions of a standard platinum resistance thermometer (SPRT) over the sub-ranges.

Source: H. Preston-Thomas, "The International Temperature Scale of 1990 (ITS-90)",
Metrologia 27, 3-10 (1990), and its Erratum, Metrologia 27, 107 (1990) ("the ITS-90 text"):

* low range, 13.8033 K .. 273.16 K, eq. (9a) and its inverse (9b)::

      ln W_r = A0 + sum_{i=1..12} A_i [(ln(T90 / 273.16 K) + 1.5) / 1.5]^i
      T90 / 273.16 K = B0 + sum_{i=1..15} B_i [(W_r^(1/6) - 0.65) / 0.35]^i

* high range, 0 °C .. 961.78 °C, eq. (10a) and its inverse (10b)::

      W_r = C0 + sum_{i=1..9} C_i [(T90 / K - 754.15) / 481]^i
      T90 / K - 273.15 = D0 + sum_{i=1..9} D_i [(W_r - 2.64) / 1.64]^i

  The inverse functions are "equivalent to within +-0.1 mK" (low) and "+-0.13 mK" (high)
  (ITS-90 text, 3.3.1 and 3.3.2).  :func:`reference_temperature` starts from them and refines
  by Newton's method on W_r itself, so it inverts :func:`reference_w` to 1e-9 K.

* deviation functions W - W_r = Delta W(W), the eleven sub-ranges of ITS-90 3.3.1.1 - 3.3.2.6
  (numbered 1..11 as in common use, see :data:`SUBRANGES`); the coefficients (a, b, c, c1..c5,
  d) come from the SPRT's calibration at the defining fixed points (:func:`fit_deviation`).

Temperatures are t90 in °C (floats); W is R(T90) / R(273.16 K).  Pure functions, no I/O.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from labauto.temperature.errors import OutOfRangeError, TemperatureError

KELVIN = 273.15                  # T90 / K = t90 / °C + 273.15
T_TPW = 273.16                   # K, triple point of water

A = (-2.13534729, 3.18324720, -1.80143597, 0.71727204, 0.50344027, -0.61899395, -0.05332322,
     0.28021362, 0.10715224, -0.29302865, 0.04459872, 0.11868632, -0.05248134)
B = (0.183324722, 0.240975303, 0.209108771, 0.190439972, 0.142648498, 0.077993465, 0.012475611,
     -0.032267127, -0.075291522, -0.056470670, 0.076201285, 0.123893204, -0.029201193,
     -0.091173542, 0.001317696, 0.026025526)
C = (2.78157254, 1.64650916, -0.13714390, -0.00649767, -0.00234444, 0.00511868, 0.00187982,
     -0.00204472, -0.00046122, 0.00045724)
D = (439.932854, 472.418020, 37.684494, 7.472018, 2.920828, 0.005184, -0.963864, -0.188732,
     0.191203, 0.049025)

#: Range of the reference functions, °C.
T_MIN = 13.8033 - KELVIN
T_MAX = 961.78

#: Defining fixed points used with SPRTs: name -> (t90 / °C, W_r from ITS-90 text Table 1).
FIXED_POINTS: dict[str, tuple[float, float]] = {
    "e-H2 triple point": (13.8033 - KELVIN, 0.00119007),
    "Ne triple point": (24.5561 - KELVIN, 0.00844974),
    "O2 triple point": (54.3584 - KELVIN, 0.09171804),
    "Ar triple point": (83.8058 - KELVIN, 0.21585975),
    "Hg triple point": (-38.8344, 0.84414211),
    "H2O triple point": (0.01, 1.00000000),
    "Ga melting point": (29.7646, 1.11813889),
    "In freezing point": (156.5985, 1.60980185),
    "Sn freezing point": (231.928, 1.89279768),
    "Zn freezing point": (419.527, 2.56891730),
    "Al freezing point": (660.323, 3.37600860),
    "Ag freezing point": (961.78, 4.28642053),
}


def _poly(coefficients: Sequence[float], x: float) -> float:
    s = 0.0
    for c in reversed(coefficients):
        s = s * x + c
    return s


def _dpoly(coefficients: Sequence[float], x: float) -> float:
    s = 0.0
    for i in range(len(coefficients) - 1, 0, -1):
        s = s * x + i * coefficients[i]
    return s


def _check_t(t: float) -> float:
    t = float(t)
    if not math.isfinite(t) or t < T_MIN - 1e-9 or t > T_MAX + 1e-9:
        raise OutOfRangeError(
            f"ITS-90 SPRT reference function: {t:g} °C is outside its range "
            f"{T_MIN:.4f} °C (13.8033 K) .. {T_MAX:g} °C")
    return t


def reference_w(t: float) -> float:
    """W_r(T90) at ``t`` °C (eq. 9a below 0.01 °C, eq. 10a from 0.01 °C)."""
    t = _check_t(t)
    if t < 0.01:
        x = (math.log((t + KELVIN) / T_TPW) + 1.5) / 1.5
        return math.exp(_poly(A, x))
    return _poly(C, (t + KELVIN - 754.15) / 481.0)


def reference_dw_dt(t: float) -> float:
    """dW_r/dT90 (per kelvin) at ``t`` °C."""
    t = _check_t(t)
    if t < 0.01:
        x = (math.log((t + KELVIN) / T_TPW) + 1.5) / 1.5
        return math.exp(_poly(A, x)) * _dpoly(A, x) / (1.5 * (t + KELVIN))
    return _dpoly(C, (t + KELVIN - 754.15) / 481.0) / 481.0


W_MIN = FIXED_POINTS["e-H2 triple point"][1]
W_MAX = FIXED_POINTS["Ag freezing point"][1]


def reference_temperature_approx(w: float) -> float:
    """t90 in °C from W_r by the ITS-90 inverse functions (9b) / (10b) alone (+-0.13 mK)."""
    w = float(w)
    if not math.isfinite(w) or w <= 0:
        raise OutOfRangeError(f"ITS-90: W_r = {w!r} is not a positive number")
    if w < 1.0:
        return T_TPW * _poly(B, (w ** (1.0 / 6.0) - 0.65) / 0.35) - KELVIN
    return _poly(D, (w - 2.64) / 1.64)


def reference_temperature(w: float) -> float:
    """t90 in °C with W_r(T90) = ``w``: the exact inverse of :func:`reference_w`."""
    w = float(w)
    if not math.isfinite(w) or w < W_MIN * (1 - 1e-7) or w > W_MAX * (1 + 1e-8):
        raise OutOfRangeError(
            f"ITS-90 SPRT reference function: W_r = {w!r} is outside its range "
            f"{W_MIN} (13.8033 K) .. {W_MAX} (961.78 °C)")
    t = min(max(reference_temperature_approx(w), T_MIN), T_MAX)
    for _ in range(30):
        step = (reference_w(t) - w) / reference_dw_dt(t)
        t_new = min(max(t - step, T_MIN), T_MAX)
        if abs(t_new - t) < 1e-11:
            return t_new
        t = t_new
    return t


# --------------------------------------------------------------------------- deviation functions

def _ln(w: float) -> float:
    return math.log(w)


@dataclass(frozen=True)
class Subrange:
    """One ITS-90 sub-range of an SPRT: its interval, coefficient names and Delta W terms."""

    number: int
    name: str                      # the ITS-90 text's section
    t_min: float                   # °C
    t_max: float                   # °C
    coefficients: tuple[str, ...]
    terms: Callable[[float], tuple[float, ...]] = field(repr=False)  # W -> basis values
    fixed_points: tuple[str, ...] = ()

    def basis(self, w: float) -> tuple[float, ...]:
        return self.terms(w)


def _low(n_c: int, n: int) -> Callable[[float], tuple[float, ...]]:
    def terms(w: float) -> tuple[float, ...]:
        lw = _ln(w)
        return (w - 1, (w - 1) ** 2) + tuple(lw ** (i + n) for i in range(1, n_c + 1))
    return terms


def _w_al() -> float:
    return FIXED_POINTS["Al freezing point"][1]


def _high(names: tuple[str, ...]) -> Callable[[float], tuple[float, ...]]:
    def terms(w: float) -> tuple[float, ...]:
        full = {"a": w - 1, "b": (w - 1) ** 2, "c": (w - 1) ** 3, "d": 0.0}
        return tuple(full[k] for k in names)
    return terms


def _high_d(w_al: float) -> Callable[[float], tuple[float, ...]]:
    # d [W - W(660.323 °C)]^2 applies above the Al point only (ITS-90 eq. 14 and 3.3.2)
    def terms(w: float) -> tuple[float, ...]:
        return (w - 1, (w - 1) ** 2, (w - 1) ** 3, (w - w_al) ** 2 if w > w_al else 0.0)
    return terms


_K = KELVIN
SUBRANGES: dict[int, Subrange] = {s.number: s for s in (
    Subrange(1, "3.3.1 13.8033 K .. 273.16 K", 13.8033 - _K, 0.01,
             ("a", "b", "c1", "c2", "c3", "c4", "c5"), _low(5, 2),
             ("e-H2 triple point", "e-H2 near 17 K", "e-H2 near 20.3 K", "Ne triple point",
              "O2 triple point", "Ar triple point", "Hg triple point")),
    Subrange(2, "3.3.1.1 24.5561 K .. 273.16 K", 24.5561 - _K, 0.01,
             ("a", "b", "c1", "c2", "c3"), _low(3, 0),
             ("e-H2 triple point", "Ne triple point", "O2 triple point", "Ar triple point",
              "Hg triple point")),
    Subrange(3, "3.3.1.2 54.3584 K .. 273.16 K", 54.3584 - _K, 0.01,
             ("a", "b", "c1"), _low(1, 1),
             ("O2 triple point", "Ar triple point", "Hg triple point")),
    Subrange(4, "3.3.1.3 83.8058 K .. 273.16 K", 83.8058 - _K, 0.01,
             ("a", "b"), lambda w: (w - 1, (w - 1) * _ln(w)),
             ("Ar triple point", "Hg triple point")),
    Subrange(5, "3.3.2.6 -38.8344 °C .. 29.7646 °C", -38.8344, 29.7646,
             ("a", "b"), _high(("a", "b")), ("Hg triple point", "Ga melting point")),
    Subrange(6, "3.3.2 0 °C .. 961.78 °C", 0.0, 961.78,
             ("a", "b", "c", "d"), _high_d(FIXED_POINTS["Al freezing point"][1]),
             ("Sn freezing point", "Zn freezing point", "Al freezing point", "Ag freezing point")),
    Subrange(7, "3.3.2.1 0 °C .. 660.323 °C", 0.0, 660.323,
             ("a", "b", "c"), _high(("a", "b", "c")),
             ("Sn freezing point", "Zn freezing point", "Al freezing point")),
    Subrange(8, "3.3.2.2 0 °C .. 419.527 °C", 0.0, 419.527,
             ("a", "b"), _high(("a", "b")), ("Sn freezing point", "Zn freezing point")),
    Subrange(9, "3.3.2.3 0 °C .. 231.928 °C", 0.0, 231.928,
             ("a", "b"), _high(("a", "b")), ("In freezing point", "Sn freezing point")),
    Subrange(10, "3.3.2.4 0 °C .. 156.5985 °C", 0.0, 156.5985,
             ("a",), _high(("a",)), ("In freezing point",)),
    Subrange(11, "3.3.2.5 0 °C .. 29.7646 °C", 0.0, 29.7646,
             ("a",), _high(("a",)), ("Ga melting point",)),
)}


def subrange(key: int | str) -> Subrange:
    """A sub-range by number (1..11) or by a name containing its limits, e.g. "0 .. 660.323"."""
    try:
        number = int(key)
    except (TypeError, ValueError):
        text = str(key).replace(" ", "")
        found = [s for s in SUBRANGES.values() if text and text in s.name.replace(" ", "")]
        if len(found) == 1:
            return found[0]
        number = -1
    if number in SUBRANGES:
        return SUBRANGES[number]
    raise TemperatureError(
        f"ITS-90 sub-range {key!r} is unknown; give a number 1..11: " + "; ".join(
            f"{s.number} = {s.name}" for s in SUBRANGES.values()))


@dataclass(frozen=True)
class SprtCalibration:
    """An SPRT's ITS-90 calibration: R(TPW), its sub-range and deviation-function coefficients.

    ``coefficients`` maps the sub-range's names (``a``, ``b``, ``c``, ``c1`` ... ``d``) to
    values; names the sub-range does not use are refused.
    """

    subrange: int
    coefficients: Mapping[str, float]
    r_tpw: float = 25.0            # ohm; R(273.16 K)

    def __post_init__(self) -> None:
        sr = subrange(self.subrange)
        object.__setattr__(self, "subrange", sr.number)
        unknown = sorted(set(self.coefficients) - set(sr.coefficients))
        if unknown:
            raise TemperatureError(
                f"ITS-90 sub-range {sr.number} ({sr.name}) has coefficients "
                f"{', '.join(sr.coefficients)}; {', '.join(unknown)} is not one of them")
        object.__setattr__(self, "coefficients",
                           {k: float(self.coefficients.get(k, 0.0)) for k in sr.coefficients})
        if not (math.isfinite(float(self.r_tpw)) and float(self.r_tpw) > 0):
            raise TemperatureError(f"R(TPW) must be a positive resistance in ohm, got {self.r_tpw!r}")

    @property
    def range(self) -> Subrange:
        return SUBRANGES[self.subrange]

    def deviation(self, w: float) -> float:
        """Delta W = W - W_r as a function of W."""
        sr = self.range
        return sum(self.coefficients[k] * v for k, v in zip(sr.coefficients, sr.basis(w)))

    #: how far beyond a sub-range's limits (fixed points) a temperature is still accepted, K:
    #: a reading at the fixed point itself may fall a few µK outside it
    RANGE_TOLERANCE = 0.005

    def _check(self, t: float) -> None:
        sr = self.range
        tol = self.RANGE_TOLERANCE
        if not (sr.t_min - tol <= t <= sr.t_max + tol):
            raise OutOfRangeError(
                f"ITS-90 sub-range {sr.number} ({sr.name}): {t:g} °C is outside it")

    def temperature(self, w: float) -> float:
        """t90 in °C from the measured W = R(T90)/R(TPW)."""
        w = float(w)
        t = reference_temperature(w - self.deviation(w))
        self._check(t)
        return t

    def w(self, t: float) -> float:
        """W at ``t`` °C: solves W - Delta W(W) = W_r(t90) by fixed-point iteration."""
        t = _check_t(t)
        self._check(t)
        wr = reference_w(t)
        w = wr
        for _ in range(100):
            w_new = wr + self.deviation(w)
            if abs(w_new - w) < 1e-15:
                return w_new
            w = w_new
        return w

    def resistance(self, t: float) -> float:
        return self.w(t) * self.r_tpw

    def temperature_from_resistance(self, r: float) -> float:
        return self.temperature(float(r) / self.r_tpw)


def fit_deviation(sub: int | str, points: Sequence[tuple[float, float]],
                  r_tpw: float = 25.0) -> SprtCalibration:
    """Deviation-function coefficients from (t90 °C, W) pairs at the sub-range's fixed points.

    With as many points as coefficients the system is solved exactly (the ITS-90 procedure);
    with more it is solved by least squares.  Fewer points than coefficients are refused.
    """
    sr = subrange(sub)
    p = len(sr.coefficients)
    if len(points) < p:
        raise TemperatureError(
            f"ITS-90 sub-range {sr.number} ({sr.name}) has {p} coefficients "
            f"({', '.join(sr.coefficients)}) but {len(points)} point(s) were given; measure W at "
            f"{', '.join(sr.fixed_points)}")
    rows, rhs = [], []
    for t, w in points:
        rows.append(sr.basis(float(w)))
        rhs.append(float(w) - reference_w(float(t)))
    sol, *_ = np.linalg.lstsq(np.asarray(rows, dtype=float), np.asarray(rhs), rcond=None)
    return SprtCalibration(sr.number, dict(zip(sr.coefficients, (float(v) for v in sol))), r_tpw)


__all__ = ["FIXED_POINTS", "SUBRANGES", "SprtCalibration", "Subrange", "T_MAX", "T_MIN",
           "fit_deviation", "reference_dw_dt", "reference_temperature",
           "reference_temperature_approx", "reference_w", "subrange"]

"""Per-point uncertainty budgets of a comparison calibration, in the manner of EA-4/02 M:2013
example S5 and EURAMET cg-8 (thermocouples) / cg-13 (industrial PRTs), on labauto.uncertainty.

A point compares the DUT with a reference thermometer in a heat source.  Two equations, one
:class:`~labauto.uncertainty.Model` (every input a named row of the budget)::

    t_X = t_S + sum_i c_i x_i                       temperature at the DUT's sensing element
    Y   = X_i + sum_j c_j x_j + S_X (t - t_X)       PRT (ohm) or thermocouple (emf): the DUT's
                                                    value at the stated temperature t
    E   = X_i + sum_j c_j x_j - t_X                 indicating thermometer: its error

t_S is the mean of the reference's temperatures (from its own certificate's curve), X_i the
mean of the DUT's indications; both Type A (s/sqrt(n), nu = n - 1, or a pooled standard
deviation from an earlier series, as in EA-4/02 S5.13).  The x_i are :class:`Influence` s:
reference calibration and drift, readout, source uniformity (axial, radial) and stability,
immersion, self-heating, reference junction (``side="reference"``: they move t_X, in K or
through a sensitivity such as a reference thermocouple's C_S in K/µV); DUT readout, resolution,
hysteresis, self-heating, immersion, parasitic emfs, compensating cables, reference junction
(``side="dut"``: they move the DUT's value, in its unit, or in K times S_X = dY/dt).
S_X (the DUT's sensitivity at t) comes from IEC 60751 / IEC 60584-1 unless given; the small
step t - t_X (the source is not exactly at the nominal temperature) is carried by it, as
EA-4/02 S5.3 does with Delta t / C_X.

:func:`ea402_s5` builds EA-4/02 S5 from its printed inputs; tests/temperature/test_budgets.py
checks the printed result (36 229 µV, U = 50 µV).
"""
from __future__ import annotations

import functools
import math
import re

import numpy as np
from dataclasses import dataclass, field
from typing import Any, Sequence

from labauto.temperature import thermocouples
from labauto.temperature.cvd import CallendarVanDusen
from labauto.temperature.errors import TemperatureError
from labauto.uncertainty import Model, gum, validated_budget
from labauto.uncertainty.budget import UncertaintyBudget
from labauto.uncertainty.distributions import (Arcsine, Constant, Normal, Rectangular,
                                               Triangular)
from labauto.uncertainty.errors import UncertaintyError
from labauto.units import Q_

DUT_KINDS = ("prt", "thermocouple", "indicating")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_RESERVED = {"t", "t_S", "t_X", "X_i", "Y", "E", "S_X"}


@dataclass(frozen=True)
class Influence:
    """One influence quantity x of a point's budget, estimate 0 unless stated.

    ``distribution``: "normal" (``value`` is U with coverage factor ``k``; k = 1 gives u),
    "rectangular", "triangular" or "arcsine" (``value`` is the half-width).  ``unit``: that of
    ``value`` (K for temperatures).  ``side``: "reference" (moves the temperature at the DUT)
    or "dut" (moves the DUT's value).  ``sensitivity``: c, with ``sensitivity_unit``, when x is
    not already in the side's unit (a reference thermocouple's readout in µV times C_S in K/µV;
    a DUT's reference junction in K times -S(0 °C) in µV/K).  A DUT-side influence in K without
    a sensitivity is multiplied by the DUT's S_X.
    """

    name: str
    label: str
    side: str
    distribution: str
    value: float
    unit: str = "K"
    k: float = 1.0
    estimate: float = 0.0
    sensitivity: float | None = None
    sensitivity_unit: str | None = None
    dof: float = math.inf             # a normal input's degrees of freedom (a Type A: n - 1)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or self.name in _RESERVED or self.name.startswith("c_"):
            raise TemperatureError(
                f"influence name {self.name!r}: use letters, digits and _ (starting with a "
                f"letter), not c_... nor one of {', '.join(sorted(_RESERVED))}")
        if self.side not in ("reference", "dut"):
            raise TemperatureError(f"influence {self.name}: side must be 'reference' or 'dut', "
                                   f"got {self.side!r}")
        if self.distribution not in ("normal", "rectangular", "triangular", "arcsine"):
            raise TemperatureError(
                f"influence {self.name}: distribution must be normal, rectangular, triangular or "
                f"arcsine, got {self.distribution!r}")
        for what in ("value", "k", "estimate"):
            v = getattr(self, what)
            if not isinstance(v, (int, float)) or not math.isfinite(float(v)):
                raise TemperatureError(f"influence {self.name}: {what} must be a number, got {v!r}")
        if not self.dof >= 1:
            raise TemperatureError(f"influence {self.name}: dof must be >= 1, got {self.dof!r}")
        if self.value < 0 or self.k <= 0:
            raise TemperatureError(f"influence {self.name}: value must be >= 0 and k > 0")
        if (self.sensitivity is None) != (self.sensitivity_unit is None):
            raise TemperatureError(
                f"influence {self.name}: give the sensitivity and its unit together")

    @property
    def standard_uncertainty(self) -> float:
        """u(x) in ``unit``."""
        if self.distribution == "normal":
            return self.value / self.k
        divisor = {"rectangular": math.sqrt(3.0), "triangular": math.sqrt(6.0),
                   "arcsine": math.sqrt(2.0)}[self.distribution]
        return self.value / divisor

    def distribution_object(self) -> Any:
        unit = "delta_degC" if self.unit in ("degC", "°C") else self.unit
        if self.distribution == "normal":
            return Normal(self.estimate, self.value / self.k, dof=self.dof, label=self.label,
                          unit=unit)
        cls = {"rectangular": Rectangular, "triangular": Triangular,
               "arcsine": Arcsine}[self.distribution]
        return cls(self.estimate, self.value, label=self.label, unit=unit)


@dataclass(frozen=True)
class ComparisonPoint:
    """One calibration point: readings and the influences on them.

    ``nominal``: t in °C, the temperature the result is stated at.  ``reference``: the
    reference thermometer's temperatures (°C, from its certificate's curve).  ``dut``: the
    DUT's indications in ``dut_unit`` (ohm for a PRT, mV or µV for a thermocouple, °C for an
    indicating thermometer).  ``reference_sd`` / ``dut_sd``: (s, nu) of a pooled standard
    deviation from an earlier series (u = s/sqrt(n)); without them s comes from the readings
    (needs two or more).  ``dut_sensitivity``: S_X = dY/dt at t in ``dut_unit``/K (default:
    the nominal curve: IEC 60751 with ``prt_r0``, or the IEC 60584-1 type's Seebeck coefficient).

    ``paired``: reading k of the DUT and reading k of the reference were taken together (the
    engine brackets each DUT reading by two reference readings).  The two series are then
    correlated -- a wander of the heat source moves both -- and what reaches Y is the scatter
    of the paired differences D_k = X_k - S_X t_S,k, not of either series (GUM 5.2.3, eq. (17)
    gives the covariance of two means observed in pairs; here it is carried exactly by taking
    the mean difference as the input): Y's Type A is s(D)/sqrt(n) with nu = n - 1, and t_S
    keeps its own Type A in t_X's budget only.
    """

    nominal: float
    reference: Sequence[float]
    dut: Sequence[float]
    dut_kind: str
    dut_unit: str = ""
    thermocouple_type: str | None = None
    prt_r0: float = 100.0
    dut_sensitivity: float | None = None
    reference_sd: tuple[float, float] | None = None
    dut_sd: tuple[float, float] | None = None
    influences: Sequence[Influence] = ()
    label: str = ""
    paired: bool = False

    def __post_init__(self) -> None:
        if self.dut_kind not in DUT_KINDS:
            raise TemperatureError(
                f"dut_kind must be one of {', '.join(DUT_KINDS)}, got {self.dut_kind!r}")
        unit = self.dut_unit or {"prt": "ohm", "thermocouple": "mV", "indicating": "degC"}[self.dut_kind]
        object.__setattr__(self, "dut_unit", unit)
        if self.dut_kind == "thermocouple":
            if not self.thermocouple_type:
                raise TemperatureError("a thermocouple point needs thermocouple_type (e.g. 'N')")
            thermocouples.temperature_range(self.thermocouple_type)
        object.__setattr__(self, "reference", tuple(float(v) for v in self.reference))
        object.__setattr__(self, "dut", tuple(float(v) for v in self.dut))
        object.__setattr__(self, "influences", tuple(self.influences))
        if not self.reference or not self.dut:
            raise TemperatureError(f"point {self.nominal:g} °C: no readings of the "
                                   f"{'reference' if not self.reference else 'DUT'}")
        if self.paired and (len(self.reference) != len(self.dut) or self.reference_sd is not None
                            or self.dut_sd is not None):
            raise TemperatureError(
                f"point {self.nominal:g} °C: paired readings need as many reference readings as "
                f"DUT readings ({len(self.reference)} and {len(self.dut)} given) and no pooled "
                "standard deviations (the scatter of the pairs' differences is the Type A)")
        names = [i.name for i in self.influences]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise TemperatureError(f"point {self.nominal:g} °C: influence(s) {', '.join(dup)} given twice")

    def sensitivity(self) -> float:
        """S_X = dY/dt at the nominal temperature, in dut_unit per K."""
        if self.dut_sensitivity is not None:
            return float(self.dut_sensitivity)
        if self.dut_kind == "prt":
            s = CallendarVanDusen.iec60751(self.prt_r0).dr_dt(self.nominal)
            return s * _factor("ohm", self.dut_unit)
        if self.dut_kind == "thermocouple":
            s = thermocouples.seebeck(self.thermocouple_type or "", self.nominal)
            return s * _factor("mV", self.dut_unit)
        return 1.0

    def nominal_value(self, t: float) -> float:
        """The DUT's nominal value at t in dut_unit (IEC curve), for the error in temperature."""
        if self.dut_kind == "prt":
            return CallendarVanDusen.iec60751(self.prt_r0).resistance(t) * _factor("ohm", self.dut_unit)
        if self.dut_kind == "thermocouple":
            return thermocouples.emf(self.thermocouple_type or "", t) * _factor("mV", self.dut_unit)
        return t


@dataclass(frozen=True)
class PointResult:
    """A point's results: the DUT's value at t (or its error) with U, and both budgets."""

    point: ComparisonPoint
    reference_budget: UncertaintyBudget      # t_X, the temperature at the DUT
    budget: UncertaintyBudget                # Y (PRT, thermocouple) or E (indicating)
    error: float                             # K: the DUT's temperature by its nominal curve - t
    u_error: float                           # K
    sensitivity: float                       # S_X, dut_unit / K

    @property
    def nominal(self) -> float:
        return self.point.nominal

    @property
    def value(self) -> float:
        """Y in dut_unit, or E in K for an indicating thermometer."""
        return float(self.budget.estimate.magnitude)

    @property
    def unit(self) -> str:
        return "K" if self.point.dut_kind == "indicating" else self.point.dut_unit

    @property
    def u(self) -> float:
        return float(self.budget.combined_uncertainty.magnitude)

    @property
    def k(self) -> float:
        return float(self.budget.coverage_factor)

    @property
    def U(self) -> float:
        return float(self.budget.expanded_uncertainty.magnitude)

    @property
    def U_error(self) -> float:
        return self.k * self.u_error

    @property
    def reference_temperature(self) -> float:
        """t_X in °C."""
        return float(self.reference_budget.estimate.to("degC").magnitude)

    def as_dict(self) -> dict[str, Any]:
        return {"nominal": self.nominal, "reference_temperature": self.reference_temperature,
                "value": self.value, "unit": self.unit, "u": self.u, "k": self.k, "U": self.U,
                "error": self.error, "u_error": self.u_error, "U_error": self.U_error,
                "budget": self.budget.to_dict(), "reference_budget": self.reference_budget.to_dict()}


def _type_a(values: Sequence[float], pooled: tuple[float, float] | None, what: str,
            nominal: float) -> tuple[float, float, float]:
    n = len(values)
    mean = math.fsum(values) / n
    if pooled is not None:
        s, nu = float(pooled[0]), float(pooled[1])
        if not (s >= 0 and nu >= 1):
            raise TemperatureError(f"point {nominal:g} °C: pooled standard deviation of the {what} "
                                   f"must be (s >= 0, nu >= 1), got {pooled!r}")
        return mean, s / math.sqrt(n), nu
    if n < 2:
        raise TemperatureError(
            f"point {nominal:g} °C: one reading of the {what} gives no standard deviation; take "
            "two or more readings or give a pooled standard deviation (s, nu) from an earlier series")
    s = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, s / math.sqrt(n), float(n - 1)


def _paired_differences(point: ComparisonPoint, dut: Sequence[float],
                        reference: Sequence[float]) -> list[float]:
    """D_k = X_k - S_X (t_S,k - t) of DUT readings ``dut`` and their bracketing ``reference``
    temperatures at ``point``'s t: the heat source's wander, as the reference saw it, removed."""
    s_x = point.sensitivity()
    return [x - s_x * (r - point.nominal) for x, r in zip(dut, reference)]


def _difference_of_means(first: Sequence[float], then: Sequence[float], what_first: str,
                         what_then: str, nominal: float) -> tuple[float, float, float]:
    """mean(then) - mean(first) of two series of paired differences, its standard uncertainty
    from the two series' Type A (u² = s1²/n1 + s2²/n2) and its Welch-Satterthwaite degrees of
    freedom (infinite when neither series scatters)."""
    d1, u1, nu1 = _type_a(first, None, what_first, nominal)
    d2, u2, nu2 = _type_a(then, None, what_then, nominal)
    u = math.hypot(u1, u2)
    dof = (u ** 4 / (u1 ** 4 / nu1 + u2 ** 4 / nu2)) if u > 0 else math.inf
    return d2 - d1, u, dof


def point_budget(point: ComparisonPoint, *, k: float | None = None,
                 coverage_probability: float = 0.95) -> PointResult:
    """The budgets of one comparison point (see the module doc).

    ``k`` states the coverage factor (EA-4/02 uses k = 2).  By default k = t_p(nu_eff) where the
    GUM interval is validated against the convolution of the input distributions (JCGM 101:2008
    clause 8); where it is not (a rectangular input, e.g. the furnace's uniformity, dominating
    u_c), U is the half-width of the propagated distribution's interval, k = U/u_c, and the
    budget's ``method`` says so (:func:`labauto.uncertainty.convolution.validated_budget`).
    """
    p = point
    unit = p.dut_unit
    s_x = p.sensitivity()
    t_s, u_ts, nu_ts = _type_a(p.reference, p.reference_sd, "reference", p.nominal)
    x_i, u_xi, nu_xi = _type_a(p.dut, p.dut_sd, "DUT", p.nominal)
    x_unit = "degC" if p.dut_kind == "indicating" else unit
    inputs: dict[str, Any] = {
        "t_S": Normal(t_s, u_ts, dof=nu_ts, unit="degC", label="reference thermometer (mean)")}
    if p.paired:
        # X_i = D_i + S_X (t_S - t): t_S's sensitivity in Y (or E) is then S_X - S_X = 0,
        # and the pairs' scatter s(D) is Y's Type A (see ComparisonPoint.paired); D_k is
        # reading k of the DUT brought to t by the reference's reading k
        d_i, u_di, nu_di = _type_a(_paired_differences(p, p.dut, p.reference),
                                   None, "paired differences", p.nominal)
        inputs["D_i"] = Normal(d_i, u_di, dof=nu_di, unit=x_unit,
                               label="DUT at t by the paired reference readings (mean)")
        dut_terms = ["D_i + t_S - t" if p.dut_kind == "indicating" else "D_i + S_X*(t_S - t)"]
        inputs["t"] = Constant(p.nominal, unit="degC", label="calibration temperature")
    else:
        inputs["X_i"] = Normal(x_i, u_xi, dof=nu_xi, unit=x_unit, label="DUT indication (mean)")
        dut_terms = ["X_i"]
    ref_terms = ["t_S"]
    for inf in p.influences:
        inputs[inf.name] = inf.distribution_object()
        term = inf.name
        if inf.sensitivity is not None:
            inputs[f"c_{inf.name}"] = Constant(float(inf.sensitivity), unit=inf.sensitivity_unit,
                                               label=f"sensitivity of {inf.name}")
            term = f"c_{inf.name}*{inf.name}"
        elif inf.side == "dut" and p.dut_kind != "indicating" and _is_temperature(inf.unit):
            term = f"S_X*{inf.name}"
        (ref_terms if inf.side == "reference" else dut_terms).append(term)
    equations = ["t_X = " + " + ".join(ref_terms)]
    if p.dut_kind == "indicating":
        equations.append("E = " + " + ".join(dut_terms) + " - t_X")
        out = "E"
    else:
        inputs["S_X"] = Constant(s_x, unit=f"{unit}/K", label="sensitivity of the DUT")
        inputs["t"] = Constant(p.nominal, unit="degC", label="calibration temperature")
        equations.append("Y = " + " + ".join(dut_terms) + " + S_X*(t - t_X)")
        out = "Y"
    try:
        model = Model(equations, inputs=inputs, units={"t_X": "degC", out: "K" if out == "E" else unit})
        result = gum(model)
        # without a stated k: the GUM interval where JCGM 101 clause 8 validates it, else the
        # propagated distribution's (labauto.uncertainty.convolution)
        budget = validated_budget(result, out, coverage_probability, k=k)
        ref_budget = validated_budget(result, "t_X", coverage_probability, k=k)
    except UncertaintyError as exc:
        raise TemperatureError(f"point {p.nominal:g} °C: {exc}") from None
    y = float(budget.estimate.magnitude)
    u_y = float(budget.combined_uncertainty.magnitude)
    if p.dut_kind == "indicating":
        error, u_error = y, u_y
    else:
        error = (y - p.nominal_value(p.nominal)) / s_x
        u_error = u_y / abs(s_x)
    return PointResult(p, ref_budget, budget, error, u_error, s_x)


@functools.lru_cache(maxsize=256)
def _factor(unit_from: str, unit_to: str) -> float:
    """The factor from one unit to another (cached: pint's conversion costs ~50 µs)."""
    return float(Q_(1.0, unit_from).to(unit_to).magnitude)


@functools.lru_cache(maxsize=256)
def _is_temperature(unit: str) -> bool:
    try:
        return Q_(1.0, "delta_degC" if unit in ("degC", "°C") else unit).dimensionality == \
            Q_(1.0, "K").dimensionality
    except Exception:
        return False


# --------------------------------------------------------------------------- correlation

#: how an input's error is shared between the calibration points of one run (what a fitted
#: curve cannot average away): "point" -- its own at every point (the Type A means, the
#: source's short-term stability, the display's resolution, hysteresis, and any row with
#: finite degrees of freedom: evaluated from the point's own readings); "sub-range" -- the
#: reference's calibration, one certificate's calibration of each of its sub-ranges (the rows
#: of its uncertainty table); "heat source" -- the gradients and immersion of one set-up in one
#: heat source; any other input: one for the whole run (the drift since the reference's
#: calibration, the readouts' and the DMM's errors, self-heating, reference junctions,
#: parasitic emfs, cables).
SHARED = {"t_S": "point", "X_i": "point", "dt_stab": "point", "dX_res": "point",
          "dt_hyst": "point", "dt_cal": "sub-range", "dt_axial": "heat source",
          "dt_radial": "heat source", "dt_imm_S": "heat source", "dt_imm_X": "heat source",
          "dt_inh": "heat source"}


def input_groups(results: Sequence[PointResult], *, heat_sources: Sequence[str],
                 sub_ranges: Sequence[int]) -> list[tuple[str, float, np.ndarray]]:
    """The points' budget inputs as independent variables: (distribution, degrees of freedom,
    the contribution c_i u_i to each point's value Y_i in the budgets' unit of Y).  An input
    the points share (:data:`SHARED`; ``heat_sources``, ``sub_ranges``: each point's heat
    source and the row of the reference certificate's uncertainty table its temperature falls
    in) is one variable across them; a row evaluated from a point's own readings (finite
    degrees of freedom: a Type A, a self-heating measured at two currents) is that point's
    own, whatever its name.  The contributions carry the same sign at every point (each input
    enters the same term of the same equation; S_X > 0)."""
    n = len(results)
    unit = results[0].budget.estimate.units
    groups: dict[tuple, tuple[str, float, np.ndarray]] = {}
    for i, p in enumerate(results):
        for row in p.budget.rows:
            c = float(row.contribution.to(unit).magnitude)
            if not c:
                continue
            scope = "point" if math.isfinite(row.dof) else SHARED.get(row.name, "run")
            key = (row.name, {"point": i, "sub-range": ("s", sub_ranges[i]),
                              "heat source": ("h", heat_sources[i]), "run": None}[scope])
            groups.setdefault(key, (row.distribution, float(row.dof), np.zeros(n)))[2][i] = c
    return list(groups.values())


def values_covariance(results: Sequence[PointResult], *, heat_sources: Sequence[str],
                      sub_ranges: Sequence[int]) -> np.ndarray:
    """The covariance (n x n, in the budgets' unit of Y squared) of the points' values Y (or
    errors E): u(Y_i)^2 on the diagonal; off it, c_k,i u_k,i c_k,j u_k,j summed over the inputs
    k the two points share (:func:`input_groups`)."""
    n = len(results)
    unit = results[0].budget.estimate.units
    cov = np.zeros((n, n))
    for _, _, c in input_groups(results, heat_sources=heat_sources, sub_ranges=sub_ranges):
        cov += np.outer(c, c)
    np.fill_diagonal(cov, [float(p.budget.combined_uncertainty.to(unit).magnitude) ** 2
                           for p in results])
    return cov


# --------------------------------------------------------------------------- standard influences

def reference_influences(*, calibration_U: float, calibration_k: float = 2.0,
                         drift: float = 0.0, readout_U: float = 0.0, readout_k: float = 2.0,
                         axial: float = 0.0, radial: float = 0.0, stability: float = 0.0,
                         immersion: float = 0.0, self_heating: float = 0.0,
                         self_heating_correction: float = 0.0,
                         reference_junction: float = 0.0,
                         reference_junction_sensitivity: float | None = None) -> list[Influence]:
    """The reference side of a comparison (all in K): calibration (U, k), drift since it
    (half-width), readout (U, k), source axial and radial uniformity, stability (half-widths),
    immersion and self-heating of the reference (half-widths; ``self_heating_correction``:
    the estimate of the self-heating influence, minus what the reference's certificate states
    for its measuring current, whose characteristic is at zero power), and for a reference
    thermocouple the reference junction (half-width in K, with the ratio C_S/C_S0 as
    ``reference_junction_sensitivity``).  Zero values are left out."""
    out = [Influence("dt_cal", "reference calibration (certificate)", "reference", "normal",
                     calibration_U, "K", k=calibration_k)]
    for name, label, value, dist, kk in (
            ("dt_drift", "reference drift since calibration", drift, "rectangular", 1.0),
            ("dt_readout", "reference readout", readout_U, "normal", readout_k),
            ("dt_axial", "heat source axial uniformity", axial, "rectangular", 1.0),
            ("dt_radial", "heat source radial uniformity", radial, "rectangular", 1.0),
            ("dt_stab", "heat source stability", stability, "rectangular", 1.0),
            ("dt_imm_S", "immersion of the reference", immersion, "rectangular", 1.0),
            ("dt_sh_S", "self-heating of the reference", self_heating, "rectangular", 1.0)):
        estimate = self_heating_correction if name == "dt_sh_S" else 0.0
        if value or estimate:
            out.append(Influence(name, label, "reference", dist, value, "K", k=kk,
                                 estimate=estimate))
    if reference_junction:
        out.append(Influence("dt_0S", "reference junction of the reference thermocouple",
                             "reference", "rectangular", reference_junction, "K",
                             sensitivity=reference_junction_sensitivity,
                             sensitivity_unit=None if reference_junction_sensitivity is None else "K/K"))
    return out


def dut_influences(point_kind: str, *, unit: str, resolution: float = 0.0,
                   readout_U: float = 0.0, readout_k: float = 2.0, hysteresis: float = 0.0,
                   self_heating: float = 0.0, immersion: float = 0.0,
                   thermocouple_type: str | None = None, reference_junction: float = 0.0,
                   parasitic: float = 0.0, cable: float = 0.0,
                   inhomogeneity: float = 0.0) -> list[Influence]:
    """The DUT side: readout (U, k, in ``unit``), resolution (the digit, in ``unit``; half of it
    is the half-width), hysteresis (the observed up/down difference in K; half-width half of
    it), self-heating and immersion (half-widths in K); for a thermocouple the reference
    junction (half-width in K, times -S(0 °C)), parasitic emfs and compensating cables
    (half-widths in ``unit``) and inhomogeneity (half-width in K).  Zero values are left out."""
    out: list[Influence] = []
    if readout_U:
        out.append(Influence("dX_readout", "DUT readout (calibration)", "dut", "normal",
                             readout_U, unit, k=readout_k))
    if resolution:
        out.append(Influence("dX_res", "DUT resolution", "dut", "rectangular",
                             resolution / 2.0, "K" if point_kind == "indicating" else unit))
    for name, label, value in (("dt_hyst", "DUT hysteresis", hysteresis / 2.0),
                               ("dt_sh_X", "self-heating of the DUT", self_heating),
                               ("dt_imm_X", "immersion of the DUT", immersion),
                               ("dt_inh", "thermocouple inhomogeneity", inhomogeneity)):
        if value:
            out.append(Influence(name, label, "dut", "rectangular", value, "K"))
    if point_kind == "thermocouple":
        if reference_junction:
            s0 = thermocouples.seebeck(thermocouple_type or "", 0.0)
            out.append(Influence("dt_0X", "reference junction of the DUT", "dut", "rectangular",
                                 reference_junction, "K", sensitivity=-float(Q_(s0, "mV").to(unit).magnitude),
                                 sensitivity_unit=f"{unit}/K"))
        if parasitic:
            out.append(Influence("dV_R", "parasitic emfs (switch, connections)", "dut",
                                 "rectangular", parasitic, unit))
        if cable:
            out.append(Influence("dV_LX", "compensating cables", "dut", "rectangular", cable, unit))
    return out


def measured_self_heating(point: ComparisonPoint, reference: Sequence[float],
                          dut: Sequence[float], current: float, second_current: float) -> Influence:
    """The DUT's self-heating at its measuring current, measured: ``point``'s readings were taken
    at ``current``, ``dut`` (with their bracketing ``reference`` temperatures, °C) at
    ``second_current`` (A), right after.  Self-heating grows as I², so with the paired
    differences D_k = X_k - S_X (t_S,k - t) of both series (the heat source's wander cancels as
    in the point's own Type A) the DUT reads high at ``current`` by

        dt = (D2 - D1) / S_X * I1² / (I2² - I1²)          (K)

    with u(dt) from the two series' Type A (u(D2 - D1)² = s1²/n1 + s2²/n2, Welch-Satterthwaite
    degrees of freedom).  Returned as the ``dt_sh_X`` influence: normal, estimate -dt (the
    reading is corrected down), u(dt)."""
    if not second_current > current > 0:
        raise TemperatureError(f"point {point.nominal:g} °C: the second current "
                               f"({second_current:g} A) must exceed the first ({current:g} A)")
    s_x = point.sensitivity()
    if len(dut) != len(reference):
        raise TemperatureError(f"point {point.nominal:g} °C: the self-heating series has "
                               f"{len(dut)} DUT and {len(reference)} reference readings")
    diff, u_d, dof = _difference_of_means(
        _paired_differences(point, point.dut, point.reference),
        _paired_differences(point, dut, reference),
        "DUT at the first current", "DUT at the second current", point.nominal)
    ratio = current ** 2 / (second_current ** 2 - current ** 2)
    return Influence("dt_sh_X", f"self-heating of the DUT (measured at {current * 1e3:g} mA and "
                     f"{second_current * 1e3:.4g} mA)", "dut", "normal",
                     abs(ratio * u_d / s_x), "K", k=1.0, estimate=-ratio * diff / s_x,
                     dof=max(dof, 1.0))


def measured_hysteresis(first: ComparisonPoint, back: ComparisonPoint,
                        label: str = "") -> list[Influence]:
    """The DUT's hysteresis, measured: ``back`` revisits ``first``'s setpoint later in the run
    (after the highest temperature: DKD-R 5-1 / EURAMET practice).  With the paired differences
    D_k = X_k - S_X (t_S,k - t) of both visits (the heat source's wander cancels as in a point's
    own Type A) the DUT's reading at that temperature changed by

        d = (D_back - D_first) / S_X          (K)

    with u(d) from the two visits' Type A (Welch-Satterthwaite degrees of freedom).  A reading
    depends on the thermal history within ±d/2 about the mean of the two: the ``dt_hyst`` row is
    rectangular with half-width |d|/2 (as a stated up/down difference is, :func:`dut_influences`)
    and ``dt_hyst_A`` its Type A, normal, u(d)/2.  Both estimates are 0 (nothing is corrected:
    which way a later reading goes depends on its history)."""
    if abs(first.nominal - back.nominal) > 1e-9:
        raise TemperatureError(f"hysteresis: the return point ({back.nominal:g} °C) does not "
                               f"revisit {first.nominal:g} °C")
    s_x = first.sensitivity()
    diff, u_diff, dof = _difference_of_means(
        _paired_differences(first, first.dut, first.reference),
        _paired_differences(first, back.dut, back.reference),      # the same t and S_X
        "DUT at the first visit", "DUT at the return", back.nominal)
    d = diff / s_x
    u_d = u_diff / abs(s_x)
    what = label or f"{first.nominal:g} °C revisited"
    out = []
    if d:
        out.append(Influence("dt_hyst", f"DUT hysteresis (measured, {what}: d = {d * 1e3:+.2f} mK)",
                             "dut", "rectangular", abs(d) / 2.0, "K"))
    if u_d:
        out.append(Influence("dt_hyst_A", "DUT hysteresis, Type A of the measured difference",
                             "dut", "normal", u_d / 2.0, "K", k=1.0, dof=max(dof, 1.0)))
    return out


# --------------------------------------------------------------------------- EA-4/02 S5

def ea402_s5() -> ComparisonPoint:
    """EA-4/02 M:2013 example S5, "Calibration of a type N thermocouple at 1000 °C", from its
    inputs (S5.4 - S5.13).  The EA document was not at hand while this was written; sources:
    GUM Workbench's published reproduction of the example (metrodata.de/examples/s05_1_en.html,
    s05_2_en.html, S05_1.smu, S05_2.smu) states t_S = 1000.5 °C (pooled s 0.10 K, nu = 9),
    dt_S U = 0.3 K (k = 2), C_S = 0.077 K/µV, voltmeter U = 2 µV (k = 2), resolution +-0.5 µV,
    switch +-2 µV, V_iX = 36 248 µV, and its results u(t_X) = 0.640870516811861 K,
    V_X = 36 267.2307692308 µV (which fixes C_X = 0.026 K/µV: 0.5 K / C_X = 19.23 µV) and
    u(V_X) = 24.9662506362208 µV.  The remaining inputs are quoted from memory of the EA text:
    C_S0 = 0.189 K/µV, C_X0 = 0.039 K/µV, reference junctions +-0.1 K, drift +-0.3 K, furnace
    +-1 K, cables +-5 µV, pooled s(V_iX) = 1.6 µV; with them both u above come out to all their
    digits (tests/temperature/test_budgets.py), which pins them:
    * two type R reference thermocouples, their mean indication t_S = 1000.5 °C, pooled
      s = 0.10 K from ten earlier measurements (one observation used, nu = 9);
    * reference calibration U = 0.3 K (k = 2); drift +-0.3 K; furnace non-uniformity +-1 K;
    * voltmeter calibration U = 2 µV (k = 2) and resolution +-0.5 µV (4½ digits), switch
      parasitic emfs +-2 µV, for the reference thermocouples through C_S = 0.077 K/µV;
    * reference junctions at 0 °C within +-0.1 K: reference via -C_S/C_S0 with
      C_S0 = 0.189 K/µV, DUT via -1/C_X0 with C_X0 = 0.039 K/µV;
    * DUT: indication V_iX = 36 248 µV, pooled s = 1.6 µV (nu = 9); the same voltmeter and
      switch; compensating cables +-5 µV; sensitivity 1/C_X with C_X = 0.026 K/µV.

    Note Delta t = t - t_X = 1000.0 - 1000.5 °C = -0.5 K (S5.3): the emf is stated at 1000.0 °C,
    so the DUT's indication is corrected *down* by 0.5 K / C_X = 19.2 µV (a reproduction that
    takes t_X - t instead prints 36 267 µV).
    """
    c_s = 0.077          # K/µV
    ref = [
        Influence("dt_S", "calibration of the reference thermocouples", "reference", "normal", 0.3, "K", k=2),
        Influence("dV_iS1", "voltmeter calibration (reference)", "reference", "normal", 2.0, "uV", k=2,
                  sensitivity=c_s, sensitivity_unit="K/uV"),
        Influence("dV_iS2", "voltmeter resolution (reference)", "reference", "rectangular", 0.5, "uV",
                  sensitivity=c_s, sensitivity_unit="K/uV"),
        Influence("dV_RS", "parasitic emfs of the switch (reference)", "reference", "rectangular", 2.0,
                  "uV", sensitivity=c_s, sensitivity_unit="K/uV"),
        Influence("dt_0S", "reference junction of the reference thermocouples", "reference",
                  "rectangular", 0.1, "K", sensitivity=-c_s / 0.189, sensitivity_unit="K/K"),
        Influence("dt_D", "drift of the reference thermocouples", "reference", "rectangular", 0.3, "K"),
        Influence("dt_F", "furnace non-uniformity", "reference", "rectangular", 1.0, "K"),
    ]
    dut = [
        Influence("dV_iX1", "voltmeter calibration (DUT)", "dut", "normal", 2.0, "uV", k=2),
        Influence("dV_iX2", "voltmeter resolution (DUT)", "dut", "rectangular", 0.5, "uV"),
        Influence("dV_R", "parasitic emfs of the switch (DUT)", "dut", "rectangular", 2.0, "uV"),
        Influence("dV_LX", "compensating cables", "dut", "rectangular", 5.0, "uV"),
        Influence("dt_0X", "reference junction of the DUT", "dut", "rectangular", 0.1, "K",
                  sensitivity=-1 / 0.039, sensitivity_unit="uV/K"),
    ]
    return ComparisonPoint(
        nominal=1000.0, reference=[1000.5], dut=[36248.0], dut_kind="thermocouple",
        dut_unit="uV", thermocouple_type="N", dut_sensitivity=1 / 0.026,
        reference_sd=(0.10, 9), dut_sd=(1.6, 9), influences=ref + dut,
        label="EA-4/02 S5: type N thermocouple at 1000 °C")


__all__ = ["ComparisonPoint", "DUT_KINDS", "Influence", "PointResult", "dut_influences",
           "ea402_s5", "measured_self_heating", "point_budget", "reference_influences"]

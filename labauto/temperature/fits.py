"""Fitted sensor characteristics with the covariance of their coefficients.

* :func:`fit_cvd` — a PRT's Callendar–Van Dusen coefficients R0, A, B (and C, which acts below
  0 °C only) from its resistance at the calibration temperatures.  The equation is linear in
  (R0, R0·A, R0·B, R0·C), so it is fitted by linear least squares
  (:func:`labauto.uncertainty.regression.linear_fit`) and the covariance is carried to
  (R0, A, B, C) by the law of propagation (J V J^T).
* :func:`fit_thermocouple` — a thermocouple's deviation from its IEC 60584-1 reference
  function, ΔE(t) = E(t) - E_ref(t) = d0 + d1 t + ... (EURAMET cg-8, section 8), by
  least squares with the coefficients' covariance.

With u(y_i) given (the per-point budgets' standard uncertainties in ohm or mV) the fit is
weighted (known u(y), covariance (A^T W A)^-1, chi-square check); without, ordinary least
squares estimates u(y) from the residuals (needs more points than coefficients).  Fewer points
than coefficients are refused.  Errors common to several points (one reference certificate,
one readout, the DUT's self-heating) are given as the y_i's covariance
(``r_covariance``, ``emf_covariance``; labauto.temperature.budgets.values_covariance) and
propagated into the coefficients' covariance; without it the points count as independent.

Every fit answers "which temperature, with which uncertainty, does this curve give for a
reading anywhere in its range": :meth:`temperature` returns t and u(t) = sqrt(u(y)^2 +
b^T V b) / |dy/dt|, b the basis functions at t; :meth:`u_temperature` the part from the curve.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from labauto.temperature import thermocouples
from labauto.temperature.curves import ThermocoupleCurve
from labauto.temperature.cvd import IEC_A, IEC_B, IEC_C, CallendarVanDusen
from labauto.temperature.errors import OutOfRangeError, TemperatureError
from labauto.uncertainty.regression import LinearFit, RegressionError, linear_fit


@dataclass(frozen=True)
class CurveTemperature:
    """A temperature computed from a fitted curve: t, u(t) and its two parts (°C / K)."""

    value: float
    u: float
    u_curve: float
    u_reading: float


def _as_array(values: Any, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=float).reshape(-1)
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise TemperatureError(f"{what}: give finite numbers, got {values!r}")
    return a


def _u_array(u: Any, n: int, what: str) -> np.ndarray | None:
    if u is None:
        return None
    a = np.asarray(u, dtype=float).reshape(-1)
    if a.size == 1:
        a = np.full(n, float(a[0]))
    if a.size != n or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise TemperatureError(f"{what}: give one value > 0 or one per point ({n}), got {u!r}")
    return a


@dataclass(frozen=True)
class _FitCommon:
    fit: LinearFit = field(repr=False)
    t: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    #: the points' inputs for the curve's 95 % interval (labauto.temperature.curve_coverage;
    #: set by labauto.comparison_evaluation from the points' budgets); None: k = 2
    coverage: Any = field(default=None, repr=False, compare=False)

    def k_temperature(self, t: float) -> float:
        """The coverage factor of the curve's 95 % interval at ``t``: from the propagated
        distribution of the points' inputs (a rectangular-dominated curve: about 1.8), else 2."""
        self._check_range(float(t))
        if self.coverage is None:
            return 2.0
        return float(self.coverage.k_at(self._basis(float(t))))

    def expanded_temperature(self, t: float) -> float:
        """U (K, 95 %) of a temperature computed from the curve at ``t``, from the curve alone:
        k_temperature(t) × u_temperature(t)."""
        return self.k_temperature(t) * self.u_temperature(t)

    @property
    def method(self) -> str:
        return self.fit.method

    @property
    def n(self) -> int:
        return self.fit.n

    @property
    def dof(self) -> int:
        return self.fit.dof

    @property
    def chi_square(self) -> float | None:
        return self.fit.chi_square

    @property
    def chi_square_limit(self) -> float | None:
        return self.fit.chi_square_limit

    @property
    def consistent(self) -> bool:
        return self.fit.consistent

    @property
    def t_min(self) -> float:
        return float(self.t.min())

    @property
    def t_max(self) -> float:
        return float(self.t.max())

    def _check_range(self, t: float) -> None:
        if not (self.t_min - 1e-9 <= t <= self.t_max + 1e-9):
            raise OutOfRangeError(
                f"{t:g} °C is outside the calibrated range {self.t_min:g} °C .. {self.t_max:g} °C "
                "of the fitted curve: a fit is not an extrapolation")


# --------------------------------------------------------------------------- Callendar–Van Dusen

CVD_NAMES = ("R0", "A", "B", "C")


@dataclass(frozen=True)
class CvdFit(_FitCommon):
    """A fitted Callendar–Van Dusen curve (see :func:`fit_cvd`)."""

    fitted: tuple[str, ...] = ()            # the coefficients fitted, e.g. ("R0", "A", "B")
    curve: CallendarVanDusen = field(default_factory=CallendarVanDusen)
    covariance: np.ndarray = field(default=None, repr=False)   # of `fitted`, units ohm, 1/°C ...
    _fixed: dict = field(default_factory=dict, repr=False)

    @property
    def coefficients(self) -> dict[str, float]:
        return self.curve.as_dict()

    @property
    def standard_uncertainties(self) -> dict[str, float]:
        d = np.sqrt(np.diag(self.covariance))
        return {name: float(v) for name, v in zip(self.fitted, d)}

    @property
    def correlation(self) -> np.ndarray:
        d = np.sqrt(np.diag(self.covariance))
        return self.covariance / np.outer(d, d)

    @property
    def fixed(self) -> dict[str, float]:
        """Coefficients held at a given value (not fitted)."""
        return dict(self._fixed)

    @property
    def residuals(self) -> np.ndarray:
        """R_i - R_fit(t_i) in ohm."""
        return np.asarray(self.fit.residuals)

    @property
    def residuals_temperature(self) -> np.ndarray:
        """Residuals as temperature differences (K): R residual / (dR/dt)."""
        return np.asarray([r / self.curve.dr_dt(t) for r, t in zip(self.residuals, self.t)])

    def _basis(self, t: float) -> np.ndarray:
        return np.asarray(_cvd_basis(t, self.fitted, self._fixed), dtype=float)

    def u_resistance(self, t: float) -> float:
        """u of the fitted R(t) from the coefficients' covariance (ohm)."""
        self._check_range(float(t))
        return math.sqrt(max(self.fit.variance(self._basis(float(t))), 0.0))

    def u_temperature(self, t: float) -> float:
        """u (K) of a temperature computed from the curve at ``t``, from the curve alone."""
        return self.u_resistance(t) / abs(self.curve.dr_dt(float(t)))

    def temperature(self, r: float, u_r: float = 0.0) -> CurveTemperature:
        """t from a resistance ``r`` (ohm) measured with standard uncertainty ``u_r``."""
        t = self.curve.temperature(float(r))
        self._check_range(t)
        s = abs(self.curve.dr_dt(t))
        u_curve = self.u_resistance(t) / s
        u_read = float(u_r) / s
        return CurveTemperature(t, math.hypot(u_curve, u_read), u_curve, u_read)

    def as_dict(self) -> dict[str, Any]:
        return _fit_dict(self, "Callendar–Van Dusen (IEC 60751)", self.coefficients, self.fitted,
                         self.standard_uncertainties, self.correlation, "ohm",
                         {"R0": "ohm", "A": "1/K", "B": "1/K^2", "C": "1/K^4"})


def _cvd_basis(t: float, fitted: Sequence[str], fixed: dict[str, float]) -> list[float]:
    """Basis values of the linear parameters (R0, R0·A, R0·B, R0·C restricted to ``fitted``)."""
    g = {"A": t, "B": t * t, "C": (t - 100.0) * t ** 3 if t < 0 else 0.0}
    out = []
    if "R0" in fitted:
        out.append(1.0 + sum(fixed[k] * g[k] for k in ("A", "B", "C") if k in fixed))
    out.extend(g[k] for k in ("A", "B", "C") if k in fitted)
    return out


def fit_cvd(t: Any, r: Any, u_r: Any = None, *, c: str | bool = "auto", r0: float | None = None,
            fixed: dict[str, float] | None = None, r_covariance: Any = None) -> CvdFit:
    """Callendar–Van Dusen coefficients of a PRT from (t_i °C, R_i ohm[, u(R_i) ohm]).

    ``c``: fit C (True), hold it (False), or "auto": fit C when two or more distinct points lie
    below 0 °C, else hold it.  ``r0``: hold R0 at this value (e.g. measured at the ice point)
    instead of fitting it.  ``fixed``: values for the held coefficients (default IEC 60751's
    A, B, C).  Refused: fewer points than fitted coefficients; OLS (no ``u_r``) with no
    degrees of freedom left.  ``r_covariance`` (ohm², n x n, with ``u_r``): the R_i's errors
    correlated (labauto.temperature.budgets.values_covariance): the coefficients' covariance
    is propagated from it (labauto.uncertainty.regression.linear_fit).
    """
    tt = _as_array(t, "fit_cvd: t")
    rr = _as_array(r, "fit_cvd: R")
    if tt.size != rr.size:
        raise TemperatureError(f"fit_cvd: {tt.size} temperatures but {rr.size} resistances")
    uu = _u_array(u_r, tt.size, "fit_cvd: u(R)")
    held = {"A": IEC_A, "B": IEC_B, "C": IEC_C}
    held.update({k: float(v) for k, v in (fixed or {}).items() if k in held})
    below = np.unique(tt[tt < 0]).size
    fit_c = (below >= 2) if c == "auto" else bool(c)
    if fit_c and below == 0:
        raise TemperatureError(
            "fit_cvd: C acts below 0 °C only and no point lies below 0 °C; hold C (c=False)")
    fitted = tuple(n for n in CVD_NAMES if (n != "R0" or r0 is None) and (n != "C" or fit_c))
    fix = {k: v for k, v in held.items() if k not in fitted}
    p = len(fitted)
    if tt.size < p:
        raise TemperatureError(
            f"fit_cvd: {tt.size} point(s) cannot determine the {p} coefficients "
            f"{', '.join(fitted)}; measure at least {p} temperatures"
            + (" (with u(R) given) or more" if uu is None else ""))
    design = np.asarray([_cvd_basis(float(x), fitted, fix) for x in tt])
    y = rr.copy()
    if r0 is not None:
        y = rr - float(r0) * np.asarray([1.0 + sum(fix[k] * g for k, g in
                                                   zip(("A", "B", "C"), (x, x * x, (x - 100.0) * x ** 3 if x < 0 else 0.0)))
                                         for x in tt])
    try:
        lf = linear_fit(design, y, uu, names=[("R0" if n == "R0" else f"R0*{n}") for n in fitted],
                        y_covariance=r_covariance)
    except RegressionError as exc:
        raise TemperatureError(f"fit_cvd: {exc}") from None
    p_hat = dict(zip(fitted, lf.coefficients))
    R0 = p_hat["R0"] if "R0" in fitted else float(r0)  # type: ignore[arg-type]
    coef = {"R0": R0}
    for k in ("A", "B", "C"):
        coef[k] = p_hat[k] / R0 if k in fitted else fix[k]
    # Jacobian d(R0, A, B, C)_fitted / d(p)_fitted
    jac = np.zeros((p, p))
    for i, ni in enumerate(fitted):
        for j, nj in enumerate(fitted):
            if ni == "R0":
                jac[i, j] = 1.0 if nj == "R0" else 0.0
            elif nj == ni:
                jac[i, j] = 1.0 / R0
            elif nj == "R0":
                jac[i, j] = -p_hat[ni] / R0 ** 2
    cov = jac @ lf.covariance @ jac.T
    cov.flags.writeable = False
    curve = CallendarVanDusen(r0=R0, a=coef["A"], b=coef["B"], c=coef["C"],
                              t_min=float(tt.min()), t_max=float(tt.max()))
    return CvdFit(fit=lf, t=tt, y=rr, fitted=fitted, curve=curve, covariance=cov, _fixed=fix)


# --------------------------------------------------------------------------- thermocouples

@dataclass(frozen=True)
class ThermocoupleFit(_FitCommon):
    """A fitted thermocouple: IEC 60584-1 reference function + deviation polynomial (mV)."""

    letter: str = "N"
    degree: int = 1
    curve: ThermocoupleCurve = field(default=None)  # type: ignore[assignment]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"d{k}" for k in range(self.degree + 1))

    @property
    def coefficients(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.fit.coefficients)}

    @property
    def standard_uncertainties(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.fit.standard_uncertainties)}

    @property
    def covariance(self) -> np.ndarray:
        return self.fit.covariance

    @property
    def correlation(self) -> np.ndarray:
        return self.fit.correlation

    @property
    def residuals(self) -> np.ndarray:
        """E_i - E_fit(t_i) in mV."""
        return np.asarray(self.fit.residuals)

    @property
    def residuals_temperature(self) -> np.ndarray:
        return np.asarray([r / self.curve.seebeck(t) for r, t in zip(self.residuals, self.t)])

    def deviation_at(self, t: float) -> float:
        """ΔE(t) in mV."""
        return self.curve.delta(float(t))

    def _basis(self, t: float) -> np.ndarray:
        return float(t) ** np.arange(self.degree + 1)

    def u_emf(self, t: float) -> float:
        self._check_range(float(t))
        return math.sqrt(max(self.fit.variance(self._basis(float(t))), 0.0))

    def u_temperature(self, t: float) -> float:
        return self.u_emf(t) / abs(self.curve.seebeck(float(t)))

    def temperature(self, e: float, u_e: float = 0.0) -> CurveTemperature:
        """t from an emf ``e`` (mV, reference junction at 0 °C) with standard uncertainty ``u_e``."""
        t = self.curve.temperature(float(e))
        self._check_range(t)
        s = abs(self.curve.seebeck(t))
        u_curve = self.u_emf(t) / s
        u_read = float(u_e) / s
        return CurveTemperature(t, math.hypot(u_curve, u_read), u_curve, u_read)

    def as_dict(self) -> dict[str, Any]:
        units = {n: ("mV" if k == 0 else f"mV/K^{k}" if k > 1 else "mV/K")
                 for k, n in enumerate(self.names)}
        return _fit_dict(self, f"type {self.letter} reference function (IEC 60584-1) + deviation "
                               f"polynomial of degree {self.degree}", self.coefficients,
                         self.names, self.standard_uncertainties, self.correlation, "mV", units)


def fit_thermocouple(letter: str, t: Any, emf: Any, u_emf: Any = None, *,
                     degree: int = 2, emf_covariance: Any = None) -> ThermocoupleFit:
    """Deviation polynomial ΔE(t) = sum d_k t^k (mV, t in °C) of a type ``letter`` thermocouple
    from its emf E_i (mV, reference junction at 0 °C) at the calibration temperatures t_i;
    ``emf_covariance`` (mV², with ``u_emf``): the E_i's errors correlated, as for
    :func:`fit_cvd`."""
    thermocouples.temperature_range(letter)           # an unknown type is refused here
    tt = _as_array(t, "fit_thermocouple: t")
    ee = _as_array(emf, "fit_thermocouple: emf")
    if tt.size != ee.size:
        raise TemperatureError(f"fit_thermocouple: {tt.size} temperatures but {ee.size} emfs")
    if not isinstance(degree, int) or degree < 0:
        raise TemperatureError(f"fit_thermocouple: degree must be a whole number >= 0, got {degree!r}")
    uu = _u_array(u_emf, tt.size, "fit_thermocouple: u(emf)")
    p = degree + 1
    if tt.size < p:
        raise TemperatureError(
            f"fit_thermocouple: {tt.size} point(s) cannot determine the {p} coefficients of a "
            f"degree-{degree} deviation polynomial; measure at least {p} temperatures or lower "
            "the degree")
    dev = ee - np.asarray([thermocouples.emf(letter, x) for x in tt])
    design = np.vander(tt, p, increasing=True)
    try:
        lf = linear_fit(design, dev, uu, names=[f"d{k}" for k in range(p)],
                        y_covariance=emf_covariance)
    except RegressionError as exc:
        raise TemperatureError(f"fit_thermocouple: {exc}") from None
    curve = ThermocoupleCurve(letter, tuple(float(v) for v in lf.coefficients),
                              float(tt.min()), float(tt.max()))
    return ThermocoupleFit(fit=lf, t=tt, y=ee, letter=curve.letter, degree=degree, curve=curve)


def _fit_dict(fit: Any, model: str, coefficients: dict, fitted: Sequence[str], u: dict,
              corr: np.ndarray, y_unit: str, units: dict) -> dict[str, Any]:
    return {
        "model": model,
        "method": fit.method,
        "coefficients": [{"name": n, "value": coefficients[n], "unit": units.get(n, ""),
                          "standard_uncertainty": u.get(n), "fitted": n in fitted}
                         for n in coefficients],
        "correlation": {"names": list(fitted), "matrix": np.asarray(corr).tolist()},
        "points": [{"t": float(t), "y": float(y), "residual": float(r)}
                   for t, y, r in zip(fit.t, fit.y, fit.residuals)],
        "residual_unit": y_unit,
        "dof": fit.dof,
        "chi_square": fit.chi_square,
        "chi_square_limit": fit.chi_square_limit,
        "range": [fit.t_min, fit.t_max],
    }


__all__ = ["CVD_NAMES", "CurveTemperature", "CvdFit", "ThermocoupleFit", "fit_cvd",
           "fit_thermocouple"]

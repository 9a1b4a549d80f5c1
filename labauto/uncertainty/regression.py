"""Least-squares calibration curves with their uncertainty: fit, predict, invert.

The model is a polynomial of degree ``d`` in the stimulus ``x``, taken about a fixed origin
``x0`` (GUM H.3 uses ``t0 = 20 °C`` for a thermometer)::

    y = c0 + c1 (x - x0) + c2 (x - x0)^2 + ... + cd (x - x0)^d        (p = d + 1 parameters)

Two error models, as in ISO/TS 28037:2010 and GUM H.3:

* :func:`ols` — ordinary least squares, u(y) **unknown**.  The observations are assumed to
  share one standard deviation sigma, estimated from the residuals as
  ``s^2 = sum r_i^2 / nu`` with ``nu = n - p`` degrees of freedom (GUM H.3.3).  The parameter
  covariance is ``s^2 (A^T A)^-1``; every uncertainty derived from it carries ``nu`` degrees of
  freedom.  Optional relative ``weights`` (known only up to a common factor) give the
  "relative weighted" variant of ISO/TS 28037 clause 7.4.
* :func:`wls` — weighted least squares, u(y_i) **known** (infinite degrees of freedom).  The
  weights are ``1/u(y_i)^2``; the parameter covariance is ``(A^T W A)^-1``.  The observed
  chi-square ``sum (r_i/u(y_i))^2`` is compared with the 95 % quantile of the chi-square
  distribution with ``nu`` degrees of freedom (ISO/TS 28037 clause 6.3): a larger value means
  the data do not support the stated u(y) or the model; see :attr:`PolynomialFit.consistent`.

A fitted curve is used forwards (:meth:`PolynomialFit.predict`: y at a given x, optionally
with the variance of one new observation added) or backwards
(:meth:`PolynomialFit.inverse`: the stimulus x that produced an observed response y, the
everyday use of a calibration curve).  Both propagate the full parameter covariance by the
GUM law of propagation of uncertainty and give Welch-Satterthwaite degrees of freedom.

Units: ``x`` and ``y`` are pint quantities of ``labauto.units``.  Coefficient ``ck`` has unit
``y / x^k``.  For offset units (°C) the coefficients of order >= 1 and all uncertainties use
the corresponding *difference* unit (Δ°C): an uncertainty is a temperature difference.

Numerics: the design matrix is column-scaled and solved by QR, so badly scaled data (NIST
StRD "Pontius", x up to 3e6, x^2 up to 9e12) keep full precision.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pint
from scipy import stats

from labauto.uncertainty.distributions import Normal, coverage_factor
from labauto.uncertainty.errors import ModelError, UncertaintyError
from labauto.uncertainty.gum import welch_satterthwaite
from labauto.uncertainty.quantities import delta_unit, is_offset
from labauto.units import Q_, UnitError, parse_quantity

#: Coverage probability of the chi-square consistency check (ISO/TS 28037 uses 95 %).
CHI_SQUARE_PROBABILITY = 0.95


class RegressionError(UncertaintyError):
    """Calibration data that cannot be fitted, or a fit used where it cannot answer."""


# --------------------------------------------------------------------------- units helpers

def _as_quantity(values: Any, what: str) -> pint.Quantity:
    """A 1-D quantity array from a quantity array, a sequence of quantities, or bare numbers."""
    if isinstance(values, pint.Quantity):
        q = values
    else:
        try:
            items = list(values)
        except TypeError:
            items = [values]
        if not items:
            raise RegressionError(f"{what}: no values given")
        if any(isinstance(v, pint.Quantity) for v in items):
            if not all(isinstance(v, pint.Quantity) for v in items):
                raise RegressionError(
                    f"{what}: some values have a unit and some do not; give every value a unit")
            unit = items[0].units
            try:
                mags = [v.to(unit).magnitude for v in items]
            except pint.DimensionalityError as exc:
                raise RegressionError(f"{what}: values with incompatible units ({exc})") from None
            q = Q_(np.asarray(mags, dtype=float), unit)
        else:
            q = Q_(np.asarray(items, dtype=float), "dimensionless")
    mag = np.atleast_1d(np.asarray(q.magnitude, dtype=float))
    if mag.ndim != 1:
        raise RegressionError(f"{what}: expected a 1-D sequence of values, got shape {mag.shape}")
    if not np.all(np.isfinite(mag)):
        bad = [int(i) for i in np.flatnonzero(~np.isfinite(mag))]
        raise RegressionError(f"{what}: value(s) at index {bad} are not finite numbers (NaN/inf)")
    return Q_(mag, q.units)


def _magnitudes(q: pint.Quantity, unit: pint.Unit, what: str) -> np.ndarray:
    try:
        return np.asarray(q.to(unit).magnitude, dtype=float)
    except pint.DimensionalityError:
        raise RegressionError(
            f"{what}: unit {q.units:~P} is not compatible with {unit:~P}") from None


def _parse(text: str, what: str) -> pint.Quantity:
    try:
        return parse_quantity(text)
    except UnitError as exc:
        raise RegressionError(f"{what}: {exc}") from None


def _scalar(value: Any, unit: pint.Unit, what: str) -> float:
    """A scalar in ``unit``; a bare number is accepted only for dimensionless data."""
    if isinstance(value, str):
        value = _parse(value, what)
    if not isinstance(value, pint.Quantity):
        if not Q_(1.0, unit).dimensionless:
            raise RegressionError(f"{what}: {value!r} has no unit; give it in {unit:~P}")
        value = Q_(float(value), "dimensionless")
    m = np.asarray(_magnitudes(value, unit, what), dtype=float)
    if m.size != 1 or not math.isfinite(float(m.reshape(-1)[0])):
        raise RegressionError(f"{what}: expected one finite value, got {value!r}")
    return float(m.reshape(-1)[0])


def _uncertainty(value: Any, delta: pint.Unit, what: str) -> np.ndarray:
    """Standard uncertainties in the difference unit ``delta`` (°C is read as Δ°C)."""
    if isinstance(value, str):
        value = _parse(value, what)
    if isinstance(value, pint.Quantity):
        if is_offset(value.units):           # °C given for a u: a Δ
            value = Q_(value.magnitude, delta_unit(value.units))
        mag = _magnitudes(value, delta, what)
    elif not isinstance(value, (int, float, np.floating, np.integer)) and any(
            isinstance(v, pint.Quantity) for v in value):
        mag = np.asarray([_uncertainty(v, delta, what) for v in value], dtype=float).reshape(-1)
    else:
        if not Q_(1.0, delta).dimensionless:
            raise RegressionError(f"{what}: {value!r} has no unit; give it in {delta:~P}")
        mag = np.asarray(value, dtype=float)
    mag = np.atleast_1d(mag).astype(float)
    if not np.all(np.isfinite(mag)) or np.any(mag < 0):
        raise RegressionError(f"{what}: standard uncertainties must be finite and >= 0, got {mag}")
    return mag


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Prediction:
    """An estimate from a calibration curve with its standard uncertainty.

    ``u_curve`` is the part due to the fitted parameters (their covariance, and for an OLS fit
    the new-observation scatter), ``u_input`` the part due to the stated uncertainty of the
    input value (u(x) for :meth:`PolynomialFit.predict`, u(y) for
    :meth:`PolynomialFit.inverse`).  ``sensitivity`` is dy/dx of the curve at the point.
    """

    value: pint.Quantity
    standard_uncertainty: pint.Quantity
    dof: float
    u_curve: pint.Quantity
    u_input: pint.Quantity
    sensitivity: pint.Quantity

    def coverage_factor(self, p: float = 0.95) -> float:
        """t_p(ν) (normal for ν = ∞), ν = :attr:`dof` unrounded."""
        try:
            return coverage_factor(p, self.dof)
        except ModelError as exc:
            raise RegressionError(str(exc)) from None

    def expanded_uncertainty(self, p: float = 0.95) -> pint.Quantity:
        return self.coverage_factor(p) * self.standard_uncertainty


@dataclass(frozen=True, eq=False)
class PolynomialFit:
    """A fitted polynomial calibration curve ``y = sum ck (x - x0)^k`` (see the module doc).

    ``covariance`` is the p x p parameter covariance matrix as magnitudes: element (i, j) is in
    ``unit(ci) * unit(cj)``, with ``unit(ck) = Δy / Δx^k`` (``y`` for k = 0).  The array is
    read-only.
    """

    method: str                        # "OLS" (u(y) from residuals) or "WLS" (u(y) known)
    degree: int
    x0: pint.Quantity                  # origin of the polynomial
    coefficients: tuple[pint.Quantity, ...]
    covariance: np.ndarray
    n: int
    dof: int                           # nu = n - p
    residuals: pint.Quantity           # y_i - f(x_i), Δy unit
    residual_sd: pint.Quantity         # sqrt(sum r_i^2 / nu), Δy unit
    chi_square: float | None           # WLS: sum (r_i / u(y_i))^2 ; OLS: None
    chi_square_limit: float | None     # WLS: chi2 quantile at CHI_SQUARE_PROBABILITY, nu dof
    x_min: pint.Quantity
    x_max: pint.Quantity

    # ---- parameters
    @property
    def p(self) -> int:
        return self.degree + 1

    @property
    def x_unit(self) -> pint.Unit:
        return self.x0.units

    @property
    def y_unit(self) -> pint.Unit:
        return self.coefficients[0].units

    @property
    def intercept(self) -> pint.Quantity:
        """c0: the value of the curve at x = x0."""
        return self.coefficients[0]

    @property
    def slope(self) -> pint.Quantity:
        """c1 of a straight line (degree 1)."""
        if self.degree != 1:
            raise RegressionError(
                f"slope is defined for a straight line; this fit has degree {self.degree}: "
                "use coefficients[1]")
        return self.coefficients[1]

    @property
    def standard_uncertainties(self) -> tuple[pint.Quantity, ...]:
        """u(ck) = sqrt(V_kk), in the units of the coefficient (Δ unit for offset units)."""
        dy = delta_unit(self.y_unit)
        dx = delta_unit(self.x_unit)
        return tuple(Q_(math.sqrt(self.covariance[k, k]), dy / dx ** k) for k in range(self.p))

    @property
    def correlation(self) -> np.ndarray:
        """Correlation matrix r(ci, cj) of the parameters."""
        d = np.sqrt(np.diag(self.covariance))
        return self.covariance / np.outer(d, d)

    @property
    def u_y_known(self) -> bool:
        return self.method == "WLS"

    @property
    def birge_ratio(self) -> float | None:
        """sqrt(chi^2 / nu) of a WLS fit: about 1 when the stated u(y) match the scatter."""
        if self.chi_square is None or self.dof == 0:
            return None
        return math.sqrt(self.chi_square / self.dof)

    @property
    def consistent(self) -> bool:
        """WLS: chi^2 does not exceed its 95 % quantile (ISO/TS 28037 6.3).  OLS: always True."""
        if self.chi_square is None or self.chi_square_limit is None:
            return True
        return self.chi_square <= self.chi_square_limit

    def check_consistency(self) -> None:
        """Raise :class:`RegressionError` when a WLS fit fails the chi-square check."""
        if not self.consistent:
            raise RegressionError(
                f"weighted fit: observed chi-square {self.chi_square:.4g} exceeds the "
                f"{CHI_SQUARE_PROBABILITY:.0%} limit {self.chi_square_limit:.4g} for "
                f"{self.dof} degrees of freedom: the stated u(y) are too small for the scatter "
                f"of the data, or a degree-{self.degree} polynomial does not describe them. "
                "Check the uncertainties of the observations and the residuals; use ols() to "
                "estimate u(y) from the data instead")

    def as_inputs(self, names: Sequence[str] | None = None
                  ) -> tuple[dict[str, Normal], dict[tuple[str, str], float]]:
        """The fitted parameters as correlated inputs of a measurement :class:`Model`.

        Returns ``(inputs, correlations)`` for ``Model(equation, inputs={**inputs, ...},
        correlations=correlations)``: one :class:`Normal` per coefficient (estimate ck, u(ck),
        nu = n - p for OLS, infinite for WLS) and the pairwise r(ci, cj).  ``names`` default
        to ``c0, c1, ...``.  Note that Welch-Satterthwaite does not apply to correlated inputs;
        :meth:`predict` gives the degrees of freedom of the curve directly.
        """
        names = [f"c{k}" for k in range(self.p)] if names is None else list(names)
        if len(names) != self.p or len(set(names)) != self.p:
            raise RegressionError(
                f"as_inputs: give {self.p} different names, one per coefficient, got {names!r}")
        nu = float(self.dof) if self.method == "OLS" else math.inf
        inputs = {n: Normal(c, u, dof=nu, label=f"{self.method} fit coefficient {k}")
                  for k, (n, c, u) in enumerate(zip(names, self.coefficients,
                                                    self.standard_uncertainties))}
        r = self.correlation
        corr = {(names[i], names[j]): float(r[i, j])
                for i in range(self.p) for j in range(i + 1, self.p)}
        return inputs, corr

    # ---- evaluation
    def _dx(self, x: Any, what: str) -> float:
        return _scalar(x, self.x_unit, what) - self.x0.to(self.x_unit).magnitude

    def _c(self) -> np.ndarray:
        return np.asarray([c.magnitude for c in self.coefficients], dtype=float)

    def _f(self, dx: float) -> float:
        return float(np.polynomial.polynomial.polyval(dx, self._c()))

    def _df(self, dx: float) -> float:
        return float(np.polynomial.polynomial.polyval(
            dx, np.polynomial.polynomial.polyder(self._c())))

    def _u2_curve(self, dx: float) -> float:
        j = dx ** np.arange(self.p)
        return float(j @ self.covariance @ j)

    def value_at(self, x: Any) -> pint.Quantity:
        """f(x), no uncertainty."""
        return Q_(self._f(self._dx(x, "x")), self.y_unit)

    def predict(self, x: Any, *, u_x: Any = None, new_observation: bool = False,
                u_observation: Any = None) -> Prediction:
        """y at stimulus ``x`` with its uncertainty.

        Without options: the mean response f(x); its variance is J V J^T with
        J = [1, (x - x0), ..., (x - x0)^d] (GUM H.3.4).  ``u_x``: the stimulus is itself
        uncertain; adds (f'(x) u(x))^2.  ``new_observation=True``: predict one future
        *observation* at x, adding its scatter: s^2 for an OLS fit; a WLS fit needs the
        observation's known ``u_observation`` instead.
        """
        dx = self._dx(x, "predict: x")
        dy = delta_unit(self.y_unit)
        nu_fit = float(self.dof) if self.method == "OLS" else math.inf
        u2_fit = self._u2_curve(dx)
        if new_observation or u_observation is not None:
            if u_observation is not None:
                u_obs = float(_uncertainty(u_observation, dy, "predict: u_observation")[0])
                parts_obs = (u_obs, math.inf)
            elif self.method == "OLS":
                u2_fit += self.residual_sd.magnitude ** 2
                parts_obs = (0.0, math.inf)
            else:
                raise RegressionError(
                    "predict(new_observation=True) on a WLS fit: give u_observation, the known "
                    "standard uncertainty of one observation at this x")
        else:
            parts_obs = (0.0, math.inf)
        slope = self._df(dx)
        u_in = 0.0
        if u_x is not None:
            u_in = abs(slope) * float(_uncertainty(u_x, delta_unit(self.x_unit), "predict: u_x")[0])
        u_curve = math.sqrt(u2_fit)
        total = math.sqrt(u2_fit + u_in ** 2 + parts_obs[0] ** 2)
        dof = welch_satterthwaite(total, [(u_curve, nu_fit), (u_in, math.inf), parts_obs])
        u_input = math.sqrt(u_in ** 2 + parts_obs[0] ** 2)
        return Prediction(
            value=Q_(self._f(dx), self.y_unit),
            standard_uncertainty=Q_(total, dy),
            dof=dof,
            u_curve=Q_(u_curve, dy),
            u_input=Q_(u_input, dy),
            sensitivity=Q_(slope, dy / delta_unit(self.x_unit)),
        )

    def _span(self) -> float:
        return float(self.x_max.to(self.x_unit).magnitude - self.x_min.to(self.x_unit).magnitude)

    def _solve(self, y: float) -> float:
        """x - x0 with f = y: the root inside the calibrated range (or the only real root)."""
        c = self._c().copy()
        c[0] -= y
        if self.degree == 1:
            if abs(c[1]) * self._span() <= 1e-12 * (abs(y) + abs(c[0] + y)):
                raise RegressionError(
                    "inverse: the fitted slope is zero; y does not depend on x over the "
                    "calibrated range, so x cannot be determined from y")
            return -c[0] / c[1]
        roots = np.polynomial.polynomial.polyroots(c)
        scale = max(1.0, float(np.max(np.abs(roots)))) if roots.size else 1.0
        real = np.sort(roots[np.abs(roots.imag) <= 1e-9 * scale].real)
        x0 = self.x0.to(self.x_unit).magnitude
        lo, hi = self.x_min.to(self.x_unit).magnitude - x0, self.x_max.to(self.x_unit).magnitude - x0
        tol = 1e-9 * max(hi - lo, 1e-300)
        inside = real[(real >= lo - tol) & (real <= hi + tol)]
        if inside.size == 1:
            return float(inside[0])
        if inside.size > 1:
            raise RegressionError(
                f"inverse: y = {y:g} {self.y_unit:~P} is reached at {inside.size} points of the "
                f"calibrated range {self.x_min:~P} .. {self.x_max:~P}: the curve is not "
                "monotonic there, so x is not determined")
        if real.size == 1:
            return float(real[0])
        raise RegressionError(
            f"inverse: no x in the calibrated range {self.x_min:~P} .. {self.x_max:~P} gives "
            f"y = {y:g} {self.y_unit:~P}; the observation is outside the calibration")

    def inverse(self, y: Any, *, u_y: Any = None, n_obs: int = 1,
                u_y_dof: float = math.inf) -> Prediction:
        """The stimulus x that gives the observed response ``y`` (using a calibration curve).

        u^2(x) = [u^2(y) + J V J^T] / f'(x)^2, the GUM law of propagation applied to
        x = f^-1(y; c).  ``u_y`` is the standard uncertainty of the observed y (of the mean of
        ``n_obs`` observations, with ``u_y_dof`` degrees of freedom).  Without ``u_y`` an OLS
        fit uses its residual standard deviation, s / sqrt(n_obs) with nu = n - p; a WLS fit
        needs ``u_y`` (give 0 for an exactly known y).
        """
        if n_obs < 1:
            raise RegressionError(f"inverse: n_obs must be >= 1, got {n_obs}")
        if self.degree == 0:
            raise RegressionError(
                "inverse: a degree-0 fit is a constant; it does not depend on x, so x cannot "
                "be determined from y")
        y_mag = _scalar(y, self.y_unit, "inverse: y")
        dy = delta_unit(self.y_unit)
        dxu = delta_unit(self.x_unit)
        nu_fit = float(self.dof) if self.method == "OLS" else math.inf
        dx = self._solve(y_mag)
        slope = self._df(dx)
        if abs(slope) * self._span() <= 1e-12 * abs(y_mag) or not math.isfinite(slope):
            raise RegressionError(
                f"inverse: the curve is flat at x = {dx + self.x0.to(self.x_unit).magnitude:g} "
                f"{self.x_unit:~P} (dy/dx = 0), so x cannot be determined from y there")
        u2_fit = self._u2_curve(dx)
        if u_y is None:
            if self.method != "OLS":
                raise RegressionError(
                    "inverse on a WLS fit: give u_y, the standard uncertainty of the observed y "
                    "(a fit with known u(y) has no residual estimate of it)")
            u2_fit += self.residual_sd.magnitude ** 2 / n_obs
            u_obs = 0.0
        else:
            u_obs = float(_uncertainty(u_y, dy, "inverse: u_y")[0])
        u_curve = math.sqrt(u2_fit) / abs(slope)
        u_in = u_obs / abs(slope)
        total = math.hypot(u_curve, u_in)
        return Prediction(
            value=Q_(dx + self.x0.to(self.x_unit).magnitude, self.x_unit),
            standard_uncertainty=Q_(total, dxu),
            dof=welch_satterthwaite(total, [(u_curve, nu_fit), (u_in, u_y_dof)]),
            u_curve=Q_(u_curve, dxu),
            u_input=Q_(u_in, dxu),
            sensitivity=Q_(slope, dy / dxu),
        )


# --------------------------------------------------------------------------- fitting

def _prepare(x: Any, y: Any, degree: int, x0: Any) -> tuple[pint.Quantity, pint.Quantity,
                                                              np.ndarray, np.ndarray, pint.Quantity]:
    if not isinstance(degree, (int, np.integer)) or isinstance(degree, bool) or degree < 0:
        raise RegressionError(f"degree must be a whole number >= 0, got {degree!r}")
    xq = _as_quantity(x, "x")
    yq = _as_quantity(y, "y")
    if xq.magnitude.size != yq.magnitude.size:
        raise RegressionError(
            f"x has {xq.magnitude.size} values but y has {yq.magnitude.size}; give one y per x")
    p = degree + 1
    distinct = np.unique(xq.magnitude).size
    if distinct < p:
        raise RegressionError(
            f"a degree-{degree} polynomial has {p} parameters but x has only {distinct} "
            f"distinct value(s) ({xq.magnitude.size} points): calibrate at >= {p} different "
            "stimulus values or lower the degree")
    x0q = Q_(0.0, xq.units) if x0 is None else x0
    x0_mag = _scalar(x0q, xq.units, "x0")
    return xq, yq, xq.magnitude - x0_mag, yq.magnitude, Q_(x0_mag, xq.units)


def _solve_design(a: np.ndarray, y: np.ndarray, sw: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted LS of a design matrix by column-scaled QR: coefficients, (A^T W A)^-1, residuals."""
    p = a.shape[1]
    aw = a * sw[:, None]
    scale = np.linalg.norm(aw, axis=0)
    if np.any(scale == 0):
        raise RegressionError("all x - x0 are zero: the polynomial terms cannot be fitted")
    q, r = np.linalg.qr(aw / scale)
    diag = np.abs(np.diag(r))
    if diag.min() <= 1e-13 * diag.max():
        raise RegressionError(
            "the x values do not determine the polynomial (design matrix is rank deficient): "
            "spread the calibration points over the range or lower the degree")
    cs = _back_substitute(r, q.T @ (y * sw))
    rinv = _back_substitute(r, np.eye(p))
    cov = (rinv @ rinv.T) / np.outer(scale, scale)
    coef = cs / scale
    return coef, cov, y - a @ coef


def _back_substitute(r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve R x = b for upper-triangular R (p x p, p small) by back substitution.

    What scipy's ``solve_triangular`` computes, without its BLAS call: for the few parameters of
    a calibration curve that call costs microseconds, but a multi-threaded OpenBLAS on a loaded
    machine was measured at 12.6 ms per call (OPENBLAS_NUM_THREADS=1: 9 µs).
    """
    x = np.array(b, dtype=float, copy=True)
    p = r.shape[0]
    for i in range(p - 1, -1, -1):
        if i + 1 < p:
            x[i] -= r[i, i + 1:] @ x[i + 1:]
        x[i] /= r[i, i]
    return x


def _solve_ls(dx: np.ndarray, y: np.ndarray, sw: np.ndarray, p: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted LS by column-scaled QR. Returns coefficients, (A^T W A)^-1, residuals."""
    return _solve_design(np.vander(dx, p, increasing=True), y, sw)


def _build(method: str, degree: int, xq: pint.Quantity, yq: pint.Quantity, x0: pint.Quantity,
           coef: np.ndarray, cov: np.ndarray, resid: np.ndarray,
           chi2: float | None, chi2_limit: float | None,
           rsd: float | None = None) -> PolynomialFit:
    n = yq.magnitude.size
    nu = n - (degree + 1)
    dy, dx = delta_unit(yq.units), delta_unit(xq.units)
    coefs = tuple(Q_(float(coef[k]), yq.units if k == 0 else dy / dx ** k)
                  for k in range(degree + 1))
    cov = np.array(cov, dtype=float)
    cov.flags.writeable = False
    if rsd is None:
        rsd = math.sqrt(float(resid @ resid) / nu) if nu > 0 else 0.0
    return PolynomialFit(
        method=method, degree=degree, x0=x0, coefficients=coefs, covariance=cov, n=n, dof=nu,
        residuals=Q_(resid, dy), residual_sd=Q_(rsd, dy), chi_square=chi2,
        chi_square_limit=chi2_limit,
        x_min=Q_(float(xq.magnitude.min()), xq.units), x_max=Q_(float(xq.magnitude.max()), xq.units),
    )


def ols(x: Any, y: Any, *, degree: int = 1, x0: Any = None,
        weights: Sequence[float] | None = None) -> PolynomialFit:
    """Ordinary least squares; u(y) unknown and estimated from the residuals (nu = n - p).

    ``weights`` (optional, dimensionless, > 0): relative weights w_i, when the observations'
    variances are known only up to a common factor, var(y_i) = sigma^2 / w_i (ISO/TS 28037
    7.4); sigma is then estimated from the weighted residuals.  Needs n > p.
    """
    xq, yq, dx, ym, x0q = _prepare(x, y, degree, x0)
    n, p = ym.size, degree + 1
    if n <= p:
        raise RegressionError(
            f"OLS with {n} points and {p} parameters leaves no degrees of freedom to estimate "
            "u(y) from the residuals: measure more points, or use wls() with known u(y)")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if w.size != n or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise RegressionError(f"weights: need {n} finite values > 0, got {weights!r}")
    sw = np.sqrt(w)
    coef, cov0, resid = _solve_ls(dx, ym, sw, p)
    s2 = float(np.sum(w * resid ** 2)) / (n - p)
    # residual_sd is the estimate s of sigma (the scatter of an observation of unit weight)
    return _build("OLS", degree, xq, yq, x0q, coef, cov0 * s2, resid, None, None,
                  rsd=math.sqrt(s2))


def wls(x: Any, y: Any, u_y: Any, *, degree: int = 1, x0: Any = None) -> PolynomialFit:
    """Weighted least squares with known standard uncertainties u(y_i) (weights 1/u(y_i)^2).

    ``u_y``: one uncertainty for all points or one per point, in the unit of y.  The parameter
    covariance (A^T W A)^-1 has infinite degrees of freedom; the chi-square check
    (:attr:`PolynomialFit.consistent`) tells whether the data agree with the stated u(y).
    """
    xq, yq, dx, ym, x0q = _prepare(x, y, degree, x0)
    n, p = ym.size, degree + 1
    if n < p:
        raise RegressionError(f"{n} points cannot determine {p} polynomial parameters")
    u = _uncertainty(u_y, delta_unit(yq.units), "u_y")
    if u.size == 1:
        u = np.full(n, u[0])
    if u.size != n:
        raise RegressionError(f"u_y: give one uncertainty or one per point ({n}), got {u.size}")
    if np.any(u <= 0):
        bad = [int(i) for i in np.flatnonzero(u <= 0)]
        raise RegressionError(
            f"u_y at index {bad} is zero: a weighted fit needs every u(y_i) > 0")
    coef, cov, resid = _solve_ls(dx, ym, 1.0 / u, p)
    chi2 = float(np.sum((resid / u) ** 2))
    limit = float(stats.chi2.ppf(CHI_SQUARE_PROBABILITY, n - p)) if n > p else None
    return _build("WLS", degree, xq, yq, x0q, coef, cov, resid, chi2, limit)


# --------------------------------------------------------------------------- general linear model

@dataclass(frozen=True, eq=False)
class LinearFit:
    """A least-squares fit of ``y = sum_k c_k g_k(x)`` for any basis functions g_k.

    Plain numbers (the caller owns the units): ``coefficients`` and the p x p ``covariance``
    (read-only), ``residuals`` y_i - f(x_i), ``dof`` = n - p, and for a weighted fit the
    observed ``chi_square`` with its 95 % limit.  Used where the curve is linear in its
    parameters but not a polynomial, e.g. the Callendar–Van Dusen equation with its C term
    below 0 °C (labauto.temperature.fits).
    """

    method: str                        # "OLS" or "WLS", as for PolynomialFit
    names: tuple[str, ...]
    coefficients: np.ndarray
    covariance: np.ndarray
    residuals: np.ndarray
    n: int
    dof: int
    residual_sd: float
    chi_square: float | None
    chi_square_limit: float | None
    y_correlated: bool = False         # the covariance propagated from a y covariance given

    @property
    def standard_uncertainties(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))

    @property
    def correlation(self) -> np.ndarray:
        d = self.standard_uncertainties
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self.covariance / np.outer(d, d)
        return np.where(np.outer(d, d) > 0, r, np.eye(len(d)))

    @property
    def consistent(self) -> bool:
        """WLS: chi^2 does not exceed its 95 % quantile (ISO/TS 28037 6.3).  OLS: always True."""
        if self.chi_square is None or self.chi_square_limit is None:
            return True
        return self.chi_square <= self.chi_square_limit

    def value(self, basis: Sequence[float]) -> float:
        """sum c_k g_k at one x, given the basis values g_k(x)."""
        return float(np.dot(self.coefficients, np.asarray(basis, dtype=float)))

    def variance(self, basis: Sequence[float]) -> float:
        """The variance of the fitted curve at one x: J V J^T with J = the basis values."""
        j = np.asarray(basis, dtype=float)
        return float(j @ self.covariance @ j)


@functools.lru_cache(maxsize=256)
def _chi2_limit(dof: int) -> float:
    """The chi-square quantile at CHI_SQUARE_PROBABILITY (scipy's ppf costs ~0.3 ms a call)."""
    return float(stats.chi2.ppf(CHI_SQUARE_PROBABILITY, dof))


def _solve_linear(a: np.ndarray, y: np.ndarray, sw: np.ndarray, names: Sequence[str]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        return _solve_design(a, y, sw)
    except RegressionError:
        raise RegressionError(
            f"the points do not determine the parameters {', '.join(names)} (the design matrix "
            "is rank deficient): spread the points over the range or fit fewer parameters"
        ) from None


def linear_fit(design: Any, y: Any, u_y: Any = None, *,
               names: Sequence[str] | None = None, y_covariance: Any = None) -> LinearFit:
    """Least squares of ``y`` on the columns of ``design`` (n x p), GUM / ISO/TS 28037 style.

    With ``u_y`` (one value or one per point): weighted least squares with known u(y_i),
    covariance (A^T W A)^-1, chi-square check, n >= p.  Without: ordinary least squares,
    covariance s^2 (A^T A)^-1 with s from the residuals, n > p.

    ``y_covariance`` (n x n, with ``u_y``): the y_i's errors are correlated (an influence
    common to several points); the weights stay 1/u(y_i)^2 and the coefficients' covariance
    is propagated from it (the law of propagation through the linear estimator G = (A^T W
    A)^-1 A^T W: G V_y G^T, which is (A^T W A)^-1 when V_y = W^-1).
    """
    a = np.asarray(design, dtype=float)
    ym = np.asarray(y, dtype=float).reshape(-1)
    if a.ndim != 2 or a.shape[0] != ym.size:
        raise RegressionError(
            f"the design matrix must have one row per observation ({ym.size}), got shape {a.shape}")
    n, p = a.shape
    names = tuple(names) if names is not None else tuple(f"c{k}" for k in range(p))
    if len(names) != p:
        raise RegressionError(f"give {p} names, one per column of the design matrix")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(ym))):
        raise RegressionError("the observations and the design matrix must be finite numbers")
    if n < p:
        raise RegressionError(
            f"{n} point(s) cannot determine {p} parameters ({', '.join(names)}): measure at "
            f"least {p} points")
    if u_y is None and y_covariance is not None:
        raise RegressionError("y_covariance needs u_y (the weights of the fit)")
    if u_y is None:
        if n == p:
            raise RegressionError(
                f"ordinary least squares with {n} points and {p} parameters leaves no degrees "
                "of freedom to estimate u(y): measure more points, or give u(y)")
        coef, cov0, resid = _solve_linear(a, ym, np.ones(n), names)
        s2 = float(resid @ resid) / (n - p)
        cov, chi2, limit, method, rsd = cov0 * s2, None, None, "OLS", math.sqrt(s2)
    else:
        u = np.asarray(u_y, dtype=float).reshape(-1)
        if u.size == 1:
            u = np.full(n, float(u[0]))
        if u.size != n or not np.all(np.isfinite(u)) or np.any(u <= 0):
            raise RegressionError(f"u_y: need one value > 0 or {n} values > 0, got {u_y!r}")
        coef, cov, resid = _solve_linear(a, ym, 1.0 / u, names)
        if y_covariance is not None:
            v = np.asarray(y_covariance, dtype=float)
            if v.shape != (n, n) or not np.all(np.isfinite(v)) or not np.allclose(v, v.T):
                raise RegressionError(f"y_covariance: need a symmetric {n} x {n} matrix of "
                                      f"finite numbers, got shape {v.shape}")
            g = np.asarray(cov) @ a.T / u ** 2
            cov = g @ v @ g.T
        chi2 = float(np.sum((resid / u) ** 2))
        limit = _chi2_limit(n - p) if n > p else None
        method = "WLS"
        rsd = math.sqrt(float(resid @ resid) / (n - p)) if n > p else 0.0
    cov = np.array(cov, dtype=float)
    cov.flags.writeable = False
    coef.flags.writeable = False
    return LinearFit(method, names, coef, cov, resid, n, n - p, rsd, chi2, limit,
                     y_covariance is not None)


__all__ = ["CHI_SQUARE_PROBABILITY", "LinearFit", "PolynomialFit", "Prediction",
           "RegressionError", "linear_fit", "ols", "wls"]

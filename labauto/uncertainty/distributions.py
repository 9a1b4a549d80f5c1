"""Input quantities: the state of knowledge about each input as a probability distribution.

Every distribution has an estimate x (its expectation), a standard uncertainty u(x) (its
standard deviation, used by the GUM law of propagation), degrees of freedom ν (for Welch-
Satterthwaite; ∞ when u(x) is known exactly) and a way to draw samples (JCGM 101:2008 6.4,
used by Monte Carlo).  Formulas, with a the half-width:

=========================  ================================  =============================
distribution               u(x)                              reference
=========================  ================================  =============================
Normal                     u (or U/k)                        GUM 4.3.4, JCGM 101 6.4.7
StudentT (scaled, shifted) scale s, or u given (s=u√((ν−2)/ν)) JCGM 101 6.4.9
Rectangular                a/√3                              GUM 4.3.7, JCGM 101 6.4.2
Triangular                 a/√6                              GUM 4.3.9, JCGM 101 6.4.5
Trapezoidal (β)            a·√((1+β²)/6)                     GUM 4.3.9, JCGM 101 6.4.4
CurvilinearTrapezoid (d)   √(a²/3 + d²/9)                    JCGM 101 6.4.3
Arcsine (U-shaped)         a/√2                              JCGM 101 6.4.6
Gamma (x > 0)              u (shape (x/u)², rate x/u²)       JCGM 106 9.5.4
=========================  ================================  =============================

Type A inputs (:class:`TypeA`) come from raw observations: x = mean, u = s/√n, ν = n−1
(GUM 4.2); several series observed simultaneously give correlated inputs (GUM 5.2.3, H.2).
For Monte Carlo a Type A input is a scaled and shifted t-distribution t_ν(x̄, s²/n)
(JCGM 101 6.4.9), whose standard deviation (√(ν/(ν−2))·s/√n) is larger than the GUM u.

All numbers given with units are pint quantities from :mod:`labauto.units`; uncertainties and
half-widths must be compatible with the estimate's unit (differences for °C).  Alternatively
give plain numbers and the unit once: ``Normal(10.0001, 20e-6, unit="V")`` is
``Normal(Q_(10.0001, "V"), Q_(20e-6, "V"))`` without building the two pint quantities (pint
takes about 4 µs for each, which dominates building a 50-input model).
"""
from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pint
from scipy import stats

from labauto.uncertainty.errors import ModelError
from labauto.uncertainty.quantities import UnitScale, as_quantity, delta_unit, diff_magnitude, quantity
from labauto.units import Q_, ureg


def _dof(dof: Any, what: str) -> float:
    if dof is None:
        return math.inf
    try:
        d = float(dof)
    except (TypeError, ValueError):
        raise ModelError(f"{what}: degrees of freedom must be a number > 0 or inf, got {dof!r}") from None
    if not d > 0:
        raise ModelError(f"{what}: degrees of freedom must be > 0, got {dof!r}")
    return d


def _number(value: Any, what: str) -> float:
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ModelError(f"{what}: with unit= give a plain number, got {value!r}")
    return float(value)


_UNITS: dict[str, pint.Unit] = {}


def _unit(unit: Any, label: str) -> pint.Unit:
    """The ``unit=`` argument as a pint Unit (each distinct text parsed once)."""
    if type(unit) is str:
        hit = _UNITS.get(unit)
        if hit is not None:
            return hit
    elif isinstance(unit, pint.Unit):
        return unit
    elif isinstance(unit, pint.Quantity):
        raise ModelError(f"input {label!r}: unit= takes a unit such as 'mV', not a quantity ({unit:~P})")
    try:
        parsed = ureg.Unit(str(unit))
    except Exception:
        raise ModelError(f"input {label!r}: unit={unit!r} is not a known unit") from None
    if type(unit) is str and len(_UNITS) < 1024:
        _UNITS[unit] = parsed
    return parsed


def coverage_factor(p: float, dof: float = math.inf) -> float:
    """k with coverage probability ``p`` for a t-distribution with ``dof`` (normal for ∞)."""
    if not 0 < p < 1:
        raise ModelError(f"coverage probability must be between 0 and 1, got {p!r}")
    try:
        return _coverage_factor(p, dof)
    except TypeError:  # unhashable argument (e.g. a numpy array): no cache
        return _coverage_factor.__wrapped__(p, dof)


@lru_cache(maxsize=4096)
def _coverage_factor(p: float, dof: float) -> float:
    """scipy's ppf takes ~50 µs a call; budgets ask for the same few (p, ν) over and over."""
    q = (1.0 + p) / 2.0
    return float(stats.norm.ppf(q) if math.isinf(dof) else stats.t.ppf(q, dof))


class Distribution:
    """Base class: estimate (pint quantity), standard uncertainty, ν, label, sampler."""

    #: name shown in the budget's distribution column
    kind: str = "distribution"
    #: (U, k, p) when built from an expanded uncertainty
    expanded: tuple | None = None

    def __init__(self, estimate: Any, *, dof: Any = math.inf, label: str = "", unit: Any = None):
        if unit is None:
            self._numbers_in = None
            self.estimate: pint.Quantity = as_quantity(estimate, f"input {label or ''} estimate".replace("  ", " "))
            units = self.estimate.units
        else:   # plain numbers in ``unit`` (a difference unit for uncertainties of °C values)
            units = self._numbers_in = _unit(unit, label)
            if isinstance(estimate, pint.Quantity):
                raise ModelError(f"input {label!r}: give quantities or plain numbers with unit=, not both "
                                 f"(estimate {estimate:~P} with unit={unit!r})")
            self.estimate = quantity(_number(estimate, f"input {label!r} estimate"), units)
        if not math.isfinite(float(self.estimate.magnitude)):
            raise ModelError(f"input {label!r}: the estimate must be a finite number, got {self.estimate}")
        self.dof: float = math.inf if dof is math.inf else _dof(dof, f"input {label!r}")
        self.label: str = label
        self.scale = UnitScale(units)

    # -- the two numbers the GUM needs -------------------------------------------------
    @property
    def x(self) -> float:
        """Estimate magnitude in the estimate's unit."""
        return float(self.estimate.magnitude)

    @property
    def u_mag(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def u(self) -> pint.Quantity:
        """Standard uncertainty u(x) in the estimate's unit (a difference for °C)."""
        return quantity(self.u_mag, self.scale.delta)

    # -- Monte Carlo -------------------------------------------------------------------
    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws of X − x in the estimate's (difference) unit."""
        raise NotImplementedError  # pragma: no cover

    def sample_base(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws of X in SI base units."""
        return self.scale.value_to_base(self.x) + self.deviations(rng, n) * self.scale.factor

    def _diff(self, q: Any, what: str) -> float:
        if self._numbers_in is not None:   # a plain number in the unit= unit (a difference for °C)
            if isinstance(q, pint.Quantity):
                raise ModelError(f"input {self.label!r}: give quantities or plain numbers with unit=, "
                                 f"not both ({what} {q:~P})")
            m = _number(q, f"input {self.label!r} {what}")
            if not math.isfinite(m) or m < 0:
                raise ModelError(f"input {self.label!r}: {what} must be finite and >= 0, got {q!r}")
            return m
        qq = as_quantity(q, f"input {self.label!r} {what}")
        m = diff_magnitude(qq, self.scale.unit, f"input {self.label!r} {what}")
        if not math.isfinite(m) or m < 0:
            raise ModelError(f"input {self.label!r}: {what} must be finite and >= 0, got {qq}")
        return m

    def describe(self) -> dict[str, Any]:
        """Parameters as plain data (for JSON output)."""
        return {"distribution": self.kind, "estimate": f"{self.estimate:~P}",
                "standard_uncertainty": f"{self.u:~P}",
                "dof": None if math.isinf(self.dof) else self.dof, "label": self.label}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.estimate:~P}, u={self.u:~P}, dof={self.dof}, "
                f"label={self.label!r})")


class Normal(Distribution):
    """Gaussian N(x, u²).  ``dof`` only matters for Welch-Satterthwaite (MC draws a Gaussian)."""

    kind = "normal"

    def __init__(self, estimate: Any, u: Any, dof: Any = math.inf, label: str = "", unit: Any = None):
        super().__init__(estimate, dof=dof, label=label, unit=unit)
        self._u = self._diff(u, "standard uncertainty")

    @property
    def u_mag(self) -> float:
        return self._u

    @classmethod
    def from_expanded(cls, estimate: Any, U: Any, k: float | None = None,
                      coverage_probability: float | None = None, dof: Any = math.inf,
                      label: str = "", unit: Any = None) -> "Normal":
        """From a certificate's expanded uncertainty: u = U/k, with k stated, or derived from the
        coverage probability p (normal for ν = ∞, e.g. 95 % -> 1.960, 99 % -> 2.576; t_ν otherwise)."""
        if (k is None) == (coverage_probability is None):
            raise ModelError(f"input {label!r}: give exactly one of k or coverage_probability "
                             "for the expanded uncertainty")
        if k is None:
            k = coverage_factor(float(coverage_probability), _dof(dof, f"input {label!r}"))  # type: ignore[arg-type]
        if not (isinstance(k, (int, float)) and k > 0 and math.isfinite(k)):
            raise ModelError(f"input {label!r}: coverage factor k must be a number > 0, got {k!r}")
        if unit is not None:
            dist = cls(estimate, _number(U, f"input {label!r} expanded uncertainty") / float(k), dof=dof,
                       label=label, unit=unit)
            Uq = quantity(float(U), dist.scale.delta)
        else:
            Uq = as_quantity(U, f"input {label!r} expanded uncertainty")
            dist = cls(estimate, Uq / float(k), dof=dof, label=label)
        dist.expanded = (Uq, float(k), coverage_probability)
        return dist

    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._u * rng.standard_normal(n)


class Constant(Distribution):
    """An exactly known value (u = 0), e.g. a nominal value or reference condition with a unit.
    Constants take part in the equations but have no row in the budget."""

    kind = "constant"

    def __init__(self, value: Any, label: str = "", unit: Any = None):
        super().__init__(value, dof=math.inf, label=label, unit=unit)

    @property
    def u_mag(self) -> float:
        return 0.0

    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.zeros(n)


class StudentT(Distribution):
    """Scaled and shifted t-distribution t_ν(x, s²) (JCGM 101 6.4.9), given by its scale ``s``
    or by its standard uncertainty ``u`` (its standard deviation), never both.

    * scale given (a Type A mean: s/√n, ν = n−1): the GUM uses u(x) = s with ν degrees of
      freedom (GUM 4.2.3, G.3); Monte Carlo draws x + s·T_ν, whose standard deviation
      s·√(ν/(ν−2)) is larger.
    * standard uncertainty given (as published budgets state it): the GUM uses u(x) = u;
      Monte Carlo draws with the scale s = u·√((ν−2)/ν), so its standard deviation is u.
      This needs ν > 2 (for ν ≤ 2 a t-distribution has no finite standard deviation).

    ``given`` says which one was given; :attr:`note` states it, and the u used, for the budget.
    """

    kind = "t"

    def __init__(self, estimate: Any, scale: Any = None, dof: Any = None, label: str = "",
                 unit: Any = None, *, standard_uncertainty: Any = None):
        if dof is None:
            raise ModelError(f"input {label!r}: a t-distribution needs its degrees of freedom (dof)")
        super().__init__(estimate, dof=dof, label=label, unit=unit)
        if math.isinf(self.dof):
            raise ModelError(f"input {label!r}: a t-distribution needs finite degrees of freedom; "
                             "use Normal for ν = ∞")
        if (scale is None) == (standard_uncertainty is None):
            raise ModelError(f"input {label!r}: give a t-distribution either its scale or its "
                             "standard uncertainty, not "
                             + ("both" if scale is not None else "neither"))
        if scale is not None:
            self.given = "scale"
            self._s = self._diff(scale, "scale")
            self._u = self._s
        else:
            if not self.dof > 2:
                raise ModelError(f"input {label!r}: a t-distribution with ν = {self.dof:g} ≤ 2 has no "
                                 "finite standard deviation; give its scale instead of its "
                                 "standard uncertainty")
            self.given = "standard_uncertainty"
            self._u = self._diff(standard_uncertainty, "standard uncertainty")
            self._s = self._u * math.sqrt((self.dof - 2) / self.dof)

    @property
    def u_mag(self) -> float:
        return self._u

    @property
    def scale_mag(self) -> float:
        return self._s

    @property
    def scale_parameter(self) -> pint.Quantity:
        """The scale s of the t-distribution (what Monte Carlo multiplies T_ν by)."""
        return quantity(self._s, self.scale.delta)

    @property
    def note(self) -> str:
        s, nu = f"{self.scale_parameter:~.4gP}", f"{self.dof:g}"
        if self.given == "scale":
            sd = quantity(self._s * math.sqrt(self.dof / (self.dof - 2)), self.scale.delta) \
                if self.dof > 2 else None
            return (f"t-distribution given by its scale s = {s} (ν = {nu}); the GUM uses u = s "
                    "(GUM 4.2.3, G.3)" + (f"; its standard deviation s·√(ν/(ν−2)) = {sd:~.4gP} "
                                          "is what Monte Carlo draws" if sd is not None else ""))
        return (f"t-distribution given by its standard uncertainty u = {self.u:~.4gP} (ν = {nu}); "
                f"the GUM uses u; Monte Carlo draws with the scale s = u·√((ν−2)/ν) = {s}")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "given": self.given,
                "scale": f"{self.scale_parameter:~P}", "note": self.note}

    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._s * rng.standard_t(self.dof, n)


class Gamma(Distribution):
    """Gamma distribution with expectation x > 0 and standard deviation u: shape α = (x/u)²,
    rate λ = x/u² (JCGM 106:2012 9.5.4 uses it for a quantity that cannot be negative, the radial
    error motion of bearings: α = 4, λ = 4 µm⁻¹, i.e. x = 1 µm, u = 0.5 µm)."""

    kind = "gamma"

    def __init__(self, estimate: Any, u: Any, dof: Any = math.inf, label: str = "", unit: Any = None):
        super().__init__(estimate, dof=dof, label=label, unit=unit)
        self._u = self._diff(u, "standard uncertainty")
        if self.scale.offset or not (self.x > 0 and self._u > 0):
            raise ModelError(f"input {label!r}: a gamma distribution needs an estimate > 0 (its "
                             "expectation, in a unit without offset) and a standard uncertainty > 0")

    @property
    def u_mag(self) -> float:
        return self._u

    @property
    def shape(self) -> float:
        return (self.x / self._u) ** 2

    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.shape, self._u ** 2 / self.x, n) - self.x


class _SymmetricBounded(Distribution):
    """A distribution symmetric about the estimate on [x − a, x + a] (``a``: the half-width)."""

    def __init__(self, estimate: Any, halfwidth: Any, label: str = "", dof: Any = math.inf, unit: Any = None):
        super().__init__(estimate, dof=dof, label=label, unit=unit)
        self.a = self._diff(halfwidth, "half-width")


class Rectangular(_SymmetricBounded):
    """Uniform on [x − a, x + a]: u = a/√3."""

    kind = "rectangular"

    @classmethod
    def from_limits(cls, lower: Any, upper: Any, label: str = "", dof: Any = math.inf) -> "Rectangular":
        lo, hi = as_quantity(lower, f"input {label!r} lower limit"), as_quantity(upper, f"input {label!r} upper limit")
        hi = hi.to(lo.units)
        if hi.magnitude < lo.magnitude:
            raise ModelError(f"input {label!r}: upper limit {hi} is below lower limit {lo}")
        mid = Q_((lo.magnitude + hi.magnitude) / 2, lo.units)
        return cls(mid, Q_((hi.magnitude - lo.magnitude) / 2, delta_unit(lo.units)), label=label, dof=dof)

    @property
    def u_mag(self) -> float:
        return self.a / math.sqrt(3.0)

    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.a * (2.0 * rng.random(n) - 1.0)


class Triangular(_SymmetricBounded):
    """Symmetric triangle on [x − a, x + a]: u = a/√6."""

    kind = "triangular"

    @property
    def u_mag(self) -> float:
        return self.a / math.sqrt(6.0)

    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.a * (rng.random(n) + rng.random(n) - 1.0)


class Trapezoidal(_SymmetricBounded):
    """Symmetric trapezoid of half-width a whose top has half-width β·a (0 ≤ β ≤ 1):
    u² = a²(1 + β²)/6 (GUM 4.3.9; β = 0 triangular, β = 1 rectangular)."""

    kind = "trapezoidal"

    def __init__(self, estimate: Any, halfwidth: Any, beta: float, label: str = "", dof: Any = math.inf,
                 unit: Any = None):
        super().__init__(estimate, halfwidth, label=label, dof=dof, unit=unit)
        if not (isinstance(beta, (int, float)) and 0.0 <= float(beta) <= 1.0):
            raise ModelError(f"input {label!r}: trapezoid beta must be between 0 and 1, got {beta!r}")
        self.beta = float(beta)

    @property
    def u_mag(self) -> float:
        return self.a * math.sqrt((1.0 + self.beta ** 2) / 6.0)

    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # JCGM 101 6.4.4.4: sum of two uniforms with half-widths a(1+β)/2 and a(1-β)/2
        b = self.beta
        return self.a * ((1 + b) * rng.random(n) + (1 - b) * rng.random(n) - 1.0)


class CurvilinearTrapezoid(Distribution):
    """Rectangular with inexactly known limits: half-width a known only to ± d
    (JCGM 101 6.4.3): u² = a²/3 + d²/9."""

    kind = "curvilinear trapezoid"

    def __init__(self, estimate: Any, halfwidth: Any, d: Any, label: str = "", dof: Any = math.inf,
                 unit: Any = None):
        super().__init__(estimate, dof=dof, label=label, unit=unit)
        self.a = self._diff(halfwidth, "half-width")
        self.d = self._diff(d, "limit uncertainty d")
        if self.d > self.a:
            raise ModelError(f"input {label!r}: d must not exceed the half-width a")

    @property
    def u_mag(self) -> float:
        return math.sqrt(self.a ** 2 / 3.0 + self.d ** 2 / 9.0)

    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # JCGM 101 6.4.3.4: half-width itself uniform on [a - d, a + d]
        half = self.a - self.d + 2.0 * self.d * rng.random(n)
        return half * (2.0 * rng.random(n) - 1.0)


class Arcsine(_SymmetricBounded):
    """U-shaped (arcsine) on [x − a, x + a], e.g. a sinusoidal cycle: u = a/√2 (JCGM 101 6.4.6)."""

    kind = "arcsine"

    @property
    def u_mag(self) -> float:
        return self.a / math.sqrt(2.0)

    def deviations(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.a * np.sin(2.0 * math.pi * rng.random(n))


# --------------------------------------------------------------------------- Type A
def _observations(q: Any, what: str) -> tuple[np.ndarray, pint.Unit]:
    if isinstance(q, pint.Quantity):
        mags, unit = np.atleast_1d(np.asarray(q.magnitude, dtype=float)), q.units
    else:
        try:
            mags, unit = np.atleast_1d(np.asarray(q, dtype=float)), Q_(1.0, "dimensionless").units
        except (TypeError, ValueError):
            raise ModelError(f"{what}: observations must be numbers (a pint quantity array)") from None
    if mags.ndim != 1:
        raise ModelError(f"{what}: observations must be a one-dimensional series")
    if mags.size < 2:
        raise ModelError(f"{what}: {mags.size} observation(s); a Type A evaluation needs at least 2")
    if not np.all(np.isfinite(mags)):
        raise ModelError(f"{what}: the observations contain non-finite values")
    return mags, unit


class TypeAInput(StudentT):
    """A Type A input from raw observations: x = mean, u = s/√n, ν = n − 1 (GUM 4.2)."""

    kind = "Type A"

    def __init__(self, observations: Any, label: str = ""):
        mags, unit = _observations(observations, f"input {label!r}")
        n = mags.size
        mean = float(np.mean(mags))
        s = float(np.std(mags, ddof=1))
        super().__init__(Q_(mean, unit), Q_(s / math.sqrt(n), delta_unit(unit)), dof=n - 1, label=label)
        self.observations = Q_(mags, unit)
        self.n = n
        self.experimental_std = Q_(s, delta_unit(unit))


@dataclass
class CorrelatedObservations:
    """Inputs from simultaneous observation series and the correlations of their means
    (GUM 5.2.3, C.3.6: r(x̄_i, x̄_j) = s(x̄_i, x̄_j) / (s(x̄_i) s(x̄_j)))."""

    inputs: dict[str, TypeAInput] = field(default_factory=dict)
    correlations: dict[tuple[str, str], float] = field(default_factory=dict)


class TypeA:
    """Type A evaluation (GUM 4.2) from observations."""

    def __init__(self) -> None:  # pragma: no cover - namespace only
        raise TypeError("use TypeA.from_observations(...) or TypeA.correlated(...)")

    @staticmethod
    def from_observations(observations: Any, label: str = "") -> TypeAInput:
        """Mean of ``observations`` (a pint quantity array) with u = s/√n and ν = n − 1."""
        return TypeAInput(observations, label=label)

    @staticmethod
    def correlated(series: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> CorrelatedObservations:
        """Several quantities observed simultaneously (same n, observation k of each taken
        together, GUM H.2): one Type A input per series plus the correlation coefficients of
        their means.  Pass ``result.inputs`` and ``result.correlations`` to :class:`Model`."""
        labels = dict(labels or {})
        if len(series) < 2:
            raise ModelError("TypeA.correlated needs at least two observation series")
        inputs = {name: TypeAInput(obs, label=labels.get(name, name)) for name, obs in series.items()}
        sizes = {name: inp.n for name, inp in inputs.items()}
        if len(set(sizes.values())) != 1:
            raise ModelError("simultaneous observation series must have the same number of "
                             f"observations, got {sizes}")
        names = list(inputs)
        data = np.vstack([inputs[nm].observations.magnitude for nm in names])
        r = np.corrcoef(data)
        corr = {}
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if not math.isfinite(r[i, j]):
                    raise ModelError(f"series {names[i]!r} or {names[j]!r} has zero spread; "
                                     "their correlation is undefined")
                corr[(names[i], names[j])] = float(r[i, j])
        return CorrelatedObservations(inputs, corr)

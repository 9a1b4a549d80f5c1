"""GUM law of propagation of uncertainty (JCGM 100:2008, clause 5 and annex G).

For outputs Y = f(X) linearised at the input estimates x::

    y_j       = f_j(x)
    c_ji      = ∂f_j/∂x_i at x                       (exact: symbolic derivatives)
    U_y       = C U_x Cᵀ,  U_x[i,k] = r_ik u(x_i) u(x_k)      (GUM 5.2.2; multivariate form
                                                             of JCGM 102 6.2.1.3)

Optional second-order terms (GUM 5.1.2 note, for Gaussian inputs), generalised to correlated
inputs and to the covariance of two outputs a, b::

    ½ tr(H_a U_x H_b U_x) + ½ (U_x g_a)·(T_b : U_x) + ½ (U_x g_b)·(T_a : U_x)

where g, H, T are the first, second and third derivatives; for uncorrelated inputs and a = b
this is Σ_i Σ_k [½ (∂²f/∂x_i∂x_k)² + ∂f/∂x_i ∂³f/∂x_i∂x_k²] u²(x_i) u²(x_k).

Effective degrees of freedom (Welch-Satterthwaite, GUM G.4.1)::

    ν_eff = u_c⁴(y) / Σ_i (c_i u(x_i))⁴ / ν_i

It assumes *independent* inputs.  :meth:`GumResult.budget` therefore refuses it (raising
:class:`WelchSatterthwaiteError`) for an output to which two correlated inputs contribute when
either has finite ν — state a coverage factor instead (``budget(y, k=2)``) or use Monte
Carlo.  For a model with several outputs ν_eff is a property of each output separately; no
ν_eff is given for their joint covariance.  With second-order terms, the non-linear part of
u_c² counts as a component with ν = ∞.  k = t_p(ν) with ν = ⌊ν_eff⌋ (GUM G.4.1 note:
truncation to the next lower integer), p = 95 % by default.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pint

from labauto.uncertainty.budget import Contribution, UncertaintyBudget
from labauto.uncertainty.distributions import Constant, coverage_factor
from labauto.uncertainty.errors import ModelError, WelchSatterthwaiteError
from labauto.uncertainty.model import Model, finite_value
from labauto.uncertainty.quantities import UnitScale, is_logarithmic, quantity
from labauto.units import Q_, ureg

METHOD = "GUM law of propagation of uncertainty (JCGM 100:2008)"
METHOD_2ND = "GUM law of propagation of uncertainty with second-order terms (JCGM 100:2008 5.1.2)"


def _sensitivity_unit(y_unit: pint.Unit, x_unit: pint.Unit) -> tuple[pint.Unit, float]:
    """Unit of ∂y/∂x (reduced to a plain number when dimensionless) and the factor to it."""
    if is_logarithmic(y_unit) or is_logarithmic(x_unit):   # dB/dB = 1; dB/Np stays dB/Np
        unit = y_unit / x_unit
        return (unit if unit._units else ureg.Unit("dimensionless")), 1.0
    q = Q_(1.0, y_unit / x_unit)
    if q.dimensionless:
        return q.to("dimensionless").units, float(q.to("dimensionless").magnitude)
    return q.units, 1.0


_SENSITIVITY_UNITS: dict[tuple, tuple[pint.Unit, float]] = {}


def welch_satterthwaite(u_c: float, components: list[tuple[float, float]]) -> float:
    """ν_eff = u_c⁴ / Σ u_i⁴/ν_i for components (u_i(y), ν_i); ∞ when all ν_i are ∞.

    A result within float noise of a whole number is that number: one component with ν = 9
    scaled by c = 3 gives 8.999999999999995, whose ⌊ν_eff⌋ = 8 would inflate k.
    """
    denom = sum(ui ** 4 / nu for ui, nu in components if not math.isinf(nu) and ui != 0.0)
    if denom == 0.0:
        return math.inf
    nu = float(u_c ** 4 / denom)
    return float(round(nu)) if abs(nu - round(nu)) <= 1e-9 * nu else nu


@dataclass
class GumResult:
    """Outputs of :func:`gum`: estimates, sensitivities, output covariance, budgets."""

    model: Model
    y_base: dict[str, float]
    jacobian: np.ndarray          # outputs x inputs, SI base units
    input_covariance: np.ndarray  # SI base units
    covariance_base: np.ndarray   # outputs x outputs, SI base units (incl. 2nd order if asked)
    second_order: bool

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.model.outputs

    # -- per output -----------------------------------------------------------------
    def _j(self, name: str | None) -> int:
        return self.model.outputs.index(self.model._output(name))

    def _u_in(self) -> np.ndarray:
        """u(x_i) in SI base units (from the diagonal of the input covariance), computed once."""
        u = self.__dict__.get("_u_in_cache")
        if u is None:
            u = self.__dict__["_u_in_cache"] = np.sqrt(np.diag(self.input_covariance))
        return u

    def estimate(self, name: str | None = None) -> pint.Quantity:
        y = self.model._output(name)
        return self.model.output_scales[y].value_from_base(self.y_base[y])

    def u(self, name: str | None = None) -> pint.Quantity:
        """Combined standard uncertainty u_c(y)."""
        j = self._j(name)
        y = self.model.outputs[j]
        return self.model.output_scales[y].diff_from_base(math.sqrt(max(self.covariance_base[j, j], 0.0)))

    def sensitivity(self, output: str | None, input_name: str) -> pint.Quantity:
        """c_i = ∂y/∂x_i in (unit of y) / (unit of x_i)."""
        j = self._j(output)
        i = self.model.input_index.get(input_name)
        if i is None:
            i = self.model.input_names.index(input_name)   # raises the usual ValueError
        return self._sensitivity(self.model.output_scales[self.model.outputs[j]], float(self.jacobian[j, i]),
                                 input_name)

    def _sensitivity(self, ys: UnitScale, c_base: float, input_name: str) -> pint.Quantity:
        """c_i from its value ``c_base`` in SI base units."""
        xs = self.model.input_scales[input_name]
        yd, xd = ys.delta, xs.delta
        key = (yd._units, xd._units)   # (pint's Unit == costs microseconds; containers are shared)
        hit = _SENSITIVITY_UNITS.get(key)
        if hit is None:
            if len(_SENSITIVITY_UNITS) > 4096:
                _SENSITIVITY_UNITS.clear()
            hit = _SENSITIVITY_UNITS[key] = _sensitivity_unit(yd, xd)
        unit, scale = hit
        return quantity(c_base * xs.factor / ys.factor * scale, unit)

    def nu_eff(self, name: str | None = None) -> float:
        """Welch-Satterthwaite ν_eff of one output (raises where it does not apply)."""
        j = self._j(name)
        y = self.model.outputs[j]
        deps = self.model.dependencies[y]
        index = self.model.input_index
        idx = [index[n] for n in deps]
        u_in = self._u_in()
        for (a, b), r in self.model.correlations.items():   # only the nonzero pairs given
            if a not in deps or b not in deps:
                continue
            ia, ib = index[a], index[b]
            da, db = self.model.inputs[a].dof, self.model.inputs[b].dof
            if (r != 0.0 and self.jacobian[j, ia] * u_in[ia] != 0.0 and self.jacobian[j, ib] * u_in[ib] != 0.0
                    and not (math.isinf(da) and math.isinf(db))):
                raise WelchSatterthwaiteError(
                    f"output {y!r}: the Welch-Satterthwaite formula (GUM G.4.2) assumes independent "
                    f"inputs, but {a!r} (ν = {da:g}) and {b!r} (ν = {db:g}) are correlated (r = {r:.3g}). "
                    "No effective degrees of freedom can be given: state a coverage factor "
                    f"(budget({y!r}, k=...)) or evaluate with Monte Carlo (monte_carlo / --mc).")
        inputs = self.model.inputs
        comps = [(abs(self.jacobian[j, i]) * u_in[i], inputs[n].dof) for i, n in zip(idx, deps)]
        return welch_satterthwaite(math.sqrt(max(self.covariance_base[j, j], 0.0)), comps)

    def budget(self, name: str | None = None, coverage_probability: float = 0.95, k: float | None = None,
               dof_rounding: str = "floor") -> UncertaintyBudget:
        """The :class:`UncertaintyBudget` of one output.

        k defaults to t_p(⌊ν_eff⌋) (``dof_rounding="none"``: t_p(ν_eff) unrounded).  Passing
        ``k`` states the coverage factor (e.g. k = 2); ν_eff is then still computed where it
        applies and recorded as ∞ where it does not.
        """
        j = self._j(name)
        y = self.model.outputs[j]
        ys = self.model.output_scales[y]
        u_c = math.sqrt(max(self.covariance_base[j, j], 0.0))
        u_in = self._u_in().tolist()        # plain floats: numpy scalar indexing and arithmetic
        jac = self.jacobian[j].tolist()      # cost ~10x more, 50 rows a budget
        index, inputs = self.model.input_index, self.model.inputs
        rows = []
        for n in self.model.dependencies[y]:
            i = index[n]
            dist = inputs[n]
            if isinstance(dist, Constant):
                continue
            c = jac[i]
            contrib = abs(c) * u_in[i]
            rows.append(Contribution(
                name=n, estimate=dist.estimate, standard_uncertainty=dist.u, distribution=dist.kind,
                dof=dist.dof, sensitivity=self._sensitivity(ys, c, n),
                contribution=ys.diff_from_base(contrib),
                variance_share=(contrib ** 2 / u_c ** 2) if u_c > 0 else 0.0, source=dist.label,
                note=getattr(dist, "note", "")))
        method = METHOD_2ND if self.second_order else METHOD
        if k is None:
            nu = self.nu_eff(y)
            if dof_rounding == "floor":
                nu_k = nu if math.isinf(nu) else max(1.0, float(math.floor(nu)))
            elif dof_rounding == "none":
                nu_k = nu
            else:
                raise ValueError("dof_rounding must be 'floor' or 'none'")
            kk = coverage_factor(coverage_probability, nu_k)
        else:
            try:
                nu = self.nu_eff(y)
            except WelchSatterthwaiteError:
                nu = math.inf
            if not (isinstance(k, (int, float)) and k > 0):
                raise ValueError(f"coverage factor k must be > 0, got {k!r}")
            kk = float(k)
            method += f"; coverage factor k = {kk:g} stated"
        return UncertaintyBudget(
            measurand=y, estimate=self.estimate(y), combined_uncertainty=ys.diff_from_base(u_c),
            dof_eff=nu, coverage_factor=kk, expanded_uncertainty=ys.diff_from_base(kk * u_c),
            coverage_probability=coverage_probability, rows=tuple(rows), method=method)

    # -- between outputs --------------------------------------------------------------
    @property
    def covariance(self) -> np.ndarray:
        """Output covariance matrix, in the outputs' units (order :attr:`outputs`)."""
        f = np.array([self.model.output_scales[y].factor for y in self.model.outputs])
        return self.covariance_base / np.outer(f, f)

    @property
    def correlation(self) -> np.ndarray:
        """Output correlation matrix r(y_a, y_b) (order :attr:`outputs`)."""
        s = np.sqrt(np.diag(self.covariance_base))
        with np.errstate(all="ignore"):
            r = self.covariance_base / np.outer(s, s)
        r[~np.isfinite(r)] = 0.0
        np.fill_diagonal(r, 1.0)
        return r

    def cov(self, a: str, b: str) -> pint.Quantity:
        ia, ib = self._j(a), self._j(b)
        sa, sb = self.model.output_scales[a], self.model.output_scales[b]
        return Q_(self.covariance_base[ia, ib] / (sa.factor * sb.factor), sa.delta * sb.delta)

    def corr(self, a: str, b: str) -> float:
        return float(self.correlation[self._j(a), self._j(b)])


def _second_order_cov(model: Model, env: dict[str, float], J: np.ndarray, Ux: np.ndarray) -> np.ndarray:
    names = model.input_names
    n, m = len(names), len(model.outputs)
    H = np.zeros((m, n, n))
    T = np.zeros((m, n, n, n))
    for j, y in enumerate(model.outputs):
        deps = [names.index(v) for v in model.dependencies[y]]
        for a in deps:
            for b in deps:
                if b < a:
                    continue
                dab = model.derivative(y, names[a], names[b])
                H[j, a, b] = H[j, b, a] = finite_value(dab, env, f"∂²{y}/∂{names[a]}∂{names[b]}")
                for c in deps:
                    if c < b:
                        continue
                    v = finite_value(model.derivative(y, names[a], names[b], names[c]), env, f"third derivative of {y}")
                    for p in set(itertools.permutations((a, b, c))):
                        T[j][p] = v
    extra = np.zeros((m, m))
    for a in range(m):
        Ta = np.einsum("ijk,jk->i", T[a], Ux)
        for b in range(m):
            Tb = np.einsum("ijk,jk->i", T[b], Ux)
            extra[a, b] = (0.5 * np.trace(H[a] @ Ux @ H[b] @ Ux)
                           + 0.5 * (Ux @ J[a]) @ Tb + 0.5 * (Ux @ J[b]) @ Ta)
    return extra


def gum(model: Model, second_order: bool = False) -> GumResult:
    """Evaluate ``model`` by the GUM law of propagation of uncertainty."""
    if second_order and not model.symbolic:
        raise ModelError("second-order terms (GUM 5.1.2) need exact second and third derivatives: "
                         "give the model as equations, or evaluate it by Monte Carlo")
    y_base, J = model.linearise()
    u = model.uncertainties_base()
    Ux = model.correlation_matrix * np.outer(u, u)
    Uy = J @ Ux @ J.T
    if second_order:
        env = {k: np.float64(v) for k, v in model.estimates_base().items()}
        Uy = Uy + _second_order_cov(model, env, J, Ux)
    return GumResult(model=model, y_base=y_base, jacobian=J, input_covariance=Ux,
                     covariance_base=Uy, second_order=second_order)

"""Measurement models given as Python functions: ``Model(f, inputs=...)``.

An equation text (:mod:`labauto.uncertainty.expression`) is the first choice: it is checked
for units before any arithmetic and differentiated exactly.  Some models are easier to write
as code (a lookup, a loop, a library call); for those, pass the function::

    def end_gauge(l_s, d, alpha_s, theta, d_alpha, d_theta):
        return l_s + d - l_s * (d_alpha * theta + alpha_s * d_theta)

    model = Model(end_gauge, inputs={"l_s": Normal(50000623.6, 25, unit="nm"), ...}, outputs="l")

The function is called with one keyword argument per input (its parameter names are the input
names), each a pint quantity of :mod:`labauto.units` — a number when the model is checked, a
numpy array for Monte Carlo — and returns a quantity (a plain number is dimensionless), a
tuple of them (name them with ``outputs=[...]``), a named tuple or a dict
``{output name: quantity}``.  Write
it with numpy functions (``np.sqrt``, not ``math.sqrt``) so that it works on arrays.

* Units: the function is called once with the input estimates when the model is built; pint
  refuses inconsistent units there (:class:`UnitConsistencyError`), before any uncertainty is
  computed.  An output's unit is the unit the function returns it in (``units=`` overrides).
* The function always gets each input in the unit it was given in (an estimate in °C comes as
  a °C quantity, also for Monte Carlo), so code that reads ``.magnitude`` behaves the same.
* Sensitivity coefficients: numerical, by central differences with steps h = u(x_i)/100 (at
  least 10⁻⁷·|x_i|) and h/2 combined by Richardson extrapolation (truncation error O(h⁴); for
  a quadratic model exact up to rounding), all 4N + 1 points in one vectorised call.  No second-order terms
  (they need exact higher derivatives): use Monte Carlo for a strongly non-linear function.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pint

from labauto.uncertainty.distributions import CorrelatedObservations, Distribution
from labauto.uncertainty.errors import ModelError, UnitConsistencyError
from labauto.uncertainty.model import Model, _error, requested_unit
from labauto.uncertainty.quantities import UnitScale, base_unit
from labauto.units import Q_, ureg

#: step of the numerical derivatives, in units of u(x_i) ...
STEP = 1e-2
#: ... but at least this fraction of |x_i|
MIN_RELATIVE_STEP = 1e-7


def _as_mapping(result: Any) -> Mapping[str, Any] | None:
    """A dict result, or a named tuple's fields as one; None for anything else."""
    if isinstance(result, Mapping):
        return result
    if isinstance(result, tuple) and hasattr(result, "_asdict"):
        return result._asdict()
    return None


@dataclass(frozen=True)
class FunctionEquation:
    """How a function model's output is stated in reports: ``l = end_gauge(l_s, d, ...)``."""

    output: str
    text: str


class FunctionModel(Model):
    """A :class:`Model` whose outputs are computed by a Python function (see the module doc)."""

    symbolic = False

    def __init__(self, equations: Callable[..., Any],
                 inputs: Mapping[str, Distribution] | CorrelatedObservations,
                 correlations: Mapping[tuple[str, str], float] | Iterable[Sequence[Any]] | None = None,
                 units: Mapping[str, Any] | None = None, title: str = "",
                 outputs: str | Sequence[str] | None = None):
        """``equations`` is the function (the parameter keeps :class:`Model`'s name)."""
        function = equations
        correlations = self._set_inputs(inputs, correlations, title)
        self.function = function
        name = getattr(function, "__name__", "model")
        self._name = name if name.isidentifier() else "model"
        self._check_parameters(function)   # every input is a parameter of f, and f gets every input
        at_estimates = self._call_checked({n: d.estimate for n, d in self.inputs.items()})
        self.outputs: tuple[str, ...] = self._output_names(at_estimates, outputs, name)
        values = self._split(at_estimates)
        requested = dict(units or {})
        self.output_scales: dict[str, UnitScale] = {}
        for y, q in zip(self.outputs, values):
            unit = q.units if isinstance(q, pint.Quantity) else ureg.Unit("dimensionless")
            if y in requested:
                unit = requested_unit(y, requested.pop(y), base_unit(unit))
            self.output_scales[y] = UnitScale(unit)
        if requested:
            raise _error(f"units given for unknown output(s) {', '.join(sorted(requested))}; outputs are "
                         f"{', '.join(self.outputs)}", ("units",))
        args = ", ".join(self.input_names)
        keyed = _as_mapping(at_estimates) is not None
        self.equations = [FunctionEquation(y, f"{y} = {self._name}({args})"
                                           + ((f"[{y!r}]" if keyed else f"[{j}]") if len(self.outputs) > 1 else ""))
                          for j, y in enumerate(self.outputs)]
        self.dependencies: dict[str, tuple[str, ...]] = {y: self.input_names for y in self.outputs}
        self._set_correlations(correlations)

    # ------------------------------------------------------------------ construction
    def _check_parameters(self, function: Callable[..., Any]) -> None:
        try:
            sig = inspect.signature(function)
        except (TypeError, ValueError):
            raise _error(f"cannot read the parameters of {function!r}; give a function whose "
                         "parameters are the input names", ("equations",)) from None
        kinds = {p.kind for p in sig.parameters.values()}
        if inspect.Parameter.VAR_KEYWORD in kinds:   # f(**x): takes every input
            return
        params = [p for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        for p in params:
            if p.name not in self.inputs and p.default is p.empty:
                raise _error(f"{self._name}(): parameter {p.name!r} is not an input (inputs: "
                             f"{', '.join(self.input_names)})", ("inputs",))
        names = {p.name for p in params}
        for n in self.input_names:
            if n not in names:
                raise _error(f"input {n!r} is not a parameter of {self._name}() (a typo, or a "
                             "left-over input?)", ("inputs", n))

    def _call_checked(self, kwargs: Mapping[str, Any]) -> Any:
        try:
            return self.function(**kwargs)
        except pint.DimensionalityError as exc:
            raise _error(f"{self._name}(): inconsistent units at the input estimates: {exc}",
                         ("equations",), UnitConsistencyError) from None
        except Exception as exc:
            raise _error(f"{self._name}() failed at the input estimates: {type(exc).__name__}: {exc}",
                         ("equations",)) from None

    def _output_names(self, result: Any, outputs: str | Sequence[str] | None, name: str) -> tuple[str, ...]:
        given = [outputs] if isinstance(outputs, str) else list(outputs or [])
        mapping = _as_mapping(result)
        if mapping is not None:   # a dict or a named tuple: the function names its outputs
            names = [str(k) for k in mapping]
            if given and given != names:
                raise _error(f"outputs={given} but {self._name}() returns {names}", ("outputs",))
        elif isinstance(result, (tuple, list)):
            if len(given) != len(result):
                raise _error(f"{self._name}() returns {len(result)} values: name them with "
                             f"outputs=[...] ({len(result)} names)", ("outputs",))
            names = given
        else:
            if len(given) > 1:
                raise _error(f"{self._name}() returns one value but outputs names {len(given)}", ("outputs",))
            if not given and not name.isidentifier():
                raise _error("name the output of this function: outputs='y'", ("outputs",))
            names = given or [name]
        for y in names:
            if not y.isidentifier():
                raise _error(f"output name {y!r} is not an identifier", ("outputs",))
            if y in self.inputs:
                raise _error(f"output {y!r} is also an input name", ("outputs",))
        if len(set(names)) != len(names):
            raise _error(f"output names repeat: {names}", ("outputs",))
        return tuple(names)

    def _split(self, result: Any) -> list[Any]:
        mapping = _as_mapping(result)
        if mapping is not None:
            return [mapping[y] for y in self.outputs]
        if isinstance(result, (tuple, list)):
            return list(result)
        return [result]

    # ------------------------------------------------------------------ evaluation
    def _call_base(self, env: Mapping[str, Any]) -> dict[str, Any]:
        """The outputs (SI base magnitudes) for inputs given as SI base magnitudes.  The function
        gets each input in the unit it was given in (as when the model was checked), so code
        that reads ``.magnitude`` (a table look-up) or uses an offset unit (°C) computes what
        it computed then."""
        kwargs = {}
        for n in self.input_names:
            scale = self.input_scales[n]
            kwargs[n] = (Q_(env[n], scale.base).to(scale.unit) if scale.offset
                         else Q_(env[n] / scale.factor, scale.unit))
        values = self._split(self.function(**kwargs))
        out = {}
        for y, q in zip(self.outputs, values):
            base = self.output_scales[y].base
            if isinstance(q, pint.Quantity):
                out[y] = q.to(base).magnitude
            else:
                out[y] = Q_(q, "dimensionless").to(base).magnitude
        return out

    def linearise(self) -> tuple[dict[str, float], np.ndarray]:
        x = self.estimates_base()
        u = self.uncertainties_base()
        n_in = len(self.input_names)
        cols = 1 + 4 * n_in
        env = {n: np.full(cols, x[n], dtype=float) for n in self.input_names}
        for i, n in enumerate(self.input_names):
            # u/100, but not below 1e-7 |x|: smaller steps drown in the rounding of x + h and
            # of y (a frequency with u/x = 1e-12 would give c wrong in the 2nd digit)
            h = max(STEP * u[i], MIN_RELATIVE_STEP * abs(x[n])) or 1e-9
            for k, d in enumerate((h, -h, h / 2, -h / 2)):
                env[n][1 + 4 * i + k] = x[n] + d
        try:
            with np.errstate(all="ignore"):
                values = {y: np.broadcast_to(np.asarray(v, dtype=float), (cols,))
                          for y, v in self._call_base(env).items()}
        except Exception:   # not vectorised (math.sqrt, if/else on a value ...): point by point
            try:
                values = self._pointwise(env, cols)
            except Exception as exc:
                raise ModelError(f"{self._name}() failed within u(x) of the input estimates "
                                 f"({type(exc).__name__}: {exc})") from None
        y_base: dict[str, float] = {}
        J = np.zeros((len(self.outputs), n_in))
        for j, y in enumerate(self.outputs):
            v = values[y]
            if not math.isfinite(v[0]):
                raise ModelError(f"output {y!r} of {self._name}() is not finite at the input estimates")
            y_base[y] = float(v[0])
            for i, n in enumerate(self.input_names):
                a = env[n][1 + 4 * i: 5 + 4 * i]   # the points actually taken (x ± h rounds)
                p, m, p2, m2 = v[1 + 4 * i: 5 + 4 * i]
                d1, d2 = (p - m) / (a[0] - a[1]), (p2 - m2) / (a[2] - a[3])
                c = d2 + (d2 - d1) / 3.0          # Richardson: the h² error terms cancel
                if not math.isfinite(c):
                    raise ModelError(f"sensitivity ∂{y}/∂{n} of {self._name}() is not finite at the "
                                     "input estimates (the function is undefined within u(x) of it?)")
                J[j, i] = c
        return y_base, J

    def _pointwise(self, env: Mapping[str, np.ndarray], cols: int) -> dict[str, np.ndarray]:
        out = {y: np.empty(cols) for y in self.outputs}
        for c in range(cols):
            with np.errstate(all="ignore"):
                for y, v in self._call_base({n: float(a[c]) for n, a in env.items()}).items():
                    out[y][c] = float(v)
        return out

    def evaluate_base(self, env: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        try:
            values = self._call_base(env)
        except Exception as exc:
            raise ModelError(f"{self._name}() failed on arrays of trials ({type(exc).__name__}: {exc}); "
                             "for Monte Carlo the function must work on numpy arrays (np.sqrt, "
                             "np.where ..., not math.sqrt or if/else on a value)") from None
        return {y: np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy() for y, v in values.items()}

    def derivative(self, output: str, *names: str):   # noqa: D401 - no symbolic derivatives here
        raise ModelError("a function model has no symbolic derivatives; give the model as equations")

    def __repr__(self) -> str:
        return f"Model({self._name}, inputs={list(self.input_names)!r}, outputs={list(self.outputs)!r})"

"""Measurement model: equations Y_j = f_j(X_1..X_N), the input distributions and correlations.

* One or more equations; each defines one output.  An equation may use outputs defined by
  earlier equations (they are substituted symbolically, so a later output depends directly on
  the inputs and the outputs' covariance comes out right).
* Inputs are :class:`~labauto.uncertainty.distributions.Distribution` objects with units.
* ``correlations`` give r(x_i, x_j) between inputs, as ``{(a, b): r}`` or ``[(a, b, r), ...]``;
  the matrix must be positive semi-definite.
* Units are checked when the model is built: an equation that adds a length to a temperature
  is refused before any arithmetic.  Each output's unit is that of the first input in its
  equation with the same dimension (``units=`` overrides it, e.g. ``{"l": "mm"}``).

Errors carry ``key`` (a key path such as ``("equations", 0)``) so model files can report
``file:line``.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pint

from labauto.uncertainty.distributions import CorrelatedObservations, Distribution
from labauto.uncertainty.errors import ModelError
from labauto.uncertainty.expression import (CONSTANTS, FUNCTIONS, Equation, Tree, _dimensionless, diff,
                                            evaluate, gradient, parse_equation, substitute, to_text,
                                            unit_of, variables)
from labauto.uncertainty.quantities import UnitScale, base_unit
from labauto.units import ureg


_COMPOSED_UNITS: dict[tuple, pint.Unit] = {}


def finite_value(tree: Tree, env: Mapping[str, Any], what: str) -> float:
    """``tree`` evaluated at ``env`` as a float; :class:`ModelError` if it is not finite."""
    with np.errstate(all="ignore"):
        v = float(evaluate(tree, env))
    if not math.isfinite(v):
        raise ModelError(f"{what} is not finite at the input estimates ({to_text(tree)[:200]}); "
                         "check the estimates (division by zero, log of a non-positive value, ...)")
    return v
#: coherent SI units with special names, and the prefixes, that a composed unit is stated in
#: when it is one of them exactly (V/mA -> kΩ, mA·s -> mC).  Only names that are unambiguous for
#: their dimension: not W (V·A is also apparent power), J (N·m is also torque) or Hz (1/s is also
#: a count rate or an angular velocity) - give units= for those.
_NAMED_SI = ("newton", "pascal", "ohm", "siemens", "coulomb", "farad", "henry", "tesla", "weber")
_PREFIXES = {1.0: "", 1e-3: "milli", 1e-6: "micro", 1e-9: "nano", 1e-12: "pico", 1e3: "kilo",
             1e6: "mega", 1e9: "giga"}


def _named_unit(unit: pint.Unit) -> pint.Unit:
    """``unit`` as a prefixed SI unit with a special name when it is exactly one, else itself."""
    dim = unit.dimensionality
    for name in _NAMED_SI:
        named = ureg.Unit(name)
        if named.dimensionality == dim:
            factor = float(ureg.Quantity(1.0, unit).to(named).magnitude)
            for value, prefix in _PREFIXES.items():
                if math.isclose(factor, value, rel_tol=1e-12):
                    return ureg.Unit(prefix + name)
            return unit
    return unit


def requested_unit(output: str, requested: Any, base: pint.Unit) -> pint.Unit:
    """The unit asked for an output (``units={"l": "mm"}``), checked against the output's
    unit in SI base units ``base``."""
    try:
        unit = ureg.Unit(str(requested))
    except Exception:
        raise _error(f"unit {requested!r} for output {output!r} is not a known unit", ("units", output)) from None
    if base_unit(unit).dimensionality != base.dimensionality:
        raise _error(f"unit {requested!r} for output {output!r} does not match its dimension "
                     f"{base.dimensionality}", ("units", output))
    return unit


def _error(msg: str, key: tuple = (), cls: type = ModelError) -> ModelError:
    err = cls(msg)
    err.key = key  # type: ignore[attr-defined]
    return err


class Model:
    """A measurement model ready for :func:`~labauto.uncertainty.gum` and
    :func:`~labauto.uncertainty.monte_carlo`.

    >>> Model("E = X_ind - V_ref + dX_res", inputs={...}, correlations={("a", "b"): 0.5})
    """

    def __new__(cls, equations: Any = None, *args: Any, **kwargs: Any) -> "Model":
        if cls is Model and callable(equations):   # Model(f, inputs=...): a Python function model
            from labauto.uncertainty.function_model import FunctionModel
            return super().__new__(FunctionModel)
        return super().__new__(cls)

    def __init__(self, equations: str | Sequence[str], inputs: Mapping[str, Distribution] | CorrelatedObservations,
                 correlations: Mapping[tuple[str, str], float] | Iterable[Sequence[Any]] | None = None,
                 units: Mapping[str, Any] | None = None, title: str = ""):
        correlations = self._set_inputs(inputs, correlations, title)
        eq_texts = [equations] if isinstance(equations, str) else list(equations)
        if not eq_texts:
            raise _error("a model needs at least one equation", ("equations",))

        # parse equations in order; earlier outputs are known names for later ones
        known_units: dict[str, pint.Unit] = {n: s.base for n, s in self.input_scales.items()}
        display: dict[str, pint.Unit] = {n: s.unit for n, s in self.input_scales.items()}
        self.equations: list[Equation] = []
        self.trees: dict[str, Tree] = {}
        self.output_scales: dict[str, UnitScale] = {}
        requested = dict(units or {})
        for i, text in enumerate(eq_texts):
            try:
                eq = parse_equation(text, known_units, where=f"equation {i + 1} {str(text).strip()!r}")
            except ModelError as exc:
                raise _error(str(exc), ("equations", i), type(exc)) from None
            if eq.output in self.inputs:
                raise _error(f"equation {i + 1}: output {eq.output!r} is also an input name", ("equations", i))
            if eq.output in self.trees:
                raise _error(f"equation {i + 1}: output {eq.output!r} is defined twice", ("equations", i))
            uses_outputs = any(n in self.trees for n in eq.inputs_in_order)
            tree = substitute(eq.tree, self.trees) if uses_outputs else eq.tree  # (same tree)
            self.equations.append(eq)
            self.trees[eq.output] = tree
            known_units[eq.output] = eq.unit
            unit = self._display_unit(eq, display, requested.pop(eq.output, None), i)
            display[eq.output] = unit
            self.output_scales[eq.output] = UnitScale(unit)
        if requested:
            raise _error(f"units given for unknown output(s) {', '.join(sorted(requested))}; outputs are "
                         f"{', '.join(self.trees)}", ("units",))
        self.outputs: tuple[str, ...] = tuple(self.trees)
        self._diff_memo: dict = {}
        deps = {eq.output: eq.variables if self.trees[eq.output] is eq.tree
                else variables(self.trees[eq.output], self._diff_memo) for eq in self.equations}
        self.dependencies: dict[str, tuple[str, ...]] = {
            y: tuple(n for n in self.input_names if n in deps[y]) for y in self.trees}
        used = set().union(*self.dependencies.values()) if self.dependencies else set()
        for name in self.input_names:
            if name not in used and name not in {v for eq in self.equations for v in eq.inputs_in_order}:
                raise _error(f"input {name!r} is not used in any equation (a typo in the equation or "
                             "a left-over input?)", ("inputs", name))
        self._derivatives: dict[tuple[str, ...], Tree] = {}
        self._set_correlations(correlations)

    # ------------------------------------------------------------------ construction helpers
    def _set_inputs(self, inputs: Mapping[str, Distribution] | CorrelatedObservations, correlations: Any,
                    title: str) -> Any:
        """Check and keep the inputs (shared by equation and function models); returns the
        correlations to set, with those of correlated Type A series added."""
        if isinstance(inputs, CorrelatedObservations):
            correlations = {**inputs.correlations, **dict(_corr_items(correlations))}
            inputs = inputs.inputs
        self.title = title
        self.inputs: dict[str, Distribution] = {}
        for name, dist in inputs.items():
            if not isinstance(name, str) or not name.isidentifier() or name in FUNCTIONS or name in CONSTANTS:
                raise _error(f"input name {name!r} is not usable in equations (use letters, digits "
                             "and _, not a function name)", ("inputs", name))
            if not isinstance(dist, Distribution):
                raise _error(f"input {name!r}: expected a distribution (Normal, Rectangular, TypeA..., "
                             f"got {type(dist).__name__})", ("inputs", name))
            if not dist.label:
                dist.label = name
            self.inputs[name] = dist
        self.input_names: tuple[str, ...] = tuple(self.inputs)
        self.input_index: dict[str, int] = {n: i for i, n in enumerate(self.input_names)}
        self.input_scales = {n: d.scale for n, d in self.inputs.items()}
        self.correlations: dict[tuple[str, str], float] = {}
        self.correlation_matrix = np.eye(len(self.input_names))
        return correlations

    def _display_unit(self, eq: Equation, display: Mapping[str, pint.Unit], requested: Any, i: int) -> pint.Unit:
        if requested is not None:
            return requested_unit(eq.output, requested, eq.unit)
        tried = set()   # each distinct unit once (pint's == costs microseconds; 50 inputs in V)
        for name in eq.inputs_in_order:   # same base unit (so rad and dimensionless differ)
            unit = display[name]
            if unit._units not in tried:
                tried.add(unit._units)
                if base_unit(unit) == eq.unit:
                    return unit
        if _dimensionless(eq.unit):   # a ratio stays a plain number (not mV/V)
            return eq.unit
        # no input has the output's unit (a product, a quotient): compose the inputs' units
        # (V·V -> V², not kg²·m⁴/A²/s⁶); remembered per equation text and input units
        key = (eq.text, tuple(display[n]._units for n in eq.inputs_in_order))
        unit = _COMPOSED_UNITS.get(key)
        if unit is None:
            unit = _named_unit(unit_of(eq.tree, display))
            if base_unit(unit) != eq.unit:   # (not expected after the unit checks; be safe)
                unit = eq.unit
            if len(_COMPOSED_UNITS) > 1024:
                _COMPOSED_UNITS.clear()
            _COMPOSED_UNITS[key] = unit
        return unit

    def _set_correlations(self, correlations: Any) -> None:
        index = {n: i for i, n in enumerate(self.input_names)}
        for k, (a, b, r) in enumerate(_corr_items(correlations)):
            key = ("correlations", k)
            for n in (a, b):
                if n not in index:
                    raise _error(f"correlation names {n!r}, which is not an input "
                                 f"(inputs: {', '.join(self.input_names)})", key)
            if a == b:
                raise _error(f"correlation of {a!r} with itself; give pairs of different inputs", key)
            try:
                r = float(r)
            except (TypeError, ValueError):
                raise _error(f"correlation {a!r}-{b!r}: r must be a number, got {r!r}", key) from None
            if not -1.0 <= r <= 1.0:
                raise _error(f"correlation {a!r}-{b!r}: r = {r} is outside [-1, 1]", key)
            pair = (a, b) if index[a] < index[b] else (b, a)
            if pair in self.correlations and self.correlations[pair] != r:
                raise _error(f"correlation {a!r}-{b!r} is given twice with different values", key)
            self.correlations[pair] = r
            i, j = index[a], index[b]
            self.correlation_matrix[i, j] = self.correlation_matrix[j, i] = r
        if self.correlations:
            w = np.linalg.eigvalsh(self.correlation_matrix)
            if w.min() < -1e-10:
                raise _error("the correlation coefficients are inconsistent: the correlation matrix is "
                             f"not positive semi-definite (smallest eigenvalue {w.min():.3g}); check the "
                             "values", ("correlations",))

    # ------------------------------------------------------------------ derivatives
    def derivative(self, output: str, *names: str) -> Tree:
        """∂ⁿ output / ∂names… as a tree, computed once and cached (the model is immutable)."""
        key = (output,) + tuple(names)
        tree = self._derivatives.get(key)
        if tree is None:
            parent = self.trees[output] if len(names) == 1 else self.derivative(output, *names[:-1])
            tree = diff(parent, names[-1], self._diff_memo)
            self._derivatives[key] = tree
        return tree

    # ------------------------------------------------------------------ evaluation
    #: True when the model has exact higher derivatives (GUM second-order terms)
    symbolic = True

    def linearise(self) -> tuple[dict[str, float], np.ndarray]:
        """Output values y_j and the sensitivity matrix J[j, i] = ∂y_j/∂x_i at the input
        estimates, all in SI base units (the GUM's linearisation)."""
        env = {k: np.float64(v) for k, v in self.estimates_base().items()}
        y_base, rows = {}, {}
        for y in self.outputs:
            # y and all its sensitivities in one pass: the same numbers as evaluating the tree and
            # its derivative trees; anything unusual (non-finite, a literal division by zero inside
            # sign(), ...) is left to the tree route, which gives the values or the errors
            try:
                with np.errstate(all="ignore"):
                    value, grads = gradient(self.trees[y], env)
                value = float(value)
                rows[y] = [float(grads[v]) for v in self.dependencies[y]]
            except Exception:
                value, rows[y] = math.nan, [math.nan] * len(self.dependencies[y])
            y_base[y] = value if math.isfinite(value) else finite_value(self.trees[y], env, f"output {y!r}")
        J = np.zeros((len(self.outputs), len(self.input_names)))
        for j, y in enumerate(self.outputs):
            for v, c in zip(self.dependencies[y], rows[y]):
                J[j, self.input_index[v]] = c if math.isfinite(c) else finite_value(
                    self.derivative(y, v), env, f"sensitivity ∂{y}/∂{v}")
        return y_base, J

    def evaluate_base(self, env: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        """The outputs for ``n`` trials of the inputs (arrays in SI base units), as arrays of
        length ``n`` in SI base units (Monte Carlo); run under ``np.errstate`` as needed."""
        return {y: np.broadcast_to(np.asarray(evaluate(self.trees[y], env), dtype=float), (n,)).copy()
                for y in self.outputs}

    # ------------------------------------------------------------------ numbers
    def estimates_base(self) -> dict[str, float]:
        """Input estimates in SI base units."""
        return {n: d.scale.value_to_base(d.x) for n, d in self.inputs.items()}

    def uncertainties_base(self) -> np.ndarray:
        """u(x_i) in SI base units, in :attr:`input_names` order."""
        return np.array([d.u_mag * d.scale.factor for d in self.inputs.values()])

    def correlation(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        return self.correlations.get((a, b), self.correlations.get((b, a), 0.0))

    def output_unit(self, name: str) -> pint.Unit:
        return self.output_scales[self._output(name)].unit

    def _output(self, name: str | None) -> str:
        if name is None:
            if len(self.outputs) != 1:
                raise ModelError(f"the model has several outputs ({', '.join(self.outputs)}); name one")
            return self.outputs[0]
        if name not in self.outputs:
            raise ModelError(f"unknown output {name!r}; outputs are {', '.join(self.outputs)}")
        return name

    @classmethod
    def from_yaml(cls, path: Any) -> "Model":
        """Load a model file (see :mod:`labauto.uncertainty.modelfile`)."""
        from labauto.uncertainty.modelfile import load_model
        return load_model(path).model

    def __repr__(self) -> str:
        return f"Model({[e.text for e in self.equations]!r}, inputs={list(self.input_names)!r})"


def _corr_items(correlations: Any) -> list[tuple[str, str, Any]]:
    if correlations is None:
        return []
    if isinstance(correlations, Mapping):
        out = []
        for k, r in correlations.items():
            if not (isinstance(k, tuple) and len(k) == 2):
                raise _error(f"correlation key {k!r} must be a pair of input names", ("correlations",))
            out.append((k[0], k[1], r))
        return out
    out = []
    for k, item in enumerate(correlations):
        if not (isinstance(item, (list, tuple)) and len(item) == 3):
            raise _error(f"correlation {item!r} must be [input_a, input_b, r]", ("correlations", k))
        out.append((item[0], item[1], item[2]))
    return out

"""Model files: a measurement model as YAML, with ``file:line`` errors.

.. code-block:: yaml

    title: Calibration of an end gauge (GUM H.1)
    equations:
      - l = l_s + d - l_s*(d_alpha*theta + alpha_s*d_theta)
    units: {l: mm}                      # optional display unit per output
    coverage_probability: 0.95          # optional, default 0.95
    inputs:
      l_s:     {estimate: 50000623.6 nm, u: 25 nm, dof: 18}          # normal (default)
      d:       {estimate: 215 nm, U: 29.1 nm, k: 3}                  # from expanded U with k
      V_ref:   {estimate: 10 V, U: 35 uV, coverage_probability: 0.99}
      alpha_s: {distribution: rectangular, estimate: 11.5e-6 1/K, halfwidth: 2e-6 1/K}
      x:       {distribution: rectangular, lower: 9.9 V, upper: 10.1 V}
      theta:   {distribution: arcsine, estimate: 0 K, halfwidth: 0.5 K}
      y:       {distribution: triangular | trapezoidal (beta) | curvilinear_trapezoid (d)}
      t1:      {distribution: t, estimate: 1 V, u: 3 uV, dof: 9}          # u = its standard deviation
      t2:      {distribution: t, estimate: 1 V, scale: 3 uV, dof: 9}      # or its scale (s/√n)
      r:       {distribution: gamma, estimate: 1 um, u: 0.5 um}          # expectation > 0, sd
      X_ind:   {distribution: type_a, observations: [10.0012, 10.0015], unit: V}
      m_nom:   {distribution: constant, estimate: 100 g}
    correlations:
      - [a, b, 0.5]
    simultaneous:                       # Type A series observed together (GUM H.2)
      - [V, I, phi]
    monte_carlo: {trials: 1000000, seed: 1}   # optional defaults for the CLI

Every value with a unit is written with it (``25 nm``); a bare number is dimensionless.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labauto.errors import SourceError
from labauto.uncertainty.distributions import (Arcsine, Constant, CurvilinearTrapezoid, Distribution, Gamma, Normal,
                                               Rectangular, StudentT, Trapezoidal, Triangular, TypeA)
from labauto.uncertainty.errors import ModelError
from labauto.uncertainty.model import Model
from labauto.uncertainty.quantities import as_quantity
from labauto.units import Q_
from labauto.yamlsource import SourceDocument, SourceMap, load, loads

TOP_KEYS = {"title", "description", "reference", "equations", "units", "coverage_probability", "inputs",
            "correlations", "simultaneous", "monte_carlo"}

#: distribution name -> (required keys, optional keys); "estimate" is implied where listed
DISTRIBUTIONS: dict[str, tuple[set[str], set[str]]] = {
    "normal": (set(), {"estimate", "u", "U", "k", "coverage_probability", "dof"}),
    "t": ({"estimate", "dof"}, {"u", "standard_uncertainty", "scale"}),
    "rectangular": (set(), {"estimate", "halfwidth", "lower", "upper", "dof"}),
    "triangular": ({"estimate", "halfwidth"}, {"dof"}),
    "trapezoidal": ({"estimate", "halfwidth", "beta"}, {"dof"}),
    "curvilinear_trapezoid": ({"estimate", "halfwidth", "d"}, {"dof"}),
    "arcsine": ({"estimate", "halfwidth"}, {"dof"}),
    "gamma": ({"estimate", "u"}, {"dof"}),
    "type_a": ({"observations"}, {"unit"}),
    "constant": ({"estimate"}, set()),
}
ALIASES = {"gaussian": "normal", "student_t": "t", "uniform": "rectangular", "u_shaped": "arcsine",
           "curvilinear trapezoid": "curvilinear_trapezoid", "typea": "type_a", "type a": "type_a"}
COMMON = {"distribution", "label"}


@dataclass
class ModelFile:
    """A loaded model file: the :class:`Model` and the file's settings."""

    model: Model
    path: str
    title: str = ""
    description: str = ""
    reference: str = ""
    coverage_probability: float = 0.95
    monte_carlo: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""


def _q(value: Any, src: SourceMap, key: tuple, what: str):
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float, str)):
        raise src.error(key, f"{what}: expected a quantity such as '25 nm', got {value!r}")
    try:
        return as_quantity(value, what)
    except ModelError as exc:
        raise src.error(key, str(exc)) from None


def _dof(value: Any, src: SourceMap, key: tuple) -> float:
    if isinstance(value, str) and value.strip().lower() in ("inf", "infinity", ".inf"):
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise src.error(key, f"dof must be a number > 0 (or inf), got {value!r}")
    return float(value)


def _input(name: str, spec: Any, src: SourceMap) -> Distribution:
    key = ("inputs", name)
    if isinstance(spec, (str, int, float)) and not isinstance(spec, bool):
        return Constant(_q(spec, src, key, f"input {name!r}"), label=name)
    if not isinstance(spec, dict):
        raise src.error(key, f"input {name!r}: expected a mapping such as {{estimate: 1 V, u: 2 mV}}")
    dist = spec.get("distribution")
    if dist is None:
        if "observations" in spec:
            dist = "type_a"
        elif any(k in spec for k in ("u", "U")):
            dist = "normal"
        elif set(spec) <= {"estimate", "label"}:
            dist = "constant"
        else:
            raise src.error(key, f"input {name!r}: say which distribution it has "
                                 f"(distribution: {' | '.join(DISTRIBUTIONS)})")
    dist = ALIASES.get(str(dist).lower(), str(dist).lower())
    if dist not in DISTRIBUTIONS:
        raise src.error(key + ("distribution",), f"input {name!r}: unknown distribution {dist!r}; use one of "
                                                  f"{', '.join(DISTRIBUTIONS)}")
    required, optional = DISTRIBUTIONS[dist]
    allowed = required | optional | COMMON
    for k in spec:
        if k not in allowed:
            raise src.error(key + (k,), f"input {name!r}: key {k!r} does not belong to a {dist} input "
                                        f"(allowed: {', '.join(sorted(allowed))})")
    for k in required:
        if k not in spec:
            raise src.error(key, f"input {name!r}: a {dist} input needs {k!r}")
    label = str(spec.get("label", name))
    q = lambda k: _q(spec[k], src, key + (k,), f"input {name!r} {k}")  # noqa: E731
    dof = _dof(spec["dof"], src, key + ("dof",)) if "dof" in spec else math.inf
    try:
        if dist == "normal":
            if "estimate" not in spec:
                raise src.error(key, f"input {name!r}: a normal input needs 'estimate'")
            if "u" in spec:
                extra = {"U", "k", "coverage_probability"} & set(spec)
                if extra:
                    raise src.error(key, f"input {name!r}: give either u or U (with k or coverage_probability), "
                                         f"not u and {', '.join(sorted(extra))}")
                return Normal(q("estimate"), q("u"), dof=dof, label=label)
            if "U" not in spec:
                raise src.error(key, f"input {name!r}: a normal input needs u, or U with k or coverage_probability")
            k = spec.get("k")
            p = spec.get("coverage_probability")
            for kk, v in (("k", k), ("coverage_probability", p)):
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    raise src.error(key + (kk,), f"input {name!r}: {kk} must be a number, got {v!r}")
            return Normal.from_expanded(q("estimate"), q("U"), k=k, coverage_probability=p, dof=dof, label=label)
        if dist == "t":
            given = [k for k in ("scale", "u", "standard_uncertainty") if k in spec]
            if len(given) != 1:
                raise src.error(key, f"input {name!r}: give a t input exactly one of scale (the "
                                     "t-distribution's scale, e.g. s/√n of a Type A mean) or u / "
                                     "standard_uncertainty (its standard deviation, as budgets state "
                                     "it)" + (f"; got {' and '.join(given)}" if given else ""))
            if given[0] == "scale":
                return StudentT(q("estimate"), q("scale"), dof=dof, label=label)
            if not dof > 2:
                raise src.error(key + ("dof",), f"input {name!r}: a t-distribution with dof = {dof:g} "
                                                "≤ 2 has no standard deviation; give its scale instead "
                                                f"of {given[0]}")
            return StudentT(q("estimate"), dof=dof, label=label, standard_uncertainty=q(given[0]))
        if dist == "rectangular":
            if "halfwidth" in spec:
                if not {"estimate"} <= set(spec) or {"lower", "upper"} & set(spec):
                    raise src.error(key, f"input {name!r}: give estimate and halfwidth, or lower and upper")
                return Rectangular(q("estimate"), q("halfwidth"), label=label, dof=dof)
            if not {"lower", "upper"} <= set(spec) or "estimate" in spec:
                raise src.error(key, f"input {name!r}: give estimate and halfwidth, or lower and upper")
            return Rectangular.from_limits(q("lower"), q("upper"), label=label, dof=dof)
        if dist == "triangular":
            return Triangular(q("estimate"), q("halfwidth"), label=label, dof=dof)
        if dist == "trapezoidal":
            beta = spec["beta"]
            if isinstance(beta, bool) or not isinstance(beta, (int, float)):
                raise src.error(key + ("beta",), f"input {name!r}: beta must be a number from 0 to 1")
            return Trapezoidal(q("estimate"), q("halfwidth"), float(beta), label=label, dof=dof)
        if dist == "curvilinear_trapezoid":
            return CurvilinearTrapezoid(q("estimate"), q("halfwidth"), q("d"), label=label, dof=dof)
        if dist == "gamma":
            return Gamma(q("estimate"), q("u"), label=label, dof=dof)
        if dist == "arcsine":
            return Arcsine(q("estimate"), q("halfwidth"), label=label, dof=dof)
        if dist == "constant":
            return Constant(q("estimate"), label=label)
        return TypeA.from_observations(_observations(name, spec, src), label=label)
    except ModelError as exc:
        raise src.error(key, str(exc)) from None


def _observations(name: str, spec: dict, src: SourceMap):
    key = ("inputs", name, "observations")
    obs = spec["observations"]
    if not isinstance(obs, list) or not obs:
        raise src.error(key, f"input {name!r}: observations must be a non-empty list")
    unit = spec.get("unit")
    if unit is not None:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in obs):
            raise src.error(key, f"input {name!r}: with 'unit', observations must be plain numbers")
        try:
            return Q_(np.asarray(obs, dtype=float), str(unit))
        except Exception as exc:
            raise src.error(("inputs", name, "unit"), f"input {name!r}: unknown unit {unit!r} ({exc})") from None
    qs = [_q(v, src, key + (i,), f"input {name!r} observation {i + 1}") for i, v in enumerate(obs)]
    u0 = qs[0].units
    try:
        return Q_(np.array([float(x.to(u0).magnitude) for x in qs]), u0)
    except Exception:
        raise src.error(key, f"input {name!r}: observations have incompatible units") from None


def _correlations(data: dict, inputs: dict[str, Distribution], src: SourceMap) -> list[tuple[str, str, float]]:
    out: list[tuple[str, str, float]] = []
    corr = data.get("correlations") or []
    if not isinstance(corr, list):
        raise src.error(("correlations",), "correlations must be a list of [input_a, input_b, r]")
    for i, item in enumerate(corr):
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], (int, float))
                and not isinstance(item[2], bool)):
            raise src.error(("correlations", i), f"correlation {item!r} must be [input_a, input_b, r]")
        out.append((str(item[0]), str(item[1]), float(item[2])))
    groups = data.get("simultaneous") or []
    if not isinstance(groups, list):
        raise src.error(("simultaneous",), "simultaneous must be a list of lists of Type A input names")
    for g, names in enumerate(groups):
        key = ("simultaneous", g)
        if not (isinstance(names, list) and len(names) >= 2):
            raise src.error(key, "each simultaneous group lists at least two Type A input names")
        for n in names:
            if n not in inputs or not hasattr(inputs[n], "observations"):
                raise src.error(key, f"{n!r} is not a type_a input with observations")
        try:
            group = TypeA.correlated({n: inputs[n].observations for n in names})  # type: ignore[attr-defined]
        except ModelError as exc:
            raise src.error(key, str(exc)) from None
        out.extend((a, b, r) for (a, b), r in group.correlations.items())
    return out


def model_from_document(doc: SourceDocument) -> ModelFile:
    src, data = doc.source, doc.data
    if not isinstance(data, dict):
        raise src.error((), "a model file is a mapping with 'equations' and 'inputs'")
    for k in data:
        if k not in TOP_KEYS:
            raise src.error((k,), f"unknown key {k!r} (allowed: {', '.join(sorted(TOP_KEYS))})")
    eqs = data.get("equations")
    if isinstance(eqs, str):
        eqs = [eqs]
    if not isinstance(eqs, list) or not eqs or not all(isinstance(e, str) for e in eqs):
        raise src.error(("equations",), "equations must be a list of strings 'Y = expression'")
    raw_inputs = data.get("inputs")
    if not isinstance(raw_inputs, dict) or not raw_inputs:
        raise src.error(("inputs",), "inputs must be a mapping of input name -> distribution")
    inputs = {str(n): _input(str(n), spec, src) for n, spec in raw_inputs.items()}
    corr = _correlations(data, inputs, src)
    units = data.get("units") or {}
    if not isinstance(units, dict):
        raise src.error(("units",), "units must map output names to units, e.g. {l: mm}")
    p = data.get("coverage_probability", 0.95)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < 1:
        raise src.error(("coverage_probability",), f"coverage_probability must be between 0 and 1, got {p!r}")
    mc = data.get("monte_carlo") or {}
    if not isinstance(mc, dict) or not set(mc) <= {"trials", "seed", "adaptive", "tolerance_digits"}:
        raise src.error(("monte_carlo",), "monte_carlo may set trials, seed, adaptive and tolerance_digits")
    try:
        model = Model(eqs, inputs=inputs, correlations=corr, units=units, title=str(data.get("title", "")))
    except ModelError as exc:
        key = getattr(exc, "key", ())
        if key and key[0] == "correlations" and len(key) > 1 and key[1] >= len(data.get("correlations") or []):
            key = ("simultaneous",)
        raise src.error(key, str(exc)) from None
    return ModelFile(model=model, path=src.path, title=str(data.get("title", "")),
                     description=str(data.get("description", "")), reference=str(data.get("reference", "")),
                     coverage_probability=float(p), monte_carlo=dict(mc), sha256=doc.sha256)


def load_model(path: str | Path) -> ModelFile:
    """Load and validate a model file; errors are :class:`SourceError` ``path:line: reason``."""
    return model_from_document(load(path))


def loads_model(text: str, path: str = "<string>") -> ModelFile:
    return model_from_document(loads(text, path))


__all__ = ["ModelFile", "load_model", "loads_model", "SourceError"]

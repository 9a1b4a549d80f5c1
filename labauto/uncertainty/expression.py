"""Safe measurement-model equations: parsing, unit checking, symbolic derivatives, evaluation.

An equation ``"Y = f(X1, X2, ...)"`` is parsed with :mod:`ast` and only a whitelist of node
types is accepted: numbers, names, ``+ - * / **``, unary ``-``/``+`` and calls of the functions
in :data:`FUNCTIONS`.  Nothing is ever passed to ``eval``; an equation is turned into a small
expression tree of tuples::

    ("c", 2.0)              constant            ("v", "X1")          variable
    ("+", a, b) ("-", a, b) ("*", a, b) ("/", a, b) ("**", a, b)
    ("neg", a)              unary minus         ("f", "sqrt", a)     function call

Trees are differentiated symbolically (:func:`diff`), so GUM sensitivity coefficients and the
second/third derivatives of the second-order terms are exact, not finite differences.  The
same trees are evaluated on numpy arrays for Monte Carlo (:func:`evaluate`).

Units are checked on the AST while it is converted (:func:`parse_equation`): both sides of
``+``/``-`` must have the same dimension, transcendental functions need dimensionless
arguments, and an exponent on a dimensioned base must be a constant.  A mismatch raises
:class:`~labauto.uncertainty.errors.UnitConsistencyError` naming the offending sub-expression,
before any number is computed.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np
import pint

from labauto.uncertainty.errors import ModelError, UnitConsistencyError
from labauto.units import ureg

Tree = tuple

DIMENSIONLESS = ureg.Unit("dimensionless")

#: name -> numpy function; the only calls an equation may make.
FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "sqrt": np.sqrt, "exp": np.exp, "log": np.log, "ln": np.log, "log10": np.log10,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "abs": np.abs,
    "sign": np.sign,
}
#: functions whose argument keeps its unit (the others need a dimensionless argument)
_UNIT_PRESERVING = {"abs"}
CONSTANTS = {"pi": math.pi}

ZERO: Tree = ("c", 0.0)
ONE: Tree = ("c", 1.0)


# --------------------------------------------------------------------------- tree builders
def const(x: float) -> Tree:
    return ("c", float(x))


def _is_c(t: Tree, value: float | None = None) -> bool:
    return t[0] == "c" and (value is None or t[1] == value)


def add(a: Tree, b: Tree) -> Tree:
    if _is_c(a, 0.0):
        return b
    if _is_c(b, 0.0):
        return a
    if _is_c(a) and _is_c(b):
        return const(a[1] + b[1])
    return ("+", a, b)


def sub(a: Tree, b: Tree) -> Tree:
    if _is_c(b, 0.0):
        return a
    if _is_c(a, 0.0):
        return neg(b)
    if _is_c(a) and _is_c(b):
        return const(a[1] - b[1])
    return ("-", a, b)


def mul(a: Tree, b: Tree) -> Tree:
    if _is_c(a, 0.0) or _is_c(b, 0.0):
        return ZERO
    if _is_c(a, 1.0):
        return b
    if _is_c(b, 1.0):
        return a
    if _is_c(a) and _is_c(b):
        return const(a[1] * b[1])
    return ("*", a, b)


def div(a: Tree, b: Tree) -> Tree:
    if _is_c(a, 0.0):
        return ZERO
    if _is_c(b, 1.0):
        return a
    if _is_c(a) and _is_c(b) and b[1] != 0.0:
        return const(a[1] / b[1])
    return ("/", a, b)


def pow_(a: Tree, b: Tree) -> Tree:
    if _is_c(b, 0.0):
        return ONE
    if _is_c(b, 1.0):
        return a
    if _is_c(a) and _is_c(b):
        return const(a[1] ** b[1])
    return ("**", a, b)


def neg(a: Tree) -> Tree:
    if _is_c(a):
        return const(-a[1])
    if a[0] == "neg":
        return a[1]
    return ("neg", a)


def call(fn: str, a: Tree) -> Tree:
    if _is_c(a):
        return const(float(FUNCTIONS[fn](a[1])))
    return ("f", fn, a)


def variables(t: Tree, _memo: dict | None = None) -> frozenset[str]:
    """Names of the variables a tree depends on (``_memo`` caches sub-results by node)."""
    memo = {} if _memo is None else _memo
    key = (id(t), None)
    hit = memo.get(key)
    if hit is not None and hit[0] is t:
        return hit[1]
    kind = t[0]
    if kind == "c":
        out: frozenset[str] = frozenset()
    elif kind == "v":
        out = frozenset((t[1],))
    elif kind == "f":
        out = variables(t[2], memo)
    elif kind == "neg":
        out = variables(t[1], memo)
    else:
        out = variables(t[1], memo) | variables(t[2], memo)
    memo[key] = (t, out)
    return out


# --------------------------------------------------------------------------- derivatives
def _dfn(fn: str, a: Tree) -> Tree:
    """d fn(a) / d a as a tree."""
    if fn == "sqrt":
        return div(const(0.5), call("sqrt", a))
    if fn == "exp":
        return call("exp", a)
    if fn in ("log", "ln"):
        return div(ONE, a)
    if fn == "log10":
        return div(ONE, mul(a, const(math.log(10.0))))
    if fn == "sin":
        return call("cos", a)
    if fn == "cos":
        return neg(call("sin", a))
    if fn == "tan":
        return div(ONE, pow_(call("cos", a), const(2)))
    if fn == "asin":
        return div(ONE, call("sqrt", sub(ONE, pow_(a, const(2)))))
    if fn == "acos":
        return neg(div(ONE, call("sqrt", sub(ONE, pow_(a, const(2))))))
    if fn == "atan":
        return div(ONE, add(ONE, pow_(a, const(2))))
    if fn == "sinh":
        return call("cosh", a)
    if fn == "cosh":
        return call("sinh", a)
    if fn == "tanh":
        return sub(ONE, pow_(call("tanh", a), const(2)))
    if fn == "abs":
        return call("sign", a)
    if fn == "sign":
        return ZERO
    raise ModelError(f"no derivative rule for function {fn!r}")  # pragma: no cover


def diff(t: Tree, var: str, _memo: dict | None = None) -> Tree:
    """Symbolic partial derivative of ``t`` with respect to ``var``."""
    memo = {} if _memo is None else _memo
    key = (id(t), var)
    hit = memo.get(key)
    if hit is not None and hit[0] is t:
        return hit[1]
    kind = t[0]
    if kind == "c" or var not in variables(t, memo):
        d = ZERO
    elif kind == "v":
        d = ONE if t[1] == var else ZERO
    elif kind == "+":
        d = add(diff(t[1], var, memo), diff(t[2], var, memo))
    elif kind == "-":
        d = sub(diff(t[1], var, memo), diff(t[2], var, memo))
    elif kind == "*":
        a, b = t[1], t[2]
        d = add(mul(diff(a, var, memo), b), mul(a, diff(b, var, memo)))
    elif kind == "/":
        a, b = t[1], t[2]
        d = sub(div(diff(a, var, memo), b), div(mul(a, diff(b, var, memo)), pow_(b, const(2))))
    elif kind == "**":
        a, b = t[1], t[2]
        da, db = diff(a, var, memo), diff(b, var, memo)
        if _is_c(db, 0.0):   # constant exponent: b a^(b-1) a'
            d = mul(mul(b, pow_(a, sub(b, ONE))), da)
        else:                # a^b (b' ln a + b a'/a)
            d = mul(t, add(mul(db, call("log", a)), div(mul(b, da), a)))
    elif kind == "neg":
        d = neg(diff(t[1], var, memo))
    elif kind == "f":
        d = mul(_dfn(t[1], t[2]), diff(t[2], var, memo))
    else:  # pragma: no cover
        raise ModelError(f"unknown expression node {kind!r}")
    memo[key] = (t, d)
    return d


# --------------------------------------------------------------------------- numeric gradient
# All first derivatives of a tree at one point, in a single bottom-up pass ("vector forward
# mode").  It gives bit for bit the numbers ``evaluate(diff(t, v), env)`` gives: every
# derivative is combined by the same rules as :func:`diff`, through numeric twins of the tree
# builders that simplify exactly as they do (a constant stays a ``("c", x)`` tuple, anything
# else is its number) and compute what :func:`evaluate` would compute on the tree the
# builders would have made.  The GUM needs only these numbers; building 50 derivative trees
# of a 50-input sum costs O(N²), this pass O(N).
def _nv(a: Any) -> Any:
    return a[1] if type(a) is tuple else a


def _nz(a: Any) -> bool:
    return type(a) is tuple and a[1] == 0.0


def _nadd(a: Any, b: Any) -> Any:
    if _nz(a):
        return b
    if _nz(b):
        return a
    if type(a) is tuple and type(b) is tuple:
        return const(a[1] + b[1])
    return _nv(a) + _nv(b)


def _nsub(a: Any, b: Any) -> Any:
    if _nz(b):
        return a
    if _nz(a):
        return _nneg(b)
    if type(a) is tuple and type(b) is tuple:
        return const(a[1] - b[1])
    return _nv(a) - _nv(b)


def _nmul(a: Any, b: Any) -> Any:
    if _nz(a) or _nz(b):
        return ZERO
    if type(a) is tuple and a[1] == 1.0:
        return b
    if type(b) is tuple and b[1] == 1.0:
        return a
    if type(a) is tuple and type(b) is tuple:
        return const(a[1] * b[1])
    return _nv(a) * _nv(b)


def _ndiv(a: Any, b: Any) -> Any:
    if _nz(a):
        return ZERO
    if type(b) is tuple and b[1] == 1.0:
        return a
    if type(a) is tuple and type(b) is tuple and b[1] != 0.0:
        return const(a[1] / b[1])
    return _nv(a) / _nv(b)


def _npow(a: Any, b: Any) -> Any:
    if _nz(b):
        return ONE
    if type(b) is tuple and b[1] == 1.0:
        return a
    if type(a) is tuple and type(b) is tuple:
        return const(a[1] ** b[1])
    return np.power(_nv(a), _nv(b))


def _nneg(a: Any) -> Any:
    if type(a) is tuple:
        return const(-a[1])
    return -a   # neg(neg(x)) -> x: -(-v) == v exactly


def _ncall(fn: str, a: Any) -> Any:
    if type(a) is tuple:
        return const(float(FUNCTIONS[fn](a[1])))
    return FUNCTIONS[fn](a)


_ARG = "\0arg"
_DFN_TREES: dict[str, Tree] = {}


def _ndfn(fn: str, a: Any) -> Any:
    """Numeric twin of :func:`_dfn` (its tree, built once per function, evaluated at a)."""
    tree = _DFN_TREES.get(fn)
    if tree is None:
        tree = _DFN_TREES[fn] = _dfn(fn, ("v", _ARG))
    return tree if tree[0] == "c" else evaluate(tree, {_ARG: a})


def _nd(kind: str, vt: Any, va: Any, vb: Any, da: Any, db: Any) -> Any:
    """∂t/∂v of a binary node from its value ``vt``, its children's values and derivatives: the
    rules of :func:`diff`."""
    if kind == "*":
        return _nadd(_nmul(da, vb), _nmul(va, db))
    if kind == "/":
        return _nsub(_ndiv(da, vb), _ndiv(_nmul(va, db), _npow(vb, const(2))))
    if kind == "**":
        if _nz(db):
            return _nmul(_nmul(vb, _npow(va, _nsub(vb, ONE))), da)
        return _nmul(vt, _nadd(_nmul(db, _ncall("log", va)), _ndiv(_nmul(vb, da), va)))
    if kind == "+":
        return _nadd(da, db)
    if kind == "-":
        return _nsub(da, db)
    raise ModelError(f"unknown expression node {kind!r}")  # pragma: no cover


def gradient(t: Tree, env: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Value of ``t`` and ∂t/∂v for every variable v of ``t``, at the point ``env``.

    The same numbers as ``evaluate(t, env)`` and ``evaluate(diff(t, v), env)`` (see above),
    floats or numpy scalars; run it under ``np.errstate`` if non-finite values may occur.
    """
    memo: dict[int, tuple] = {}

    def walk(n: Tree) -> tuple[Any, dict[str, Any], bool]:
        hit = memo.get(id(n))
        if hit is not None and hit[0] is n:
            return hit[1]
        kind = n[0]
        if kind == "c":
            out = (n, {}, False)
        elif kind == "v":
            out = (env[n[1]], {n[1]: ONE}, False)
        elif kind == "neg":
            va, ga, _ = walk(n[1])
            g = {v: _nneg(d) for v, d in ga.items()}
            out = (-_nv(va), g, any(_nz(d) for d in g.values()))
        elif kind == "f":
            fn = n[1]
            va, ga, _ = walk(n[2])
            dfn = _ndfn(fn, va) if ga else ZERO
            g = {v: _nmul(dfn, d) for v, d in ga.items()}
            out = (FUNCTIONS[fn](_nv(va)), g, any(_nz(d) for d in g.values()))
        else:
            (va, ga, za), (vb, gb, zb) = walk(n[1]), walk(n[2])
            a, b = _nv(va), _nv(vb)
            value = (a + b if kind == "+" else a - b if kind == "-" else a * b if kind == "*"
                     else a / b if kind == "/" else np.power(a, b))
            if kind == "+" and not za and ga.keys().isdisjoint(gb):
                out = (value, {**ga, **gb}, zb)       # one term per variable: passed through
            elif kind == "-" and not gb:
                out = (value, ga, za)
            elif kind == "*" and ga.keys().isdisjoint(gb):
                # d(a*b) = da*b + a*db with one of the two terms ZERO (diff's simplification)
                g = {}
                for v, d in ga.items():
                    r = _nmul(d, vb)
                    g[v] = ZERO if _nz(r) else r
                for v, d in gb.items():
                    g[v] = _nmul(va, d)
                out = (value, g, any(_nz(d) for d in g.values()))
            else:
                g = {v: _nd(kind, value, va, vb, ga.get(v, ZERO), gb.get(v, ZERO)) for v in ga.keys() | gb.keys()}
                out = (value, g, any(_nz(d) for d in g.values()))
        memo[id(n)] = (n, out)
        return out

    value, grads, _ = walk(t)
    return _nv(value), {v: _nv(d) for v, d in grads.items()}


# --------------------------------------------------------------------------- evaluation
def evaluate(t: Tree, env: Mapping[str, Any]) -> Any:
    """Value of ``t`` with variables from ``env`` (floats or numpy arrays, broadcast)."""
    kind = t[0]
    if kind == "c":
        return t[1]
    if kind == "v":
        return env[t[1]]
    if kind == "+":
        return evaluate(t[1], env) + evaluate(t[2], env)
    if kind == "-":
        return evaluate(t[1], env) - evaluate(t[2], env)
    if kind == "*":
        return evaluate(t[1], env) * evaluate(t[2], env)
    if kind == "/":
        return evaluate(t[1], env) / evaluate(t[2], env)
    if kind == "**":
        return np.power(evaluate(t[1], env), evaluate(t[2], env))
    if kind == "neg":
        return -evaluate(t[1], env)
    if kind == "f":
        return FUNCTIONS[t[1]](evaluate(t[2], env))
    raise ModelError(f"unknown expression node {kind!r}")  # pragma: no cover


def to_text(t: Tree) -> str:
    """Readable (fully parenthesised) form of a tree, for messages and debugging."""
    kind = t[0]
    if kind == "c":
        return repr(t[1])
    if kind == "v":
        return t[1]
    if kind == "neg":
        return f"-({to_text(t[1])})"
    if kind == "f":
        return f"{t[1]}({to_text(t[2])})"
    return f"({to_text(t[1])} {kind} {to_text(t[2])})"


# --------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class Equation:
    """One parsed equation ``output = tree``; ``unit`` is the output's unit in SI base units."""

    output: str
    tree: Tree
    unit: pint.Unit
    text: str
    inputs_in_order: tuple[str, ...]   # input names in order of first appearance
    variables: frozenset[str] = frozenset()   # names the tree depends on (after simplification)


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


# pint unit arithmetic costs microseconds a call; a model uses the same few units over and over
# (pint units are immutable and hashable, so the results can be shared)
@lru_cache(maxsize=4096)
def _same_dim(ua: pint.Unit, ub: pint.Unit) -> bool:
    return ua.dimensionality == ub.dimensionality


def _dimensionless(u: pint.Unit) -> bool:
    return _same_dim(u, DIMENSIONLESS)


@lru_cache(maxsize=4096)
def _umul(ua: pint.Unit, ub: pint.Unit) -> pint.Unit:
    return ua * ub


@lru_cache(maxsize=4096)
def _udiv(ua: pint.Unit, ub: pint.Unit) -> pint.Unit:
    return ua / ub


@lru_cache(maxsize=4096)
def _upow(ua: pint.Unit, p: float) -> pint.Unit:
    return ua ** p


def unit_of(t: Tree, units: Mapping[str, pint.Unit]) -> pint.Unit:
    """The unit of ``t`` composed from the units of its variables as given (not reduced to SI
    base units): ``x1*x2`` with both in V is V², ``U*I`` in V and mA is V·mA.  The tree must
    have passed the unit checks of :func:`parse_equation` (sums of one dimension take the unit
    of their first term; functions other than ``abs`` are dimensionless)."""
    kind = t[0]
    if kind == "c":
        return DIMENSIONLESS
    if kind == "v":
        return units[t[1]]
    if kind == "neg":
        return unit_of(t[1], units)
    if kind == "f":
        return unit_of(t[2], units) if t[1] in _UNIT_PRESERVING else DIMENSIONLESS
    if kind in ("+", "-"):
        return unit_of(t[1], units)
    if kind == "*":
        return _umul(unit_of(t[1], units), unit_of(t[2], units))
    if kind == "/":
        return _udiv(unit_of(t[1], units), unit_of(t[2], units))
    base = unit_of(t[1], units)   # "**": a dimensioned base has a constant exponent
    return _upow(base, t[2][1]) if t[2][0] == "c" else DIMENSIONLESS


class _Converter:
    """AST -> tree, checking units on the way (``units`` maps a name to its base unit)."""

    def __init__(self, text: str, units: Mapping[str, pint.Unit], where: str):
        self.text, self.units, self.where = text, units, where
        self.seen: list[str] = []

    def _seg(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.dump(node)

    def _fail(self, node: ast.AST, reason: str, cls: type = ModelError) -> Exception:
        col = getattr(node, "col_offset", None)
        at = f" (column {col + 1})" if col is not None else ""
        return cls(f"{self.where}{at}: {reason}")

    def convert(self, node: ast.AST) -> tuple[Tree, pint.Unit]:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self._fail(node, f"only numbers may appear as constants, not {node.value!r}")
            return const(node.value), DIMENSIONLESS
        if isinstance(node, ast.Name):
            name = node.id
            if name in self.units:
                if name not in self.seen:
                    self.seen.append(name)
                return ("v", name), self.units[name]
            if name in CONSTANTS:
                return const(CONSTANTS[name]), DIMENSIONLESS
            if name in FUNCTIONS:
                raise self._fail(node, f"{name!r} is a function; call it as {name}(...)")
            raise self._fail(node, f"unknown name {name!r}: it is neither an input nor an "
                                   f"earlier output (known: {', '.join(sorted(self.units)) or 'none'})")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            t, u = self.convert(node.operand)
            return (neg(t) if isinstance(node.op, ast.USub) else t), u
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self._binop(node, _BINOPS[type(node.op)])
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.BinOp):
            raise self._fail(node, f"operator in {self._seg(node)!r} is not allowed; use + - * / **")
        raise self._fail(node, f"{self._seg(node)!r} is not allowed in an equation (only numbers, "
                               "names, + - * / **, unary minus and calls of "
                               f"{', '.join(sorted(FUNCTIONS))})")

    def _binop(self, node: ast.BinOp, op: str) -> tuple[Tree, pint.Unit]:
        a, ua = self.convert(node.left)
        b, ub = self.convert(node.right)
        if op in "+-":
            if not _same_dim(ua, ub):
                raise self._fail(node, (
                    f"cannot {'add' if op == '+' else 'subtract'} "
                    f"{self._seg(node.left)!r} [{_dim_text(ua)}] and {self._seg(node.right)!r} "
                    f"[{_dim_text(ub)}]: the units are inconsistent; check the units of the inputs"),
                    UnitConsistencyError)
            return (add(a, b) if op == "+" else sub(a, b)), ua
        if op == "*":
            return mul(a, b), _umul(ua, ub)
        if op == "/":
            return div(a, b), _udiv(ua, ub)
        # power
        if not _dimensionless(ub):
            raise self._fail(node.right, f"the exponent {self._seg(node.right)!r} has unit "
                                         f"[{_dim_text(ub)}]; an exponent must be dimensionless",
                             UnitConsistencyError)
        if _dimensionless(ua):
            return pow_(a, b), DIMENSIONLESS
        if not _is_c(b):
            raise self._fail(node, f"{self._seg(node.left)!r} has unit [{_dim_text(ua)}] and is "
                                   f"raised to the non-constant power {self._seg(node.right)!r}; "
                                   "the result would have no definite unit", UnitConsistencyError)
        return pow_(a, b), _upow(ua, b[1])

    def _call(self, node: ast.Call) -> tuple[Tree, pint.Unit]:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise self._fail(node, f"call {self._seg(node)!r} is not allowed; allowed functions: "
                                   f"{', '.join(sorted(FUNCTIONS))}")
        fn = node.func.id
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self._fail(node, f"{fn}() takes exactly one positional argument")
        a, ua = self.convert(node.args[0])
        dimensionless = _dimensionless(ua)
        if fn == "sqrt":
            return call(fn, a), _upow(ua, 0.5)
        if fn in _UNIT_PRESERVING:
            return call(fn, a), ua
        if fn == "sign":
            return call(fn, a), DIMENSIONLESS
        if not dimensionless:
            raise self._fail(node, f"{fn}() needs a dimensionless argument, but "
                                   f"{self._seg(node.args[0])!r} has unit [{_dim_text(ua)}]",
                             UnitConsistencyError)
        return call(fn, a), DIMENSIONLESS


def _dim_text(u: pint.Unit) -> str:
    if u.dimensionality == DIMENSIONLESS.dimensionality:
        return "dimensionless" if u == DIMENSIONLESS else f"{u:~P} (dimensionless)"
    return f"{u:~P}"


#: parsed equations by (text, units of the names in it): a model is often built again and
#: again with the same equations (one per calibration point), and parsing with unit checks is
#: most of building it.  Equations and trees are immutable, so they can be shared.
_EQUATIONS: dict[tuple, Equation] = {}
_EQUATIONS_MAX = 512


@lru_cache(maxsize=_EQUATIONS_MAX)
def _names_in(text: str) -> tuple[str, ...] | None:
    """The names an equation text mentions (None if it does not parse: no caching then)."""
    try:
        module = ast.parse(text.strip(), mode="exec")
    except (SyntaxError, ValueError):
        return None
    return tuple(sorted({node.id for node in ast.walk(module) if isinstance(node, ast.Name)}))


def parse_equation(text: str, units: Mapping[str, pint.Unit], where: str = "") -> Equation:
    """Parse ``"Y = expression"``; ``units`` maps each known name to its SI base unit.

    Raises :class:`ModelError` for anything outside the whitelist and
    :class:`UnitConsistencyError` for inconsistent units.  Successful parses are remembered
    (the result depends only on the text and the units of the names in it).
    """
    names = _names_in(text) if isinstance(text, str) else None
    if names is None:
        return _parse_equation(text, units, where)
    key = (text, tuple(None if (u := units.get(n)) is None else u._units for n in names))
    eq = _EQUATIONS.get(key)
    if eq is None:
        eq = _parse_equation(text, units, where)
        if len(_EQUATIONS) >= _EQUATIONS_MAX:
            _EQUATIONS.clear()
        _EQUATIONS[key] = eq
    return eq


def _parse_equation(text: str, units: Mapping[str, pint.Unit], where: str = "") -> Equation:
    where = where or f"equation {text!r}"
    if not isinstance(text, str) or not text.strip():
        raise ModelError(f"{where}: an equation must be a non-empty string 'Y = expression'")
    try:
        module = ast.parse(text.strip(), mode="exec")
    except SyntaxError as exc:
        col = f" (column {exc.offset})" if exc.offset else ""
        raise ModelError(f"{where}{col}: not a valid equation: {exc.msg}") from None
    body = module.body
    if (len(body) != 1 or not isinstance(body[0], ast.Assign) or len(body[0].targets) != 1
            or not isinstance(body[0].targets[0], ast.Name)):
        raise ModelError(f"{where}: write one equation of the form 'Y = expression' "
                         "(a single output name on the left)")
    output = body[0].targets[0].id
    if output in FUNCTIONS or output in CONSTANTS:
        raise ModelError(f"{where}: {output!r} is a reserved name and cannot be an output")
    conv = _Converter(text.strip(), units, where)
    tree, unit = conv.convert(body[0].value)
    return Equation(output, tree, unit, text.strip(), tuple(conv.seen), variables(tree))


def substitute(t: Tree, replacements: Mapping[str, Tree]) -> Tree:
    """Replace variables by trees (used to inline earlier outputs into later equations)."""
    kind = t[0]
    if kind == "c":
        return t
    if kind == "v":
        return replacements.get(t[1], t)
    if kind == "neg":
        return neg(substitute(t[1], replacements))
    if kind == "f":
        return call(t[1], substitute(t[2], replacements))
    a, b = substitute(t[1], replacements), substitute(t[2], replacements)
    return {"+": add, "-": sub, "*": mul, "/": div, "**": pow_}[kind](a, b)

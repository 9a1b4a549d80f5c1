"""Monte Carlo propagation of distributions (JCGM 101:2008).

* Vectorised: each trial is one element of numpy arrays; the model trees are evaluated once
  per block of trials.  Random numbers come from ``numpy.random.default_rng(seed)`` (PCG64),
  so a run is reproducible from its seed.
* Correlated inputs (JCGM 101 6.4.8): inputs linked by non-zero correlations form a group that
  is drawn jointly — a multivariate Gaussian when all are :class:`Normal`, a multivariate t
  (JCGM 101 6.4.9.7, one shared χ² per trial) when all are t-distributed with the same ν (the
  simultaneous Type A series of GUM H.2).  Other correlated combinations are refused.
* Adaptive (JCGM 101 7.9): blocks of M = max(⌈100/(1−p)⌉, 10⁴) trials until twice the standard
  deviation of the block means of y, u(y), y_low and y_high is within the numerical tolerance
  δ of u(y) stated to ``tolerance_digits`` significant digits (δ = ½·10^l for u = c·10^l).
* Coverage intervals (JCGM 101 7.7): probabilistically symmetric and shortest.
* Validation of the GUM uncertainty framework (JCGM 101 clause 8): :func:`validate_gum`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP
from typing import Any

import numpy as np
import pint

from labauto.uncertainty.distributions import Normal, StudentT
from labauto.uncertainty.errors import MonteCarloError, WelchSatterthwaiteError
from labauto.uncertainty.model import Model
from labauto.uncertainty.rounding import round_significant

BLOCK = 200_000          # trials per vectorised block (memory ~ inputs x BLOCK x 8 bytes)


def numerical_tolerance(u: float, ndig: int) -> float:
    """δ = ½·10^l where u, rounded to ``ndig`` significant digits, is c·10^l (JCGM 101 7.9.2)."""
    if not (u > 0 and math.isfinite(u)):
        return 0.0
    return 0.5 * 10.0 ** round_significant(u, ndig, ROUND_HALF_UP).as_tuple().exponent


def coverage_interval(sorted_y: np.ndarray, p: float, kind: str = "symmetric") -> tuple[float, float]:
    """Coverage interval from sorted trial values (JCGM 101 7.7.1 symmetric, 7.7.2 shortest)."""
    M = sorted_y.size
    if not 0 < p < 1:
        raise ValueError(f"coverage probability must be in (0, 1), got {p}")
    pM = p * M
    q = int(round(pM)) if abs(pM - round(pM)) < 1e-9 else int(pM + 0.5)
    if q >= M:
        raise MonteCarloError(f"{M} trials are too few for a {p:.0%} coverage interval")
    if kind == "symmetric":
        lowM = (1 - p) * M / 2
        r = int(round(lowM)) if abs(lowM - round(lowM)) < 1e-9 else int(lowM + 0.5)
        r = max(r, 1)
        return float(sorted_y[r - 1]), float(sorted_y[r + q - 1])
    if kind == "shortest":
        widths = sorted_y[q:] - sorted_y[: M - q]
        r = int(np.argmin(widths))
        return float(sorted_y[r]), float(sorted_y[r + q])
    raise ValueError(f"interval kind must be 'symmetric' or 'shortest', got {kind!r}")


class _Sampler:
    """Draws all inputs of a model jointly, honouring correlations (in SI base units)."""

    def __init__(self, model: Model):
        self.model = model
        names = model.input_names
        # connected components of the correlation graph
        parent = {n: n for n in names}

        def find(n: str) -> str:
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        for (a, b), r in model.correlations.items():
            if r != 0.0:
                parent[find(a)] = find(b)
        groups: dict[str, list[str]] = {}
        for n in names:
            groups.setdefault(find(n), []).append(n)
        self.groups: list[tuple[str, list[str], Any]] = []
        for members in groups.values():
            if len(members) == 1:
                self.groups.append(("single", members, None))
                continue
            dists = [model.inputs[n] for n in members]
            R = np.array([[model.correlation(a, b) for b in members] for a in members])
            L = _matrix_root(R)
            if all(type(d) is Normal for d in dists):
                self.groups.append(("mvn", members, L))
            elif all(isinstance(d, StudentT) for d in dists) and len({d.dof for d in dists}) == 1:
                self.groups.append(("mvt", members, L))
            else:
                kinds = ", ".join(f"{n} ({model.inputs[n].kind}, ν={model.inputs[n].dof:g})" for n in members)
                raise MonteCarloError(
                    f"Monte Carlo cannot draw the correlated inputs {kinds}: JCGM 101 defines joint "
                    "distributions only for correlated Gaussian inputs (6.4.8) or t-distributed inputs "
                    "with equal degrees of freedom (6.4.9); model the common effect as a shared input "
                    "instead of a correlation")

    def draw(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for kind, members, L in self.groups:
            if kind == "single":
                d = self.model.inputs[members[0]]
                out[members[0]] = d.sample_base(rng, n)
                continue
            z = rng.standard_normal((n, len(members))) @ L.T
            if kind == "mvt":
                nu = self.model.inputs[members[0]].dof
                z = z / np.sqrt(rng.chisquare(nu, n) / nu)[:, None]
            for col, name in enumerate(members):
                d = self.model.inputs[name]
                # a t input given by its standard uncertainty is drawn with its scale
                s = getattr(d, "scale_mag", d.u_mag) if kind == "mvt" else d.u_mag
                out[name] = d.scale.value_to_base(d.x) + z[:, col] * s * d.scale.factor
        return out


def _matrix_root(R: np.ndarray) -> np.ndarray:
    """L with L Lᵀ = R (Cholesky; eigen-decomposition for a singular, semi-definite R)."""
    try:
        return np.linalg.cholesky(R)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(R)
        return V @ np.diag(np.sqrt(np.clip(w, 0.0, None)))


def _evaluate_block(model: Model, sampler: _Sampler, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    env = sampler.draw(rng, n)
    out = {}
    with np.errstate(all="ignore"):
        values = model.evaluate_base(env, n)
        for y in model.outputs:
            v = values[y]
            bad = int(np.count_nonzero(~np.isfinite(v)))
            if bad:
                raise MonteCarloError(
                    f"output {y!r} is not finite in {bad} of {n} trials (division by zero, log or "
                    "sqrt of a negative value ...): an input's distribution reaches a value where the "
                    "model is undefined; check the model and the input distributions")
            out[y] = v
    return out


@dataclass
class MonteCarloResult:
    """Trial values of every output (SI base units) and the statistics JCGM 101 asks for."""

    model: Model
    samples_base: dict[str, np.ndarray]
    seed: Any
    coverage_probability: float = 0.95
    adaptive: bool = False
    converged: bool = True
    tolerance_digits: int | None = None
    blocks: int = 1
    _sorted: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def trials(self) -> int:
        return int(next(iter(self.samples_base.values())).size)

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.model.outputs

    def samples(self, output: str | None = None) -> pint.Quantity:
        """All trial values of an output, in its unit."""
        y = self.model._output(output)
        s = self.model.output_scales[y]
        return s.value_from_base(self.samples_base[y])

    def estimate(self, output: str | None = None) -> pint.Quantity:
        """Mean of the trial values (JCGM 101 7.6)."""
        y = self.model._output(output)
        return self.model.output_scales[y].value_from_base(float(np.mean(self.samples_base[y])))

    def u(self, output: str | None = None) -> pint.Quantity:
        """Standard deviation of the trial values (JCGM 101 7.6, divisor M − 1)."""
        y = self.model._output(output)
        return self.model.output_scales[y].diff_from_base(float(np.std(self.samples_base[y], ddof=1)))

    def interval(self, output: str | float | None = None, *, p: float | None = None,
                 kind: str = "symmetric") -> tuple[pint.Quantity, pint.Quantity]:
        """Coverage interval [y_low, y_high] for probability ``p`` (default: the run's p)."""
        if isinstance(output, (int, float)) and not isinstance(output, bool):
            output, p = None, float(output)   # mc.interval(0.95)
        y = self.model._output(output)
        if y not in self._sorted:
            self._sorted[y] = np.sort(self.samples_base[y])
        lo, hi = coverage_interval(self._sorted[y], self.coverage_probability if p is None else p, kind)
        s = self.model.output_scales[y]
        return s.value_from_base(lo), s.value_from_base(hi)

    def numerical_tolerance(self, output: str | None = None, ndig: int = 2) -> pint.Quantity:
        y = self.model._output(output)
        s = self.model.output_scales[y]
        return s.diff_from_base(numerical_tolerance(float(np.std(self.samples_base[y], ddof=1)), ndig))

    @property
    def covariance(self) -> np.ndarray:
        """Output covariance matrix in the outputs' units (order :attr:`outputs`)."""
        f = np.array([self.model.output_scales[y].factor for y in self.model.outputs])
        data = np.vstack([self.samples_base[y] for y in self.model.outputs])
        return np.atleast_2d(np.cov(data)) / np.outer(f, f)

    @property
    def correlation(self) -> np.ndarray:
        data = np.vstack([self.samples_base[y] for y in self.model.outputs])
        return np.atleast_2d(np.corrcoef(data))

    def corr(self, a: str, b: str) -> float:
        o = self.model.outputs
        return float(self.correlation[o.index(a), o.index(b)])


def monte_carlo(model: Model, trials: int = 10 ** 6, *, adaptive: bool = False, tolerance_digits: int = 2,
                seed: Any = None, coverage_probability: float = 0.95, max_trials: int = 10 ** 7,
                interval_kind: str = "symmetric") -> MonteCarloResult:
    """Propagate the input distributions of ``model`` through it (JCGM 101 clause 7).

    ``trials`` fixed, or ``adaptive=True`` for JCGM 101 7.9 with u(y) stated to
    ``tolerance_digits`` significant digits (``max_trials`` caps it; the result then has
    ``converged = False``).
    """
    sampler = _Sampler(model)
    rng = np.random.default_rng(seed)
    if not adaptive:
        if not (isinstance(trials, (int, np.integer)) and trials >= 2):
            raise MonteCarloError(f"trials must be an integer >= 2, got {trials!r}")
        parts: dict[str, list[np.ndarray]] = {y: [] for y in model.outputs}
        done = 0
        while done < trials:
            n = min(BLOCK, trials - done)
            for y, v in _evaluate_block(model, sampler, rng, n).items():
                parts[y].append(v)
            done += n
        return MonteCarloResult(model, {y: np.concatenate(v) for y, v in parts.items()}, seed,
                                coverage_probability, blocks=math.ceil(trials / BLOCK))
    return _adaptive(model, sampler, rng, seed, tolerance_digits, coverage_probability, max_trials, interval_kind)


def _adaptive(model: Model, sampler: _Sampler, rng: np.random.Generator, seed: Any, ndig: int,
              p: float, max_trials: int, kind: str) -> MonteCarloResult:
    if not (isinstance(ndig, int) and 1 <= ndig <= 6):
        raise MonteCarloError(f"tolerance_digits must be an integer from 1 to 6, got {ndig!r}")
    M = max(math.ceil(100 / (1 - p)), 10 ** 4)
    stats: dict[str, list[tuple[float, float, float, float]]] = {y: [] for y in model.outputs}
    parts: dict[str, list[np.ndarray]] = {y: [] for y in model.outputs}
    h = 0
    converged = False
    while h * M < max_trials:
        block = _evaluate_block(model, sampler, rng, M)
        h += 1
        for y, v in block.items():
            parts[y].append(v)
            lo, hi = coverage_interval(np.sort(v), p, kind)
            stats[y].append((float(v.mean()), float(v.std(ddof=1)), lo, hi))
        if h < 2:
            continue
        converged = True
        for y in model.outputs:
            arr = np.array(stats[y])                       # h x 4
            s = arr.std(axis=0, ddof=1) / math.sqrt(h)     # standard deviation of the average
            u_all = float(np.concatenate(parts[y]).std(ddof=1))
            delta = numerical_tolerance(u_all, ndig)
            if u_all > 0 and not np.all(2 * s <= delta):
                converged = False
                break
        if converged:
            break
    return MonteCarloResult(model, {y: np.concatenate(v) for y, v in parts.items()}, seed, p,
                            adaptive=True, converged=converged, tolerance_digits=ndig, blocks=h)


@dataclass(frozen=True)
class Validation:
    """Outcome of the JCGM 101 clause 8 comparison of the GUF with MCM for one output."""

    output: str
    validated: bool
    d_low: pint.Quantity
    d_high: pint.Quantity
    delta: pint.Quantity
    gum_interval: tuple[pint.Quantity, pint.Quantity]
    mc_interval: tuple[pint.Quantity, pint.Quantity]
    ndig: int

    @property
    def dlow(self) -> pint.Quantity:
        return self.d_low

    @property
    def dhigh(self) -> pint.Quantity:
        return self.d_high

    def __bool__(self) -> bool:
        return self.validated


def validate_gum(gum_result: Any, mc: MonteCarloResult, ndig: int = 2, output: str | None = None,
                 coverage_probability: float | None = None, k: float | None = None,
                 kind: str = "symmetric") -> Validation:
    """JCGM 101 8.2: is the GUF interval y ± U_p validated by the MCM interval [y_low, y_high]?

    d_low = |y − U_p − y_low|, d_high = |y + U_p − y_high|; validated when both ≤ δ, the
    numerical tolerance of the GUF u(y) stated to ``ndig`` significant digits.  U_p comes from
    the GUF budget (k from ν_eff) unless ``k`` is given.
    """
    model = gum_result.model
    y = model._output(output)
    p = mc.coverage_probability if coverage_probability is None else coverage_probability
    try:
        b = gum_result.budget(y, coverage_probability=p, k=k)
    except WelchSatterthwaiteError as exc:
        raise WelchSatterthwaiteError(f"{exc} (validate_gum: pass k=...)") from None
    s = model.output_scales[y]
    yv = s.value_to_base(float(b.estimate.to(s.unit).magnitude))
    Up = float(b.expanded_uncertainty.magnitude) * s.factor
    uc = float(b.combined_uncertainty.magnitude) * s.factor
    lo, hi = mc.interval(y, p=p, kind=kind)
    lo_b, hi_b = s.value_to_base(float(lo.to(s.unit).magnitude)), s.value_to_base(float(hi.to(s.unit).magnitude))
    d_low, d_high = abs(yv - Up - lo_b), abs(yv + Up - hi_b)
    delta = numerical_tolerance(uc, ndig)
    return Validation(
        output=y, validated=bool(d_low <= delta and d_high <= delta),
        d_low=s.diff_from_base(d_low), d_high=s.diff_from_base(d_high), delta=s.diff_from_base(delta),
        gum_interval=(s.value_from_base(yv - Up), s.value_from_base(yv + Up)), mc_interval=(lo, hi), ndig=ndig)

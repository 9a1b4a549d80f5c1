"""Calibration intervals from as-found history: NCSLI RP-1 (2010) methods A3 and S2 (pure numbers).

The data are resubmission times and as-found results: every calibration after the first gives
one observation (t = days since the previous calibration, in tolerance as found or not); the
item is taken to be renewed (in tolerance as left) at every calibration, RP-1's renewal-always
policy.  Items of one make and model may be pooled (RP-1 analyses homogeneous groups).

Method A3, interval test (NCSLI RP-1, 2010, method A3, as taught in the NCSLI 2019
Workshop & Symposium tutorial on calibration intervals).  The observations whose resubmission
time lies within ``window`` of the current interval I0 give x in tolerance of n and the observed
reliability R0 = x/n.  The rejection confidence of I0 is the largest confidence at which the
two-sided binomial confidence limits of R0 exclude the target R*:

    Q = 1 - 2 P(X <= x | n, R*)     (R0 < R*: the interval is too long)
    Q = 1 - 2 P(X >= x | n, R*)     (R0 > R*: the interval is too short)
    Q = 1 - P(X = x | n, R*)        (x = 0 or x = n)

The interval fails the test when Q exceeds ``confidence``; it is then moved to

    I1 = I0 * 10^((R0 - R*) Q)          (shorten)
    I1 = I0 * 10^((R0 - R*) / (1 - Q))  (lengthen)

limited to I0/m ... I0*m (``max_change`` m, default 2).  The shortening branch reproduces the
published tutorial's three worked examples to the digits given (tests/quality/
test_intervals.py); the lengthening branch follows the same source's form, for which no
published worked example was found.  The Clopper-Pearson limits at ``confidence`` are given as
the evidence (the tutorial's "true reliability range").

Method S2, binomial method.  Reliability models R(t; theta) are fitted to all observations by
maximum likelihood of the binomial (Bernoulli) likelihood, prod R(t_i)^y_i (1 - R(t_i))^(1-y_i);
the models are RP-1's exponential, R = exp(-lambda t), and Weibull, R = exp(-(lambda t)^beta).
A model is rejected when its likelihood-ratio (deviance) test against the saturated model of
the time bins fails at ``confidence``; of the models not rejected the one with the lower AIC is
used, and the recommended interval solves R(I; theta) = R*.  S2 gives no interval when the bins'
mean resubmission times span less than a factor 1.5 (a model fitted at one time says nothing
about another).  A model whose reliability falls by less than 0.01 between the shortest and
the longest mean resubmission time of the bins explains the data by a drop at t ~ 0, not by the
time between calibrations (the Weibull fit runs to beta -> 0 when the in-tolerance fraction does
not change with time): it locates no interval and is not used (it had recommended 0.0 d).
Observations are binned (equal counts) only to show the evidence and for the goodness-of-fit
test.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Sequence

from labauto.errors import LabautoError

DEFAULT_CONFIDENCE = 0.90
DEFAULT_WINDOW = 0.25
DEFAULT_MAX_CHANGE = 2.0
MIN_SPREAD = 1.5          # S2: longest / shortest mean resubmission time of the bins
MIN_FALL = 0.01           # S2: a model's reliability must fall by this over the observed times


class IntervalError(LabautoError, ValueError):
    """Not enough (or unusable) as-found history for a method."""


@dataclass(frozen=True)
class Observation:
    asset_id: str
    start: dt.date            # the previous calibration
    end: dt.date              # this calibration (as found)
    in_tolerance: bool
    certificate_id: str = ""

    @property
    def days(self) -> float:
        return float((self.end - self.start).days)


def observations(items: Sequence[object]) -> tuple[list[Observation], list[str]]:
    """Observations of ``items`` (register Items) and notes on calibrations left out."""
    out, notes = [], []
    for item in items:
        cals = item.sorted_calibrations()  # type: ignore[attr-defined]
        for prev, cal in zip(cals, cals[1:]):
            if cal.as_found is None:
                notes.append(f"{item.asset_id} {cal.certificate_id}: no as-found condition "  # type: ignore[attr-defined]
                             "recorded; left out")
                continue
            if cal.date <= prev.date:
                continue
            out.append(Observation(item.asset_id, prev.date, cal.date,  # type: ignore[attr-defined]
                                   cal.as_found == "in_tolerance", cal.certificate_id))
    return out, notes


# -- binomial confidence limits --------------------------------------------------------------
def clopper_pearson(x: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided exact binomial confidence limits of a proportion x/n."""
    from scipy.stats import beta

    if n <= 0 or not 0 <= x <= n:
        raise IntervalError(f"need 0 <= x <= n and n > 0, not x={x}, n={n}")
    alpha = 1.0 - confidence
    lo = 0.0 if x == 0 else float(beta.ppf(alpha / 2, x, n - x + 1))
    hi = 1.0 if x == n else float(beta.ppf(1 - alpha / 2, x + 1, n - x))
    return lo, hi


# -- method A3 ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class A3Result:
    current: float
    target: float
    confidence: float
    window: tuple[float, float]
    used: int
    in_tolerance: int
    observed: float | None
    limits: tuple[float, float] | None
    verdict: str                 # "keep" | "lengthen" | "shorten" | "no data"
    recommended: float
    unused: int = 0
    rejection: float | None = None   # the rejection confidence Q of the current interval
    calculated: float | None = None  # I1 before the change is accepted or limited

    def to_dict(self) -> dict:
        return {"method": "A3", "current_days": self.current, "target": self.target,
                "confidence": self.confidence, "window_days": list(self.window),
                "n": self.used, "in_tolerance": self.in_tolerance,
                "observed_reliability": self.observed,
                "limits": None if self.limits is None else list(self.limits),
                "rejection_confidence": self.rejection, "calculated_days": self.calculated,
                "verdict": self.verdict, "recommended_days": self.recommended,
                "unused": self.unused}


def rejection_confidence(x: int, n: int, target: float) -> float:
    """RP-1 A3: the confidence with which x of n in tolerance rejects the target reliability."""
    from scipy.stats import binom

    if n <= 0 or not 0 <= x <= n:
        raise IntervalError(f"need 0 <= x <= n and n > 0, not x={x}, n={n}")
    if x in (0, n):
        return float(1.0 - binom.pmf(x, n, target))
    if x / n < target:
        return float(1.0 - 2.0 * binom.cdf(x, n, target))
    return float(1.0 - 2.0 * binom.sf(x - 1, n, target))


def a3_interval(current_days: float, observed: float, target: float, rejection: float) -> float:
    """RP-1 A3's new interval from the observed reliability and the rejection confidence."""
    exponent = ((observed - target) * rejection if observed < target
                else (observed - target) / max(1.0 - rejection, 1e-12))
    return current_days * 10.0 ** min(exponent, 300.0)


def method_a3(obs: Sequence[Observation], current_days: float, target: float, *,
              confidence: float = DEFAULT_CONFIDENCE, window: float = DEFAULT_WINDOW,
              max_change: float = DEFAULT_MAX_CHANGE) -> A3Result:
    if not 0 < target < 1:
        raise IntervalError(f"reliability target must be between 0 and 1, not {target}")
    lo_t, hi_t = current_days * (1 - window), current_days * (1 + window)
    used = [o for o in obs if lo_t <= o.days <= hi_t]
    n, x = len(used), sum(o.in_tolerance for o in used)
    if n == 0:
        return A3Result(current_days, target, confidence, (lo_t, hi_t), 0, 0, None, None,
                        "no data", current_days, len(obs))
    r0 = x / n
    q = rejection_confidence(x, n, target)
    calculated = a3_interval(current_days, r0, target, q)
    if q > confidence and r0 != target:
        verdict = "shorten" if r0 < target else "lengthen"
        new = min(max(calculated, current_days / max_change), current_days * max_change)
    else:
        verdict, new = "keep", current_days
    return A3Result(current_days, target, confidence, (lo_t, hi_t), n, x, r0,
                    clopper_pearson(x, n, confidence), verdict, new, len(obs) - n, q, calculated)


# -- method S2 ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelFit:
    name: str
    parameters: dict[str, float]
    log_likelihood: float
    aic: float
    deviance: float              # against the saturated model of the bins
    dof: int
    p_value: float
    accepted: bool
    interval: float | None       # solves R(I) = target

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def reliability(self, t: float) -> float:
        lam = self.parameters["lambda_per_day"]
        return (exponential(t, lam) if self.name == "exponential"
                else weibull(t, lam, self.parameters["beta"]))


@dataclass(frozen=True)
class Bin:
    start: float
    end: float
    mean_days: float
    n: int
    in_tolerance: int

    @property
    def reliability(self) -> float:
        return self.in_tolerance / self.n


@dataclass(frozen=True)
class S2Result:
    target: float
    confidence: float
    n: int
    bins: tuple[Bin, ...]
    fits: tuple[ModelFit, ...]
    chosen: str | None
    recommended: float | None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {"method": "S2", "target": self.target, "confidence": self.confidence,
                "n": self.n, "bins": [{"from_days": b.start, "to_days": b.end,
                                       "mean_days": b.mean_days, "n": b.n,
                                       "in_tolerance": b.in_tolerance,
                                       "reliability": b.reliability} for b in self.bins],
                "models": [f.to_dict() for f in self.fits], "chosen": self.chosen,
                "recommended_days": self.recommended, "notes": list(self.notes)}


def exponential(t: float, lam: float) -> float:
    return math.exp(-lam * t)


def weibull(t: float, lam: float, beta: float) -> float:
    return math.exp(-((lam * t) ** beta))


def _loglik(ts: Sequence[float], ys: Sequence[bool], reliability) -> float:
    total = 0.0
    for t, y in zip(ts, ys):
        r = min(max(reliability(t), 1e-300), 1 - 1e-16)
        total += math.log(r) if y else math.log(1.0 - r)
    return total


def make_bins(obs: Sequence[Observation], count: int | None = None) -> list[Bin]:
    """Bins of the resubmission times with about equal counts (about 5 observations per bin,
    2 to 10 bins); observations of one resubmission time always share a bin."""
    ordered = sorted(obs, key=lambda o: o.days)
    groups: list[list[Observation]] = []
    for o in ordered:
        if groups and groups[-1][0].days == o.days:
            groups[-1].append(o)
        else:
            groups.append([o])
    k = min(count or max(2, min(10, len(ordered) // 5)), len(groups))
    target = len(ordered) / k
    bins: list[list[Observation]] = [[]]
    for g in groups:
        if bins[-1] and len(bins[-1]) + len(g) / 2 > target and len(bins) < k:
            bins.append([])
        bins[-1].extend(g)
    return [Bin(b[0].days, b[-1].days, sum(o.days for o in b) / len(b), len(b),
                sum(o.in_tolerance for o in b)) for b in bins if b]


def _fit(name: str, obs: Sequence[Observation], bins: Sequence[Bin], target: float,
         confidence: float) -> ModelFit | None:
    from scipy.optimize import minimize, minimize_scalar
    from scipy.stats import chi2

    ts = [o.days for o in obs]
    ys = [o.in_tolerance for o in obs]
    scale = sum(ts) / len(ts)
    if name == "exponential":
        def nll(log_lam: float) -> float:
            return -_loglik(ts, ys, lambda t: exponential(t, math.exp(log_lam)))
        res = minimize_scalar(nll, bounds=(math.log(1e-6 / scale), math.log(50 / scale)),
                              method="bounded", options={"xatol": 1e-10})
        lam = math.exp(res.x)
        params = {"lambda_per_day": lam}
        model = lambda t: exponential(t, lam)  # noqa: E731
        k = 1
        interval = -math.log(target) / lam
    else:
        def nll2(p: Sequence[float]) -> float:
            return -_loglik(ts, ys, lambda t: weibull(t, math.exp(p[0]), math.exp(p[1])))
        starts = [(math.log(0.5 / scale), 0.0), (math.log(0.1 / scale), math.log(2.0)),
                  (math.log(1.0 / scale), math.log(0.5))]
        best = min((minimize(nll2, s, method="Nelder-Mead",
                             options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
                    for s in starts), key=lambda r: r.fun)
        lam, beta = math.exp(best.x[0]), math.exp(best.x[1])
        if not (1e-3 < beta < 50):
            return None
        params = {"lambda_per_day": lam, "beta": beta}
        model = lambda t: weibull(t, lam, beta)  # noqa: E731
        k = 2
        interval = (-math.log(target)) ** (1 / beta) / lam
    ll = _loglik(ts, ys, model)
    # deviance of the model's bin predictions against the bins' observed reliabilities
    dev = 0.0
    for b in bins:
        p = min(max(model(b.mean_days), 1e-12), 1 - 1e-12)
        for count, prob, obs_p in ((b.in_tolerance, p, b.reliability),
                                   (b.n - b.in_tolerance, 1 - p, 1 - b.reliability)):
            if count:
                dev += 2 * count * math.log(obs_p / prob)
    dof = max(len(bins) - k, 1)
    p_value = float(chi2.sf(dev, dof))
    return ModelFit(name, params, ll, 2 * k - 2 * ll, dev, dof, p_value,
                    p_value >= 1 - confidence, interval)


def method_s2(obs: Sequence[Observation], target: float, *,
              confidence: float = DEFAULT_CONFIDENCE, bins: int | None = None,
              minimum: int = 10) -> S2Result:
    if not 0 < target < 1:
        raise IntervalError(f"reliability target must be between 0 and 1, not {target}")
    notes = []
    if len(obs) < minimum:
        return S2Result(target, confidence, len(obs), (), (), None, None,
                        (f"{len(obs)} observations; S2 needs at least {minimum}",))
    fails = sum(not o.in_tolerance for o in obs)
    if fails == 0:
        return S2Result(target, confidence, len(obs), tuple(make_bins(obs, bins)), (), None, None,
                        ("no out-of-tolerance observation: the reliability models cannot be "
                         "fitted (use A3)",))
    binned = make_bins(obs, bins)
    fits = [f for f in (_fit(m, obs, binned, target, confidence)
                        for m in ("exponential", "weibull")) if f is not None]
    accepted = [f for f in fits if f.accepted]
    spread = binned[-1].mean_days / binned[0].mean_days if binned[0].mean_days > 0 else 0.0
    if len(binned) < 2 or spread < MIN_SPREAD:
        notes.append(f"the resubmission times span a factor {spread:.2f} (< {MIN_SPREAD:g}): the "
                     "reliability models cannot be told apart; no S2 interval (use A3)")
        accepted = []
    else:
        t_lo, t_hi = binned[0].mean_days, binned[-1].mean_days
        for f in accepted:
            fall = f.reliability(t_lo) - f.reliability(t_hi)
            if not fall >= MIN_FALL or not (f.interval is not None and f.interval > 0):
                notes.append(f"{f.name}: its reliability falls by {fall:.4f} from {t_lo:.0f} d to "
                             f"{t_hi:.0f} d (< {MIN_FALL:g}): it explains the data by a drop at "
                             "the start, not by the time between calibrations, and locates no "
                             "interval; not used")
        accepted = [f for f in accepted if f.reliability(t_lo) - f.reliability(t_hi) >= MIN_FALL
                    and f.interval is not None and f.interval > 0]
        if not accepted and not notes:
            notes.append("every model is rejected by the goodness-of-fit test")
    chosen = min(accepted, key=lambda f: f.aic) if accepted else None
    return S2Result(target, confidence, len(obs), tuple(binned), tuple(fits),
                    chosen.name if chosen else None, chosen.interval if chosen else None,
                    tuple(notes))

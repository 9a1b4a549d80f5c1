"""Shewhart individuals charts and the Western Electric / Nelson run rules (pure numbers).

A control chart of an intermediate check holds one value per check (the mean of that check's
readings).  Its centre line and sigma are declared, or estimated from the first ``baseline``
checks (phase I): the centre is their mean, sigma the average moving range divided by
d2 = 1.128 (the individuals chart, ASTM E2587 / Montgomery, *Introduction to Statistical Quality
Control*, individuals charts; d2 for subgroups of n = 2).  Limits are centre ± 3 sigma; the
zones C, B, A lie within 1, 2, 3 sigma.

Western Electric rules (Western Electric, *Statistical Quality Control Handbook*, 1956):
    WE1  one point beyond 3 sigma
    WE2  two of three successive points beyond 2 sigma, on the same side
    WE3  four of five successive points beyond 1 sigma, on the same side
    WE4  eight successive points on the same side of the centre line
Nelson rules (L. S. Nelson, J. Quality Technology 16 (1984) 237-239):
    N1  one point beyond 3 sigma
    N2  nine points in a row on the same side of the centre line
    N3  six points in a row steadily increasing or steadily decreasing
    N4  fourteen points in a row alternating up and down
    N5  two of three points in a row beyond 2 sigma, on the same side
    N6  four of five points in a row beyond 1 sigma, on the same side
    N7  fifteen points in a row within 1 sigma, on either side
    N8  eight points in a row beyond 1 sigma, with points on both sides of the centre line
        (Nelson: "none within 1 standard deviation ... the points are in both directions");
        eight beyond 1 sigma on one side is a shift, which N6 and N2 catch

A rule fires at the point that completes its pattern; for the "k of n" rules that point must
itself be one of the k (so one excursion is reported once, when it happens).  A point exactly
on the centre line is on neither side (it breaks runs of WE4/N2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

D2_N2 = 1.128          # E[moving range of 2] / sigma for normal data
RULE_SETS = ("western_electric", "nelson")


@dataclass(frozen=True)
class Limits:
    center: float
    sigma: float

    def z(self, x: float) -> float:
        return (x - self.center) / self.sigma

    @property
    def ucl(self) -> float:
        return self.center + 3 * self.sigma

    @property
    def lcl(self) -> float:
        return self.center - 3 * self.sigma


@dataclass(frozen=True)
class Violation:
    rule: str               # "WE2", "N3" ...
    index: int              # the point that completes the pattern
    first: int              # first point of the pattern
    description: str


def estimate_limits(values: Sequence[float]) -> Limits:
    """Centre = mean; sigma = mean moving range / d2 (individuals chart, phase I)."""
    xs = [float(v) for v in values]
    if len(xs) < 2:
        raise ValueError("at least two values are needed to estimate the control limits")
    mr = [abs(b - a) for a, b in zip(xs, xs[1:])]
    sigma = (sum(mr) / len(mr)) / D2_N2
    if not sigma > 0:
        raise ValueError("the baseline values are all equal: sigma cannot be estimated "
                         "(declare control.sigma in the register)")
    return Limits(sum(xs) / len(xs), sigma)


def _side(z: float) -> int:
    return 0 if z == 0 else (1 if z > 0 else -1)


def _k_of_n(zs: list[float], i: int, k: int, n: int, beyond: float) -> int:
    """Side (+1/-1) if point i and at least k-1 others of the n ending at i are beyond
    ``beyond`` sigma on the same side; else 0.  At the start of a chart the window is what
    there is (two points beyond 2 sigma are already "two of three")."""
    window = zs[max(0, i - n + 1):i + 1]
    for side in (1, -1):
        if side * zs[i] > beyond and sum(1 for z in window if side * z > beyond) >= k:
            return side
    return 0


def _run_same_side(zs: list[float], i: int, n: int) -> bool:
    if i + 1 < n:
        return False
    sides = {_side(z) for z in zs[i - n + 1:i + 1]}
    return len(sides) == 1 and 0 not in sides


def _trend(xs: list[float], i: int, n: int) -> bool:
    if i + 1 < n:
        return False
    w = xs[i - n + 1:i + 1]
    d = [b - a for a, b in zip(w, w[1:])]
    return all(x > 0 for x in d) or all(x < 0 for x in d)


def _alternating(xs: list[float], i: int, n: int) -> bool:
    if i + 1 < n:
        return False
    w = xs[i - n + 1:i + 1]
    d = [b - a for a, b in zip(w, w[1:])]
    return all(x != 0 for x in d) and all(a * b < 0 for a, b in zip(d, d[1:]))


def _all(zs: list[float], i: int, n: int, test) -> bool:
    return i + 1 >= n and all(test(z) for z in zs[i - n + 1:i + 1])


def _rules(rule_set: str):
    """(name, points in the pattern, description, test(xs, zs, i) -> bool)."""
    beyond3 = ("one point beyond 3 sigma", lambda xs, zs, i: abs(zs[i]) > 3)
    two3 = ("two of three successive points beyond 2 sigma on the same side",
            lambda xs, zs, i: _k_of_n(zs, i, 2, 3, 2) != 0)
    four5 = ("four of five successive points beyond 1 sigma on the same side",
             lambda xs, zs, i: _k_of_n(zs, i, 4, 5, 1) != 0)
    if rule_set == "western_electric":
        return [("WE1", 1) + beyond3, ("WE2", 3) + two3, ("WE3", 5) + four5,
                ("WE4", 8, "eight successive points on the same side of the centre line",
                 lambda xs, zs, i: _run_same_side(zs, i, 8))]
    if rule_set == "nelson":
        return [("N1", 1) + beyond3,
                ("N2", 9, "nine points in a row on the same side of the centre line",
                 lambda xs, zs, i: _run_same_side(zs, i, 9)),
                ("N3", 6, "six points in a row steadily increasing or decreasing",
                 lambda xs, zs, i: _trend(xs, i, 6)),
                ("N4", 14, "fourteen points in a row alternating up and down",
                 lambda xs, zs, i: _alternating(xs, i, 14)),
                ("N5", 3) + two3, ("N6", 5) + four5,
                ("N7", 15, "fifteen points in a row within 1 sigma",
                 lambda xs, zs, i: _all(zs, i, 15, lambda z: abs(z) < 1)),
                ("N8", 8, "eight points in a row beyond 1 sigma, on both sides of the centre line",
                 lambda xs, zs, i: _all(zs, i, 8, lambda z: abs(z) > 1)
                 and {_side(z) for z in zs[i - 7:i + 1]} == {1, -1})]
    raise ValueError(f"unknown run-rule set {rule_set!r}; use one of {', '.join(RULE_SETS)}")


def violations(values: Sequence[float], limits: Limits,
               rule_set: str = "western_electric") -> list[Violation]:
    """Every rule firing on the chart, in order of the point completing it."""
    xs = [float(v) for v in values]
    if not (math.isfinite(limits.sigma) and limits.sigma > 0):
        raise ValueError(f"sigma must be positive, not {limits.sigma}")
    zs = [limits.z(x) for x in xs]
    rules = _rules(rule_set)
    out = []
    for i in range(len(xs)):
        for name, n, text, test in rules:
            if test(xs, zs, i):
                out.append(Violation(name, i, max(0, i - n + 1), text))
    return out


def violations_at(values: Sequence[float], limits: Limits, index: int,
                  rule_set: str = "western_electric") -> list[Violation]:
    """The rules the point ``index`` completes (the judgement of one check)."""
    return [v for v in violations(values[:index + 1], limits, rule_set) if v.index == index]

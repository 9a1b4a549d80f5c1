"""What N simulated runs say about a procedure, per point: coverage of the stated U with its
Clopper-Pearson interval, the decision rule's observed against predicted wrong decisions, and
the normalized errors against N(0, 1) (Kolmogorov-Smirnov).  Pure functions of the outcomes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from labauto.validation.montecarlo import PointOutcome, RunOutcome

NOMINAL_COVERAGE = 0.95
CONFIDENCE = 0.95       # of the coverage interval


def clopper_pearson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval of a binomial proportion."""
    from scipy.stats import beta

    if trials <= 0:
        return 0.0, 1.0
    a = (1 - confidence) / 2
    lo = 0.0 if successes == 0 else float(beta.ppf(a, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta.ppf(1 - a, successes + 1, trials - successes))
    return lo, hi


@dataclass(frozen=True)
class DecisionCheck:
    """Wrong decisions observed against those the rule's specific risks predict.

    A point accepted with specific risk r is a false accept with probability r (as the rule
    computes it); the expected number of false accepts is the sum of r over the accepted runs
    (likewise false rejects over the rejected runs).  ``z`` compares observed and expected
    counts (normal approximation of the Poisson-binomial count; nan when nothing is expected).
    """

    accepted: int
    rejected: int
    false_accept: int
    false_reject: int
    predicted_false_accept: float | None     # expected count (None: the rule states no risk)
    predicted_false_reject: float | None
    z_false_accept: float | None
    z_false_reject: float | None
    applies: bool = True                     # False: the procedure states no decision rule

    def shown(self, which: str) -> str:
        """"observed / predicted" false accepts (``which`` "accept") or rejects ("reject") as
        the table and the report show them; "no rule" where the procedure states none."""
        if not self.applies:
            return "no rule"
        observed = self.false_accept if which == "accept" else self.false_reject
        predicted = self.predicted_false_accept if which == "accept" else self.predicted_false_reject
        return f"{observed} / " + ("–" if predicted is None else f"{predicted:.1f}")

    def to_dict(self, runs: int) -> dict[str, Any]:
        def rate(x: float | None) -> float | None:
            return None if x is None else x / runs if runs else None
        if not self.applies:
            return {"rule": None}
        return {"accepted": self.accepted, "rejected": self.rejected,
                "false_accept": self.false_accept, "false_reject": self.false_reject,
                "false_accept_rate": rate(self.false_accept),
                "false_reject_rate": rate(self.false_reject),
                "predicted_false_accept_rate": rate(self.predicted_false_accept),
                "predicted_false_reject_rate": rate(self.predicted_false_reject),
                "z_false_accept": self.z_false_accept, "z_false_reject": self.z_false_reject}


def decision_check(outcomes: list[PointOutcome]) -> DecisionCheck:
    if outcomes and all(o.accepted is None for o in outcomes):
        return DecisionCheck(0, 0, 0, 0, None, None, None, None, applies=False)
    acc = [o for o in outcomes if o.accepted]
    rej = [o for o in outcomes if not o.accepted]
    fa = sum(1 for o in acc if not o.conforms)
    fr = sum(1 for o in rej if o.conforms)

    def predicted(group: list[PointOutcome], observed: int) -> tuple[float | None, float | None]:
        risks = [o.specific_risk for o in group]
        if any(r is None for r in risks):
            return None, None
        expected = float(sum(risks))          # type: ignore[arg-type]
        var = float(sum(r * (1 - r) for r in risks))   # type: ignore[operator]
        z = (observed - expected) / math.sqrt(var) if var > 0 else (0.0 if observed == 0 else math.inf)
        return expected, z

    pfa, zfa = predicted(acc, fa)
    pfr, zfr = predicted(rej, fr)
    return DecisionCheck(len(acc), len(rej), fa, fr, pfa, pfr, zfa, zfr)


@dataclass(frozen=True)
class PointValidation:
    point_id: str
    unit: str
    runs: int
    covered: int
    coverage_interval: tuple[float, float]
    familywise_interval: tuple[float, float]     # at 1 - 5 %/n for n points (Bonferroni)
    normalized: tuple[float, ...]
    ks_statistic: float
    ks_pvalue: float
    mean_expanded: float
    decisions: DecisionCheck
    covered_evaluated: int                       # by U as evaluated, before the rounding up
    evaluated_familywise_interval: tuple[float, float]

    @property
    def coverage(self) -> float:
        return self.covered / self.runs if self.runs else math.nan

    @property
    def coverage_evaluated(self) -> float:
        """Coverage of U as evaluated, before ILAC-P14's rounding up to two digits."""
        return self.covered_evaluated / self.runs if self.runs else math.nan

    @property
    def verdict(self) -> str:
        """consistent | under-covers (U too small) | over-covers (U larger than needed), by
        the family-wise interval: with n points each judged at 95 %, about n/40 points of a
        valid procedure would seem to under-cover by chance; at 1 − 5 %/n all n points are
        judged together at (at least) 95 %.

        Under-coverage is judged with U as stated on the certificate; over-coverage with U as
        evaluated, before it is rounded up to two significant digits (ILAC-P14, GUM 7.2.6):
        rounding up widens U by up to 10 %, which for a nearly rectangular error distribution
        raises the coverage by as much — a property of the statement, not of the budget."""
        if self.familywise_interval[1] < NOMINAL_COVERAGE:
            return "under-covers"
        if self.evaluated_familywise_interval[0] > NOMINAL_COVERAGE:
            return "over-covers"
        return "consistent"

    def to_dict(self) -> dict[str, Any]:
        z = np.asarray(self.normalized)
        return {"id": self.point_id, "unit": self.unit, "runs": self.runs,
                "coverage": self.coverage, "coverage_interval": list(self.coverage_interval),
                "familywise_interval": list(self.familywise_interval),
                "covered": self.covered, "verdict": self.verdict,
                "coverage_evaluated": self.coverage_evaluated,
                "evaluated_familywise_interval": list(self.evaluated_familywise_interval),
                "mean_expanded_uncertainty": self.mean_expanded,
                "normalized_errors": {"mean": float(z.mean()) if z.size else None,
                                      "std": float(z.std(ddof=1)) if z.size > 1 else None,
                                      "ks_statistic": self.ks_statistic,
                                      "ks_pvalue": self.ks_pvalue},
                "decisions": self.decisions.to_dict(self.runs)}


@dataclass(frozen=True)
class ValidationResult:
    procedure_id: str
    procedure_path: str
    runs: int
    seed: int
    dut_spread: float
    points: tuple[PointValidation, ...]
    failed_runs: tuple[RunOutcome, ...] = field(default=())
    elapsed_s: float = 0.0
    simulated: tuple[tuple[str, str], ...] = ()     # what one run draws: (what, how)

    @property
    def ok(self) -> bool:
        """No run stopped and every point's coverage is consistent with 95 % (neither under-
        nor over-covers)."""
        return not self.failed_runs and all(p.verdict == "consistent" for p in self.points)

    def to_dict(self) -> dict[str, Any]:
        return {"procedure": {"id": self.procedure_id, "path": self.procedure_path},
                "runs": self.runs, "seed": self.seed, "dut_spread": self.dut_spread,
                "nominal_coverage": NOMINAL_COVERAGE, "interval_confidence": CONFIDENCE,
                "ok": self.ok, "elapsed_s": round(self.elapsed_s, 3),
                "runs_per_s": round(self.runs / self.elapsed_s, 2) if self.elapsed_s > 0 else None,
                "simulated": dict(self.simulated),
                "failed_runs": [{"seed": r.seed, "error": r.error} for r in self.failed_runs],
                "points": [p.to_dict() for p in self.points]}


def summarize(procedure: Any, runs: Iterable[RunOutcome], *, seed: int, dut_spread: float,
              elapsed_s: float = 0.0, simulated: tuple[tuple[str, str], ...] = ()) -> ValidationResult:
    from scipy.stats import kstest

    done: list[RunOutcome] = []
    failed: list[RunOutcome] = []
    for r in runs:
        (failed if r.error else done).append(r)
    points = []
    # the procedure's points, then what else a run checks (a temperature procedure's fitted
    # curve, labauto.validation.comparison): the rows of the runs that completed
    ids = [o.point_id for o in done[0].points] if done else [p.id for p in procedure.points]
    for i, point_id in enumerate(ids):
        outs = [r.points[i] for r in done]
        z = tuple(o.normalized for o in outs)
        if len(z) >= 2:
            ks = kstest(np.asarray(z), "norm")
            ks_stat, ks_p = float(ks.statistic), float(ks.pvalue)
        else:
            ks_stat = ks_p = math.nan
        covered = sum(1 for o in outs if o.covered)
        evaluated = sum(1 for o in outs if o.covered_as_evaluated)
        familywise = 1 - (1 - CONFIDENCE) / len(ids)
        points.append(PointValidation(
            point_id=point_id, unit=outs[0].unit if outs else "", runs=len(outs), covered=covered,
            coverage_interval=clopper_pearson(covered, len(outs)),
            familywise_interval=clopper_pearson(covered, len(outs), familywise),
            normalized=z,
            ks_statistic=ks_stat, ks_pvalue=ks_p,
            # in the first run's unit: a run states U in its own engineering unit (960 µA in
            # one, 1.0 mA in the next), so a plain mean of the numbers mixed them
            mean_expanded=float(np.mean([_in(o.expanded, o.unit, outs[0].unit) for o in outs]))
            if outs else math.nan,
            decisions=decision_check(outs), covered_evaluated=evaluated,
            evaluated_familywise_interval=clopper_pearson(evaluated, len(outs), familywise)))
    return ValidationResult(procedure.id, str(procedure.path), len(done) + len(failed), seed,
                            dut_spread, tuple(points), tuple(failed), elapsed_s, simulated)


def _in(value: float, unit: str, target: str) -> float:
    """``value`` in ``unit`` expressed in ``target`` (the same unit: unchanged)."""
    if unit == target or not unit or not target:
        return value
    from labauto.units import Q_
    return float(Q_(value, unit).to(target).magnitude)

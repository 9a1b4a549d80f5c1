"""Decision rules of ILAC-G8:09/2019 and the decision they give for one test point.

Every rule here compares the measured error of indication ``E`` with the tolerance ``± T``
through a guard band ``w = r·U`` (U: expanded uncertainty of E), acceptance limit
``AL = T - w`` (ILAC-G8 4.1):

=============================  ======  ============================================================
name                           w       statements (ILAC-G8:09/2019)
=============================  ======  ============================================================
simple-acceptance              0       4.2.1 binary: pass |E| <= T, else fail
guard-band-U                   U       4.2.2 binary: pass |E| <= T - U, else fail
guard-band-<r>U                r·U     4.2.2 binary with any r > 0 (e.g. guard-band-1.5U)
non-binary-guard-band-U        U       4.2.3: pass |E| <= T - w; conditional pass |E| <= T;
non-binary-guard-band-<r>U     r·U            conditional fail |E| <= T + w; fail beyond
=============================  ======  ============================================================

Limits belong to the better outcome (a result exactly on AL passes).  When w >= T the
acceptance interval is empty: no result can pass, AL is reported as 0.

Each decision also reports TUR = T/U, the conformance probability p_c and the specific risk of
the decision taken (JCGM 106:2012 clause 9; see :mod:`labauto.conformity.risk`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pint

from labauto.conformity.risk import conformance_probability, false_accept_bound, tur
from labauto.errors import LabautoError
from labauto.results import DecisionRuleRef
from labauto.uncertainty.budget import q_to_dict

REFERENCE = "ILAC-G8:09/2019"
DEFAULT_COVERAGE_FACTOR = 2.0
PASS, FAIL = "pass", "fail"
CONDITIONAL_PASS, CONDITIONAL_FAIL = "conditional pass", "conditional fail"
ACCEPTED = frozenset({PASS, CONDITIONAL_PASS})

_RULE_NAME = re.compile(r"^(?P<nb>non-binary-)?guard-band-(?P<r>\d+(?:\.\d+)?)?U$")
RULE_FORMS = ("simple-acceptance", "guard-band-U", "guard-band-<r>U (e.g. guard-band-1.5U)",
              "non-binary-guard-band-U", "non-binary-guard-band-<r>U",
              "guarded-acceptance-<U | <r>U | rss | rp10 | dobbert>", "guarded-rejection-<U | <r>U>",
              "or a mapping {rule: guarded-acceptance, ...} (docs/conformity.md)")


class ConformityError(LabautoError, ValueError):
    """A decision rule that does not exist, or inputs a decision cannot be made from."""


@dataclass(frozen=True)
class Decision:
    """The conformity decision for one test point and the numbers behind it."""

    decision: str                    # pass | fail | conditional pass | conditional fail
    rule: str                        # name of the rule that decided
    error: pint.Quantity             # measured error of indication E
    expanded_uncertainty: pint.Quantity   # U of E
    tolerance: pint.Quantity         # ± T
    guard_band: pint.Quantity        # w
    acceptance_limit: pint.Quantity  # ± AL = max(T - w, 0)
    tur: float                       # T / U
    coverage_factor: float           # k used to get u = U/k for the risk figures
    conformance_probability: float   # p_c: probability that |true E| <= T
    probability_false_accept: float  # 1 - p_c if accepted, else 0
    probability_false_reject: float  # p_c if rejected, else 0

    @property
    def accepted(self) -> bool:
        return self.decision in ACCEPTED

    @property
    def specific_risk(self) -> float:
        """Probability that this decision is wrong (false accept or false reject)."""
        return self.probability_false_accept if self.accepted else self.probability_false_reject

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision, "rule": self.rule, "error": q_to_dict(self.error),
            "expanded_uncertainty": q_to_dict(self.expanded_uncertainty),
            "tolerance": q_to_dict(self.tolerance), "guard_band": q_to_dict(self.guard_band),
            "acceptance_limit": q_to_dict(self.acceptance_limit),
            "tur": None if math.isinf(self.tur) else self.tur,
            "coverage_factor": self.coverage_factor,
            "conformance_probability": self.conformance_probability,
            "probability_false_accept": self.probability_false_accept,
            "probability_false_reject": self.probability_false_reject,
        }


def checked_inputs(error: pint.Quantity, expanded_uncertainty: pint.Quantity,
                   tolerance: pint.Quantity, coverage_factor: float
                   ) -> tuple[pint.Quantity, pint.Quantity]:
    """The tolerance T and expanded uncertainty U in the error's unit, after checking that they
    can be compared with it and that T > 0, U finite and >= 0, k > 0 (every rule's inputs)."""
    unit = error.units
    try:
        T = tolerance.to(unit)
        U = expanded_uncertainty.to(unit)
    except pint.DimensionalityError as exc:
        raise ConformityError(f"cannot compare the error {error:~P} with the tolerance "
                              f"{tolerance:~P} and uncertainty {expanded_uncertainty:~P}: "
                              f"{exc}") from None
    if T.magnitude <= 0:
        raise ConformityError(f"the tolerance must be positive, not {tolerance:~P}")
    if U.magnitude < 0 or not math.isfinite(U.magnitude):
        raise ConformityError(f"the expanded uncertainty must be finite and >= 0, not {U:~P}")
    if not coverage_factor > 0:
        raise ConformityError(f"the coverage factor must be positive, not {coverage_factor}")
    return T, U


@dataclass(frozen=True)
class GuardBandRule:
    """A decision rule with guard band w = r·U, binary (pass/fail) or non-binary (4 outcomes)."""

    r: float = 0.0
    binary: bool = True

    def __post_init__(self) -> None:
        if not (self.r >= 0 and math.isfinite(self.r)):
            raise ConformityError(f"guard band factor r must be a finite number >= 0, not {self.r}")
        if not self.binary and self.r == 0:
            raise ConformityError("a non-binary statement needs a guard band (r > 0); "
                                  "use simple-acceptance for w = 0")

    # -- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        if self.binary and self.r == 0:
            return "simple-acceptance"
        factor = "" if self.r == 1 else f"{self.r:g}"
        return f"{'' if self.binary else 'non-binary-'}guard-band-{factor}U"

    @property
    def clause(self) -> str:
        if not self.binary:
            return "4.2.3"
        return "4.2.1" if self.r == 0 else "4.2.2"

    @property
    def statement(self) -> str:
        """The decision rule as printed on the certificate."""
        w = "w = 0" if self.r == 0 else ("w = U" if self.r == 1 else f"w = {self.r:g} × U")
        if self.binary and self.r == 0:
            return (f"Binary statement for simple acceptance ({REFERENCE} "
                    "clause 4.2.1, guard band w = 0). Pass: the error of indication lies within "
                    "the tolerance (acceptance limit AL = tolerance limit TL, the manufacturer's "
                    "specification). Fail: it lies outside. The measurement uncertainty is not "
                    "taken into account in the decision; for a result close to the tolerance "
                    "limit the probability of a false accept can reach 50 %.")
        risk = f"{100 * false_accept_bound(self.r):.2g} %"
        model = ("assuming a normal distribution with coverage factor k = 2, a result accepted "
                 f"this way is non-conforming with a probability of at most {risk} (specific risk, "
                 "JCGM 106:2012).")
        if self.binary:
            return (f"Binary statement with guard band ({REFERENCE} clause 4.2.2, "
                    f"{w}, U the expanded uncertainty). Pass: the error of indication lies within "
                    "the acceptance limit AL = TL − w, TL being the tolerance limit (the "
                    "manufacturer's specification). Fail: it lies outside AL. "
                    + model[0].upper() + model[1:])
        return (f"Non-binary statement with guard band ({REFERENCE} clause 4.2.3, "
                f"{w}, U the expanded uncertainty; TL the tolerance limit, the manufacturer's "
                "specification). Pass: |error| ≤ TL − w. Conditional pass: TL − w < |error| ≤ TL. "
                "Conditional fail: TL < |error| ≤ TL + w. Fail: |error| > TL + w. For a pass, "
                + model)

    @property
    def ref(self) -> DecisionRuleRef:
        return DecisionRuleRef(name=self.name, description=self.statement, reference=REFERENCE)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "guard_band_factor": self.r, "binary": self.binary,
                "clause": self.clause, "statement": self.statement, "reference": REFERENCE}

    # -- deciding -------------------------------------------------------------------------
    def decide(self, error: pint.Quantity, expanded_uncertainty: pint.Quantity,
               tolerance: pint.Quantity, *,
               coverage_factor: float = DEFAULT_COVERAGE_FACTOR) -> Decision:
        """Decide one point: ``error`` E, its expanded uncertainty U, the tolerance ± T.

        ``coverage_factor`` is the k of U; it only enters the risk figures (u = U/k).
        """
        T, U = checked_inputs(error, expanded_uncertainty, tolerance, coverage_factor)
        w = self.r * U
        al = T - w if w < T else T * 0      # w >= T: the acceptance interval is empty
        # limits belong to the better outcome; 1e-12·T absorbs rounding in T - w and unit changes
        e = abs(error) - 1e-12 * T
        if w < T and e <= al:
            decision = PASS
        elif self.binary:
            decision = FAIL
        elif e <= T:
            decision = CONDITIONAL_PASS
        elif e <= T + w:
            decision = CONDITIONAL_FAIL
        else:
            decision = FAIL
        p_c = conformance_probability(error, U / coverage_factor, T)
        accepted = decision in ACCEPTED
        return Decision(
            decision=decision, rule=self.name, error=error, expanded_uncertainty=U,
            tolerance=T, guard_band=w, acceptance_limit=al, tur=tur(T, U),
            coverage_factor=float(coverage_factor), conformance_probability=p_c,
            probability_false_accept=(1.0 - p_c) if accepted else 0.0,
            probability_false_reject=0.0 if accepted else p_c)


def simple_acceptance() -> GuardBandRule:
    """ILAC-G8:09/2019 4.2.1: binary, w = 0."""
    return GuardBandRule(0.0, binary=True)


def guarded_acceptance(r: float = 1.0) -> GuardBandRule:
    """ILAC-G8:09/2019 4.2.2: binary, w = r·U."""
    return GuardBandRule(r, binary=True)


def non_binary(r: float = 1.0) -> GuardBandRule:
    """ILAC-G8:09/2019 4.2.3: pass / conditional pass / conditional fail / fail, w = r·U."""
    return GuardBandRule(r, binary=False)


def parse_decision_rule(name: str) -> GuardBandRule:
    """The rule called ``name`` (see the module docstring for the names)."""
    text = str(name).strip()
    if text == "simple-acceptance":
        return simple_acceptance()
    m = _RULE_NAME.match(text)
    if not m:
        raise ConformityError(f"unknown decision rule {text!r}; use one of: "
                              f"{', '.join(RULE_FORMS)}")
    r = float(m["r"]) if m["r"] else 1.0
    if r == 0:
        raise ConformityError(f"{text!r}: a guard band of 0 × U is simple-acceptance; "
                              "write decision_rule: simple-acceptance")
    return GuardBandRule(r, binary=not m["nb"])

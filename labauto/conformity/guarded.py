"""Guarded acceptance and guarded rejection with a guard band chosen by a rule or a risk target.

JCGM 106:2012 8.3 (guard bands), binary statements:

* guarded acceptance — pass when |E| <= AL = TL − w (w > 0): an accepted result is very likely
  conforming (protects the customer);
* guarded rejection — pass when |E| <= RL = TL + w: a rejected result is very likely
  non-conforming (protects the producer: nothing is rejected on a doubt).

The guard band w of each point comes from one of (see :mod:`labauto.conformity.guardbands`):

================================  =====================================================  ==========
``guard_band`` / target           w                                                      modes
================================  =====================================================  ==========
``<r>U`` (``U``, ``1.5U``)        r·U                                                    both
``rss``, ``rp10``, ``dobbert``    the TUR-based rule                                     acceptance
``conformance_probability: p``    acceptance: p_c(AL) = p; rejection: p_c(RL) = 1 − p    both
``false_accept_risk: R`` with     global R_C = R for a normal population centred on the  acceptance
``in_tolerance_probability: p0``  nominal with P(|E| <= TL) = p0 (JCGM 106 9.5)
================================  =====================================================  ==========

The rule has the interface of :class:`labauto.conformity.rules.GuardBandRule` (``decide``,
``name``, ``statement``, ``ref``, ``to_dict``), so a procedure may use either.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pint

from labauto.conformity.guardbands import (TUR_RULES, acceptance_limit_for_conformance,
                                           guard_band_for_global_risk, tur_guard_band)
from labauto.conformity.risk import conformance_probability, tur
from labauto.conformity.rules import (ACCEPTED, DEFAULT_COVERAGE_FACTOR, FAIL, PASS, ConformityError,
                                      checked_inputs,
                                      Decision, GuardBandRule, parse_decision_rule)
from labauto.results import DecisionRuleRef
from labauto.units import Q_

REFERENCE = "JCGM 106:2012"
MODES = ("acceptance", "rejection")
_SOURCES = {
    "rss": "root-sum-square method, AL = √(TL² − U²), i.e. w = TL − √(TL² − U²)",
    "rp10": "NCSLI RP-10 method, AL = min(TL, 1.25·TL − U), i.e. w = U − TL/4 for TUR < 4, "
            "else 0",
    "dobbert": "Dobbert's managed guard band (M. Dobbert, A Guard-Band Strategy for Managing "
               "False-Accept Risk, NCSLI Measure 3(4), 2008), w = M·U with M = 1.04 − exp(0.38·ln TUR "
               "− 0.54), w = 0 for TUR ≥ 4.6; it keeps the global probability of a false accept at or "
               "below 2 % whatever the in-tolerance probability of the population",
}


def _pct(x: float) -> str:
    return f"{100 * x:g} %"


@dataclass(frozen=True)
class RiskBasedRule:
    """Guarded acceptance / rejection; exactly one of ``method`` (a TUR rule or ``factor``),
    ``conformance_probability`` or ``false_accept_risk`` (+ ``in_tolerance_probability``)."""

    mode: str = "acceptance"
    method: str = "factor"                          # factor | rss | rp10 | dobbert | specific | global
    r: float = 1.0                                  # w = r·U for method "factor"
    conformance_probability: float | None = None    # target p for method "specific"
    false_accept_risk: float | None = None          # target R_C for method "global"
    in_tolerance_probability: float | None = None   # p0 of the population, method "global"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConformityError(f"mode must be acceptance or rejection, not {self.mode!r}")
        if self.method == "factor":
            if not (self.r > 0 and math.isfinite(self.r)):
                raise ConformityError(f"the guard band factor r of w = r·U must be a number > 0, not {self.r}")
        elif self.method in ("rss", "rp10", "dobbert"):
            if self.mode == "rejection":
                raise ConformityError(f"the {self.method} guard band is a rule for guarded acceptance; "
                                      "for guarded rejection give w = r·U or a conformance probability")
        elif self.method == "specific":
            p = self.conformance_probability
            if p is None or not 0.5 < p < 1:
                raise ConformityError(f"conformance_probability must lie between 0.5 and 1 "
                                      f"(e.g. 0.95), not {p}")
        elif self.method == "global":
            if self.mode == "rejection":
                raise ConformityError("a global false-accept target sets a guarded acceptance; "
                                      "guarded rejection takes w = r·U or a conformance probability")
            for what, v in (("false_accept_risk", self.false_accept_risk),
                            ("in_tolerance_probability", self.in_tolerance_probability)):
                if v is None or not 0 < v < 1:
                    raise ConformityError(f"{what} must lie between 0 and 1, not {v}")
        else:
            raise ConformityError(f"unknown guard-band method {self.method!r}")

    # -- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        base = f"guarded-{self.mode}"
        if self.method == "factor":
            return f"{base}-{'' if self.r == 1 else f'{self.r:g}'}U"
        if self.method == "specific":
            return f"{base}-pc{self.conformance_probability:g}"
        if self.method == "global":
            return f"{base}-rc{self.false_accept_risk:g}-itp{self.in_tolerance_probability:g}"
        return f"{base}-{self.method}"

    @property
    def guard_band_text(self) -> str:
        if self.method == "factor":
            return "w = U" if self.r == 1 else f"w = {self.r:g} × U"
        if self.method in _SOURCES:
            return _SOURCES[self.method]
        if self.method == "specific":
            p = self.conformance_probability
            assert p is not None
            if self.mode == "acceptance":
                return (f"w chosen per point so that a result on the acceptance limit conforms with a "
                        f"probability of {_pct(p)} (specific false-accept risk at most {_pct(1 - p)})")
            return (f"w chosen per point so that a result on the rejection limit is non-conforming "
                    f"with a probability of {_pct(p)} (specific false-reject risk at most {_pct(1 - p)})")
        return (f"w chosen per point so that the global probability of a false accept (consumer's "
                f"risk, JCGM 106:2012 9.5) is at most {_pct(self.false_accept_risk or 0)} for a population of "
                f"instruments whose errors are normal, centred on zero, within tolerance with a "
                f"probability of {_pct(self.in_tolerance_probability or 0)}")

    @property
    def statement(self) -> str:
        """The decision rule as printed on the certificate."""
        model = ("The risks assume a normal distribution of the error with standard uncertainty "
                 "u = U/k (JCGM 106:2012 7).")
        if self.mode == "acceptance":
            return (f"Binary statement with guarded acceptance ({REFERENCE} 8.3.2; guard band: "
                    f"{self.guard_band_text}; U the expanded uncertainty, TUR = TL/U). Pass: the "
                    "error of indication lies within the acceptance limit AL = TL − w, TL being the "
                    "tolerance limit (the manufacturer's specification). Fail: it lies outside AL "
                    f"(the acceptance interval is empty where w ≥ TL). {model}")
        return (f"Binary statement with guarded rejection ({REFERENCE} 8.3.3; guard band: "
                f"{self.guard_band_text}; U the expanded uncertainty). Pass: the error of indication "
                "lies within the rejection limit RL = TL + w, TL being the tolerance limit (the "
                "manufacturer's specification); a result between TL and RL is accepted although it "
                "may be non-conforming. Fail: it lies outside RL. " + model)

    @property
    def ref(self) -> DecisionRuleRef:
        return DecisionRuleRef(name=self.name, description=self.statement, reference=REFERENCE)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "method": self.method,
                "guard_band_factor": self.r if self.method == "factor" else None,
                "conformance_probability": self.conformance_probability,
                "false_accept_risk": self.false_accept_risk,
                "in_tolerance_probability": self.in_tolerance_probability,
                "binary": True, "statement": self.statement, "reference": REFERENCE}

    # -- the guard band of one point ------------------------------------------------------
    def guard_band(self, T: float, U: float, k: float = DEFAULT_COVERAGE_FACTOR) -> float:
        """w for the half-tolerance T and expanded uncertainty U (same unit), u = U/k."""
        if self.method == "factor":
            return self.r * U
        if self.method in TUR_RULES:
            return tur_guard_band(self.method, T, U)
        if U == 0:
            return 0.0
        u = U / k
        if self.method == "specific":
            p = self.conformance_probability
            assert p is not None
            if self.mode == "acceptance":
                try:
                    return T - acceptance_limit_for_conformance(p, u, lower=-T, upper=T)
                except ValueError:
                    return T      # no result reaches p: nothing can pass
            return acceptance_limit_for_conformance(1 - p, u, lower=-T, upper=T) - T
        from scipy.stats import norm
        p0 = self.in_tolerance_probability
        sd = T / float(norm.ppf(0.5 * (1 + p0)))        # type: ignore[operator]
        w, _ = guard_band_for_global_risk(norm(0.0, sd), u, self.false_accept_risk,  # type: ignore[arg-type]
                                          lower=-T, upper=T)
        return w

    def decide(self, error: pint.Quantity, expanded_uncertainty: pint.Quantity,
               tolerance: pint.Quantity, *,
               coverage_factor: float = DEFAULT_COVERAGE_FACTOR) -> Decision:
        unit = error.units
        T, U = checked_inputs(error, expanded_uncertainty, tolerance, coverage_factor)
        w_mag = self.guard_band(float(T.magnitude), float(U.magnitude), float(coverage_factor))
        w = Q_(w_mag, unit)
        if self.mode == "acceptance":
            limit = T - w if w < T else T * 0
            empty = w >= T
        else:
            limit, empty = T + w, False
        e = abs(error) - 1e-12 * T
        decision = PASS if (not empty and e <= limit) else FAIL
        p_c = conformance_probability(error, U / coverage_factor, T)
        accepted = decision in ACCEPTED
        return Decision(
            decision=decision, rule=self.name, error=error, expanded_uncertainty=U, tolerance=T,
            guard_band=w, acceptance_limit=limit, tur=tur(T, U),
            coverage_factor=float(coverage_factor), conformance_probability=p_c,
            probability_false_accept=(1.0 - p_c) if accepted else 0.0,
            probability_false_reject=0.0 if accepted else p_c)


def parse_rule_spec(spec: dict[str, Any]) -> RiskBasedRule:
    """A rule from its mapping form (procedure files): ``{rule: guarded-acceptance,
    guard_band: dobbert}``, ``{rule: guarded-rejection, conformance_probability: 0.95}``,
    ``{rule: guarded-acceptance, false_accept_risk: 0.02, in_tolerance_probability: 0.95}``.
    Raises :class:`ConformityError` with a reason; the caller adds the file and line."""
    rule = spec.get("rule")
    if rule not in ("guarded-acceptance", "guarded-rejection"):
        raise ConformityError(f"rule must be guarded-acceptance or guarded-rejection, not {rule!r}")
    mode = rule.split("-", 1)[1]
    given = [k for k in ("guard_band", "conformance_probability", "false_accept_risk") if k in spec]
    if len(given) != 1:
        raise ConformityError("give exactly one of guard_band (U, <r>U, rss, rp10, dobbert), "
                              "conformance_probability or false_accept_risk"
                              + (f"; got {' and '.join(given)}" if given else ""))
    if "in_tolerance_probability" in spec and given[0] != "false_accept_risk":
        raise ConformityError("in_tolerance_probability belongs with false_accept_risk")
    key = given[0]
    if key == "guard_band":
        return RiskBasedRule(mode=mode, **_guard_band(spec["guard_band"]))
    value = _probability(spec[key], key)
    if key == "conformance_probability":
        return RiskBasedRule(mode=mode, method="specific", conformance_probability=value)
    if "in_tolerance_probability" not in spec:
        raise ConformityError("false_accept_risk needs in_tolerance_probability (the fraction of "
                              "the population within tolerance, e.g. 0.95)")
    return RiskBasedRule(mode=mode, method="global", false_accept_risk=value,
                         in_tolerance_probability=_probability(spec["in_tolerance_probability"],
                                                               "in_tolerance_probability"))


def _probability(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConformityError(f"{what} must be a number between 0 and 1 (e.g. 0.95), not {value!r}")
    return float(value)


def _guard_band(value: Any) -> dict[str, Any]:
    text = str(value).strip()
    if text in ("rss", "rp10", "dobbert"):
        return {"method": text}
    if text.endswith("U"):
        factor = text[:-1].strip() or "1"
        try:
            r = float(factor)
        except ValueError:
            r = math.nan
        if r > 0 and math.isfinite(r):
            return {"method": "factor", "r": r}
    raise ConformityError(f"guard_band {value!r} is not one of U, <r>U (e.g. 1.5U), rss, rp10, dobbert")


#: a decision rule of either kind
DecisionRule = GuardBandRule | RiskBasedRule


def parse_rule(value: str | dict[str, Any]) -> GuardBandRule | RiskBasedRule:
    """Any decision rule: an ILAC-G8 name (``guard-band-U`` ...), a guarded rule by name
    (``guarded-acceptance-dobbert``, ``guarded-rejection-1.5U``) or the mapping form of
    :func:`parse_rule_spec`."""
    if isinstance(value, dict):
        return parse_rule_spec(value)
    text = str(value).strip()
    for mode in MODES:
        prefix = f"guarded-{mode}-"
        if text.startswith(prefix):
            return RiskBasedRule(mode=mode, **_guard_band(text[len(prefix):]))
    return parse_decision_rule(text)

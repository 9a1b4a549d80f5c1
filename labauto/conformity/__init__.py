"""Conformity decisions: ILAC-G8:09/2019 decision rules, TUR, and specific risks (JCGM 106:2012).

    from labauto.conformity import parse_decision_rule
    rule = parse_decision_rule("guard-band-U")
    d = rule.decide(error, U, tolerance)       # -> Decision
    d.decision, d.acceptance_limit, d.tur, d.conformance_probability, d.probability_false_accept
    rule.statement                              # text for the certificate
    rule.ref                                    # labauto.results.DecisionRuleRef

    parse_rule("guarded-acceptance-dobbert")    # + guarded acceptance / rejection (JCGM 106 8.3)
    global_risk(prior, u, tolerance=(-T, T), acceptance=(-A, A))   # R_C, R_P (JCGM 106 9.5)
"""
from labauto.conformity.global_risk import GlobalRisk, RiskError, global_risk, global_risk_normal
from labauto.conformity.guarded import DecisionRule, RiskBasedRule, parse_rule, parse_rule_spec
from labauto.conformity.guardbands import (acceptance_limit_for_conformance, dobbert_multiplier,
                                           guard_band_for_global_risk, tur_guard_band)
from labauto.conformity.risk import conformance_probability, false_accept_bound, tur
from labauto.conformity.rules import (
    ACCEPTED,
    CONDITIONAL_FAIL,
    CONDITIONAL_PASS,
    FAIL,
    PASS,
    RULE_FORMS,
    ConformityError,
    Decision,
    GuardBandRule,
    guarded_acceptance,
    non_binary,
    parse_decision_rule,
    simple_acceptance,
)

__all__ = [
    "DecisionRule", "GlobalRisk", "RiskBasedRule", "RiskError", "acceptance_limit_for_conformance",
    "dobbert_multiplier", "global_risk", "global_risk_normal", "guard_band_for_global_risk",
    "parse_rule", "parse_rule_spec", "tur_guard_band",
    "ACCEPTED", "CONDITIONAL_FAIL", "CONDITIONAL_PASS", "FAIL", "PASS", "RULE_FORMS",
    "ConformityError", "Decision", "GuardBandRule", "conformance_probability",
    "false_accept_bound", "guarded_acceptance", "non_binary", "parse_decision_rule",
    "simple_acceptance", "tur",
]

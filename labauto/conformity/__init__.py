"""Conformity decisions: ILAC-G8:09/2019 decision rules, TUR, and specific risks (JCGM 106:2012).

    from labauto.conformity import parse_decision_rule
    rule = parse_decision_rule("guard-band-U")
    d = rule.decide(error, U, tolerance)       # -> Decision
    d.decision, d.acceptance_limit, d.tur, d.conformance_probability, d.probability_false_accept
    rule.statement                              # text for the certificate
    rule.ref                                    # labauto.results.DecisionRuleRef
"""
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
    "ACCEPTED", "CONDITIONAL_FAIL", "CONDITIONAL_PASS", "FAIL", "PASS", "RULE_FORMS",
    "ConformityError", "Decision", "GuardBandRule", "conformance_probability",
    "false_accept_bound", "guarded_acceptance", "non_binary", "parse_decision_rule",
    "simple_acceptance", "tur",
]

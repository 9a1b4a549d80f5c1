"""Procedures declare guarded acceptance / rejection (JCGM 106:2012 8.3) as their decision rule;
mistakes in the rule are reported at their file line."""
import pytest

from labauto.conformity import RiskBasedRule
from labauto.procedure import ProcedureError, load_procedure

from procedure_base import text_with


@pytest.mark.parametrize("line, name", [
    ("decision_rule: guarded-acceptance-dobbert", "guarded-acceptance-dobbert"),
    ("decision_rule: {rule: guarded-acceptance, guard_band: rss}", "guarded-acceptance-rss"),
    ("decision_rule: {rule: guarded-rejection, guard_band: 1.5U}", "guarded-rejection-1.5U"),
    ("decision_rule: {rule: guarded-acceptance, conformance_probability: 0.95}",
     "guarded-acceptance-pc0.95"),
    ("decision_rule: {rule: guarded-acceptance, false_accept_risk: 0.02, in_tolerance_probability: 0.9}",
     "guarded-acceptance-rc0.02-itp0.9"),
])
def test_guarded_rules_load(write, line, name):
    p = load_procedure(write(text_with({14: line})))
    assert isinstance(p.decision_rule, RiskBasedRule) and p.decision_rule.name == name
    assert p.to_dict()["decision_rule"]["name"] == name
    assert p.ref is not None


def test_a_multi_line_rule_reports_the_line_of_the_bad_key(write):
    text = text_with({14: "decision_rule:\n  rule: guarded-acceptance\n  conformance_probability: 1.5"})
    with pytest.raises(ProcedureError) as exc:
        load_procedure(write(text))
    assert [ln for ln, _ in exc.value.problems] == [16]
    assert "conformance_probability must lie between 0.5 and 1" in exc.value.problems[0][1]


@pytest.mark.parametrize("line, fragments", [
    ("decision_rule: {rule: guarded-acceptance, guard_band: dobbert, colour: red}",
     ["unknown key 'colour'"]),
    ("decision_rule: {guard_band: dobbert}", ["missing the required key 'rule'"]),
    ("decision_rule: {rule: guarded-rejection, guard_band: rp10}", ["rule for guarded acceptance"]),
    ("decision_rule: {rule: guarded-acceptance, false_accept_risk: 0.02}",
     ["needs in_tolerance_probability"]),
    ("decision_rule: guarded-acceptance-4U2", ["not one of U, <r>U"]),
])
def test_rule_errors_name_the_line(write, line, fragments):
    with pytest.raises(ProcedureError) as exc:
        load_procedure(write(text_with({14: line})))
    (found, reason), = exc.value.problems
    assert found == 14
    for f in fragments:
        assert f in reason, reason

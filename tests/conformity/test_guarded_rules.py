"""Guarded acceptance / rejection as decision rules (JCGM 106:2012 8.3), their certificate
statements, and ``labauto risk`` on the command line."""
from __future__ import annotations

import json
import math

import pytest
from scipy import stats
from typer.testing import CliRunner

from labauto.cli import app
from labauto.conformity import (ConformityError, RiskBasedRule, global_risk_normal, parse_decision_rule,
                                parse_rule)
from labauto.units import Q_

runner = CliRunner()
T, U = Q_(400, "uV"), Q_(150, "uV")              # TUR = 2.667
M = 1.04 - math.exp(0.38 * math.log(400 / 150) - 0.54)   # Dobbert 2008


def test_dobbert_acceptance_limit_and_decisions():
    rule = parse_rule("guarded-acceptance-dobbert")
    d = rule.decide(Q_(100, "uV"), U, T)
    assert d.guard_band.to("uV").magnitude == pytest.approx(M * 150)
    al = 400 - M * 150
    assert d.acceptance_limit.to("uV").magnitude == pytest.approx(al)
    assert rule.decide(Q_(al, "uV"), U, T).decision == "pass"            # on the limit: pass
    assert rule.decide(Q_(-al - 0.01, "uV"), U, T).decision == "fail"
    assert d.rule == "guarded-acceptance-dobbert" and d.tur == pytest.approx(400 / 150)


@pytest.mark.parametrize("name, al_uV", [
    ("guarded-acceptance-rss", math.sqrt(400 ** 2 - 150 ** 2)),
    ("guarded-acceptance-rp10", 1.25 * 400 - 150),
    ("guarded-acceptance-U", 250.0),
    ("guarded-acceptance-1.5U", 175.0),
    ("guarded-rejection-U", 550.0),
    ("guarded-rejection-0.5U", 475.0),
])
def test_rule_limits(name, al_uV):
    rule = parse_rule(name)
    assert rule.name == name and parse_rule(rule.name) == rule
    assert rule.decide(Q_(al_uV, "uV"), U, T).decision == "pass"
    assert rule.decide(Q_(al_uV + 0.01, "uV"), U, T).decision == "fail"
    assert rule.decide(Q_(0, "uV"), U, T).acceptance_limit.to("uV").magnitude == pytest.approx(al_uV)


def test_guarded_rejection_accepts_a_doubtful_result_and_says_so():
    rule = parse_rule("guarded-rejection-U")
    d = rule.decide(Q_(450, "uV"), U, T)           # beyond TL, within TL + U
    assert d.decision == "pass" and d.conformance_probability < 0.5
    assert d.probability_false_accept == pytest.approx(1 - d.conformance_probability)
    assert "guarded rejection (JCGM 106:2012 8.3.3" in rule.statement
    assert "RL = TL + w" in rule.statement and "w = U" in rule.statement


def test_specific_risk_target_sets_the_limit_per_point():
    rule = parse_rule({"rule": "guarded-acceptance", "conformance_probability": 0.95})
    d = rule.decide(Q_(0, "uV"), U, T, coverage_factor=2.0)
    # p_c at the acceptance limit is 95 % (far from the other limit: AL = T − 1.645 u)
    assert d.acceptance_limit.to("uV").magnitude == pytest.approx(400 - stats.norm.ppf(0.95) * 75, rel=1e-9)
    at_limit = rule.decide(d.acceptance_limit, U, T)
    assert at_limit.decision == "pass" and at_limit.conformance_probability == pytest.approx(0.95, abs=1e-9)
    assert "conforms with a probability of 95 %" in rule.statement
    # guarded rejection: a rejected result is non-conforming with >= 95 %
    rej = parse_rule({"rule": "guarded-rejection", "conformance_probability": 0.95})
    r = rej.decide(Q_(0, "uV"), U, T)
    assert rej.decide(r.acceptance_limit, U, T).conformance_probability == pytest.approx(0.05, abs=1e-9)
    # no result can reach 95 % when U is large: nothing passes
    assert rule.decide(Q_(0, "uV"), Q_(900, "uV"), T).decision == "fail"


def test_global_false_accept_target_is_met_for_the_stated_population():
    rule = parse_rule({"rule": "guarded-acceptance", "false_accept_risk": 0.01,
                       "in_tolerance_probability": 0.8})
    d = rule.decide(Q_(0, "uV"), U, T)
    w = d.guard_band.to("uV").magnitude
    assert w > 0
    sd = 400 / stats.norm.ppf(0.9)
    r = global_risk_normal(0, sd, 75, tolerance=(-400, 400), acceptance=(-400 + w, 400 - w))
    assert r.consumer_risk == pytest.approx(0.01, rel=1e-6)
    assert rule.name == "guarded-acceptance-rc0.01-itp0.8"
    assert "global probability of a false accept (consumer's risk, JCGM 106:2012 9.5) is at most 1 %" in rule.statement
    assert "within tolerance with a probability of 80 %" in rule.statement


def test_statement_names_the_guard_band_its_source_and_risk():
    s = parse_rule("guarded-acceptance-dobbert").statement
    for fragment in ("guarded acceptance (JCGM 106:2012 8.3.2", "M = 1.04 − exp(0.38·ln TUR − 0.54)",
                     "at or below 2 %", "Dobbert", "AL = TL − w"):
        assert fragment in s
    ref = parse_rule("guarded-acceptance-rss").ref
    assert ref.name == "guarded-acceptance-rss" and ref.reference == "JCGM 106:2012"
    assert "√(TL² − U²)" in ref.description


@pytest.mark.parametrize("spec, match", [
    ({"rule": "guarded-acceptance"}, "exactly one of guard_band"),
    ({"rule": "guarded-acceptance", "guard_band": "U", "conformance_probability": 0.9}, "got guard_band and"),
    ({"rule": "guarded-acceptance", "guard_band": "2V"}, "not one of U, <r>U"),
    ({"rule": "guarded-rejection", "guard_band": "dobbert"}, "rule for guarded acceptance"),
    ({"rule": "guarded-acceptance", "conformance_probability": 0.3}, "between 0.5 and 1"),
    ({"rule": "guarded-acceptance", "false_accept_risk": 0.02}, "needs in_tolerance_probability"),
    ({"rule": "guarded-rejection", "false_accept_risk": 0.02, "in_tolerance_probability": 0.9},
     "guarded rejection takes"),
    ({"rule": "guarded-acceptance", "conformance_probability": "high"}, "must be a number"),
    ({"rule": "guarded-whatever", "guard_band": "U"}, "guarded-acceptance or guarded-rejection"),
])
def test_bad_rule_specs(spec, match):
    with pytest.raises(ConformityError, match=match):
        parse_rule(spec)


def test_ilac_names_still_parse_and_unknown_names_list_the_new_forms():
    assert parse_rule("guard-band-1.5U") == parse_decision_rule("guard-band-1.5U")
    with pytest.raises(ConformityError, match="guarded-acceptance-<U"):
        parse_rule("nonsense")
    with pytest.raises(ConformityError):
        RiskBasedRule(mode="sideways")


# -- labauto risk ...------------------------------------------------------------------------

def test_cli_global_json_bearings():
    r = runner.invoke(app, ["risk", "global", "--upper", "2", "--u", "0.25", "--prior", "gamma:1,0.5",
                            "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["consumer_risk"] == pytest.approx(0.008, abs=5e-5)               # JCGM 106 9.5.4
    assert 1 - d["conformance_probability"] == pytest.approx(0.042, abs=5e-4)
    assert d["tolerance"] == {"lower": None, "upper": 2.0} and d["guard_band"] == 0.0


def test_cli_global_target_and_itp():
    r = runner.invoke(app, ["risk", "global", "--upper", "2", "--u", "0.25", "--prior", "gamma:1,0.5",
                            "--target", "0.001", "--json"])
    d = json.loads(r.stdout)
    assert d["consumer_risk"] == pytest.approx(0.001, rel=1e-6)
    assert d["acceptance"]["upper"] == pytest.approx(1.672, abs=5e-4)
    r = runner.invoke(app, ["risk", "global", "--tolerance", "2", "--u", "0.25", "--itp", "0.9544997361",
                            "--json"])
    assert json.loads(r.stdout)["consumer_risk"] == pytest.approx(0.008, abs=1e-4)   # Deaver SL = 2, TUR 4
    text = runner.invoke(app, ["risk", "global", "--tolerance", "-2,2", "--u", "0.25", "--prior",
                               "normal:0,1"]).output
    assert "consumer's risk R_C = 0.8006 %" in text and "producer's risk R_P = 1.485 %" in text


def test_cli_guardband_dobbert():
    r = runner.invoke(app, ["risk", "guardband", "--rule", "dobbert", "--tur", "4", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    m = 1.04 - math.exp(0.38 * math.log(4) - 0.54)
    assert d["dobbert_M"] == pytest.approx(m) and d["guard_band_over_U"] == pytest.approx(m)
    assert d["acceptance_limit_over_T"] == pytest.approx(1 - m / 4)
    r = runner.invoke(app, ["risk", "guardband", "--rule", "specific", "--p", "0.95", "--tolerance", "1",
                            "--U", "0.2", "--json"])
    assert json.loads(r.stdout)["guard_band_over_U"] == pytest.approx(0.8224, abs=1e-4)


def test_cli_specific():
    r = runner.invoke(app, ["risk", "specific", "--value", "0.9", "--U", "0.1", "--tolerance", "1", "--json"])
    d = json.loads(r.stdout)
    assert d["conformance_probability"] == pytest.approx(stats.norm.cdf(2) - stats.norm.cdf(-38))


@pytest.mark.parametrize("args, message", [
    (["global", "--u", "0.25", "--prior", "normal:0,1"], "give the tolerance"),
    (["global", "--tolerance", "2", "--u", "0.25", "--prior", "weird:1"], "unknown prior 'weird'"),
    (["global", "--tolerance", "2", "--u", "0.25"], "--prior NAME:PARAMS or --itp"),
    (["global", "--tolerance", "2,1", "--u", "0.25", "--itp", "0.9"], "LOWER < UPPER"),
    (["global", "--tolerance", "2", "--u", "-1", "--itp", "0.9"], "--u must be"),
    (["guardband", "--rule", "foo", "--tur", "2"], "unknown --rule 'foo'"),
    (["guardband", "--rule", "global", "--tur", "2"], "--target and --itp"),
    (["specific", "--value", "1", "--tolerance", "1"], "give the uncertainty"),
])
def test_cli_user_errors_are_one_line_and_exit_2(args, message):
    r = runner.invoke(app, ["risk", *args])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert r.output.strip().startswith("error:")

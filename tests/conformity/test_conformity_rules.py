"""ILAC-G8:09/2019 decision rules: zones, acceptance limits, TUR, statements.

Hand-computed case used throughout: tolerance T = ±400 µV (the 34465A's spec at 10 V on the
10 V range), expanded uncertainty U = 100 µV, so TUR = 4 and, with w = U, AL = 300 µV.
"""
import pytest

from labauto.conformity import (ConformityError, GuardBandRule, guarded_acceptance, non_binary,
                                parse_decision_rule, simple_acceptance)
from labauto.results import DecisionRuleRef
from labauto.units import Q_

T = Q_(400, "uV")
U = Q_(100, "uV")


def decide(rule, error_uv, U=U, T=T):
    return rule.decide(Q_(error_uv, "uV"), U, T)


@pytest.mark.parametrize("error, expected", [
    (0, "pass"), (399.9, "pass"), (400, "pass"), (-400, "pass"), (400.1, "fail"), (-401, "fail"),
])
def test_simple_acceptance_is_binary_with_al_equal_to_tl(error, expected):
    # ILAC-G8:09/2019 4.2.1: pass below AL = TL, fail above; w = 0
    d = decide(simple_acceptance(), error)
    assert d.decision == expected
    assert d.acceptance_limit == Q_(400, "uV")
    assert d.guard_band.magnitude == 0


@pytest.mark.parametrize("error, expected", [
    (0, "pass"), (300, "pass"), (-300, "pass"), (300.5, "fail"), (-350, "fail"), (399, "fail"),
    (450, "fail"),
])
def test_guard_band_u_binary(error, expected):
    # ILAC-G8:09/2019 4.2.2 with w = U: AL = TL - U = 400 µV - 100 µV = 300 µV
    d = decide(guarded_acceptance(1.0), error)
    assert d.decision == expected
    assert d.acceptance_limit.to("uV").magnitude == pytest.approx(300)
    assert d.guard_band.to("uV").magnitude == pytest.approx(100)


def test_guard_band_r_times_u():
    rule = parse_decision_rule("guard-band-1.5U")
    d = decide(rule, 250)
    assert d.acceptance_limit.to("uV").magnitude == pytest.approx(400 - 150)
    assert d.decision == "pass"
    assert decide(rule, 251).decision == "fail"


@pytest.mark.parametrize("error, expected", [
    (250, "pass"), (300, "pass"), (-300, "pass"),
    (300.5, "conditional pass"), (350, "conditional pass"), (400, "conditional pass"),
    (-400, "conditional pass"),
    (400.5, "conditional fail"), (450, "conditional fail"), (500, "conditional fail"),
    (-500, "conditional fail"),
    (500.5, "fail"), (-900, "fail"),
])
def test_non_binary_zones_follow_ilac_g8_4_2_3(error, expected):
    # pass |E| <= TL - w (300), conditional pass up to TL (400), conditional fail up to
    # TL + w (500), fail beyond
    d = decide(non_binary(1.0), error)
    assert d.decision == expected
    assert d.acceptance_limit.to("uV").magnitude == pytest.approx(300)


def test_limits_hold_across_units():
    # 0.3 mV against AL = 0.4 mV - 100 µV: exactly on the limit passes despite float rounding
    d = guarded_acceptance().decide(Q_(0.3, "mV"), Q_(100, "uV"), Q_(0.4, "mV"))
    assert d.decision == "pass"
    assert d.acceptance_limit.units == Q_(1, "mV").units
    assert d.acceptance_limit.magnitude == pytest.approx(0.3)


def test_tur_is_tolerance_over_u():
    assert decide(simple_acceptance(), 10).tur == pytest.approx(4.0)
    assert decide(simple_acceptance(), 10, U=Q_(0.16, "mV")).tur == pytest.approx(2.5)
    assert decide(simple_acceptance(), 10, U=Q_(0, "uV")).tur == float("inf")


def test_guard_band_wider_than_tolerance_leaves_no_pass_zone():
    # U = 500 µV > T = 400 µV: the acceptance interval is empty, AL is reported as 0
    d = decide(guarded_acceptance(), 0, U=Q_(500, "uV"))
    assert d.decision == "fail" and d.acceptance_limit.magnitude == 0
    d = decide(non_binary(), 0, U=Q_(500, "uV"))
    assert d.decision == "conditional pass"
    assert decide(non_binary(), 850, U=Q_(500, "uV")).decision == "conditional fail"
    assert decide(non_binary(), 901, U=Q_(500, "uV")).decision == "fail"


def test_names_round_trip_and_clauses():
    for name, clause, binary, r in [("simple-acceptance", "4.2.1", True, 0.0),
                                    ("guard-band-U", "4.2.2", True, 1.0),
                                    ("guard-band-0.5U", "4.2.2", True, 0.5),
                                    ("non-binary-guard-band-U", "4.2.3", False, 1.0),
                                    ("non-binary-guard-band-2U", "4.2.3", False, 2.0)]:
        rule = parse_decision_rule(name)
        assert (rule.name, rule.clause, rule.binary, rule.r) == (name, clause, binary, r)
        assert parse_decision_rule(rule.name) == rule


@pytest.mark.parametrize("bad", ["guard-band", "guard-band-XU", "guard-band-0U", "simple",
                                 "non-binary-simple-acceptance", "GUARD-BAND-U", ""])
def test_unknown_rule_names_are_refused_with_the_valid_forms(bad):
    with pytest.raises(ConformityError) as exc:
        parse_decision_rule(bad)
    assert "simple-acceptance" in str(exc.value)


def test_non_binary_without_guard_band_is_refused():
    with pytest.raises(ConformityError):
        GuardBandRule(0.0, binary=False)
    with pytest.raises(ConformityError):
        GuardBandRule(-1.0)


def test_statements_and_ref_for_the_certificate():
    ref = simple_acceptance().ref
    assert isinstance(ref, DecisionRuleRef)
    assert ref.name == "simple-acceptance" and ref.reference == "ILAC-G8:09/2019"
    assert "4.2.1" in ref.description and "50 %" in ref.description
    gb = parse_decision_rule("guard-band-U").statement
    # 1 - Phi(2) = 2.275 % -> "2.3 %" (ILAC-G8 quotes "< 2.5 %" for w = U)
    assert "4.2.2" in gb and "w = U" in gb and "2.3 %" in gb
    nb = parse_decision_rule("non-binary-guard-band-U").statement
    assert "Conditional pass" in nb and "Conditional fail" in nb and "4.2.3" in nb


def test_invalid_inputs_raise_conformity_errors():
    rule = simple_acceptance()
    with pytest.raises(ConformityError, match="cannot compare"):
        rule.decide(Q_(1, "uV"), Q_(1, "uA"), T)
    with pytest.raises(ConformityError, match="positive"):
        rule.decide(Q_(1, "uV"), U, Q_(0, "uV"))
    with pytest.raises(ConformityError, match="expanded uncertainty"):
        rule.decide(Q_(1, "uV"), Q_(-1, "uV"), T)


def test_decision_to_dict():
    d = decide(non_binary(), 350).to_dict()
    assert d["decision"] == "conditional pass"
    assert d["acceptance_limit"] == {"value": pytest.approx(300), "unit": "µV"}
    assert d["tur"] == pytest.approx(4.0)
    assert d["probability_false_reject"] == 0.0
    # conditional pass at 350 µV: 1 - p_c = 1 - [Phi((400-350)/50) - Phi((-400-350)/50)]
    #                                     = 1 - Phi(1) = 0.158655
    assert d["probability_false_accept"] == pytest.approx(0.158655, abs=1e-6)

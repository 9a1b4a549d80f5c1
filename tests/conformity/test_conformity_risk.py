"""Conformance probability and specific risk, against published tables.

Normal-distribution values used below (standard normal CDF Phi, 6 decimals):
    Phi(0.84) = 0.799546   Phi(1) = 0.841345    Phi(1.28) = 0.899727   Phi(1.64) = 0.949497
    Phi(1.66) = 0.951543   Phi(2) = 0.977250    Phi(2.33) = 0.990097   Phi(3) = 0.998650
    Phi(3.09) = 0.998999   1 - Phi(6) = 9.87e-10
"""
import pytest

from labauto.conformity import (conformance_probability, false_accept_bound, guarded_acceptance,
                                non_binary, parse_decision_rule, simple_acceptance, tur)
from labauto.units import Q_


@pytest.mark.parametrize("z, published_pc, digits", [
    (0.84, "0.80", 2), (1.28, "0.90", 2), (1.64, "0.95", 2), (2.33, "0.99", 2), (3.09, "0.999", 3),
])
def test_jcgm106_table1_one_sided_conformance_probability(z, published_pc, digits):
    # JCGM 106:2012 7.3, Table 1: measured value z standard uncertainties below a single upper
    # tolerance limit gives p_c = Phi(z).  A two-sided interval whose lower limit is 200 u away
    # behaves as one-sided.
    u = Q_(1.0, "uV")
    T = Q_(100.0, "uV")
    error = T - z * u
    pc = conformance_probability(error, u, T)
    assert round(pc, digits) == float(published_pc)


@pytest.mark.parametrize("r, published_bound, exact", [
    (3.0, 1e-6, 9.866e-10),       # "6 sigma":  w = 3U     -> PFA < 1 ppm
    (1.5, 0.0016, 0.0013499),     # "3 sigma":  w = 1.5U   -> PFA < 0.16 %
    (1.0, 0.025, 0.0227501),      # ILAC-G8:2009: w = U    -> PFA < 2.5 %
    (0.83, 0.05, 0.0484572),      # ISO 14253-1:2017: w = 0.83U -> PFA < 5 %
    (0.0, 0.5, 0.5),              # simple acceptance      -> PFA <= 50 %
])
def test_ilac_g8_guard_band_table_specific_risk_at_the_acceptance_limit(r, published_bound, exact):
    # ILAC-G8:09/2019 4.2 (table of guard bands w = r U and the specific risk of a result
    # accepted at AL, normal distribution, U = 2u).  Here T = 10 mV, U = 1 mV: the far limit
    # is 20 u away, so the risk is 1 - Phi(2 r).
    T, U = Q_(10, "mV"), Q_(1, "mV")
    rule = guarded_acceptance(r) if r else simple_acceptance()
    d = rule.decide(T - r * U, U, T)
    assert d.decision == "pass"
    assert d.probability_false_accept == pytest.approx(exact, rel=1e-3)
    assert d.probability_false_accept <= published_bound
    assert false_accept_bound(r) == pytest.approx(exact, rel=1e-3)


def test_two_sided_conformance_probability_hand_computed():
    # T = 400 µV, u = 50 µV (U = 100 µV, k = 2)
    T, u = Q_(400, "uV"), Q_(50, "uV")
    # centred: Phi(8) - Phi(-8) ~ 1
    assert conformance_probability(Q_(0, "uV"), u, T) == pytest.approx(1.0, abs=1e-12)
    # on the limit: Phi(0) - Phi(-16) = 0.5
    assert conformance_probability(Q_(400, "uV"), u, T) == pytest.approx(0.5, abs=1e-12)
    # 350 µV: Phi(1) - Phi(-15) = 0.841345
    assert conformance_probability(Q_(350, "uV"), u, T) == pytest.approx(0.841345, abs=1e-6)
    # a wide u makes both limits count: T = 1, u = 1, e = 0 -> Phi(1) - Phi(-1) = 0.682689
    assert conformance_probability(Q_(0, "V"), Q_(1, "V"), Q_(1, "V")) == pytest.approx(
        0.682689, abs=1e-6)
    # u = 0: the measured error is taken as exact
    assert conformance_probability(Q_(400, "uV"), Q_(0, "uV"), T) == 1.0
    assert conformance_probability(Q_(401, "uV"), Q_(0, "uV"), T) == 0.0


def test_specific_risk_of_a_rejection_is_the_false_reject_probability():
    # simple acceptance, E = 450 µV beyond T = 400 µV with U = 100 µV: fail, and the item
    # conforms after all with p_c = Phi((400-450)/50) - Phi(-17) = Phi(-1) = 0.158655
    d = simple_acceptance().decide(Q_(450, "uV"), Q_(100, "uV"), Q_(400, "uV"))
    assert d.decision == "fail" and not d.accepted
    assert d.probability_false_accept == 0.0
    assert d.probability_false_reject == pytest.approx(0.158655, abs=1e-6)
    assert d.specific_risk == d.probability_false_reject


def test_simple_acceptance_on_the_limit_has_50_percent_false_accept_risk():
    # ILAC-G8:09/2019 4.2.1 / JCGM 106: a result on the tolerance limit conforms with p = 0.5
    d = simple_acceptance().decide(Q_(400, "uV"), Q_(100, "uV"), Q_(400, "uV"))
    assert d.decision == "pass"
    assert d.probability_false_accept == pytest.approx(0.5, abs=1e-9)


def test_coverage_factor_sets_u_for_the_risk():
    # U = 100 µV with k = 2.5 -> u = 40 µV; E = 300 µV: 1 - Phi(100/40) = 1 - Phi(2.5) = 0.006210
    d = guarded_acceptance().decide(Q_(300, "uV"), Q_(100, "uV"), Q_(400, "uV"),
                                    coverage_factor=2.5)
    assert d.coverage_factor == 2.5
    assert d.probability_false_accept == pytest.approx(0.006210, abs=1e-6)


def test_conditional_fail_risk_is_false_reject():
    d = non_binary().decide(Q_(-450, "uV"), Q_(100, "uV"), Q_(400, "uV"))
    assert d.decision == "conditional fail"
    assert d.probability_false_reject == pytest.approx(0.158655, abs=1e-6)


def test_tur_function():
    assert tur(Q_(0.4, "mV"), Q_(100, "uV")) == pytest.approx(4.0)
    assert parse_decision_rule("guard-band-U").decide(
        Q_(0, "V"), Q_(0.2, "V"), Q_(1, "V")).tur == pytest.approx(5.0)

"""The decision rule's wrong decisions observed against those its specific risks predict
(labauto.validation.stats.decision_check): counts, expected counts and z, by hand."""
from __future__ import annotations

import math

import pytest

from labauto.validation.montecarlo import PointOutcome
from labauto.validation.stats import decision_check


def _outcome(true: float, accepted: bool | None, risk: float | None) -> PointOutcome:
    # tolerance 1: |true| <= 1 conforms; measured and U do not enter the decision check
    return PointOutcome("P", "V", measured=0.0, true=true, expanded=0.1, combined=0.05,
                        coverage_factor=2.0, tolerance=1.0, accepted=accepted,
                        specific_risk=risk)


def test_observed_and_predicted_false_accepts_and_rejects_by_hand():
    outcomes = [_outcome(0.2, True, 0.1), _outcome(0.5, True, 0.2), _outcome(0.9, True, 0.3),
                _outcome(1.2, True, 0.4),                     # accepted, non-conforming
                _outcome(0.95, False, 0.5),                   # rejected, conforming
                _outcome(1.5, False, 0.9)]
    d = decision_check(outcomes)
    assert (d.accepted, d.rejected, d.false_accept, d.false_reject) == (4, 2, 1, 1)
    # expected false accepts: 0.1 + 0.2 + 0.3 + 0.4 = 1.0, variance Σ r(1 − r) = 0.70
    assert d.predicted_false_accept == pytest.approx(1.0)
    assert d.z_false_accept == pytest.approx(0.0, abs=1e-12)
    # expected false rejects: 0.5 + 0.9 = 1.4, variance 0.25 + 0.09 = 0.34
    assert d.predicted_false_reject == pytest.approx(1.4)
    assert d.z_false_reject == pytest.approx((1 - 1.4) / math.sqrt(0.34))
    row = d.to_dict(runs=6)
    assert row["false_accept_rate"] == pytest.approx(1 / 6)
    assert row["predicted_false_reject_rate"] == pytest.approx(1.4 / 6)
    assert d.shown("accept") == "1 / 1.0" and d.shown("reject") == "1 / 1.4"


def test_a_rule_that_states_no_risk_predicts_nothing_and_no_rule_is_said():
    d = decision_check([_outcome(0.2, True, None), _outcome(1.2, False, None)])
    assert d.predicted_false_accept is None and d.predicted_false_reject is None
    assert d.shown("accept") == "0 / –"
    none = decision_check([_outcome(0.2, None, None)])
    assert not none.applies and none.shown("reject") == "no rule"
    assert none.to_dict(runs=1) == {"rule": None}


def test_a_false_accept_where_none_was_expected_is_infinitely_unlikely():
    d = decision_check([_outcome(1.2, True, 0.0)])
    assert d.false_accept == 1 and d.predicted_false_accept == 0.0
    assert d.z_false_accept == math.inf

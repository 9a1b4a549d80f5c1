"""Run rules against sequences built to just fire and just miss each rule (values in units of
sigma about a centre line of 0), and the individuals-chart limits against a hand derivation."""
from __future__ import annotations

import pytest

from labauto.quality.control import Limits, estimate_limits, violations, violations_at

UNIT = Limits(0.0, 1.0)


def fired(values, rule_set="western_electric", limits=UNIT):
    return [(v.rule, v.index) for v in violations(values, limits, rule_set)]


@pytest.mark.parametrize("values, expected", [
    ([0.2, 3.01], [("WE1", 1)]),
    ([0.2, 3.0, -3.0], []),                                     # on the limit is not beyond
    ([-3.5], [("WE1", 0)]),
    ([2.1, 0.0, 2.1], [("WE2", 2)]),
    ([2.1, 2.1], [("WE2", 1)]),                                 # two of the first two
    ([2.1, -2.1, 0.5, 2.1], []),                                # opposite sides; 2.1s 3 apart
    ([2.1, 0.0, 0.0, 2.1], []),
    ([1.5, 1.5, 0.0, 1.5, 1.5], [("WE3", 4)]),
    ([1.5, 1.5, 0.0, 0.0, 1.5], []),
    ([-1.5, -1.5, -1.5, 0.5, -1.5], [("WE3", 4)]),
    ([0.5] * 7, []),
    ([0.5] * 8, [("WE4", 7)]),
    ([0.5] * 4 + [0.0] + [0.5] * 4, []),                        # a point on the centre line
    ([-0.3] * 9, [("WE4", 7), ("WE4", 8)]),
])
def test_western_electric_rules(values, expected):
    assert fired(values) == expected


@pytest.mark.parametrize("values, expected", [
    ([0.5] * 8, []),
    ([0.5] * 9, [("N2", 8)]),
    ([0.0, 0.1, 0.2, 0.3, 0.4], []),
    ([-0.5, -0.4, -0.3, -0.2, -0.1, 0.1], [("N3", 5)]),        # six increasing
    ([0.5, 0.4, 0.3, 0.3, 0.2, 0.1], []),                      # a plateau breaks the trend
    ([0.4, 0.3, 0.2, 0.1, -0.1, -0.2], [("N3", 5)]),
    ([0.5 * (-1) ** i for i in range(13)], []),
    ([0.5 * (-1) ** i for i in range(14)], [("N4", 13)]),
    ([0.5] * 2 + [-0.5 * (-1) ** i for i in range(12)], []),   # flat, then 13 alternating
    ([2.5, 0.0, 2.5], [("N5", 2)]),
    ([1.2, 1.2, 1.2, -2.0, 1.2], [("N6", 4)]),
    ([0.9 * (-1) ** i for i in range(15)], [("N4", 13), ("N4", 14), ("N7", 14)]),
    ([0.9, -0.9] * 7 + [1.0], [("N4", 13), ("N4", 14)]),       # 1.0 is not within 1 sigma
    ([1.5, -1.5, -1.5, 1.5, 1.5, -1.5, -1.5, 1.5], [("N8", 7)]),
    ([1.5, -1.5, -1.5, 1.5, 1.5, -1.5, -1.5, 0.9], []),         # the eighth is within 1 sigma
    # Nelson's rule 8 needs points in both directions: eight beyond 1 sigma on one side is a
    # shift (N6 fires from the fourth point on, N8 never)
    ([1.5] * 8, [("N6", 3), ("N6", 4), ("N6", 5), ("N6", 6), ("N6", 7)]),
])
def test_nelson_rules(values, expected):
    assert fired(values, "nelson") == expected


def test_a_shift_of_one_and_a_half_sigma_is_caught_by_we3_then_we4():
    # in control (alternating 0.3 / -0.3 sigma), then the process moves up by 1.5 sigma
    values = [0.3, -0.3] * 10 + [1.4, 1.6, 1.2, 1.8, 1.5, 1.3, 1.7, 1.6]
    got = violations(values, UNIT)
    # the fourth shifted point completes "four of five beyond 1 sigma" (with the -0.3 before)
    assert [(v.rule, v.index, v.first) for v in got][:2] == [("WE3", 23, 19), ("WE3", 24, 20)]
    assert ("WE4", 27) in [(v.rule, v.index) for v in got]
    assert [v.rule for v in violations_at(values, UNIT, 22)] == []
    assert [v.rule for v in violations_at(values, UNIT, 23)] == ["WE3"]


def test_limits_are_scaled_by_centre_and_sigma():
    limits = Limits(10.0000120, 0.4e-6)                          # a 10 V chart in volts
    assert fired([10.0000120, 10.0000133], limits=limits) == [("WE1", 1)]   # +3.25 sigma
    assert fired([10.0000120, 10.0000131], limits=limits) == []              # +2.75 sigma


def test_individuals_limits_from_the_moving_range():
    # mean 2.5; moving ranges 2, 1, 2 -> mean 5/3; sigma = (5/3)/1.128 = 1.47754 (hand derivation)
    lim = estimate_limits([1.0, 3.0, 2.0, 4.0])
    assert lim.center == 2.5
    assert lim.sigma == pytest.approx(1.477541, abs=1e-6)
    assert (lim.lcl, lim.ucl) == pytest.approx((2.5 - 4.432624, 2.5 + 4.432624), abs=1e-6)
    with pytest.raises(ValueError, match="all equal"):
        estimate_limits([5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="unknown run-rule set"):
        violations([1.0], UNIT, "westinghouse")

"""Reporting per ILAC-P14:09/2020 section 6: U to two significant digits rounded up, the value to
the same decimal place."""
from __future__ import annotations

from decimal import Decimal

import pytest

from labauto.uncertainty.rounding import round_for_report, round_result, round_uncertainty
from labauto.units import Q_


@pytest.mark.parametrize("u, expected", [
    (0.0001234, "0.00013"), (0.00012, "0.00012"), (99.1, "100"), (1.01, "1.1"), (56.0, "56"),
])
def test_uncertainty_is_rounded_up_to_two_significant_digits(u, expected):
    assert round_uncertainty(u) == Decimal(expected)
    assert f"{round_uncertainty(u):f}" == expected


def test_value_is_rounded_half_up_to_the_decimal_of_U():
    assert round_result(10.000046, 0.0000203) == (Decimal("10.000046"), Decimal("0.000021"))
    assert round_result(1.23456, 0.0123) == (Decimal("1.235"), Decimal("0.013"))


def test_report_pair_in_another_unit_keeps_the_exact_decimals():
    # U = 11 µV beside a mean in V: six decimals, trailing zero kept, no float noise
    mean, U = round_for_report(Q_(10.0000503, "V"), Q_(11, "uV"), "V")
    assert (f"{mean:f}", f"{U:f}") == ("10.000050", "0.000011")
    # U = 110 µV: its last significant digit is the 10 µV place
    mean, U = round_for_report(Q_(10.0000503, "V"), Q_(110, "uV"), "V")
    assert (f"{mean:f}", f"{U:f}") == ("10.00005", "0.00011")
    err, U = round_for_report(Q_(-0.00004, "mV"), Q_(2.8, "uV"))
    assert (f"{err:f}", f"{U:f}") == ("0.0", "2.8")           # no "-0.0"
    with pytest.raises(ValueError, match="power of ten"):
        round_for_report(Q_(1, "inch"), Q_(0.01, "mm"), "inch")

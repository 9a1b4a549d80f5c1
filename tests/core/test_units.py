"""The one pint registry and the D-SI unit mapping used in DCC XML."""
import pytest

from labauto.units import Q_, UnitError, from_dsi, parse_quantity, to_dsi, ureg


@pytest.mark.parametrize("unit, dsi", [
    ("V", r"\volt"), ("mV", r"\milli\volt"), ("uV", r"\micro\volt"), ("kV", r"\kilo\volt"),
    ("ohm", r"\ohm"), ("degC", r"\degreecelsius"), ("kg", r"\kilogram"), ("mg", r"\milli\gram"),
    ("m**2", r"\metre\tothe{2}"), ("m/s", r"\metre\second\tothe{-1}"), ("dimensionless", r"\one"),
    ("ppm", r"\ppm"), ("percent", r"\percent"),
])
def test_dsi_round_trip(unit, dsi):
    assert to_dsi(unit) == dsi
    assert from_dsi(dsi) == ureg.Unit(unit)


def test_parse_quantity_checks_dimension():
    assert parse_quantity("-1 mV", "V") == Q_(-1, "mV")
    assert parse_quantity("10 V", "V").to("mV").magnitude == pytest.approx(10000)
    with pytest.raises(UnitError, match="has no unit"):
        parse_quantity("10", "V")
    with pytest.raises(UnitError, match="expected one compatible with V"):
        parse_quantity("10 A", "V")
    with pytest.raises(UnitError, match="cannot parse"):
        parse_quantity("10 Vx", "V")


def test_unknown_unit_has_no_dsi():
    with pytest.raises(UnitError, match="no D-SI equivalent"):
        to_dsi("furlong")


def test_single_registry():
    import labauto
    from labauto.units import Q_ as q2
    assert labauto.ureg is ureg and q2(1, "V")._REGISTRY is ureg


@pytest.mark.parametrize("value, unit, expected", [
    (2e-5, "V", "microvolt"), (4e-4, "V", "microvolt"), (0.015, "V", "millivolt"),
    (6.4, "uV", "microvolt"), (1200, "V", "kilovolt"), (0, "V", "volt"), (3, "degC", "degree_Celsius"),
])
def test_engineering_unit_puts_the_magnitude_in_1_to_1000(value, unit, expected):
    from labauto.units import engineering_unit

    assert engineering_unit(Q_(value, unit)) == ureg.Unit(expected)

"""Equations: safe parsing, unit checks before arithmetic, exact derivatives, several outputs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from labauto.uncertainty import Model, ModelError, Normal, Rectangular, UnitConsistencyError, gum
from labauto.uncertainty.expression import diff, evaluate, parse_equation
from labauto.units import Q_, ureg


def volts(**names):
    return {n: Normal(Q_(v, "V"), Q_(1, "mV")) for n, v in names.items()}


@pytest.mark.parametrize("eq", [
    "Y = __import__('os').system('true')",
    "Y = A.real",
    "Y = A[0]",
    "Y = (lambda: A)()",
    "Y = A if A else B",
    "Y = A < B",
    "Y = open('x')",
    "Y = 'text'",
    "Y = A % B",
    "Y = sqrt(x=A)",
    "Y, Z = A, B",
    "import os",
])
def test_only_whitelisted_syntax_is_accepted(eq):
    with pytest.raises(ModelError):
        Model(eq, inputs=volts(A=1, B=2))


def test_unknown_names_and_unused_inputs_are_reported():
    with pytest.raises(ModelError, match="unknown name 'C'"):
        Model("Y = A + C", inputs=volts(A=1, B=2))
    with pytest.raises(ModelError, match="'B' is not used"):
        Model("Y = A", inputs=volts(A=1, B=2))


@pytest.mark.parametrize("eq, match", [
    ("Y = L + T", "cannot add 'L' .* and 'T'"),
    ("Y = exp(L)", "exp\\(\\) needs a dimensionless argument"),
    ("Y = L**T", "exponent"),
    ("Y = L**n", "non-constant power"),
])
def test_inconsistent_units_are_refused_before_arithmetic(eq, match):
    inputs = {"L": Normal(Q_(1, "m"), Q_(1, "mm")), "T": Normal(Q_(1, "K"), Q_(1, "mK")),
              "n": Normal(2, 0.1)}
    used = {k: v for k, v in inputs.items() if k in eq}
    with pytest.raises(UnitConsistencyError, match=match):
        Model(eq, inputs=used)


def test_mixed_compatible_units_are_converted():
    m = Model("L = a + b", inputs={"a": Normal(Q_(50, "mm"), Q_(1, "um")), "b": Normal(Q_(215, "nm"), Q_(10, "nm"))})
    r = gum(m)
    assert r.estimate("L").units == ureg.mm
    assert r.estimate("L").to("nm").magnitude == pytest.approx(50_000_215)
    assert r.u("L").to("nm").magnitude == pytest.approx(math.hypot(1000, 10))
    assert r.sensitivity("L", "b").magnitude == pytest.approx(1.0)     # mm/nm simplified to 1


def test_output_unit_can_be_chosen_and_is_checked():
    m = Model("P = U*I", inputs={"U": Normal(Q_(10, "V"), Q_(1, "mV")), "I": Normal(Q_(2, "A"), Q_(1, "mA"))},
              units={"P": "mW"})
    assert gum(m).estimate("P").to("mW").magnitude == pytest.approx(20_000)
    assert gum(m).estimate("P").units == ureg.mW
    with pytest.raises(ModelError, match="does not match its dimension"):
        Model("P = U*I", inputs={"U": Normal(Q_(10, "V"), Q_(1, "mV")), "I": Normal(Q_(2, "A"), Q_(1, "mA"))},
              units={"P": "m"})


@pytest.mark.parametrize("equations, inputs, expected", [
    # no input has the output's unit: the inputs' units composed, not SI base units
    ("y = a*b", {"a": ("V", 10.0), "b": ("V", 2.0)}, (20.0, "V²")),
    # ... stated in a prefixed SI unit with a special name when the composition is exactly one
    ("R = U/I", {"U": ("V", 10.0), "I": ("mA", 2.0)}, (5.0, "kΩ")),
    ("Q = I*t", {"I": ("mA", 2.0), "t": ("s", 3.0)}, (6.0, "mC")),
    # ... but not where the name is ambiguous: V·A may be apparent power, N·m torque, 1/s a rate
    ("P = U*I", {"U": ("V", 10.0), "I": ("mA", 2.0)}, (20.0, "mA·V")),
    ("M = F*l", {"F": ("N", 10.0), "l": ("m", 0.5)}, (5.0, "m·N")),
    ("f = 1/T", {"T": ("ms", 10.0)}, (0.1, "1/ms")),
    (["P = U*I", "E = P*t"], {"U": ("V", 10.0), "I": ("A", 2.0), "t": ("s", 3.0)}, (60.0, "A·s·V")),
    # a ratio of like quantities is a plain number, not mV/V
    ("r = U/V", {"U": ("mV", 10.0), "V": ("V", 2.0)}, (0.005, "")),
    # an input with the output's unit still gives it (the first one in the equation)
    ("E = X - V", {"X": ("mV", 10.0), "V": ("V", 0.001)}, (9.0, "mV")),
])
def test_output_unit_is_composed_from_the_input_units(equations, inputs, expected):
    m = Model(equations, inputs={n: Normal(x, x * 1e-4, unit=u) for n, (u, x) in inputs.items()})
    y = gum(m).estimate(m.outputs[-1])
    assert (round(y.magnitude, 9), f"{y.units:~P}") == expected


def test_symbolic_derivatives_match_finite_differences():
    names = {"x": None, "y": None}
    eq = parse_equation("f = sqrt(x)*exp(y/x) + atan(x*y)**2 - log10(x)/y + abs(y - x)**1.5",
                        {n: ureg.Unit("dimensionless") for n in names})
    at = {"x": 1.3, "y": 0.7}
    for v in ("x", "y"):
        d = evaluate(diff(eq.tree, v), at)
        h = 1e-6
        up, dn = dict(at), dict(at)
        up[v] += h
        dn[v] -= h
        assert d == pytest.approx((evaluate(eq.tree, up) - evaluate(eq.tree, dn)) / (2 * h), rel=1e-7)


def test_trig_of_angles_in_degrees():
    m = Model("Y = sin(a)", inputs={"a": Normal(Q_(30, "degree"), Q_(0.1, "degree"))})
    r = gum(m)
    assert r.estimate("Y").magnitude == pytest.approx(0.5)
    # u = cos(30°) * 0.1° in rad
    assert r.u("Y").magnitude == pytest.approx(math.cos(math.pi / 6) * math.radians(0.1))


def test_later_equations_may_use_earlier_outputs_and_share_covariance():
    m = Model(["S = A + B", "D = S - 2*B"], inputs=volts(A=1, B=2))
    r = gum(m)
    assert r.estimate("D").to("V").magnitude == pytest.approx(-1)
    # D = A - B: u^2 = 2 mV^2; cov(S, D) = u_A^2 - u_B^2 = 0
    assert r.u("D").to("mV").magnitude == pytest.approx(math.sqrt(2))
    assert r.cov("S", "D").to("mV**2").magnitude == pytest.approx(0, abs=1e-12)
    assert {row.name for row in r.budget("D").rows} == {"A", "B"}


def test_correlations_are_validated():
    with pytest.raises(ModelError, match="outside"):
        Model("Y = A + B", inputs=volts(A=1, B=2), correlations={("A", "B"): 1.5})
    with pytest.raises(ModelError, match="not an input"):
        Model("Y = A + B", inputs=volts(A=1, B=2), correlations={("A", "C"): 0.5})
    with pytest.raises(ModelError, match="positive semi-definite"):
        Model("Y = A + B + C", inputs=volts(A=1, B=2, C=3),
              correlations=[("A", "B", 0.9), ("B", "C", 0.9), ("A", "C", -0.9)])


def test_correlation_term_enters_the_combined_uncertainty():
    m = Model("Y = A - B", inputs=volts(A=1, B=2), correlations={("A", "B"): 0.8})
    # u^2 = 1 + 1 - 2*0.8 = 0.4 mV^2 (GUM 5.2.2)
    assert gum(m).u("Y").to("mV").magnitude == pytest.approx(math.sqrt(0.4))


def test_model_not_defined_at_estimates_is_reported():
    with pytest.raises(ModelError, match="not finite at the input estimates"):
        gum(Model("Y = A/B", inputs={"A": Normal(1, 0.1), "B": Rectangular(0, 0.1)}))


def test_calibration_error_model_as_used_by_the_evaluation():
    readings = Q_(np.array([10.00012, 10.00015, 10.00011, 10.00014, 10.00013]), "V")
    from labauto.uncertainty import TypeA
    m = Model("E = X_ind - V_ref + dX_res", inputs={
        "X_ind": TypeA.from_observations(readings, label="mean indication"),
        "V_ref": Normal.from_expanded(Q_(10, "V"), Q_(30, "uV"), coverage_probability=0.99, label="calibrator"),
        "dX_res": Rectangular(Q_(0, "V"), Q_(0.5, "uV"), label="resolution"),
    })
    b = gum(m).budget("E")
    assert b.estimate.to("uV").magnitude == pytest.approx(130, abs=1e-6)
    u = math.sqrt((np.std(readings.magnitude, ddof=1) / math.sqrt(5)) ** 2 + (30e-6 / 2.5758) ** 2
                  + (0.5e-6 / math.sqrt(3)) ** 2)
    assert b.combined_uncertainty.to("V").magnitude == pytest.approx(u, rel=1e-4)
    assert [r.source for r in b.rows] == ["mean indication", "calibrator", "resolution"]
    assert [r.sensitivity.magnitude for r in b.rows] == [1.0, -1.0, 1.0]


def test_an_equation_model_survives_pickling():
    # (Model.__new__ picks the function-model class for callables; unpickling calls it without arguments)
    import pickle
    m = Model("y = 2*a", inputs={"a": Normal(1.0, 0.1, unit="V")})
    again = pickle.loads(pickle.dumps(m))
    assert type(again) is Model and gum(again).u("y").to("V").magnitude == pytest.approx(0.2)

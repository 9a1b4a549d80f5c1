"""Procedure-listed uncertainty contributions: parsing, standard uncertainty, model inputs."""
import math

import pytest

from labauto.procedure import load_procedure
from labauto.uncertainty import Normal, Rectangular
from labauto.units import Q_

from procedure_base import text_with


def load_with(write, line16: str):
    return load_procedure(write(text_with({16: line16})))


def test_rectangular(write):
    p = load_with(write, "  - {name: thermal_emf, label: thermal EMFs, distribution: rectangular, "
                         "half_width: 1 uV}")
    (c,) = p.contributions
    assert (c.name, c.label, c.distribution) == ("thermal_emf", "thermal EMFs", "rectangular")
    assert c.half_width == Q_(1, "uV")
    # GUM 4.3.7: u = a / sqrt(3) = 0.577350 µV
    assert c.u.to("uV").magnitude == pytest.approx(1 / math.sqrt(3))


def test_normal_given_as_u_and_label_defaults_to_name(write):
    p = load_with(write, "  - {name: leads, distribution: normal, standard_uncertainty: 0.2 uV, "
                         "dof: 12}")
    (c,) = p.contributions
    assert c.label == "leads" and c.u == Q_(0.2, "uV") and c.dof == 12


def test_normal_given_as_expanded_with_k(write):
    (c,) = load_with(write, "  - {name: x, distribution: normal, expanded_uncertainty: 3 uV, "
                            "k: 2}").contributions
    assert c.u.to("uV").magnitude == pytest.approx(1.5)


def test_normal_given_as_expanded_with_coverage_probability(write):
    (c,) = load_with(write, "  - {name: x, distribution: normal, expanded_uncertainty: 1.959964 uV, "
                            "coverage_probability: 0.95}").contributions
    # k = Phi^-1(0.975) = 1.959964
    assert c.u.to("uV").magnitude == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("line, reason", [
    ("  - {name: x, distribution: normal}", "exactly one of standard_uncertainty or expanded"),
    ("  - {name: x, distribution: normal, standard_uncertainty: 1 uV, expanded_uncertainty: 2 uV}",
     "exactly one of standard_uncertainty or expanded"),
    ("  - {name: x, distribution: normal, expanded_uncertainty: 2 uV}", "exactly one of k or"),
    ("  - {name: x, distribution: normal, standard_uncertainty: 1 uV, k: 2}", "belongs to expanded"),
    ("  - {name: x, distribution: normal, expanded_uncertainty: 2 uV, k: 0}", "k must be a number > 0"),
    ("  - {name: x, distribution: rectangular}", "needs half_width"),
    ("  - {name: x, distribution: rectangular, half_width: -1 uV}", "must not be negative"),
    ("  - {name: x, distribution: rectangular, half_width: 1}", "has no unit"),
    ("  - {name: 2x, distribution: rectangular, half_width: 1 uV}", "must be an identifier"),
    ("  - {name: x, half_width: 1 uV}", "missing the required key 'distribution'"),
    ("  - {distribution: rectangular, half_width: 1 uV}", "missing the required key 'name'"),
    ("  - 1 uV", "must be a mapping"),
    ("  - {name: x, distribution: rectangular, half_width: 1 uV, correction: 2 A}", "correction"),
    ("  - {name: x, distribution: rectangular, half_width: 1 uV, correction: 2}", "has no unit"),
    ("  - {name: x, distribution: rectangular, half_width: 1 uV, of: source}", "of must be 'reference'"),
    ("  - {name: x, distribution: rectangular, half_width: 1 uV, nominal: 1 A}", "nominal"),
])
def test_contribution_errors_on_their_line(problems, line, reason):
    err = problems({16: line})
    assert [ln for ln, _ in err.problems] == [16], err.problems
    assert reason in err.reason


def test_a_correction_is_the_estimate_of_its_input(write):
    # a one-sided effect: its expected value as a correction to E, the spread about it
    (c,) = load_with(write, "  - {name: leads, distribution: rectangular, half_width: 5 uV, "
                            "correction: -11 uV}").contributions
    x = c.as_input("uV", Q_(10, "V"))
    assert isinstance(x, Rectangular)
    assert x.estimate == Q_(-11, "uV") and x.u.to("uV").magnitude == pytest.approx(5 / math.sqrt(3))
    assert c.to_dict()["correction"] == {"value": -11, "unit": "µV"}
    # relative: a fraction of the signed nominal (-250 ppm of -2 V = +500 µV)
    (c,) = load_with(write, "  - {name: heat, distribution: rectangular, half_width: 100 ppm, "
                            "correction: -250 ppm}").contributions
    assert c.as_input("uV", Q_(-2, "V")).estimate.to("uV").magnitude == pytest.approx(500)
    assert c.as_input("uV", Q_(-2, "V")).u.to("uV").magnitude == pytest.approx(200 / math.sqrt(3))


def test_a_contribution_of_one_nominal_value(project_root):
    # the 3458A's shunt heats with I²: one correction at 300 mA, another at 1 A, same range
    p = load_procedure(project_root / "procedures" / "fluke_5522a_dci_res_3458a.yaml")
    names = {pt.id: [c.name for c in pt.contributions] for pt in p.points}
    assert names["DCI-1A-+300mA"] == ["leakage", "shunt_heating_300ma"]
    assert names["DCI-1A-+1A"] == ["leakage", "shunt_heating_1a"]
    assert names["DCI-100mA-+30mA"] == ["leakage"]
    c = next(c for c in p.contributions if c.name == "shunt_heating_1a")
    assert c.to_dict()["nominals"] == [{"value": 1, "unit": "A"}]


def test_duplicate_contribution_names(problems):
    # line 16 becomes two entries: lines 16 and 17
    err = problems({16: "  - {name: t, distribution: rectangular, half_width: 1 uV}\n"
                        "  - {name: t, distribution: rectangular, half_width: 2 uV}"})
    assert err.problems == ((17, "duplicate contribution name 't' (first at line 16)"),)


def test_no_contributions_is_allowed(write):
    p = load_procedure(write(text_with({15: None, 16: None})))
    assert p.contributions == ()


def test_as_input_gives_model_inputs_with_zero_estimate(write):
    p = load_with(write, "  - {name: t, label: thermal EMFs, distribution: rectangular, "
                         "half_width: 1 uV}")
    rect = p.contributions[0].as_input("V")
    assert isinstance(rect, Rectangular)
    assert rect.label == "thermal EMFs"
    assert rect.u.to("uV").magnitude == pytest.approx(1 / math.sqrt(3))
    (c,) = load_with(write, "  - {name: x, distribution: normal, expanded_uncertainty: 3 uV, "
                            "k: 2}").contributions
    normal = c.as_input("mV")
    assert isinstance(normal, Normal)
    assert normal.u.to("uV").magnitude == pytest.approx(1.5)
    assert normal.x == 0.0

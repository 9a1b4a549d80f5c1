"""Measurement models as Python functions: the same numbers as the equation form of the model,
numerical sensitivities checked against the exact (symbolic) ones, and clear errors."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from labauto.uncertainty import (Model, ModelError, Normal, Rectangular, TypeA, UnitConsistencyError, gum,
                                 monte_carlo)
from labauto.uncertainty.function_model import FunctionModel
from labauto.uncertainty.modelfile import load_model
from labauto.uncertainty.report import result_dict
from labauto.units import Q_

EXAMPLES = Path(__file__).resolve().parents[2] / "labauto" / "uncertainty" / "examples"


def end_gauge(l_s, d, alpha_s, theta, d_alpha, d_theta):
    return l_s + d - l_s * (d_alpha * theta + alpha_s * d_theta)


def h1_inputs() -> dict:
    # GUM H.1 (Table H.1), as in test_validation_gum.end_gauge_model
    return {"l_s": Normal(50000623.6, 25, dof=18, unit="nm"), "d": Normal(215, 9.7, dof=25.6, unit="nm"),
            "alpha_s": Rectangular(11.5e-6, 2e-6, unit="1/K"), "theta": Normal(-0.1, 0.41, unit="K"),
            "d_alpha": Rectangular(0, 1e-6, dof=50, unit="1/K"), "d_theta": Rectangular(0, 0.05, dof=2, unit="K")}


def test_function_model_of_gum_h1_matches_the_equation_model():
    fm = Model(end_gauge, inputs=h1_inputs(), outputs="l")
    em = Model("l = l_s + d - l_s*(d_alpha*theta + alpha_s*d_theta)", inputs=h1_inputs())
    assert isinstance(fm, FunctionModel) and not fm.symbolic
    a, b = gum(fm).budget("l"), gum(em).budget("l")
    assert f"{a.estimate.units:~P}" == "nm"           # the unit the function returns at the estimates
    assert a.estimate.to("nm").magnitude == pytest.approx(b.estimate.to("nm").magnitude, rel=1e-15)
    # GUM H.1: u_c = 32 nm, nu_eff = 16; numerical sensitivities agree with the exact ones to 1e-6
    assert a.combined_uncertainty.to("nm").magnitude == pytest.approx(32, abs=0.5)
    assert a.combined_uncertainty.to("nm").magnitude == pytest.approx(
        b.combined_uncertainty.to("nm").magnitude, rel=1e-6)
    assert math.floor(a.dof_eff) == 16
    for ra, rb in zip(a.rows, b.rows):
        assert ra.name == rb.name and f"{ra.sensitivity.units:~P}" == f"{rb.sensitivity.units:~P}"
        assert ra.sensitivity.magnitude == pytest.approx(rb.sensitivity.magnitude, rel=1e-6, abs=1e-12)
    # c(d_theta) = -l_s alpha_s = -575 nm/K (exact: -575.00717)
    assert {r.name: r for r in a.rows}["d_theta"].sensitivity.to("nm/K").magnitude == pytest.approx(-575.00717, rel=1e-6)


def test_function_model_monte_carlo_draws_the_same_trials_as_the_equation_model():
    # JCGM 101 9.3 mass calibration as a function; same seed -> the same input trials
    mf = load_model(EXAMPLES / "jcgm101_mass_calibration.yaml")

    def deviation(m_Rc, dm_Rc, rho_a, rho_W, rho_R, rho_a0, m_nom):
        return (m_Rc + dm_Rc) * (1 + (rho_a - rho_a0) * (1 / rho_W - 1 / rho_R)) - m_nom

    fm = Model(deviation, inputs=mf.model.inputs, outputs="dm", units={"dm": "mg"})
    a, b = monte_carlo(fm, 200_000, seed=3), monte_carlo(mf.model, 200_000, seed=3)
    assert np.allclose(a.samples_base["dm"], b.samples_base["dm"], rtol=0, atol=1e-15)
    assert a.u("dm").to("mg").magnitude == pytest.approx(b.u("dm").to("mg").magnitude, rel=1e-9)
    # JCGM 101 Table 5, GUF: dm = 1.2340 mg, u = 0.0539 mg
    g = gum(fm)
    assert g.estimate("dm").to("mg").magnitude == pytest.approx(1.2340, abs=5e-5)
    assert g.u("dm").to("mg").magnitude == pytest.approx(0.0539, abs=5e-5)


def test_several_outputs_from_a_dict_with_correlated_inputs():
    # GUM H.2 as one function returning R, X, Z; same covariance as the equation model
    obs = TypeA.correlated({"V": Q_(np.array([5.007, 4.994, 5.005, 4.990, 4.999]), "V"),
                            "I": Q_(np.array([19.663, 19.639, 19.640, 19.685, 19.678]), "mA"),
                            "phi": Q_(np.array([1.0456, 1.0438, 1.0468, 1.0428, 1.0433]), "rad")})

    def impedance(V, I, phi):
        z = V / I
        return {"R": z * np.cos(phi), "X": z * np.sin(phi), "Z": z}

    units = {"R": "ohm", "X": "ohm", "Z": "ohm"}
    fm = Model(impedance, inputs=obs.inputs, correlations=obs.correlations, units=units)
    em = Model(["R = V/I*cos(phi)", "X = V/I*sin(phi)", "Z = V/I"], inputs=obs.inputs,
               correlations=obs.correlations, units=units)
    a, b = gum(fm), gum(em)
    assert a.outputs == ("R", "X", "Z")
    assert np.allclose(a.covariance, b.covariance, rtol=1e-6, atol=0)
    # GUM Table H.3: Z = 254.260 ohm, u = 0.236 ohm, r(X, Z) = 0.993
    assert a.estimate("Z").to("ohm").magnitude == pytest.approx(254.260, abs=5e-4)
    assert a.u("Z").to("ohm").magnitude == pytest.approx(0.236, abs=5e-4)
    assert a.corr("X", "Z") == pytest.approx(0.993, abs=5e-4)
    doc = result_dict(a, None, k=2)
    assert doc["model"]["equations"][0] == "R = impedance(V, I, phi)['R']"


def test_tuple_outputs_need_names_and_a_non_vectorised_function_still_works_for_the_gum():
    def polar(x, y):
        return math.hypot(x.m_as("m"), y.m_as("m")) * Q_(1, "m"), math.atan2(y.m_as("m"), x.m_as("m"))

    inputs = {"x": Normal(3.0, 0.01, unit="m"), "y": Normal(4.0, 0.01, unit="m")}
    with pytest.raises(ModelError, match=r"returns 2 values: name them with outputs=\[\.\.\.\]"):
        Model(polar, inputs=inputs)
    m = Model(polar, inputs=inputs, outputs=["r", "angle"])
    g = gum(m)
    # r = 5 m, u(r) = 0.01 m (|grad r| = 1); angle: u = 0.01 m x 5 m / 25 m^2 = 0.002 rad
    assert g.estimate("r").to("m").magnitude == pytest.approx(5.0)
    assert g.u("r").to("m").magnitude == pytest.approx(0.01, rel=1e-7)
    assert g.u("angle").magnitude == pytest.approx(0.002, rel=1e-6)
    # math.hypot cannot take arrays: Monte Carlo says what to do
    with pytest.raises(ModelError, match="must work on numpy arrays"):
        monte_carlo(m, 1000, seed=1)
    with pytest.raises(ModelError, match="second-order terms"):
        gum(m, second_order=True)


@pytest.mark.parametrize("function, inputs, kwargs, error, message", [
    # inconsistent units: pint refuses them when the model is built, before any uncertainty
    (lambda V, T: V + T, {"V": Normal(1.0, 0.1, unit="V"), "T": Normal(20.0, 0.1, unit="K")}, {"outputs": "y"},
     UnitConsistencyError, "inconsistent units"),
    # a parameter that is not an input, an input that is not a parameter
    (lambda a, b: a + b, {"a": Normal(1.0, 0.1, unit="V")}, {"outputs": "y"}, ModelError,
     "parameter 'b' is not an input"),
    (lambda a: a, {"a": Normal(1.0, 0.1, unit="V"), "c": Normal(1.0, 0.1, unit="V")}, {"outputs": "y"},
     ModelError, "input 'c' is not a parameter"),
    # a lambda has no usable name
    (lambda a: a, {"a": Normal(1.0, 0.1, unit="V")}, {}, ModelError, "name the output"),
    # the function fails at the estimates: its exception is named
    (lambda a: 1 / (a - a).magnitude, {"a": Normal(1.0, 0.1, unit="V")}, {"outputs": "y"},
     ModelError, "failed at the input estimates: ZeroDivisionError"),
    # an output may not reuse an input name; a unit override must fit the dimension
    (lambda a: a, {"a": Normal(1.0, 0.1, unit="V")}, {"outputs": "a"}, ModelError, "also an input name"),
    (lambda a: a, {"a": Normal(1.0, 0.1, unit="V")}, {"outputs": "y", "units": {"y": "m"}}, ModelError,
     "does not match its dimension"),
])
def test_function_model_errors_say_what_is_wrong(function, inputs, kwargs, error, message):
    with pytest.raises(error, match=message):
        Model(function, inputs=inputs, **kwargs)


def test_non_finite_sensitivity_is_reported():
    def root(x):
        return np.sqrt(x)

    m = Model(root, inputs={"x": Normal(0.0, 1e-3, unit="m**2")}, outputs="y")
    with pytest.raises(ModelError, match="not finite"):
        gum(m)


def test_the_function_gets_each_input_in_its_own_unit_also_for_gum_and_monte_carlo():
    # a correction table read by .magnitude in degC (the review found the GUM fed it kelvin)
    table_t, table_c = [15.0, 20.0, 25.0, 30.0], [0.010, 0.020, 0.035, 0.050]

    def corrected(t):
        return t + Q_(np.interp(t.magnitude, table_t, table_c), "delta_degC")

    m = Model(corrected, inputs={"t": Normal(22.0, 0.05, unit="degC")}, outputs="t_c")
    g = gum(m)
    # 22 degC + 0.026 degC (interpolated between 0.020 and 0.035); slope 1 + 0.003/K
    assert g.estimate("t_c").to("degC").magnitude == pytest.approx(22.026, abs=1e-12)
    assert g.sensitivity("t_c", "t").magnitude == pytest.approx(1.003, rel=1e-9)
    mc = monte_carlo(m, 100_000, seed=2)
    assert mc.estimate("t_c").to("degC").magnitude == pytest.approx(22.026, abs=0.001)
    # an offset-unit value used as such: 2 x 22 degC is what pint says it is, in both routes
    twice = Model(lambda t: 2 * t, inputs={"t": Normal(22.0, 0.05, unit="degC")}, outputs="y")
    assert gum(twice).estimate("y").to("degC").magnitude == pytest.approx(2 * Q_(22.0, "degC").magnitude)


@pytest.mark.parametrize("relative_u", [1e-9, 1e-11, 1e-13])
def test_sensitivity_stays_exact_for_tiny_relative_uncertainties(relative_u):
    # frequency calibrations: u/x of 1e-11 to 1e-13 (steps of u/100 alone drowned in rounding)
    def double(nu):
        return 2 * nu

    m = Model(double, inputs={"nu": Normal(10e6, 10e6 * relative_u, unit="Hz")}, outputs="f")
    assert gum(m).sensitivity("f", "nu").magnitude == pytest.approx(2.0, rel=1e-7)
    assert gum(m).u("f").to("Hz").magnitude == pytest.approx(2 * 10e6 * relative_u, rel=1e-7)


def test_named_tuple_outputs_take_their_field_names():
    from collections import namedtuple
    Polar = namedtuple("Polar", "r angle")

    def polar(x, y):
        return Polar(np.hypot(x, y), np.arctan2(y, x))

    inputs = {"x": Normal(3.0, 0.01, unit="m"), "y": Normal(4.0, 0.01, unit="m")}
    g = gum(Model(equations=polar, inputs=inputs))          # (keyword form of Model works too)
    assert g.outputs == ("r", "angle")
    assert g.estimate("r").to("m").magnitude == pytest.approx(5.0)
    assert g.estimate("angle").to("rad").magnitude == pytest.approx(math.atan2(4, 3))
    with pytest.raises(ModelError, match=r"outputs=\['angle', 'r'\] but polar\(\) returns \['r', 'angle'\]"):
        Model(polar, inputs=inputs, outputs=["angle", "r"])


def test_a_scalar_only_function_failing_near_the_estimate_is_a_model_error():
    def root(x):
        return math.sqrt(x.m_as("m**2")) * Q_(1, "m")      # math: no arrays, and no negative x

    m = Model(root, inputs={"x": Normal(1e-12, 1e-9, unit="m**2")}, outputs="y")
    with pytest.raises(ModelError, match="failed within u\\(x\\) of the input estimates.*ValueError"):
        gum(m)

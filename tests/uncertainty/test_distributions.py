"""Input distributions: standard uncertainties (GUM 4.3, JCGM 101 6.4) and their samplers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from labauto.uncertainty import (Arcsine, Constant, CurvilinearTrapezoid, ModelError, Normal, Rectangular,
                                 StudentT, Trapezoidal, Triangular, TypeA, coverage_factor)
from labauto.units import Q_


@pytest.mark.parametrize("dist, u", [
    (Rectangular(Q_(1, "V"), Q_(3, "mV")), 3e-3 / math.sqrt(3)),           # GUM 4.3.7
    (Triangular(Q_(1, "V"), Q_(3, "mV")), 3e-3 / math.sqrt(6)),            # GUM 4.3.9
    (Trapezoidal(Q_(1, "V"), Q_(3, "mV"), 0.5), 3e-3 * math.sqrt(1.25 / 6)),  # GUM 4.3.9 (β = 0.5)
    (CurvilinearTrapezoid(Q_(1, "V"), Q_(3, "mV"), Q_(1, "mV")), math.sqrt(9e-6 / 3 + 1e-6 / 9)),  # JCGM 101 6.4.3.3
    (Arcsine(Q_(1, "V"), Q_(3, "mV")), 3e-3 / math.sqrt(2)),               # JCGM 101 6.4.6.3
    (Normal(Q_(1, "V"), Q_(2, "mV")), 2e-3),
])
def test_standard_uncertainty_and_sampled_spread(dist, u):
    assert dist.u.to("V").magnitude == pytest.approx(u)
    draws = dist.sample_base(np.random.default_rng(1), 400_000)
    assert draws.mean() == pytest.approx(1.0, abs=5 * u / math.sqrt(400_000))
    assert draws.std() == pytest.approx(u, rel=0.01)


def test_sampler_shapes_match_their_definitions():
    rng = np.random.default_rng(2)
    a = Arcsine(0.0, 1.0).deviations(rng, 200_000)
    assert a.min() >= -1 and a.max() <= 1
    # arcsine: most mass near the limits (P(|x| > 0.9) = 1 - 2 asin(0.9)/pi = 0.287)
    assert np.mean(np.abs(a) > 0.9) == pytest.approx(1 - 2 * math.asin(0.9) / math.pi, abs=0.01)
    t = Triangular(0.0, 1.0).deviations(rng, 200_000)
    assert np.mean(np.abs(t) < 0.5) == pytest.approx(0.75, abs=0.01)
    c = CurvilinearTrapezoid(0.0, 1.0, 0.2).deviations(rng, 200_000)
    assert c.min() >= -1.2 and c.max() <= 1.2 and np.abs(c).max() > 1.1
    tr = Trapezoidal(0.0, 1.0, 0.5).deviations(rng, 200_000)
    assert np.abs(tr).max() <= 1.0
    # flat top of half-width β a = 0.5: density there is 1/(a(1+β)) = 2/3
    assert np.mean(np.abs(tr) < 0.25) == pytest.approx(0.5 * 2 / 3, abs=0.01)


def test_student_t_uses_scale_for_gum_and_draws_t():
    t = StudentT(Q_(0, "V"), Q_(1, "mV"), dof=5)
    assert t.u.to("mV").magnitude == 1.0 and t.dof == 5
    d = t.deviations(np.random.default_rng(3), 400_000)
    assert d.std() == pytest.approx(1e-3 * math.sqrt(5 / 3), rel=0.02)   # in V; t_5 has variance 5/3


def test_from_expanded_with_k_or_coverage_probability():
    a = Normal.from_expanded(Q_(10, "V"), Q_(30, "uV"), k=2)
    assert a.u.to("uV").magnitude == pytest.approx(15)
    b = Normal.from_expanded(Q_(10, "V"), Q_(2.576, "uV"), coverage_probability=0.99)
    assert b.u.to("uV").magnitude == pytest.approx(1.0, abs=1e-4)
    c = Normal.from_expanded(Q_(10, "V"), Q_(2.228, "uV"), coverage_probability=0.95, dof=10)
    assert c.u.to("uV").magnitude == pytest.approx(1.0, abs=1e-4) and c.dof == 10
    with pytest.raises(ModelError, match="exactly one of k or coverage_probability"):
        Normal.from_expanded(Q_(10, "V"), Q_(30, "uV"))
    with pytest.raises(ModelError, match="exactly one"):
        Normal.from_expanded(Q_(10, "V"), Q_(30, "uV"), k=2, coverage_probability=0.95)


def test_coverage_factor_table_values():
    # GUM Table G.2
    assert coverage_factor(0.95) == pytest.approx(1.960, abs=5e-4)
    assert coverage_factor(0.95, 4) == pytest.approx(2.776, abs=5e-4)
    assert coverage_factor(0.9545, 10) == pytest.approx(2.28, abs=5e-3)
    assert coverage_factor(0.99, 16) == pytest.approx(2.92, abs=5e-3)


def test_type_a_from_observations():
    x = Q_(np.array([10.0012, 10.0015, 10.0011, 10.0014, 10.0013]), "V")
    a = TypeA.from_observations(x, label="DUT")
    assert a.estimate.to("V").magnitude == pytest.approx(10.0013)
    assert a.u.to("V").magnitude == pytest.approx(np.std(x.magnitude, ddof=1) / math.sqrt(5))
    assert a.dof == 4 and a.n == 5 and a.label == "DUT" and a.kind == "Type A"
    with pytest.raises(ModelError, match="at least 2"):
        TypeA.from_observations(Q_(np.array([1.0]), "V"))
    with pytest.raises(ModelError, match="same number of observations"):
        TypeA.correlated({"a": Q_(np.array([1.0, 2, 3]), "V"), "b": Q_(np.array([1.0, 2]), "V")})


def test_offset_units_take_uncertainties_as_differences():
    t = Normal(Q_(20, "degC"), Q_(0.1, "K"))
    assert t.u.to("delta_degC").magnitude == pytest.approx(0.1)
    assert t.sample_base(np.random.default_rng(0), 10).mean() == pytest.approx(293.15, abs=1)
    r = Rectangular(Q_(20, "degC"), Q_(0.5, "delta_degC"))
    assert r.u.to("K").magnitude == pytest.approx(0.5 / math.sqrt(3))


def test_invalid_parameters_are_refused_with_the_reason():
    with pytest.raises(ModelError, match="not compatible"):
        Normal(Q_(1, "V"), Q_(1, "mA"))
    with pytest.raises(ModelError, match=">= 0"):
        Rectangular(Q_(1, "V"), Q_(-1, "mV"))
    with pytest.raises(ModelError, match="beta"):
        Trapezoidal(Q_(1, "V"), Q_(1, "mV"), 1.5)
    with pytest.raises(ModelError, match="degrees of freedom must be > 0"):
        Normal(Q_(1, "V"), Q_(1, "mV"), dof=0)
    with pytest.raises(ModelError, match="finite degrees of freedom"):
        StudentT(Q_(1, "V"), Q_(1, "mV"), dof=math.inf)
    assert Constant(Q_(100, "g")).u.magnitude == 0
    # malformed text (pint raises TokenError / AssertionError for these) is a ModelError too
    for text in ("5 V)", "1 V +"):
        with pytest.raises(ModelError, match="cannot parse"):
            Normal(text, "1 mV")


# --------------------------------------------------------------------------- numbers with unit=
@pytest.mark.parametrize("with_unit, with_quantities", [
    (lambda: Normal(10.0001, 20e-6, dof=9, unit="V"), lambda: Normal(Q_(10.0001, "V"), Q_(20e-6, "V"), dof=9)),
    (lambda: StudentT(0.0, 3e-6, dof=9, unit="V"), lambda: StudentT(Q_(0.0, "V"), Q_(3e-6, "V"), dof=9)),
    (lambda: Rectangular(1, 3, unit="mV"), lambda: Rectangular(Q_(1, "mV"), Q_(3, "mV"))),
    (lambda: Triangular(1.0, 3.0, unit="mV"), lambda: Triangular(Q_(1.0, "mV"), Q_(3.0, "mV"))),
    (lambda: Trapezoidal(1.0, 3.0, 0.5, unit="mV"), lambda: Trapezoidal(Q_(1.0, "mV"), Q_(3.0, "mV"), 0.5)),
    (lambda: CurvilinearTrapezoid(1.0, 3.0, 1.0, unit="mV"),
     lambda: CurvilinearTrapezoid(Q_(1.0, "mV"), Q_(3.0, "mV"), Q_(1.0, "mV"))),
    (lambda: Arcsine(1.0, 3.0, unit="mV"), lambda: Arcsine(Q_(1.0, "mV"), Q_(3.0, "mV"))),
    (lambda: Constant(5.0, unit="kg"), lambda: Constant(Q_(5.0, "kg"))),
    (lambda: Normal.from_expanded(10.0, 45e-3, k=2, unit="g"), lambda: Normal.from_expanded(Q_(10.0, "g"), Q_(45, "mg"), k=2)),
])
def test_plain_numbers_with_unit_are_the_same_input_as_quantities(with_unit, with_quantities):
    a, b = with_unit(), with_quantities()
    assert type(a) is type(b)
    assert a.estimate == b.estimate and f"{a.estimate.units:~P}" == f"{b.estimate.units:~P}"
    assert a.u.to(b.u.units).magnitude == pytest.approx(b.u.magnitude, rel=1e-15)
    assert a.dof == b.dof
    assert a.sample_base(np.random.default_rng(3), 5).tolist() == pytest.approx(
        b.sample_base(np.random.default_rng(3), 5).tolist(), rel=1e-15)
    if b.expanded is not None:
        assert a.expanded[0].to("mg").magnitude == pytest.approx(45.0) and a.expanded[1] == 2.0


def test_unit_keyword_for_an_offset_unit_takes_the_uncertainty_as_a_difference():
    t = Normal(20.0, 0.1, unit="degC")
    assert t.estimate.to("K").magnitude == pytest.approx(293.15)
    assert f"{t.u.units:~P}" == "Δ°C"
    assert t.u.to("K").magnitude == pytest.approx(0.1)


@pytest.mark.parametrize("make, message", [
    (lambda: Normal(Q_(1.0, "V"), 0.1, unit="V"), "not both"),
    (lambda: Normal(1.0, Q_(0.1, "V"), unit="V"), "not both"),
    (lambda: Normal(1.0, 0.1, unit="furlongz", label="v_ref"), "'v_ref'.*unit='furlongz' is not a known unit"),
    (lambda: Normal("1.0", 0.1, unit="V"), "plain number"),
    (lambda: Normal(1.0, 0.1, unit=Q_(1, "mV")), "takes a unit such as 'mV', not a quantity"),
    (lambda: Rectangular(1.0, -0.1, unit="V"), "half-width must be finite and >= 0"),
    (lambda: Normal(float("nan"), 0.1, unit="V"), "finite number"),
])
def test_unit_keyword_refuses_mixed_or_bad_arguments(make, message):
    with pytest.raises(ModelError, match=message):
        make()


def test_unit_scale_is_one_immutable_instance_per_unit():
    import pickle

    from labauto.uncertainty.quantities import UnitScale
    from labauto.units import ureg
    a, b = UnitScale(ureg.Unit("mV")), UnitScale(Q_(1.0, "mV").units)
    assert a is b
    assert a.factor == pytest.approx(1e-3) and f"{a.base:~P}" == "kg·m²/A/s³"
    with pytest.raises(AttributeError):
        a.factor = 2.0
    assert pickle.loads(pickle.dumps(a)) is a
    c = UnitScale(ureg.Unit("degC"))
    assert c.offset and f"{c.delta:~P}" == "Δ°C" and c.value_to_base(20.0) == pytest.approx(293.15)

"""Two model-file defects (issue 16 item 6): levels in decibels, and t inputs given by their
standard uncertainty instead of their scale."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from labauto.errors import SourceError
from labauto.uncertainty import StudentT, gum
from labauto.uncertainty.cli import app
from labauto.uncertainty.errors import ModelError
from labauto.uncertainty.modelfile import loads_model
from labauto.units import Q_

runner = CliRunner()

ATTENUATOR = """title: attenuation of a step attenuator (levels in dB add)
equations:
  - A = A_s + d_A + M
inputs:
  A_s: {estimate: 20 dB, u: 0.02 dB}
  d_A: {estimate: 0.01 dB, u: 0.005 dB}
  M: {distribution: rectangular, estimate: 0 dB, halfwidth: 0.03 dB}
"""


# -- decibels ------------------------------------------------------------------------------

def test_cli_evaluates_a_model_in_decibels(tmp_path):
    """Before the fix this stopped with pint's UndefinedUnitError: 'delta_decibel'."""
    f = tmp_path / "attenuator.yaml"
    f.write_text(ATTENUATOR)
    r = runner.invoke(app, ["evaluate", str(f), "--no-mc", "--json"])
    assert r.exit_code == 0, r.output
    (out,) = json.loads(r.stdout)["outputs"]
    assert out["unit"] == "dB"
    assert out["estimate"] == pytest.approx(20.01, abs=1e-12)
    # u_c² = 0.02² + 0.005² + (0.03/√3)² dB² (levels add: every c_i = 1)
    assert out["standard_uncertainty"] == pytest.approx(math.sqrt(0.02 ** 2 + 0.005 ** 2 + 0.03 ** 2 / 3),
                                                        rel=1e-12)
    assert out["standard_uncertainty"] == pytest.approx(0.026926, abs=1e-6)


def test_monte_carlo_on_levels_matches_the_gum():
    mf = loads_model(ATTENUATOR, "a.yaml")
    from labauto.uncertainty import monte_carlo
    mc = monte_carlo(mf.model, trials=200_000, seed=4)
    assert float(mc.estimate("A").to("dB").magnitude) == pytest.approx(20.01, abs=3e-4)
    assert float(mc.u("A").to("dB").magnitude) == pytest.approx(0.026926, rel=0.01)


def test_levels_in_neper_and_plain_ratios_combine_in_decibels():
    mf = loads_model("""equations: ["A = A_s + d + 20*log10(r)"]
inputs:
  A_s: {estimate: 20 dB, u: 0.02 dB}
  d: {estimate: 0.1 Np, u: 0.001 Np}
  r: {estimate: 1.01, u: 0.001}
""", "m.yaml")
    b = gum(mf.model).budget("A")
    # 1 Np = 20/ln(10) dB = 8.685889638 dB
    assert b.estimate.to("dB").magnitude == pytest.approx(20 + 0.8685889638 + 20 * math.log10(1.01), rel=1e-12)
    rows = {r.name: r for r in b.rows}
    assert rows["d"].sensitivity.magnitude == pytest.approx(8.685889638, rel=1e-9)
    assert rows["r"].contribution.to("dB").magnitude == pytest.approx(20 / math.log(10) / 1.01 * 0.001, rel=1e-9)


def test_cli_refuses_a_level_with_a_reference_with_file_and_line(tmp_path):
    f = tmp_path / "power.yaml"
    f.write_text('equations: ["P = P_s + G"]\ninputs:\n  P_s: {estimate: 10 dBm, u: 0.1 dB}\n'
                 '  G: {estimate: 3 dB, u: 0.1 dB}\n')
    r = runner.invoke(app, ["evaluate", str(f)])
    assert r.exit_code == 2
    text = r.output.replace("\n", " ")
    assert f"{f}:3: unit dBm: a logarithmic unit is supported only as a level of a pure ratio" \
        in " ".join(text.split())
    assert "Traceback" not in r.output


@pytest.mark.parametrize("text, line, match", [
    # a bare number is a ratio, not a level: pint would turn 0.02 into -17 dB
    ("equations: ['A = A_s']\ninputs:\n  A_s: {estimate: 20 dB, u: 0.02}\n", 3,
     "0.02 is not compatible with the estimate's unit dB"),
    ("equations: ['A = A_s * d']\ninputs:\n  A_s: {estimate: 20 dB, u: 0.02 dB}\n"
     "  d: {estimate: 2 dB, u: 0.01 dB}\n", 1, "unit dB²: a logarithmic unit"),
])
def test_level_misuse_is_a_file_line_error(text, line, match):
    with pytest.raises(SourceError, match=match) as exc:
        loads_model(text, "m.yaml")
    assert exc.value.line == line


# -- Student t: scale or standard uncertainty ----------------------------------------------

def test_t_given_by_its_standard_uncertainty():
    t = StudentT(Q_(0, "V"), dof=5, standard_uncertainty=Q_(1, "mV"))
    assert t.given == "standard_uncertainty"
    assert t.u.to("mV").magnitude == pytest.approx(1.0)                       # the budget uses u
    assert t.scale_parameter.to("mV").magnitude == pytest.approx(math.sqrt(3 / 5))   # 0.7746 mV
    d = t.deviations(np.random.default_rng(7), 400_000)
    assert d.std() == pytest.approx(1e-3, rel=0.02)                           # MC draws sd = u


def test_t_given_by_its_scale_keeps_the_gum_convention():
    t = StudentT(Q_(0, "V"), Q_(1, "mV"), dof=5)
    assert t.given == "scale" and t.u.to("mV").magnitude == 1.0
    assert "s·√(ν/(ν−2)) = 0.001291 V" in t.note    # in the estimate's unit


@pytest.mark.parametrize("kwargs, match", [
    ({"scale": Q_(1, "mV"), "standard_uncertainty": Q_(1, "mV"), "dof": 5}, "not both"),
    ({"dof": 5}, "not neither"),
    ({"standard_uncertainty": Q_(1, "mV"), "dof": 2}, "no finite standard deviation"),
])
def test_t_refuses_ambiguous_or_impossible_input(kwargs, match):
    with pytest.raises(ModelError, match=match):
        StudentT(Q_(0, "V"), **kwargs)


def test_model_file_t_by_u_or_scale_and_the_budget_says_which():
    mf = loads_model("""equations: ["Y = a + b"]
inputs:
  a: {distribution: t, estimate: 0 mV, u: 1 mV, dof: 5}
  b: {distribution: t, estimate: 0 mV, scale: 1 mV, dof: 5}
  c: {distribution: t, estimate: 0 mV, standard_uncertainty: 2 mV, dof: 10}
""".replace("a + b", "a + b + c"), "m.yaml")
    b = gum(mf.model).budget("Y")
    rows = {r.name: r for r in b.rows}
    assert rows["a"].standard_uncertainty.to("mV").magnitude == pytest.approx(1.0)
    assert rows["b"].standard_uncertainty.to("mV").magnitude == pytest.approx(1.0)
    assert rows["c"].standard_uncertainty.to("mV").magnitude == pytest.approx(2.0)
    assert "given by its standard uncertainty u = 1 mV" in rows["a"].note
    assert "scale s = u·√((ν−2)/ν) = 0.7746 mV" in rows["a"].note
    assert "given by its scale s = 1 mV" in rows["b"].note
    assert "scale s = u·√((ν−2)/ν) = 1.789 mV" in rows["c"].note          # 2·√(8/10)
    assert rows["a"].to_dict()["note"] == rows["a"].note
    # Monte Carlo: var = 1 + 1·5/3 + 4 (mV²)
    from labauto.uncertainty import monte_carlo
    mc = monte_carlo(mf.model, trials=400_000, seed=11)
    assert float(mc.u("Y").to("mV").magnitude) == pytest.approx(math.sqrt(1 + 5 / 3 + 4), rel=0.02)


@pytest.mark.parametrize("spec, line, match", [
    ("{distribution: t, estimate: 0 mV, u: 1 mV, scale: 1 mV, dof: 5}", 3, "got scale and u"),
    ("{distribution: t, estimate: 0 mV, dof: 5}", 3, "exactly one of scale"),
    ("{distribution: t, estimate: 0 mV, u: 1 mV,\n     dof: 2}", 4, "dof = 2 ≤ 2 has no standard deviation"),
])
def test_model_file_t_errors_name_the_line(spec, line, match):
    with pytest.raises(SourceError, match=match) as exc:
        loads_model(f"equations: ['Y = a']\ninputs:\n  a: {spec}\n", "m.yaml")
    assert exc.value.line == line


# -- gamma inputs (a one-sided quantity; also a prior for global risk) -------------------------

def test_gamma_input_from_a_model_file():
    mf = loads_model("equations: ['Y = 2*r']\ninputs:\n  r: {distribution: gamma, estimate: 1 um, u: 0.5 um}\n",
                     "m.yaml")
    r = mf.model.inputs["r"]
    assert r.kind == "gamma" and r.shape == pytest.approx(4.0)           # JCGM 106 9.5.4: α = 4
    assert gum(mf.model).budget("Y").combined_uncertainty.to("um").magnitude == pytest.approx(1.0)
    d = r.deviations(np.random.default_rng(3), 400_000)
    assert d.mean() == pytest.approx(0.0, abs=3e-3) and d.std() == pytest.approx(0.5, rel=0.01)
    assert d.min() >= -1.0                                               # never below zero
    with pytest.raises(SourceError, match="estimate > 0"):
        loads_model("equations: ['Y = r']\ninputs:\n  r: {distribution: gamma, estimate: -1 um, u: 0.5 um}\n",
                    "m.yaml")

"""Model files (file:line errors), the `labauto uncertainty` CLI and its JSON, budget renderers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labauto.errors import SourceError
from labauto.uncertainty import gum
from labauto.uncertainty.cli import app
from labauto.uncertainty.modelfile import load_model, loads_model

EXAMPLES = Path(__file__).resolve().parents[2] / "labauto" / "uncertainty" / "examples"
runner = CliRunner()


def test_all_examples_load():
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert len(files) >= 4
    for f in files:
        mf = load_model(f)
        assert mf.title and mf.reference
        gum(mf.model)


@pytest.mark.parametrize("text, line, match", [
    ("equations: ['Y = A + B']\ninputs:\n  A: {estimate: 1 V, u: 1 mV}\n  B: {estimate: 1 K, u: 1 mK}\n",
     1, "cannot add 'A'"),
    ("equations: ['Y = A']\ninputs:\n  A: {estimate: 1 V, u: 1 mV, halfwidth: 2 mV}\n", 3, "halfwidth"),
    ("equations: ['Y = A']\ninputs:\n  A:\n    distribution: rectangle\n    estimate: 1 V\n", 4,
     "unknown distribution 'rectangle'"),
    ("equations: ['Y = A']\ninputs:\n  A: {estimate: 1 V, u: 1 mA}\n", 3, "not compatible"),
    ("equations: ['Y = A']\ninputs:\n  A: {estimate: 1 V, u: 1 mV}\ncorrelations:\n  - [A, Q, 0.2]\n", 5,
     "not an input"),
    ("equations: ['Y = A']\ninputs:\n  A: {estimate: 1 V, u: 1 mV}\nfoo: 1\n", 4, "unknown key 'foo'"),
    ("equations: ['Y = A +']\ninputs:\n  A: {estimate: 1 V, u: 1 mV}\n", 1, "not a valid equation"),
    ("equations:\n  - Y = A\ninputs:\n  A: {estimate: 1 V, u: 1 mV}\n  A: {estimate: 2 V, u: 1 mV}\n", 5,
     "duplicate key"),
])
def test_model_file_errors_name_file_and_line(text, line, match):
    with pytest.raises(SourceError, match=match) as exc:
        loads_model(text, "m.yaml")
    assert exc.value.path == "m.yaml"
    assert exc.value.line == line
    assert str(exc.value).startswith(f"m.yaml:{line}: ")


def test_model_file_distributions_and_simultaneous_series():
    mf = loads_model("""
equations: ["Y = a + b + c + d + e + f + g + h + V - I*R0 + m0"]
inputs:
  a: {estimate: 1 V, U: 2 mV, k: 2}
  b: {estimate: 0 V, U: 2.576 mV, coverage_probability: 0.99}
  c: {distribution: rectangular, lower: -1 mV, upper: 1 mV}
  d: {distribution: triangular, estimate: 0 V, halfwidth: 1 mV}
  e: {distribution: trapezoidal, estimate: 0 V, halfwidth: 1 mV, beta: 0.5}
  f: {distribution: curvilinear_trapezoid, estimate: 0 V, halfwidth: 1 mV, d: 0.1 mV}
  g: {distribution: arcsine, estimate: 0 V, halfwidth: 1 mV}
  h: {distribution: t, estimate: 0 V, u: 1 mV, dof: 9}
  V: {observations: [1.0, 1.1, 0.9], unit: V}
  I: {observations: [1.0 mA, 1.2 mA, 0.8 mA]}
  R0: {estimate: 1 ohm, u: 0 ohm}
  m0: 0 V
simultaneous: [[V, I]]
""")
    m = mf.model
    kinds = {n: d.kind for n, d in m.inputs.items()}
    assert kinds == {"a": "normal", "b": "normal", "c": "rectangular", "d": "triangular", "e": "trapezoidal",
                     "f": "curvilinear trapezoid", "g": "arcsine", "h": "t", "V": "Type A", "I": "Type A",
                     "R0": "normal", "m0": "constant"}
    assert m.inputs["a"].u.to("mV").magnitude == pytest.approx(1.0)
    assert m.inputs["b"].u.to("mV").magnitude == pytest.approx(1.0, abs=1e-3)
    assert m.correlation("V", "I") == pytest.approx(1.0)
    assert "m0" not in {r.name for r in gum(m).budget("Y", k=2).rows}


def test_cli_evaluate_prints_budget_and_monte_carlo():
    r = runner.invoke(app, ["evaluate", str(EXAMPLES / "gum_h1_end_gauge.yaml"), "--mc", "20000", "--seed", "3"],
                      env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    assert "Uncertainty budget of l" in r.output
    assert "d_theta" in r.output and "ν_eff = 16.8" in r.output
    assert "Monte Carlo (20000 trials, seed 3)" in r.output


def test_cli_json_is_stable_and_complete():
    r = runner.invoke(app, ["evaluate", str(EXAMPLES / "jcgm101_mass_calibration.yaml"), "--mc", "100000",
                            "--seed", "5", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["schema"] == "labauto.uncertainty.result/1"
    assert data["method"]["monte_carlo"]["trials"] == 100000 and data["method"]["monte_carlo"]["seed"] == 5
    (out,) = data["outputs"]
    assert set(out) >= {"name", "unit", "estimate", "standard_uncertainty", "dof_eff", "coverage_factor",
                        "expanded_uncertainty", "coverage_probability", "welch_satterthwaite", "budget",
                        "monte_carlo"}
    assert out["name"] == "dm" and out["unit"] == "mg"
    assert out["estimate"] == pytest.approx(1.2340, abs=5e-5)
    assert out["standard_uncertainty"] == pytest.approx(0.0539, abs=5e-5)
    assert out["dof_eff"] is None and out["coverage_probability"] == 0.95
    mc = out["monte_carlo"]
    assert mc["standard_uncertainty"] == pytest.approx(0.0754, abs=0.001)
    assert mc["interval"]["low"] < mc["estimate"] < mc["interval"]["high"]
    assert mc["validation"]["validated"] is False
    # the same seed gives the same document
    again = json.loads(runner.invoke(app, ["evaluate", str(EXAMPLES / "jcgm101_mass_calibration.yaml"), "--mc",
                                           "100000", "--seed", "5", "--json"]).stdout)
    assert again == data


def test_cli_json_multi_output_with_refused_welch_satterthwaite():
    r = runner.invoke(app, ["evaluate", str(EXAMPLES / "gum_h2_impedance.yaml"), "--no-mc", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [o["name"] for o in data["outputs"]] == ["R", "X", "Z"]
    R = data["outputs"][0]
    assert R["expanded_uncertainty"] is None and R["welch_satterthwaite"].startswith("refused")
    assert R["standard_uncertainty"] == pytest.approx(0.071, abs=5e-4)
    assert data["correlation"]["gum"][0][1] == pytest.approx(-0.588, abs=5e-4)
    r2 = runner.invoke(app, ["evaluate", str(EXAMPLES / "gum_h2_impedance.yaml"), "--no-mc", "--json", "--k", "2"])
    assert json.loads(r2.stdout)["outputs"][0]["coverage_factor"] == 2


def test_cli_reports_file_errors_with_line_and_exit_code_2(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("equations: ['Y = A + B']\ninputs:\n  A: {estimate: 1 V, u: 1 mV}\n  B: {estimate: 1 s, u: 1 ms}\n")
    r = runner.invoke(app, ["evaluate", str(f)])
    assert r.exit_code == 2
    assert f"{f}:1:" in r.output.replace("\n", "") and "inconsistent" in r.output


def test_cli_adaptive_and_markdown():
    r = runner.invoke(app, ["evaluate", str(EXAMPLES / "ea402_s2_weight.yaml"), "--adaptive",
                            "--tolerance-digits", "1", "--seed", "1", "--markdown", "--k", "2"])
    assert r.exit_code == 0, r.output
    assert "| input | source | estimate |" in r.output
    assert "Monte Carlo (20000 trials" in r.output


def test_renderers_show_the_budget():
    b = gum(load_model(EXAMPLES / "gum_h1_end_gauge.yaml").model).budget("l")
    md = b.to_markdown()
    assert md.count("\n| ") == 7 and "d_theta" in md and "ν_eff" in md
    html = b.to_html()
    assert html.startswith('<table class="uncertainty-budget">') and html.count("<tr>") == 7
    assert "&lt;" not in html or "<script" not in html
    from rich.console import Console
    console = Console(record=True, width=160)
    console.print(b.to_rich_table())
    text = console.export_text()
    assert "l_s" in text and "62.3 %" in text and "k = 2.120" in text

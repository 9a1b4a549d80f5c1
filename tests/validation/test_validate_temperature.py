"""``labauto validate`` on temperature comparison procedures: simulated comparison
calibrations (labauto.validation.comparison) with the reference's true error drawn from its
certificate, evaluated by the code a real run uses."""
from __future__ import annotations

import dataclasses
import html
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from labauto.cli import app
from labauto.procedure.temperature import load_temperature_procedure
from labauto.validation import comparison as comparison_mod
from labauto.validation import truth as truth_mod
from labauto.validation.comparison import simulate_comparison_run, simulated_comparison_lab
from labauto.validation.montecarlo import MemoryJournal
from labauto.validation.report import render_html
from labauto.validation.validate import validate_procedure

DIGITAL = "procedures/temperature/digital_thermometer.yaml"
PT100 = "procedures/temperature/pt100_comparison.yaml"


@pytest.fixture(scope="module")
def digital(project_root):
    return load_temperature_procedure(project_root / DIGITAL)


@pytest.fixture(scope="module")
def at_0c(digital):
    """The digital thermometer's 0 °C point alone (one setpoint: a run takes about 1 s)."""
    return dataclasses.replace(digital, points=digital.points[:1])


def test_the_reference_error_follows_its_certificate(project_root):
    """The SPRT's certificate: U = 2 mK (k = 2) up to 0.01 °C, 3 mK to 231.928 °C, 5 mK to
    660.323 °C, drift allowance 2 mK.  Over many draws the error at 100 °C has the variance
    of N(0, 1.5 mK) plus U(-2 mK, 2 mK): 1.5² + 2²/3 = 3.583 mK²; its drift part never
    exceeds 2 mK, so the 0 °C and 100 °C errors differ by the calibration draws only."""
    ref = load_temperature_procedure(project_root / PT100).reference
    offsets = [truth_mod.certificate_offset(ref, np.random.default_rng([s, 11]))
               for s in range(2000)]
    at_100 = np.array([o(100.0) for o in offsets]) * 1000         # mK
    # the sample variance of 2000 draws: 3.583 mK² within ±3.2 % (1 sigma) -> rel 0.12
    assert at_100.var(ddof=1) == pytest.approx(1.5 ** 2 + 4 / 3, rel=0.12)
    assert abs(at_100.mean()) < 4 * math.sqrt(3.583 / 2000)
    # one draw per calibrated sub-range: within a row the temperatures share it
    assert all(o(50.0) == o(200.0) for o in offsets[:20])
    assert all(o(-40.0) != o(100.0) for o in offsets[:20])


def test_one_run_is_the_engine_and_the_evaluation_of_a_real_run(at_0c):
    run = simulate_comparison_run(at_0c, seed=7, dut_spread=1.5)
    assert run.error == ""
    (point,) = run.points
    lab = simulated_comparison_lab(at_0c, 7, 1.5)       # the same seed: the same true errors
    assert point.true == lab.dut.error_k == pytest.approx(-0.1308231209776971, abs=1e-15)
    # seed 7: the display minus the bracketing SPRT readings (self-heating corrected),
    # U = 2 u_c rounded up to two digits (ILAC-P14), as the certificate states it
    assert point.measured == pytest.approx(-0.122212, abs=5e-6)
    # 9.1322 mK before 2026-12-06: the bath's stability row (its 4 mK figure at 0 °C,
    # rectangular: 2.309 mK), which the bracketing cancels, went: sqrt(9.1322² - 2.309²) =
    # 8.8354 mK; then the flat ±10 mK immersion allowance (5.774 mK) gave way to the bound at
    # the stated 150 mm (labauto.temperature.immersion: 24 K × 0.001^(130/60) = 7.6 µK)
    imm = at_0c.dut.immersion.bound(0.0)
    assert imm == pytest.approx(24.0 * 0.001 ** (130 / 60))
    assert point.combined == pytest.approx(
        math.sqrt(0.0088354 ** 2 - 0.010 ** 2 / 3 + imm ** 2 / 3), abs=5e-7)
    assert point.combined == pytest.approx(0.0066881, abs=5e-7)
    assert point.evaluated == pytest.approx(2 * point.combined)    # U before the rounding up
    assert (point.expanded, point.coverage_factor, point.unit) == (0.014, 2.0, "K")
    assert point.covered and point.accepted is None       # no tolerance: no decision rule


def test_the_reference_self_heating_its_certificate_states_is_corrected(at_0c):
    """The SPRT's certificate gives its characteristic at zero power and 1.5 mK of
    self-heating at 1 mA; the simulated SPRT warms by that (labauto.sim.thermometry).  The
    evaluation took the SPRT's temperature uncorrected, so every simulated error came out
    1.5 mK low (normalized errors -0.21 at every point of the digital thermometer, 100 runs);
    now t_X is the mean of the reference's temperatures minus 1.5 mK."""
    from labauto.comparison_evaluation import evaluate_comparison
    from labauto.demo_temperature import SimulatedTechnician
    from labauto.engine.comparison import (ComparisonInstruments, ComparisonRun,
                                           ComparisonSettings, measure_setpoint)
    from labauto.validation.loopback import loopback_instrument

    lab = simulated_comparison_lab(at_0c, 3)
    journal = MemoryJournal({"run_id": "t"})
    run = ComparisonRun("t", Path("."), at_0c, ComparisonSettings({}), journal)
    hs = at_0c.heat_sources["bath"]
    with loopback_instrument(lab.heat_sources["bath"], hs.model, "bath",
                             safe_setpoint=hs.safe_setpoint) as bath, \
            loopback_instrument(lab.readout, at_0c.readout_model, "readout") as readout:
        measure_setpoint(run, at_0c.points[0], 1, ComparisonInstruments(readout, {"bath": bath}),
                         clock=lab.clock, read_display=SimulatedTechnician(lab).read_display)
    state = journal.read()
    t_ref = [r["reference"]["mean_degC"] for r in state.points["T0C"].readings]
    (result,) = evaluate_comparison(at_0c, state).points
    assert result.reference_temperature == pytest.approx(np.mean(t_ref) - 0.0015, abs=1e-9)
    rows = {row.name: row for row in result.reference_budget.rows}
    assert "dt_sh_S" in rows


def test_validate_cli_json_of_a_temperature_procedure(project_root):
    r = CliRunner().invoke(app, ["validate", str(project_root / DIGITAL), "--runs", "1",
                                 "--seed", "4", "--workers", "1", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["runs"] == 1 and d["failed_runs"] == [] and d["ok"] is True
    assert d["procedure"]["id"] == "DIGITAL-THERM-100"
    assert [p["id"] for p in d["points"]] == ["T0C", "T25C", "T50C", "T100C"]
    assert d["runs_per_s"] > 0
    assert "reference's true errors" in d["simulated"]
    assert "certificate" in d["simulated"]["reference's true errors"]
    for p in d["points"]:
        assert p["unit"] == "K" and p["coverage"] == p["covered"]
        assert p["decisions"] == {"rule": None}
        # 2 × 6.69 mK rounded up (0.018 K to 0.021 K with the flat ±10 mK immersion row, which
        # the bound at the stated 150 mm replaced: labauto.temperature.immersion)
        assert 0.014 <= p["mean_expanded_uncertainty"] <= 0.015


def test_a_reference_worse_than_its_certificate_is_caught(at_0c, monkeypatch):
    """The check can fail: a reference whose true error is 50 x what its certificate states
    (σ 50 mK and a drift within ±0.1 K at 0 °C, where U is 19 mK) makes U under-cover; the
    report says so."""
    original = truth_mod.certificate_offset

    def worse(reference, rng):
        offset = original(reference, rng)
        return lambda t: 50.0 * offset(t)

    monkeypatch.setattr(truth_mod, "certificate_offset", worse)
    result = validate_procedure(at_0c, runs=8, seed=5)
    (point,) = result.points
    assert point.verdict == "under-covers" and not result.ok
    assert point.coverage < 0.7
    text = render_html(result)
    assert "U under-covers at T0C" in text
    assert "no rule" in text and "calibration certificate" in text
    assert html.escape(comparison_mod.SIMULATED[1][0]) in text   # what was simulated: its rows


def test_the_pytest_plugin_validates_a_temperature_procedure(validate_procedure, project_root,
                                                             digital, tmp_path):
    """The plugin's fixture (what a lab's own CI calls) on a temperature procedure, with the
    report: it names the procedure and its file's SHA-256."""
    report = tmp_path / "digital.html"
    result = validate_procedure(project_root / DIGITAL, runs=1, seed=2, report=report)
    assert result.ok and result.runs == 1 and len(result.points) == 4
    text = report.read_text(encoding="utf-8")
    assert "DIGITAL-THERM-100" in text and digital.sha256 in text


@pytest.mark.prefect
def test_the_validate_flow_runs_a_temperature_procedure(prefect_harness, project_root, digital):
    from flows.validate import validate

    d = validate(str(project_root / DIGITAL), runs=2, seed=3, chunk=1)
    direct = validate_procedure(digital, runs=2, seed=3).to_dict()
    assert d["runs"] == 2 and d["ok"] is True
    assert d["points"] == direct["points"]


def test_the_heat_source_gradients_are_drawn_within_its_uniformity_figures(at_0c):
    """Validation draws the bath's gradients between the SPRT's and the DUT's places uniform
    within its axial and radial uniformity figures (the budget's rectangular limits); the
    demo's lab keeps its seeded 0.2-0.6 of them."""
    axial = np.array([simulated_comparison_lab(at_0c, s).heat_sources["bath"]._axial
                      for s in range(100)])
    # U(-1, 1): sd 1/sqrt(3) = 0.577 (of 100 draws: +-6.5 % 1 sigma)
    assert axial.std(ddof=1) == pytest.approx(1 / math.sqrt(3), rel=0.25)
    assert np.abs(axial).max() <= 1.0 and np.abs(axial).min() < 0.2


def _simulated_points(proc, points, monkeypatch, **kw):
    """A simulated run of ``proc`` with only ``points`` (some of its points) and no fit, and
    the evaluation it made
    (captured from labauto.comparison_evaluation.evaluate_comparison)."""
    import labauto.comparison_evaluation as ce

    part = dataclasses.replace(proc, points=tuple(points),
                               evaluation={**proc.evaluation, "fit": "none"})
    captured = []
    original = ce.evaluate_comparison
    monkeypatch.setattr(ce, "evaluate_comparison",
                        lambda procedure, state: captured.append(original(procedure, state))
                        or captured[-1])
    run = simulate_comparison_run(part, **kw)
    return run, captured[0]


def test_the_pt100s_self_heating_is_measured_and_corrected(project_root, monkeypatch):
    """pt100_comparison.yaml reads its Pt100 at 1 mA and then at 2 mA (self_heating_current);
    the simulated Pt100 warms by 4 mK at 1 mA (16 mK at 2 mA).  The budget allowed +-4 mK about
    zero for it, so every bath point's error sat 4 mK high (normalized errors +0.5, KS p < 0.001
    over 100 runs); now the measured self-heating is the correction: 4 mK within 0.05 mK."""
    proc = load_temperature_procedure(project_root / PT100)
    run, evaluation = _simulated_points(proc, proc.points[3:4], monkeypatch, seed=3, dut_spread=1.5)
    assert run.error == ""
    (point,) = evaluation.points
    sh = {r.name: r for r in point.budget.rows}["dt_sh_X"]
    assert float(sh.estimate.to("K").m) == pytest.approx(-0.004, abs=5e-5)
    assert float(sh.standard_uncertainty.to("K").m) < 5e-5
    (outcome,) = run.points
    assert abs(outcome.measured - outcome.true) < 2.5 * outcome.combined


def test_the_pt100s_immersion_row_is_its_stated_depths_in_the_bath_only(project_root, monkeypatch):
    """dut.immersion is stated for the bath: at 100 °C the budget's dt_imm_X is the bound at
    200 mm (78 K x 0.001^(170/120) = 4.386 mK, labauto.temperature.immersion), at 200 °C in
    the metrology well the procedure's flat ±5 mK; the certificate states no single depth."""
    import labauto.comparison_evaluation as ce

    proc = load_temperature_procedure(project_root / PT100)
    run, evaluation = _simulated_points(proc, proc.points[3:5], monkeypatch, seed=3)
    assert run.error == ""
    bath, well = ({r.name: r for r in p.budget.rows}["dt_imm_X"] for p in evaluation.points)
    assert float(bath.standard_uncertainty.to("K").m) * math.sqrt(3) * 1e3 == pytest.approx(4.386, abs=5e-4)
    assert float(well.standard_uncertainty.to("K").m) * math.sqrt(3) * 1e3 == pytest.approx(5.0, abs=1e-9)
    two = evaluation.procedure
    assert ce._stated_depth(two) is None
    assert ce._stated_depth(dataclasses.replace(two, points=two.points[:1])) == pytest.approx(0.2)


def test_the_pt100s_hysteresis_is_measured_at_its_return_point(project_root, monkeypatch):
    """pt100_comparison.yaml measures 100 °C again after 420 °C: every budget's dt_hyst rows are
    the measured difference of the two visits (±|d|/2) and its Type A, instead of the ±5 mK
    it stated.  The simulated Pt100 has no hysteresis, so |d| is within its noise."""
    proc = load_temperature_procedure(project_root / PT100)
    run, evaluation = _simulated_points(proc, (proc.points[3], proc.points[-1]), monkeypatch, seed=3)
    assert run.error == ""
    assert [o.point_id for o in run.points] == ["T100C", "T100C-return"]
    first, back = evaluation.points
    rows = [{r.name: r for r in p.budget.rows} for p in (first, back)]
    for p in (first, back):
        label = {i.name: i for i in p.point.influences}["dt_hyst"].label
        assert label.startswith("DUT hysteresis (measured, 100 °C revisited (T100C-return)")
    u_a = float(rows[0]["dt_hyst_A"].standard_uncertainty.to("K").m)
    half = float(rows[0]["dt_hyst"].standard_uncertainty.to("K").m) * math.sqrt(3)
    assert 0 < u_a < 0.1e-3                    # 2 u_a = u(d): tens of µK for 6 pairs a visit
    assert 2 * half < 3 * 2 * u_a              # |d| within 3 u(d): no hysteresis simulated
    for p in (first, back):                    # the stated ±5 mK (u 2.89 mK) is gone
        assert float(p.u_error) < 7.0e-3


def test_a_run_checks_the_fitted_curve_at_and_between_the_setpoints(project_root):
    """The Pt100's certificate states a CVD curve and the u of a temperature from it: each
    simulated run checks the curve against the DUT's true one at the 7 setpoints and half-way
    between them, with the curve's 95 % U the certificate states: k from the propagated
    distribution of the points' inputs (labauto.temperature.curve_coverage), the bath's
    normal-dominated inputs near 1.94 below 100 °C, the well's rectangular uniformity (one
    draw shared by its 3 points) near its points' 1.68 at 300 °C and above."""
    proc = load_temperature_procedure(project_root / PT100)
    run = simulate_comparison_run(proc, seed=2)
    assert run.error == ""
    curve = [p for p in run.points if p.point_id.startswith("curve ")]
    assert [p.point_id for p in curve] == [f"curve {t} °C" for t in (
        -40, -20, 0, 25, 50, 75, 100, 150, 200, 250, 300, 360, 420)]
    assert [p.point_id for p in run.points[:8]] == [p.id for p in proc.points]
    assert proc.points[7].return_of == "T100C"      # reported, not fitted: 13 curve rows still
    by = {p.point_id: p for p in run.points}
    for p in curve:
        assert p.expanded == pytest.approx(p.coverage_factor * p.combined, rel=1e-12)
        assert p.combined > 0 and 1.6 < p.coverage_factor < 2.0
    # where one input dominates both, the curve's k is its points' (measured: 1.937 vs 1.936,
    # 1.684 vs 1.688 at seed 2)
    assert by["curve 0 °C"].coverage_factor == pytest.approx(by["T0C"].coverage_factor, abs=0.01)
    assert by["curve 420 °C"].coverage_factor == pytest.approx(by["T420C"].coverage_factor, abs=0.01)
    # the true error at a setpoint is the point's own (one DUT, one nominal curve)
    assert by["curve 100 °C"].true == pytest.approx(by["T100C"].true, abs=1e-9)

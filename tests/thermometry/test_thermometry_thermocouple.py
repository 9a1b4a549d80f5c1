"""A type N thermocouple against a reference type R thermocouple in a furnace, both read by a
scanner, reference junctions in an ice point: the conditions of EA-4/02 M:2022 example S5."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from labauto.comparison_evaluation import evaluate_comparison
from labauto.engine.comparison import ComparisonSettings, execute_comparison, start_comparison_run
from labauto.engine.operator import set_operator
from labauto.procedure.temperature import load_temperature_procedure
from labauto.sim.thermometry import lab_for_procedure
from labauto.temperature import thermocouples
from labauto.uncertainty.convolution import is_propagated

ROOT = Path(__file__).resolve().parents[2]
TYPE_N = ROOT / "procedures" / "temperature" / "type_n_thermocouple.yaml"


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    procedure = load_temperature_procedure(TYPE_N)
    lab = lab_for_procedure(procedure, seed=11)

    class Technician:
        def confirm(self, step, point):
            lab.place_probes(point.heat_source)

    previous = set_operator(Technician())
    try:
        with lab:
            run = start_comparison_run(procedure, tmp_path_factory.mktemp("runs"),
                                       ComparisonSettings(lab.resources))
            execute_comparison(run, clock=lab.clock)
    finally:
        set_operator(previous)
    return procedure, lab, run, evaluate_comparison(procedure, run.state())


def test_emfs_are_read_through_the_scanner(calibrated):
    procedure, lab, run, ev = calibrated
    assert procedure.reference.kind == "type R thermocouple"
    state = run.state()
    r1000 = state.points["T1000C"].readings
    assert all(r["unit"] == "mV" and r["reference"]["unit"] == "mV" for r in r1000)
    # the reference's emf is type R's at ~1000 °C (10.506 mV at 1000.0 °C, IEC 60584-1)
    e_ref = r1000[0]["reference"]["values"][0]
    assert e_ref == pytest.approx(thermocouples.emf("R", r1000[0]["reference"]["t_degC"][0]), abs=0.005)
    assert 10.4 < e_ref < 10.6
    # the DUT's emf is type N's (36.256 mV at 1000 °C) near the furnace temperature
    assert 36.1 < r1000[0]["value"] < 36.4
    assert state.instruments["reference readout"]["model"] == "1586A"


def test_the_budget_at_1000_C_reproduces_ea402_s5(calibrated):
    """EA-4/02 M:2022 S5 states V_X(1000 °C) with U = 50 µV (k = 2) for these conditions: a
    reference calibrated with U = 0.3 K, drift ±0.3 K, furnace non-uniformity ±1 K, reference
    junctions ±0.1 K, switch ±2 µV, compensating cables ±5 µV.  S5 has no row for the
    furnace's stability, and neither has this budget since 2026-12-06: each DUT reading is
    bracketed by two reference readings, which cancels the furnace's wander (its Type A is
    the scatter of the paired differences; docs/validation.md).  It had added ±0.5 K
    (rectangular, the furnace's stability figure), 2u = 55 µV."""
    _, lab, _, ev = calibrated
    point = ev.points[-1]
    assert point.nominal == 1000 and point.unit == "mV"
    # the procedure states no k: the furnace's ±1 K dominates, the GUM interval is not validated
    # (JCGM 101 clause 8) and U is the propagated distribution's (tests/temperature/
    # test_budget_interval.py), k = U/u_c < 2
    assert is_propagated(point.budget) and 1.7 < point.k < 1.9
    rows = {r.name: r for r in point.budget.rows}
    u = {name: float(abs(r.contribution.to("uV").m)) for name, r in rows.items()}
    s_n = thermocouples.seebeck("N", 1000.0) * 1000           # µV/K, 38.6 (S5: 1/C_X)
    assert u["dt_axial"] == pytest.approx(1 / math.sqrt(3) * s_n, rel=1e-6)     # furnace ±1 K
    assert u["dt_cal"] == pytest.approx(0.15 * s_n, rel=1e-6)                   # U 0.3 K, k = 2
    assert u["dt_drift"] == pytest.approx(0.3 / math.sqrt(3) * s_n, rel=1e-6)
    assert u["dV_LX"] == pytest.approx(5 / math.sqrt(3), rel=1e-6)              # cables ±5 µV
    assert u["dV_R"] == pytest.approx(2 / math.sqrt(3), rel=1e-6)               # switch ±2 µV
    assert u["dt_0X"] == pytest.approx(0.1 / math.sqrt(3) * thermocouples.seebeck("N", 0.0) * 1000,
                                       rel=1e-6)
    assert "dt_stab" not in rows and "X_i" not in rows
    assert u["t_S"] == 0.0 and u["D_i"] < 0.5     # the pairs' scatter: the wander cancels
    assert 2 * point.u * 1000 == pytest.approx(50, abs=2)     # S5: U = 50 µV (k = 2)
    # the simulated DUT's true deviation lies within the stated U at every point
    for r in ev.points:
        assert abs(r.error - lab.true_dut_error(r.nominal)) <= r.U_error


def test_the_deviation_fit(calibrated):
    _, lab, _, ev = calibrated
    fit = ev.fit
    assert fit.letter == "N" and fit.degree == 2 and len(fit.coefficients) == 3
    # the fitted curve's emf at 700 °C is within its stated uncertainty (k = 2) of the truth
    truth = lab.dut_truth
    assert abs(fit.curve.emf(700.0) - truth.emf(700.0)) <= 2 * fit.u_emf(700.0) + 0.002


COMPENSATED = """\
procedure: {id: TC-K, title: t, version: "1", method: m}
kind: temperature comparison
reference: {certificate: ../references/sprt-5681-1234.yaml, readout: fluke_1594a}
dut: {sensor: thermocouple, type: K, range: {min: 0 degC, max: 400 degC}, read_by: dmm,
      reference_junction: compensated}
dmm: keysight_34465a
heat_sources:
  well: {model: fluke_9144, safe_setpoint: 50 degC}
stability: {window: 5 min, max_slope: 0.01 K/min, max_std: 5 mK, timeout: 60 min}
settings: {readings: 3}
points:
  - {setpoint: 150 degC, heat_source: well}
"""


def test_a_compensated_reference_junction_uses_the_room_temperature(tmp_path, monkeypatch):
    (tmp_path / "temperature").mkdir()
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / "sprt-5681-1234.yaml").write_text(
        (ROOT / "procedures" / "references" / "sprt-5681-1234.yaml").read_text())
    path = tmp_path / "temperature" / "k.yaml"
    path.write_text(COMPENSATED)
    monkeypatch.setenv("LABAUTO_LOCK_DIR", str(tmp_path / "locks"))
    procedure = load_temperature_procedure(path)
    from labauto.errors import LabautoError
    from labauto.lab import load_lab

    lab = lab_for_procedure(procedure, seed=4, room_temperature=23.4)
    with lab:
        run = start_comparison_run(procedure, tmp_path / "runs", ComparisonSettings(lab.resources))
        with pytest.raises(LabautoError, match="reference junction is compensated: the run needs "
                                               "the room's thermo-hygrometer"):
            execute_comparison(run, clock=lab.clock)
        run = start_comparison_run(procedure, tmp_path / "runs", ComparisonSettings(
            lab.resources, environment_resource=lab.resources["environment"]))
        execute_comparison(run, clock=lab.clock, environment=load_lab(None).environment)
    readings = run.state().points["T150C"].readings
    for r in readings:
        assert abs(r["junction_degC"] - 23.4) < 0.3                      # the room, as logged
        assert r["value"] == pytest.approx(r["measured"] + thermocouples.emf("K", r["junction_degC"]),
                                           abs=1e-12)
        assert r["measured"] < r["value"] - 0.9                           # E(23 °C) ~ 0.93 mV
    ev = evaluate_comparison(procedure, run.state())
    point = ev.points[0]
    assert abs(point.error - lab.true_dut_error(150.0)) <= point.U_error
    assert "dt_0X" in {r.name for r in point.budget.rows}                 # ±0.2 K, compensated

"""Currents above the reference meter's own ranges, through an external current shunt:
the budget at a point by hand, the shunt's file and a procedure's bad input by file:line,
the simulated shunt's physics, and a simulated run end to end."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from labauto.errors import SourceError
from labauto.evaluation import evaluate_point
from labauto.models.shunt_file import load_shunt
from labauto.procedure import ProcedureError, load_procedure
from labauto.units import Q_

ROOT = Path(__file__).resolve().parents[2]
PROCEDURE = ROOT / "procedures" / "fluke_5522a_dci_shunt_3458a.yaml"
SHUNT_15A = ROOT / "procedures" / "references" / "shunt-9230A-15-70412.yaml"


def test_the_budget_at_10_A_through_the_0_01_ohm_shunt_by_hand():
    proc = load_procedure(PROCEDURE)
    point = proc.point("DCI-100mV-+10A")
    assert (point.meter_function, point.range, point.shunt.name) == ("DCV", Q_(100, "mV"), "S15A")
    volts = [0.1000151, 0.1000153, 0.1000150, 0.1000152, 0.1000154]        # the 3458A's readings
    b = evaluate_point(point, proc, volts, "V").budget
    rows = {r.name: r for r in b.rows}
    # I_set is exact; dV_1: the procedure's DCV contribution, the 3458A's input junctions
    assert list(rows) == ["V", "dV_ref", "V_emf", "dR_s", "d_T", "d_P", "dV_1"]
    # by hand.  R_s: certificate SIM-NMI-2026-3310 (the shunt's file): 0.01000031 ohm,
    # U = 0.05 uohm, k = 2, at 23 degC and 1 A
    R, uR = 0.01000031, 0.05e-6 / 2
    V = sum(volts) / 5
    s = float(np.std(volts, ddof=1))
    I = V / R
    assert b.estimate.to("A").m == pytest.approx(10 - I, abs=1e-12)        # E = I_set − V/R_s
    # 3458A, 100 mV range, 1 year: 9 ppm of reading + 3 ppm of range (User's Guide 03458-90014,
    # App. A p. 283, as the model file cites it), limits without a stated confidence: rectangular
    u_dvm = (9e-6 * V + 3e-6 * 0.1) / math.sqrt(3)
    u_emf = 0.3e-6 / math.sqrt(3)                       # the shunt's thermal_emf: ± 0.3 uV
    u_emf_meter = 0.3e-6 / math.sqrt(3)                 # thermal_emf_meter (DCV): ± 0.3 uV
    u_T = 3e-6 * 1.0 / math.sqrt(3)                     # |alpha| <= 3 ppm/K over ± 1 K
    P, P_cal = 10 ** 2 * R, 1 ** 2 * R                  # 1.0000 W at 10 A, 0.01 W at 1 A
    # |beta| <= 2 ppm/W, d_P = beta × (h P − P_cal), beta in ± 2 ppm/W and h in [0, 1] uniform:
    # u² = (beta²/3)(P²/3 − P P_cal + P_cal²)
    u_P = 2e-6 / math.sqrt(3) * math.sqrt(P ** 2 / 3 - P * P_cal + P_cal ** 2)
    by_hand = {"V": (s / math.sqrt(5)) / R, "dV_ref": u_dvm / R, "V_emf": u_emf / R,
               "dV_1": u_emf_meter / R,
               "dR_s": uR * V / R ** 2, "d_T": u_T * I, "d_P": u_P * I}
    for name, u in by_hand.items():
        assert abs(rows[name].contribution.to("A").m) == pytest.approx(u, rel=1e-6), name
    u_c = math.sqrt(sum(u ** 2 for u in by_hand.values()))
    assert b.combined_uncertainty.to("A").m == pytest.approx(u_c, rel=1e-6)
    assert u_c == pytest.approx(80.1e-6, abs=0.1e-6)     # 8 ppm of 10 A: the 3458A dominates
    # the indication: V / R_s; the certificate's reference value is that mean current
    result = evaluate_point(point, proc, volts, "V")
    assert result.reference.to("A").m == pytest.approx(I, rel=1e-12)
    assert result.reading_unit == "V" and result.readings == tuple(volts)


def test_the_shunt_file_states_ratings_and_certificate():
    s = load_shunt(SHUNT_15A)
    assert (s.model, s.serial, s.certificate.certificate_id) == ("9230A-15", "70412",
                                                                 "SIM-NMI-2026-3310")
    assert s.ratings.max_current == Q_(15, "A") and s.power_at(Q_(10, "A")).to("W").m == \
        pytest.approx(1.000031)
    assert "(from memory)" in s.ratings.source


def _procedure(tmp_path: Path, points: str, *, shunt_file: str | None = None,
               shunts: str = "") -> Path:
    refs = tmp_path / "references"
    refs.mkdir(exist_ok=True)
    (refs / "s15.yaml").write_text(shunt_file or SHUNT_15A.read_text())
    (refs / "a40b.yaml").write_text((SHUNT_15A.parent / "shunt-A40B-10A-4410.yaml").read_text())
    text = PROCEDURE.read_text()
    head = text[:text.index("\nshunts:\n") + 1]
    body = ("shunts:\n  S15A: {file: references/s15.yaml, thermal_emf: 0.3 uV, "
            "temperature_deviation: 1 K}\n" + shunts +
            "settings: {nplc: 100, autozero: true, readings: 5, settle_time: 10 s}\n"
            "decision_rule: simple-acceptance\npoints:\n" + points)
    path = tmp_path / "p.yaml"
    path.write_text(head + body)
    return path


def _line(path: Path, needle: str) -> int:
    lines = path.read_text().splitlines()
    return max(i for i, line in enumerate(lines, 1) if needle in line)     # the point's line


@pytest.mark.parametrize("point, needle, reason", [
    ("  - {function: DCI, range: 100 mV, nominal: 18 A, shunt: S15A}\n", "18 A",
     r"18 A exceeds the maximum current 15 A of shunt 'S15A'"),
    ("  - {function: DCI, range: 100 mV, nominal: 12.5 A, shunt: S15A}\n", "12.5 A",
     r"gives 125 mV, beyond the 100 mV DCV range .* use a larger range"),
    ("  - {function: DCI, range: 1 A, nominal: 5 A}\n", "5 A",
     r"measures DCI up to 1\.05 A: a current above it is measured through an external shunt"),
    ("  - {function: DCI, range: 100 mV, nominal: 5 A}\n", "100 mV",
     r"range: .100 mV. has unit mV.*external shunt: name one"),
    ("  - {function: DCI, range: 100 mV, nominal: 5 A, shunt: S20A}\n", "S20A",
     r"unknown shunt 'S20A'; the procedure's shunts: S15A"),
    ("  - {function: DCV, range: 100 mV, nominal: 50 mV, shunt: S15A}\n", "shunt: S15A",
     r"DCV points take none"),
])
def test_bad_shunt_input_is_refused_at_its_line(tmp_path, point, needle, reason):
    path = _procedure(tmp_path, point)
    with pytest.raises(ProcedureError) as exc:
        load_procedure(path)
    line = _line(path, needle)
    assert any(ln == line and re.search(reason, why) for ln, why in exc.value.problems), \
        (line, exc.value.problems)
    assert f"{path}:{line}:" in str(exc.value)


def test_an_ac_current_needs_the_shunts_ac_dc_difference_at_its_frequency(tmp_path):
    path = _procedure(tmp_path, "  - {function: ACI, range: 1 V, nominal: 5 A, frequency: 60 Hz, "
                                "shunt: A10A}\n  - {function: ACI, range: 1 V, nominal: 0.5 A, "
                                "frequency: 400 Hz, shunt: S15A}\n",
                      shunts="  A10A: {file: references/a40b.yaml, thermal_emf: 0.3 uV, "
                             "temperature_deviation: 1 K}\n")
    with pytest.raises(ProcedureError) as exc:
        load_procedure(path)
    assert [line for line, _ in exc.value.problems] == [_line(path, "60 Hz"), _line(path, "0.5 A")]
    assert "states no AC-DC difference at 60 Hz (it states: 400 Hz, 1 kHz)" in exc.value.problems[0][1]
    assert "(it states: none)" in exc.value.problems[1][1]


def test_a_current_beyond_the_shunts_power_rating_is_refused(tmp_path):
    weak = SHUNT_15A.read_text().replace("power: 2.25 W", "power: 0.5 W")
    path = _procedure(tmp_path, "  - {function: DCI, range: 100 mV, nominal: 10 A, shunt: S15A}\n",
                      shunt_file=weak)
    with pytest.raises(ProcedureError) as exc:
        load_procedure(path)
    assert exc.value.problems == ((_line(path, "10 A"), "10 A dissipates 1 W in shunt 'S15A' "
                                   "(Guildline Instruments 9230A-15 (serial 70412)), beyond its "
                                   "power rating 0.5 W; use a lower-value shunt"),)


def test_a_bad_shunt_file_is_reported_with_its_own_line(tmp_path):
    bad = SHUNT_15A.read_text().replace("temperature_coefficient: 3 ppm/K",
                                        "temperature_coefficient: 3 ppm")
    path = _procedure(tmp_path, "  - {function: DCI, range: 100 mV, nominal: 5 A, shunt: S15A}\n",
                      shunt_file=bad)
    with pytest.raises(ProcedureError) as exc:
        load_procedure(path)
    shunt_file = tmp_path / "references" / "s15.yaml"
    assert f"{shunt_file}:{_line(shunt_file, 'temperature_coefficient:')}:" in str(exc.value)
    with pytest.raises(SourceError):
        load_shunt(shunt_file)


def test_labauto_run_refuses_a_shunt_beyond_its_rating_before_touching_an_instrument(tmp_path):
    from typer.testing import CliRunner

    from labauto.cli import app

    path = _procedure(tmp_path, "  - {function: DCI, range: 100 mV, nominal: 18 A, shunt: S15A}\n")
    # nothing listens at these resources: the file is refused before any is opened
    result = CliRunner().invoke(app, ["run", str(path), "--dut", "TCPIP0::127.0.0.1::1::SOCKET",
                                      "--standard", "TCPIP0::127.0.0.1::2::SOCKET", "--yes",
                                      "--workdir", str(tmp_path / "w")], env={"COLUMNS": "250"})
    out = result.output
    assert result.exit_code == 2, out
    assert f"p.yaml:{_line(path, '18 A')}:" in out and "maximum current 15 A" in out
    assert "nothing was measured; no run was started" in out
    assert not (tmp_path / "w" / "runs").exists() or not list((tmp_path / "w" / "runs").iterdir())


def test_an_overdue_shunt_is_refused_before_touching_an_instrument(tmp_path):
    from typer.testing import CliRunner

    from labauto.cli import app

    overdue = SHUNT_15A.read_text().replace("due: 2099-04-30", "due: 2026-05-01")
    path = _procedure(tmp_path, "  - {function: DCI, range: 100 mV, nominal: 5 A, shunt: S15A}\n",
                      shunt_file=overdue)
    result = CliRunner().invoke(app, ["run", str(path), "--dut", "TCPIP0::127.0.0.1::1::SOCKET",
                                      "--standard", "TCPIP0::127.0.0.1::2::SOCKET", "--yes",
                                      "--workdir", str(tmp_path / "w")], env={"COLUMNS": "250"})
    out = result.output
    assert result.exit_code == 2, out
    assert "SIM-NMI-2026-3310" in out and "was due on 2026-05-01" in out
    assert "nothing was measured; no run was started" in out


def test_the_simulated_shunt_heats_with_its_time_constant_and_follows_the_room():
    from labauto.sim.shunt import SimulatedShunt

    use = load_procedure(PROCEDURE).point("DCI-100mV-+10A").shunt
    shunt = SimulatedShunt(use, np.random.default_rng(5), room=lambda t: 23.0)
    r0, beta, tau = shunt.value_ohm, shunt.beta, 300.0          # time constant 5 min (its file)
    p_cal = 1.0 ** 2 * 0.01000031
    # starts at room temperature: beta × (0 − P_cal)
    assert shunt.resistance(0.0, 0.0) == pytest.approx(r0 * (1 - beta * p_cal), rel=1e-12)
    # 10 A from t = 0: after one time constant 63 % of the way to I²R
    heat = 100 * r0 * (1 - math.exp(-1))
    assert shunt.resistance(tau, 10.0, since=0.0) == pytest.approx(
        r0 * (1 + beta * (heat - p_cal)), rel=1e-12)
    # what the meter sees: I × R + the EMF of its potential terminals (|EMF| <= 0.3 uV)
    v = shunt.voltage(tau, 10.0, since=0.0)
    assert abs(v - 10.0 * shunt.resistance(tau, 10.0, since=0.0)) <= 0.3e-6
    warm = SimulatedShunt(use, np.random.default_rng(5), room=lambda t: 24.0)
    cool = SimulatedShunt(use, np.random.default_rng(5), room=lambda t: 23.0)
    assert warm.resistance(0.0, 0.0) / cool.resistance(0.0, 0.0) == pytest.approx(
        1 + warm.alpha * 1.0, rel=1e-9)
    assert abs(shunt.alpha) <= 3e-6 and abs(shunt.beta) <= 2e-6


def test_the_5522a_above_1_A_through_shunts_end_to_end(tmp_path):
    from simulated_run import run_source_procedure

    plan, outcome, truth, auto, connected = run_source_procedure(
        PROCEDURE, tmp_path, 17, lambda lab: (lab.shunt_in_circuit.name, lab.calibrator_state()["operate"]))
    result = outcome.result
    assert [p.point_id for p in result.points] == ["DCI-100mV-+2A", "DCI-100mV-+10A",
                                                   "DCI-100mV-+20A", "ACI-1V-+5A-400Hz",
                                                   "ACI-1V-+10A-400Hz"]
    assert len(auto.confirmed) == 3 and connected == ("A10A", False)   # left in standby
    for p in result.points:       # the simulated true error within U, U some ppm of the current
        assert abs(p.error - truth[p.point_id].to(p.error.units)) <= p.expanded_uncertainty
        limit = 60e-6 if p.function == "DCI" else 160e-6     # the 3458A's ACV: 95-120 ppm
        assert p.expanded_uncertainty.to("A").m < limit * p.nominal.to("A").m
        assert p.decision == "pass" and p.tur > 4
    ac = {r.name: r for r in result.points[-1].budget.rows}
    assert "V_emf" not in ac and ac["d_ac"].estimate.m == pytest.approx(2e-6)   # at 400 Hz
    # the journal keeps the 3458A's voltages; the certificate states currents
    records = [json.loads(x) for x in (outcome.run_folder / "journal.jsonl").read_text().splitlines()]
    volts = [r for r in records if r["type"] == "reading" and r["point_id"] == "DCI-100mV-+20A"]
    assert len(volts) == 5 and all(r["unit"] == "V" and 0.0199 < r["value"] < 0.0201 for r in volts)
    # the shunts are reference standards of the certificate, with their certificates
    assert [(e.model, e.serial_number, e.certificate_id) for e in result.standards[1:]] == [
        ("9230A-15", "70412", "SIM-NMI-2026-3310"), ("9230A-100", "70988", "SIM-NMI-2026-3311"),
        ("A40B-10A", "4410", "SIM-NMI-2026-3312")]
    header = json.loads((outcome.run_folder / "journal.jsonl").read_text().splitlines()[0])
    assert {"shunt S15A", "shunt S100A", "shunt A10A"} <= set(header["instrument_models"])
    files = outcome.files
    json_file = next(f for k, f in files.items() if str(f).endswith(".json"))
    doc = json.loads(Path(json_file).read_text())
    assert "DCI" in json.dumps(doc.get("functions", doc))


def test_the_meters_own_shunts_carry_nothing_while_an_external_shunt_does():
    from labauto.sim.physics import Signal, Wire
    from labauto.sim.shunt import ShuntedWire

    wire = Wire(0.0)
    seen = ShuntedWire(wire, lambda: None)
    wire.drive(1.0, Signal("DCI", 1.0))       # 1 A through the meter's own 1 A shunt
    seen.switched(2.0, True)                  # the technician puts the external shunt in
    wire.drive(3.0, Signal("DCI", 20.0))      # 20 A: through the external shunt only
    seen.switched(4.0, False)
    assert wire.current_changes(0.0, 5.0) == [(1.0, 1.0), (3.0, 20.0)]
    assert seen.current_changes(0.0, 5.0) == [(1.0, 1.0), (2.0, 0.0), (4.0, 20.0)]


def test_a_standalone_lab_infers_the_shunt_from_the_instruments_set_up(tmp_path):
    """`labauto sim serve --procedure` cannot see the technician's steps: the shunt is in
    circuit while meter and source are set up as a shunt point sets them."""
    from simulated_run import REGISTER_3458A

    from labauto.calibration import run_calibration
    from labauto.engine.operator import AutoConfirm, set_operator
    from labauto.sim.lab import lab_for_procedure

    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text((ROOT / "labauto" / "data" / "lab.yaml").read_text() + REGISTER_3458A)
    plan = load_procedure(PROCEDURE)
    previous = set_operator(AutoConfirm())
    try:
        lab = lab_for_procedure(plan, seed=23)
        lab.infer_wiring(plan)
        with lab:
            outcome = run_calibration(PROCEDURE, dut_resource=lab.resources["calibrator"],
                                      standard_resource=lab.resources["dmm"],
                                      runs_dir=tmp_path / "runs", out_dir=tmp_path / "certs",
                                      settle_scale=0.0, timeout_ms=5000, publish=False,
                                      lab_file=lab_file)
            truth = {p.id: lab.true_error(p) for p in plan.points}
    finally:
        set_operator(previous)
    assert len(outcome.result.points) == 5       # no step was seen: the set-ups told the shunt
    for p in outcome.result.points:
        assert abs(p.error - truth[p.point_id].to(p.error.units)) <= p.expanded_uncertainty


def test_the_mean_U_of_a_point_whose_runs_state_U_in_different_units():
    # a run states U in its own engineering unit: 960 µA in one, 1.1 mA in the next (the AC
    # 10 A point); the summary's mean U was the plain mean of the numbers (480.55 "mA")
    from types import SimpleNamespace

    from labauto.validation.montecarlo import PointOutcome, RunOutcome
    from labauto.validation.stats import summarize

    def run(seed, unit, U):
        return RunOutcome(seed, (PointOutcome("ACI-1V-+10A-400Hz", unit, 0.0, 0.0, U, U / 2, 2.0,
                                              17.0 if unit == "mA" else 17000.0, True, 0.0),))
    result = summarize(SimpleNamespace(id="P", path="p.yaml", points=()),
                       [run(1, "mA", 1.1), run(2, "µA", 960.0)], seed=1, dut_spread=1.5)
    assert result.points[0].mean_expanded == pytest.approx(1.03)


@pytest.mark.parametrize("text, reason", [
    ("- just a list\n", ":1: a shunt file must be a mapping with certificate, item, ratings"),
    (None, ":1: unknown key 'colour' in a shunt file; allowed: certificate, item, ratings"),
])
def test_a_shunt_file_that_is_no_mapping_of_its_three_keys_is_refused(tmp_path, text, reason):
    path = tmp_path / "s.yaml"
    path.write_text(text or "colour: red\n" + SHUNT_15A.read_text())
    with pytest.raises(SourceError) as exc:
        load_shunt(path)
    assert str(exc.value).startswith(f"{path}{reason}")

"""Comparison runs on the zero-latency simulated thermometry lab: every reading journalled, a
lost connection to a heat source mid-ramp leaves it at its safe setpoint and the run resumes
where it stopped; a reference that never settles times out with a clear error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from labauto.engine.comparison import (ComparisonSettings, execute_comparison,
                                       open_comparison_run, start_comparison_run)
from labauto.engine.operator import set_operator
from labauto.engine.stability import StabilityTimeout
from labauto.procedure.temperature import load_temperature_procedure
from labauto.sim.thermometry import lab_for_procedure
from labauto.units import Q_
from labauto.visa import TransientVisaError

ROOT = Path(__file__).resolve().parents[2]
PT100 = ROOT / "procedures" / "temperature" / "pt100_comparison.yaml"


class Technician:
    """The simulated technician: does what an operator step says (moves the probes)."""

    def __init__(self, lab):
        self.lab, self.steps = lab, []

    def confirm(self, step, point):
        self.steps.append(step.text)
        self.lab.place_probes(point.heat_source)


class CutTheWell:
    """An observer that pulls the well's cable after ``after`` approach samples at ``point``."""

    def __init__(self, lab, point, after):
        self.lab, self.point, self.after, self.count, self.cut = lab, point, after, 0, False

    def point_started(self, point, attempt): pass
    def reading(self, point, index, value): pass
    def point_finished(self, point): pass
    def point_skipped(self, point, reason): pass

    def approach(self, point, reference, control, verdict):
        if point.id == self.point and not self.cut:
            self.count += 1
            if self.count == self.after:
                self.cut = True
                self.lab.drop_connections("well")


def shorter(folder: Path, text: str, name: str) -> Path:
    """The Pt100 procedure with fewer setpoints (0 °C in the bath, 200 and 300 °C in the well),
    next to a copy of its reference certificate."""
    (folder / "temperature").mkdir(exist_ok=True)
    (folder / "references").mkdir(exist_ok=True)
    (folder / "references" / "sprt-5681-1234.yaml").write_text(
        (ROOT / "procedures" / "references" / "sprt-5681-1234.yaml").read_text())
    # without 100 °C, without its return point (the hysteresis check) after 420 °C
    start = text.index("  - step: Let the SPRT and the Pt100 cool in air")
    end = text.index("return_of: T100C}\n") + len("return_of: T100C}\n")
    text = text[:start] + text[end:]
    for drop in ("  - {setpoint: -40 degC, heat_source: bath}\n",
                 "  - {setpoint: 50 degC, heat_source: bath}\n",
                 "  - {setpoint: 100 degC, heat_source: bath}\n",
                 "  - {setpoint: 420 degC, heat_source: well}\n"):
        assert drop in text
        text = text.replace(drop, "")
    path = folder / "temperature" / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """Its connection to the well cut at 300 °C mid-ramp, then resumed."""
    procedure = load_temperature_procedure(shorter(tmp_path_factory.mktemp("proc"),
                                                   PT100.read_text(), "short.yaml"))
    lab = lab_for_procedure(procedure, seed=7)
    tech = Technician(lab)
    previous = set_operator(tech)
    out: dict = {"lab": lab, "tech": tech}
    try:
        with lab:
            run = start_comparison_run(procedure, tmp_path_factory.mktemp("runs"),
                                       ComparisonSettings(lab.resources, timeout_ms=1000))
            with pytest.raises(TransientVisaError) as info:
                execute_comparison(run, clock=lab.clock, observer=CutTheWell(lab, "T300C", 12))
            out["error"] = info.value
            out["setpoint_after_cut"] = lab.heat_sources["well"].setpoint
            out["state_after_cut"] = run.state()
            out["history_after_cut"] = list(lab.heat_sources["well"].history)
            resumed = open_comparison_run(run.folder)
            execute_comparison(resumed, clock=lab.clock)
            out["run"] = resumed
    finally:
        set_operator(previous)
    return out


def test_a_lost_heat_source_is_left_at_its_safe_setpoint(interrupted):
    assert "Fluke 9144" in str(interrupted["error"])
    assert interrupted["setpoint_after_cut"] == 50.0          # the procedure's safe setpoint
    assert interrupted["history_after_cut"][-2:] == [300.0, 50.0]
    state = interrupted["state_after_cut"]
    assert state.completed_ids() == {"T0C", "T200C"}
    failed = state.points["T300C"]
    assert len(failed.failures) == 1
    assert failed.failures[0]["error"].startswith("ConnectionLostError: Fluke 9144 at TCPIP0::")
    assert "connection lost (closed by the other end) while sending 'SOUR:SENS:DATA?'" \
        in failed.failures[0]["error"]


def test_the_run_resumes_mid_ramp_and_loses_nothing(interrupted):
    run = interrupted["run"]
    state = run.state()
    assert state.completed_ids() == {p.id for p in run.procedure.points}
    t300 = state.points["T300C"]
    assert t300.done_attempt == 2                          # the interrupted approach is kept
    records = [json.loads(line) for line in run.journal.path.read_text().splitlines()]
    approach = [r for r in records if r["type"] == "stability" and r["point_id"] == "T300C"]
    assert {r["attempt"] for r in approach} == {1, 2}
    first = [s for r in approach if r["attempt"] == 1 for s in r["samples"]]
    assert len(first) == 12                                # every sample before the cut
    assert first[-1][3] < 299.0                            # still ramping when the cable went
    # the last approach window before the readings was stable, within the procedure's limits
    last = [r for r in approach if r["attempt"] == 2][-1]
    assert last["stable"] and abs(last["slope_K_per_min"]) <= 0.01 and last["std_K"] <= 0.005
    # the technician confirmed the two set-ups, and again the well's on resuming
    assert [s.split(" ")[0] for s in interrupted["tech"].steps] == ["Immerse", "Move", "Move"]


def test_readings_bracket_the_dut_with_the_reference(interrupted):
    run, lab = interrupted["run"], interrupted["lab"]
    state = run.state()
    for point in run.procedure.points:
        taken = state.points[point.id].readings
        # 6 at the measuring current (1 mA), then 6 at the self_heating_current (2 mA)
        assert len(taken) == 12 and [r["index"] for r in taken] == list(range(12))
        readings, second = taken[:6], taken[6:]
        assert all("dut_current_mA" not in r for r in readings)
        assert all(r["dut_current_mA"] == 2.0 for r in second)
        from labauto.temperature import PT100 as IEC

        def offset(series):     # the DUT's temperature by IEC 60751 minus the reference's
            return sum(IEC.temperature(r["value"]) - r["reference"]["mean_degC"]
                       for r in series) / len(series)
        # the simulated Pt100 warms by 4 mK at 1 mA, 16 mK at 2 mA: 12 mK more
        assert offset(second) - offset(readings) == pytest.approx(0.012, abs=0.001)
        for r in readings:
            assert r["unit"] == "ohm"
            t1, t2 = r["reference"]["t_degC"]
            assert r["reference"]["mean_degC"] == pytest.approx((t1 + t2) / 2, abs=1e-12)
            assert abs(t2 - t1) < 0.005                    # stable: within the max_std
            # the reference temperature is within the well's/bath's display error of the setpoint
            assert abs(r["reference"]["mean_degC"] - point.setpoint.m) < 0.5
        # the DUT's resistance, read at the reference's temperature, is close to IEC 60751's
        r_mean = sum(r["value"] for r in readings) / 6
        t_ref = sum(r["reference"]["mean_degC"] for r in readings) / 6
        assert abs(IEC.temperature(r_mean) - t_ref) < 0.3   # a class-A-like simulated sensor


def test_a_reference_that_never_settles_times_out(tmp_path):
    text = PT100.read_text().replace("max_std: 5 mK", "max_std: 0.001 mK").replace(
        "timeout: 90 min", "timeout: 20 min")
    path = shorter(tmp_path, text, "strict.yaml")
    procedure = load_temperature_procedure(path)
    lab = lab_for_procedure(procedure, seed=2)
    previous = set_operator(Technician(lab))
    try:
        with lab:
            run = start_comparison_run(procedure, tmp_path / "runs", ComparisonSettings(lab.resources))
            with pytest.raises(StabilityTimeout) as info:
                execute_comparison(run, clock=lab.clock)
            assert lab.heat_sources["bath"].setpoint == 20.0      # back at its safe setpoint
    finally:
        set_operator(previous)
    text = str(info.value)
    assert text.startswith("the reference at T0C (0 °C in bath) did not become stable "
                           "within 20 min (|slope| <= 0.01 K/min and s <= 0.001 mK over 5 min)")
    state = run.state()
    assert not state.completed_ids() and "StabilityTimeout" in state.points["T0C"].failures[0]["error"]
    samples = [s for r in (json.loads(x) for x in run.journal.path.read_text().splitlines())
               if r["type"] == "stability" for s in r["samples"]]
    # a sample every 10 s (the readout's 10 s sample period) until 20 min had passed
    assert len(samples) == 120 and samples[-1][0] - samples[0][0] == pytest.approx(1200.0)



def test_a_pt100_read_by_a_dmm(tmp_path):
    text = PT100.read_text().replace("  read_by: readout\n  channel: 2\n", "  read_by: dmm\n")
    # a DMM's measuring current is its range's: no second current for the self-heating
    text = "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("  self_heating_current:"))
    text = text.replace("\nheat_sources:", "\ndmm: keysight_34465a\nheat_sources:")
    path = shorter(tmp_path, text, "dmm.yaml")          # 0 °C (bath), 200 and 300 °C (well)
    from labauto.comparison_evaluation import evaluate_comparison

    procedure = load_temperature_procedure(path)
    assert (procedure.dut.read_by, procedure.dut.dmm_range) == ("dmm", Q_(1, "kohm"))
    lab = lab_for_procedure(procedure, seed=12)
    previous = set_operator(Technician(lab))
    try:
        with lab:
            run = start_comparison_run(procedure, tmp_path / "runs", ComparisonSettings(lab.resources))
            execute_comparison(run, clock=lab.clock)
    finally:
        set_operator(previous)
    assert run.state().instruments["dmm"]["model"] == "34465A"
    ev = evaluate_comparison(procedure, run.state())
    for r in ev.points:
        rows = {row.name: row for row in r.budget.rows}
        # the 34465A's 1 kΩ range: 0.0080 % of reading + 0.0006 % of range, as limits
        half = 80e-6 * r.point.dut[0] + 6e-6 * 1000
        assert float(rows["dX_dmm"].standard_uncertainty.to("ohm").m) == pytest.approx(
            half / 3 ** 0.5, rel=1e-3)
        assert abs(r.error - lab.true_dut_error(r.nominal)) <= r.U_error


def test_the_flow_measures_segments_between_operator_steps(tmp_path):
    from labauto.engine.run import steps_before, stretches

    procedure = load_temperature_procedure(PT100)
    run = start_comparison_run(procedure, tmp_path, ComparisonSettings(
        {"readout": "r", "bath": "b", "well": "w"}))
    cut = stretches(procedure, run.pending_points())
    parts = [points for _, points in cut]
    assert [[p.id for p in s] for s in parts] == [["T-40C", "T0C", "T50C", "T100C"],
                                                   ["T200C", "T300C", "T420C"], ["T100C-return"]]
    assert cut[2][0][0].text.startswith("Let the SPRT and the Pt100 cool in air")
    assert steps_before(procedure, parts[1][0], first_of_session=False)[0].text.startswith("Move the SPRT")
    assert cut[1][0] == steps_before(procedure, parts[1][0], first_of_session=False)
    # resuming at 300 °C: the session starts there, and the set-up step before it is asked again
    for pid in ("T-40C", "T0C", "T50C", "T100C", "T200C"):
        run.journal.point_start(pid, 1)
        run.journal.point_done(pid, 1)
    cut = stretches(procedure, run.pending_points())
    parts = [points for _, points in cut]
    assert [[p.id for p in s] for s in parts] == [["T300C", "T420C"], ["T100C-return"]]
    assert steps_before(procedure, parts[0][0], first_of_session=True)[0].text.startswith("Move the SPRT")
    assert steps_before(procedure, parts[0][0], first_of_session=False) == ()
    assert cut[0][0] == steps_before(procedure, parts[0][0], first_of_session=True)


def test_a_run_resumes_only_with_the_files_it_started_with(tmp_path):
    from labauto.engine.comparison import open_comparison_run
    from labauto.engine.journal import JournalError

    path = shorter(tmp_path, PT100.read_text(), "p.yaml")
    run = start_comparison_run(load_temperature_procedure(path), tmp_path / "runs",
                               ComparisonSettings({"readout": "r", "bath": "b", "well": "w"}))
    assert open_comparison_run(run.folder).settings.resources == {"readout": "r", "bath": "b", "well": "w"}
    cert = tmp_path / "references" / "sprt-5681-1234.yaml"
    cert.write_text(cert.read_text().replace("drift: 2 mK", "drift: 3 mK"))
    with pytest.raises(JournalError, match="the reference thermometer's certificate .*changed since run"):
        open_comparison_run(run.folder)
    cert.write_text(cert.read_text().replace("drift: 3 mK", "drift: 2 mK"))
    path.write_text(path.read_text().replace("readings: 6", "readings: 5"))
    with pytest.raises(JournalError, match="the procedure .*changed since run"):
        open_comparison_run(run.folder)


def test_a_readout_missing_from_the_lab_register_is_refused_before_measuring(tmp_path):
    from labauto.lab import DEFAULT_LAB_FILE, StandardNotUsable, load_lab

    text = Path(DEFAULT_LAB_FILE).read_text()
    start = text.index("  - manufacturer: FLUKE\n    model: 1594A")
    end = text.index("  - manufacturer:", start + 10)
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(text[:start] + text[end:])
    lab = load_lab(lab_file)
    path = shorter(tmp_path, PT100.read_text(), "p.yaml")
    procedure = load_temperature_procedure(path)
    sim = lab_for_procedure(procedure, seed=3)
    previous = set_operator(Technician(sim))
    try:
        with sim:
            run = start_comparison_run(procedure, tmp_path / "runs", ComparisonSettings(sim.resources))
            with pytest.raises(StandardNotUsable, match="FLUKE 1594A serial B21044 .*is not in the "
                                                        "register of reference standards"):
                execute_comparison(run, clock=sim.clock, check_identities=lab.check_identities)
    finally:
        set_operator(previous)
    assert sim.readout.readings_taken == 0 and not run.state().points
    assert sim.heat_sources["bath"].history == [20.0, 20.0]      # safe setpoint, nothing else

"""Calibrations of every function on the simulated lab, end to end: the full 34465A
performance verification, a model added by files only, a source under test, and operator
steps (confirmed, refused, interrupted)."""
from __future__ import annotations

import json
import shutil

from pathlib import Path

import pytest
from lxml import etree

from labauto.calibration import run_calibration
from labauto.engine.journal import RunJournal
from labauto.engine.operator import AutoConfirm, OperatorStepRefused, set_operator
from labauto.procedure import load_procedure
from labauto.sim import SimulatedLab
from labauto.units import Q_

ROOT = Path(__file__).resolve().parents[2]

PV = ROOT / "procedures" / "keysight_34465a_verification.yaml"


@pytest.fixture()
def confirm_steps():
    auto = AutoConfirm()
    previous = set_operator(auto)
    yield auto
    set_operator(previous)


def _calibrate(procedure, tmp_path, lab, *, dut="dmm", standard="calibrator", **kw):
    return run_calibration(procedure, dut_resource=lab.resources[dut],
                           standard_resource=lab.resources[standard], runs_dir=tmp_path / "runs",
                           out_dir=tmp_path / "certificates", settle_scale=0.0, timeout_ms=5000,
                           publish=False, **kw)


def test_full_34465a_verification_finds_the_true_errors(tmp_path, confirm_steps, dcc_schema_dir):
    with SimulatedLab(seed=21, latency="zero") as lab:
        outcome = _calibrate(PV, tmp_path, lab)
        truth = {p.point_id: lab.truth.dut_error_at_setting(p.function, p.range, p.nominal, p.frequency)
                 for p in outcome.result.points}
        assert lab.calibrator_state()["operate"] is False
    result = outcome.result
    assert {p.function for p in result.points} == {"DCV", "ACV", "DCI", "ACI", "RES2W", "RES4W", "FREQ"}
    assert len(confirm_steps.confirmed) == 5                  # every lead change was confirmed
    inside = sum(abs(p.error - truth[p.point_id].to(p.error.units)) <= p.expanded_uncertainty
                 for p in result.points)
    assert inside >= len(result.points) - 2, f"{inside}/{len(result.points)}"
    assert result.overall_decision == "pass"
    # budget symbols follow the function
    rows = {p.function: [r.name for r in p.budget.rows] for p in result.points}
    assert rows["DCV"][:3] == ["X_ind", "V_ref", "dX_res"]
    assert rows["DCI"][:3] == ["X_ind", "I_ref", "dX_res"]
    assert rows["RES4W"][:3] == ["X_ind", "R_ref", "dX_res"]
    assert rows["FREQ"][:3] == ["X_ind", "f_ref", "dX_res"]
    # each point in its own unit, in the JSON and the DCC (which validates against PTB 3.3.0)
    data = json.loads(outcome.files["json"].read_bytes())
    units = {p["function"]: p["error"]["unit"] for p in data["points"]}
    assert units["RES4W"].endswith("Ω") and units["FREQ"].endswith("Hz") and units["DCI"].endswith("A")
    schema = etree.XMLSchema(etree.parse(str(dcc_schema_dir / "v3.3.0" / "dcc.xsd")))
    doc = etree.parse(str(outcome.files["xml"]))
    assert schema.validate(doc), schema.error_log
    dsi = {u.text for u in doc.iter("{https://ptb.de/si}unit")}
    for base in ("\\volt", "\\ampere", "\\ohm", "\\hertz"):
        assert any(u.endswith(base) for u in dsi), (base, dsi)


def test_a_model_added_by_files_only_calibrates(tmp_path, monkeypatch):
    """A new meter model: a folder with model.yaml (no Python), on LABAUTO_INSTRUMENTS_PATH."""
    folder = tmp_path / "instruments" / "acme_dmm7"
    folder.mkdir(parents=True)
    text = (ROOT / "instruments" / "keysight_34465a" / "model.yaml").read_text()
    text = text.replace("model: 34465A", "model: DMM7").replace(
        "identity: '^(Keysight Technologies|Agilent Technologies),34465A,",
        "identity: '^(Acme Instruments),DMM7,").replace(
        "manufacturer: Keysight Technologies", "manufacturer: Acme Instruments").replace(
        "simulation: sim.yaml", "")
    (folder / "model.yaml").write_text(text)
    monkeypatch.setenv("LABAUTO_INSTRUMENTS_PATH", str(tmp_path / "instruments"))
    proc = tmp_path / "acme.yaml"
    proc.write_text(f"""\
procedure: {{id: ACME-DMM7, title: Acme DMM7 check, version: "1", method: Direct comparison}}
dut: acme_dmm7
standard: fluke_5522a
settings: {{readings: 4, settle_time: 1 s}}
decision_rule: simple-acceptance
points:
  - {{function: DCV, range: 10 V, nominal: 10 V}}
  - {{function: ACV, range: 1 V, nominal: 1 V, frequency: 1 kHz}}
  - {{function: RES4W, range: 1 kohm, nominal: 1 kohm}}
""")
    with SimulatedLab(seed=3, latency="zero", dmm_model="acme_dmm7") as lab:
        outcome = _calibrate(proc, tmp_path, lab)
    assert outcome.result.item.manufacturer == "Acme Instruments"
    assert [p.decision for p in outcome.result.points] == ["pass"] * 3


SOURCE_UNDER_TEST = """\
procedure:
  id: F5522A-DCV-CHECK
  title: DC voltage check of a Fluke 5522A with a reference meter
  version: "1"
  method: The calibrator sources each value; the reference meter reads it
dut: fluke_5522a
standard: keysight_34465a
settings: {readings: 5, settle_time: 1 s, nplc: 100}
decision_rule: simple-acceptance
points:
  - {function: DCV, range: 10 V, nominal: [1 V, 10 V]}
  - {function: DCI, range: 100 mA, nominal: 100 mA}
"""


def _lab_file(tmp_path, extra: str = ""):
    """The default lab file with the simulated 34465A (and ``extra`` entries) registered as
    reference standards."""
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text((ROOT / "labauto" / "data" / "lab.yaml").read_text() + """\
  - manufacturer: Keysight Technologies
    model: 34465A
    serial: "MY60012345"
    certificate_id: SIM-34465A-01
    calibrated_by: Accredited laboratory (simulated)
    calibration_due: "2027-09-30"
""" + extra)
    return lab_file


def test_a_source_under_test_against_a_reference_meter(tmp_path):
    lab_file = _lab_file(tmp_path)
    proc = tmp_path / "source.yaml"
    proc.write_text(SOURCE_UNDER_TEST)
    p = load_procedure(proc)
    assert p.direction == "source" and p.measurement_model == "error of output"
    with SimulatedLab(seed=4, latency="zero", dut="source") as lab:
        outcome = _calibrate(proc, tmp_path, lab, dut="calibrator", standard="dmm",
                             lab_file=lab_file)
        truth = {pt.point_id: lab.truth.dut_error_at_setting(pt.function, pt.range, pt.nominal)
                 for pt in outcome.result.points}
    for pt in outcome.result.points:
        # (no setting-resolution row: the nominal values are whole numbers of setting steps)
        assert [r.name for r in pt.budget.rows][:2] == ["X_ref", "dX_ref"]
        assert "dX_res" not in [r.name for r in pt.budget.rows]
        # E = set value - reference reading
        assert pt.error.to(pt.reading_unit).m == pytest.approx(
            pt.nominal.to(pt.reading_unit).m - pt.mean.to(pt.reading_unit).m, abs=1e-12)
        # the 34465A measures the 5522A's error only to its own (larger) specification
        assert abs(pt.error - truth[pt.point_id].to(pt.error.units)) <= pt.expanded_uncertainty
    assert outcome.result.item.model == "5522A" and outcome.result.standards[0].model == "34465A"


def _evaluated(procedure, lab, runs_dir, *, dut, standard, lab_file):
    """Pre-flight checks, every point, evaluation: a calibration without its certificate (the
    certificates are tested above; their PDF is most of a run's time)."""
    from labauto.calibration import measure_points, preflight, start_or_resume_run
    from labauto.engine.run import open_run
    from labauto.evaluation import evaluate_run
    from labauto.lab import load_lab

    resources = {"dut_resource": lab.resources[dut], "standard_resource": lab.resources[standard]}
    with preflight(procedure, **resources, timeout_ms=5000, lab_file=lab_file) as checked:
        run = start_or_resume_run(procedure, runs_dir=runs_dir, settle_scale=0.0, timeout_ms=5000,
                                  run_id=checked.run_id, lab_file=lab_file, **resources)
        measure_points(run, lab_file=lab_file)
    return evaluate_run(open_run(run.folder), load_lab(lab_file))


def _source_model_by_files(tmp_path, monkeypatch):
    """A new calibrator model: a folder with model.yaml only (no Python), in Fluke's command
    style, on LABAUTO_INSTRUMENTS_PATH."""
    folder = tmp_path / "instruments" / "acme_cal2"
    folder.mkdir(parents=True)
    text = (ROOT / "instruments" / "fluke_5522a" / "model.yaml").read_text()
    for old, new in (("manufacturer: Fluke", "manufacturer: Acme Instruments"),
                     ("model: 5522A", "model: CAL2"),
                     ("identity: '^FLUKE,5522A,", "identity: '^ACME INSTRUMENTS,CAL2,"),
                     ("simulation: sim.yaml", "")):
        assert old in text, old
        text = text.replace(old, new)
    (folder / "model.yaml").write_text(text)
    monkeypatch.setenv("LABAUTO_INSTRUMENTS_PATH", str(tmp_path / "instruments"))


def test_a_source_model_added_by_files_only_calibrates_in_both_directions(tmp_path, monkeypatch):
    """The new source under test against a reference meter, and as the reference standard of
    a meter under test: both from its file alone."""
    _source_model_by_files(tmp_path, monkeypatch)
    lab_file = _lab_file(tmp_path, """\
  - manufacturer: Acme Instruments
    model: CAL2
    serial: "3456789"
    certificate_id: SIM-CAL2-01
    calibrated_by: Accredited laboratory (simulated)
    calibration_due: "2027-09-30"
""")
    as_dut = tmp_path / "cal2.yaml"
    as_dut.write_text(SOURCE_UNDER_TEST.replace("dut: fluke_5522a", "dut: acme_cal2"))
    assert load_procedure(as_dut).direction == "source"
    with SimulatedLab(seed=5, latency="zero", dut="source", calibrator_model="acme_cal2") as lab:
        result = _evaluated(as_dut, lab, tmp_path / "a", dut="calibrator", standard="dmm",
                            lab_file=lab_file)
        truth = {pt.point_id: lab.truth.dut_error_at_setting(pt.function, pt.range, pt.nominal)
                 for pt in result.points}
        assert lab.calibrator_state()["operate"] is False
    assert (result.item.manufacturer, result.item.model) == ("ACME INSTRUMENTS", "CAL2")
    assert [p.point_id for p in result.points] == ["DCV-10V-+1V", "DCV-10V-+10V",
                                                   "DCI-100mA-+100mA"]
    for pt in result.points:
        assert abs(pt.error - truth[pt.point_id].to(pt.error.units)) <= pt.expanded_uncertainty
    as_standard = tmp_path / "dmm.yaml"
    as_standard.write_text("""\
procedure: {id: KS-BY-CAL2, title: 34465A against the Acme CAL2, version: "1", method: Direct comparison}
dut: keysight_34465a
standard: acme_cal2
settings: {readings: 4, settle_time: 1 s}
decision_rule: simple-acceptance
points:
  - {function: DCV, range: 10 V, nominal: [1 V, 10 V]}
  - {function: ACV, range: 1 V, nominal: 1 V, frequency: 1 kHz}
""")
    with SimulatedLab(seed=6, latency="zero", calibrator_model="acme_cal2") as lab:
        result = _evaluated(as_standard, lab, tmp_path / "b", dut="dmm", standard="calibrator",
                            lab_file=lab_file)
        truth = {p.point_id: lab.truth.dut_error_at_setting(p.function, p.range, p.nominal,
                                                            p.frequency)
                 for p in result.points}
    assert [(s.manufacturer, s.model) for s in result.standards] == [("ACME INSTRUMENTS", "CAL2")]
    # the tolerance row of the standard: the CAL2 file's 12 ppm + 20 uV at 10 V (99 %)
    spec = load_procedure(as_standard).points[1].standard_spec
    assert spec.to("uV").m == pytest.approx(140)
    for p in result.points:
        assert p.decision == "pass"
        assert abs(p.error - truth[p.point_id].to(p.error.units)) <= p.expanded_uncertainty


STEPS = """\
procedure: {id: STEPS, title: Steps, version: "1", method: Direct comparison}
dut: keysight_34465a
standard: fluke_5522a
settings: {readings: 2, settle_time: 1 s}
decision_rule: simple-acceptance
points:
  - {function: DCV, range: 10 V, nominal: 10 V}
  - step: Move the HI lead to the 3 A terminal
  - {function: DCI, range: 1 A, nominal: 1 A}
  - {function: DCI, range: 100 mA, nominal: 100 mA}
"""


def test_without_an_operator_a_step_stops_the_run_safely(tmp_path):
    proc = tmp_path / "steps.yaml"
    proc.write_text(STEPS)
    with SimulatedLab(seed=2, latency="zero") as lab:
        with pytest.raises(OperatorStepRefused, match="Move the HI lead to the 3 A terminal"):
            _calibrate(proc, tmp_path, lab)
        assert lab.calibrator_state()["operate"] is False


def test_ctrl_c_during_a_lead_change_leaves_standby_and_the_run_resumes(tmp_path):
    proc = tmp_path / "steps.yaml"
    proc.write_text(STEPS)

    class Interrupted:
        def confirm(self, step, point):
            raise KeyboardInterrupt

    previous = set_operator(Interrupted())
    try:
        with SimulatedLab(seed=2, latency="zero") as lab:
            with pytest.raises(KeyboardInterrupt):
                _calibrate(proc, tmp_path, lab)
            state = lab.calibrator_state()
            assert state["operate"] is False and state["history"][-2:] == ["STBY", "OUT 0 V"]
            run_folder = next((tmp_path / "runs").iterdir())
            done = RunJournal(run_folder / "journal.jsonl").read().completed_ids()
            assert done == {"DCV-10V-+10V"}
            auto = AutoConfirm()
            set_operator(auto)
            outcome = _calibrate(proc, tmp_path, lab, resume_folder=run_folder)
    finally:
        set_operator(previous)
    # on resuming, the technician confirms the set-up again before the first pending point
    assert auto.confirmed == ["Move the HI lead to the 3 A terminal"]
    assert [p.point_id for p in outcome.result.points] == ["DCV-10V-+10V", "DCI-1A-+1A",
                                                            "DCI-100mA-+100mA"]
    records = [json.loads(x) for x in (run_folder / "journal.jsonl").read_text().splitlines()]
    assert [r["text"] for r in records if r["type"] == "operator_step"] == [
        "Move the HI lead to the 3 A terminal"]

"""A source under test against a reference meter, end to end on the coupled simulated lab:
procedures/fluke_5522a_dcv_3458a.yaml (the 5522A's DCV output read by a simulated 3458A in its
own HP-IB language), with the 3458A by its specification and by its calibration certificate."""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from lxml import etree

from labauto.calibration import run_calibration
from labauto.engine.operator import AutoConfirm, set_operator
from labauto.models.reference import ReferenceNotUsable
from labauto.procedure import load_procedure
from labauto.sim import SimulatedLab
from labauto.units import Q_

ROOT = Path(__file__).resolve().parents[2]
PROCEDURE = ROOT / "procedures" / "fluke_5522a_dcv_3458a.yaml"
REGISTER_3458A = """\
  - manufacturer: Keysight Technologies
    model: 3458A
    serial: "2823A05432"          # the simulated 3458A's calibration string
    certificate_id: SIM-3458A-01
    calibrated_by: National Metrology Institute (simulated)
    calibration_due: "2099-03-31"
"""


@pytest.fixture(scope="module")
def lab_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lab") / "lab.yaml"
    path.write_text((ROOT / "labauto" / "data" / "lab.yaml").read_text() + REGISTER_3458A)
    return path


@pytest.fixture(scope="module")
def confirmed():
    auto = AutoConfirm()
    previous = set_operator(auto)
    yield auto
    set_operator(previous)


def _calibrate(procedure, tmp_path, lab, lab_file):
    return run_calibration(procedure, dut_resource=lab.resources["calibrator"],
                           standard_resource=lab.resources["dmm"], runs_dir=tmp_path / "runs",
                           out_dir=tmp_path / "certificates", settle_scale=0.0, timeout_ms=5000,
                           publish=False, lab_file=lab_file)


@pytest.fixture(scope="module")
def verified(tmp_path_factory, lab_file, confirmed):
    """The bundled procedure run once on a coupled lab (seed 11); truth kept for the checks.
    The simulated 3458A is the procedure's: calibrated the same day, its true errors lie within
    its 24-hour figures."""
    tmp = tmp_path_factory.mktemp("run")
    meter = load_procedure(PROCEDURE).meter_model
    with SimulatedLab(seed=11, latency="zero", dmm_model=meter, dut="source") as lab:
        outcome = _calibrate(PROCEDURE, tmp, lab, lab_file)
        truth = {p.point_id: lab.truth.dut_error_at_setting(p.function, p.range, p.nominal)
                 for p in outcome.result.points}
        state, meter_lines = lab.calibrator_state(), list(lab.dmm.history)
    return outcome, truth, state, meter_lines


def test_the_procedure_is_a_source_under_test_with_its_step():
    p = load_procedure(PROCEDURE)
    assert (p.direction, p.measurement_model, p.reference) == ("source", "error of output",
                                                               "specification (24 hours)")
    # the 3458A by its 24-hour figures (User's Guide App. A, DC voltage): DCV and DCI only
    assert set(p.standard_model.functions) == {"DCV", "DCI"}
    assert p.standard_model.function("DCV").specification_period == "24 hours"
    # Operators Manual Table 7-3, p. 7-7: 23 points, less the zeros of two ranges (a 0 V setting
    # takes the lowest range) -> 21 (the file had 17 points remembered, with ±100 V and ±1000 V)
    assert len(p.points) == 21 and [s.text[:30] for s in p.steps] == [
        "The next points put up to 1020"]
    # the tolerance is the 5522A's: 10 V on its 32.99999 V range, ± (12 ppm + 20 µV)
    assert p.point("DCV-10V-+10V").tolerance.to("uV").m == pytest.approx(140.0)


def test_the_5522a_output_errors_are_found_within_U(verified):
    outcome, truth, state, meter_lines = verified
    result = outcome.result
    assert len(result.points) == 21 and result.overall_decision == "pass"
    inside = [abs(p.error - truth[p.point_id].to(p.error.units)) <= p.expanded_uncertainty
              for p in result.points]
    assert sum(inside) >= 20, [p.point_id for p, ok in zip(result.points, inside) if not ok]
    for p in result.points:      # E = setting − mean reading of the reference meter
        assert p.error.to("V").m == pytest.approx(p.nominal.to("V").m - p.mean.to("V").m,
                                                  abs=1e-12)
    assert state["operate"] is False                       # left in standby
    assert "TRIG SGL" in meter_lines and "*IDN?" not in meter_lines   # the 3458A's language
    assert (result.item.model, result.standards[0].model) == ("5522A", "3458A")


def test_the_budget_uses_the_3458a_24_hour_specification_and_the_days_standard(verified):
    p = verified[0].result.points[[q.point_id for q in verified[0].result.points].index("DCV-10V-+10V")]
    rows = {r.name: r for r in p.budget.rows}
    # V_set is exact, and so is its resolution's part: 10 V is a whole number of the 5522A's
    # 10 µV setting steps on its 32.99999 V range (labauto.models.output)
    assert list(rows) == ["X_ref", "dX_ref", "dV_1", "dV_2", "dV_3"]
    # 3458A 24 hours, 10 V range: ± (0.5 ppm of reading + 0.05 ppm of range) = 5.5 µV at 10 V
    # (data sheet 5965-4971, as transcribed in ELOWRO/Meter-Accuracy Keysight_3458A.json),
    # limits without a stated coverage: rectangular, u = 5.5 µV / √3 = 3.18 µV
    spec_uv = 0.5e-6 * abs(p.mean.to("V").m) * 1e6 + 0.05e-6 * 10.0 * 1e6     # at the reading
    assert spec_uv == pytest.approx(5.5, abs=0.001)
    assert rows["dX_ref"].standard_uncertainty.to("uV").m == pytest.approx(spec_uv / math.sqrt(3))
    # the 10 V standard the 3458A was calibrated against that day: U = 1 ppm (k = 2): 5 µV at 10 V
    assert rows["dV_1"].standard_uncertainty.to("uV").m == pytest.approx(5.0)
    # TUR: 140 µV / U ≈ 10 (by the 1-year figures it was 1.5)
    assert 8 < p.tur < 14


def test_the_certificate_says_error_of_the_output_setting(verified, dcc_schema_dir):
    files = verified[0].files
    doc = etree.parse(str(files["xml"]))
    schema = etree.XMLSchema(etree.parse(str(dcc_schema_dir / "v3.3.0" / "dcc.xsd")))
    assert schema.validate(doc), schema.error_log
    names = {n.text for n in doc.iter("{https://ptb.de/dcc}content")}
    assert "Error of the output setting" in names and "Error of indication" not in names
    data = json.loads(files["json"].read_bytes())
    assert data["measurement_model"] == "error of output"


# -- the 3458A by its calibration certificate ------------------------------------------------

SMALL = """\
procedure: {{id: F5522A-DCV-CERT, title: 5522A DCV with a certified 3458A, version: "1",
            method: Direct measurement}}
dut: fluke_5522a
standard: keysight_3458a
function: DCV
reference: {{certificate: {cert}}}
settings: {{nplc: 100, autozero: true, readings: 5, settle_time: 1 s}}
decision_rule: simple-acceptance
contributions:
  - {{name: thermal_emf, distribution: rectangular, half_width: 0.5 uV}}
points:
  - {{range: 1 V, nominal: 1 V}}
  - {{range: 10 V, nominal: [10 V, -10 V]}}
"""


def _certificate(path, values, *, due="2099-01-31", serial="2823A05432", model="3458A"):
    lines = [f"- {{function: DCV, range: {r}, at: {at}, error: {e!r} V, U: 1.0 uV, k: 2}}"
             for r, at, e in values]
    path.write_text(f"""\
certificate_id: SIM-CAL-3458A-7
laboratory: National Metrology Institute (simulated)
date: 2026-03-02
due: {due}
item: {{manufacturer: Keysight Technologies, model: {model}, serial: "{serial}"}}
values:
""" + "".join(f"  {x}\n" for x in lines))
    return path


def test_by_its_certificate_the_3458a_measures_the_5522a_far_better(tmp_path, lab_file):
    with SimulatedLab(seed=12, latency="zero", dmm_model="keysight_3458a", dut="source") as lab:
        # what an NMI would certify: the simulated 3458A's true error at each point
        certified = [(r, at, lab.truth.indication("DCV", rv, at, None, True) - at)
                     for r, rv, at in (("1 V", 1.0, 1.0), ("10 V", 10.0, 10.0),
                                       ("10 V", 10.0, -10.0))]
        _certificate(tmp_path / "cert.yaml", [(r, f"{at} V", e) for r, at, e in certified])
        proc = tmp_path / "proc.yaml"
        proc.write_text(SMALL.format(cert="cert.yaml"))
        outcome = _calibrate(proc, tmp_path, lab, lab_file)
        truth = {p.point_id: lab.truth.dut_error_at_setting(p.function, p.range, p.nominal)
                 for p in outcome.result.points}
    for p in outcome.result.points:
        rows = {r.name: r for r in p.budget.rows}
        assert "certificate SIM-CAL-3458A-7" in rows["dX_ref"].source
        assert rows["dX_ref"].standard_uncertainty.to("uV").m == pytest.approx(0.5)
        # U by the certificate is a few µV, not the ~93 µV of the specification at 10 V
        assert p.expanded_uncertainty.to("uV").m < 10
        assert abs(p.error - truth[p.point_id].to(p.error.units)) <= p.expanded_uncertainty


def test_an_overdue_certificate_or_another_serial_is_refused_before_measuring(tmp_path, lab_file):
    values = [("1 V", "1 V", 1e-6), ("10 V", "10 V", 2e-6), ("10 V", "-10 V", -2e-6)]
    proc = tmp_path / "proc.yaml"
    proc.write_text(SMALL.format(cert="cert.yaml"))
    with SimulatedLab(seed=12, latency="zero", dmm_model="keysight_3458a", dut="source") as lab:
        _certificate(tmp_path / "cert.yaml", values, due=(dt.date.today() - dt.timedelta(days=1)).isoformat())
        with pytest.raises(ReferenceNotUsable, match="SIM-CAL-3458A-7 .* was due on"):
            _calibrate(proc, tmp_path, lab, lab_file)
        assert lab.dmm.history == []                       # no instrument was touched
        _certificate(tmp_path / "cert.yaml", values, serial="2823A99999")
        with pytest.raises(ReferenceNotUsable, match="is for serial 2823A99999, but the "
                                                     "connected Keysight Technologies 3458A is "
                                                     "serial 2823A05432"):
            _calibrate(proc, tmp_path, lab, lab_file)
        assert "TRIG SGL" not in lab.dmm.history           # identified, nothing measured
        assert lab.calibrator_state()["operate"] is False
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_3458a_lost_mid_run_leaves_the_5522a_in_standby_and_the_run_resumes(tmp_path,
                                                                                 lab_file):
    """The 3458A's connection drops at the third trigger: the readings taken stay in the
    journal, the calibrator goes to standby, and resuming completes the run."""
    from labauto.visa import TransientVisaError

    TIMEOUT_MS = 500
    proc = tmp_path / "proc.yaml"
    # (NPLC 1: the read of a dropped connection times out after about 0.6 s, not 6.5 s)
    proc.write_text(SMALL.replace("reference: {{certificate: {cert}}}\n", "")
                    .replace("nplc: 100", "nplc: 1").format())
    with SimulatedLab(seed=13, latency="zero", dmm_model="keysight_3458a", dut="source") as lab:
        kw = dict(dut_resource=lab.resources["calibrator"], standard_resource=lab.resources["dmm"],
                  runs_dir=tmp_path / "runs", out_dir=tmp_path / "certificates",
                  settle_scale=0.0, timeout_ms=TIMEOUT_MS, publish=False, lab_file=lab_file)
        lab.inject_fault("dmm", "drop", on="TRIG SGL", count=1)
        with pytest.raises(TransientVisaError, match="3458A"):
            run_calibration(proc, **kw)
        assert lab.calibrator_state()["operate"] is False
        folder = next((tmp_path / "runs").iterdir())
        outcome = run_calibration(proc, resume_folder=folder, **kw)
    assert [p.point_id for p in outcome.result.points] == ["DCV-1V-+1V", "DCV-10V-+10V",
                                                           "DCV-10V--10V"]

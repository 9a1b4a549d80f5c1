"""A programmable DC power supply under test (Keysight E36312A, three outputs) against the
3458A, end to end on the coupled simulated lab: setting accuracy of voltage and current, the
readback, constant-voltage / constant-current physics into the load resistor; and the bad
input a supply's procedure can hold (compliance, channels, readback), refused by file:line."""
from __future__ import annotations

import json

import pytest

from labauto.calibration import run_calibration
from labauto.drivers import open_instrument
from labauto.procedure import ProcedureError, load_procedure
from labauto.sim import SimulatedLab
from labauto.units import Q_
from labauto.visa import UnsafeRequestError

from tests.sources.simulated_run import ROOT, run_source_procedure

PROCEDURE = ROOT / "procedures" / "keysight_e36312a_verification.yaml"


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    plan, outcome, truth, auto, (history, operate) = run_source_procedure(
        PROCEDURE, tmp_path_factory.mktemp("psu"), 31,
        lambda lab: (list(lab.calibrator.history), lab.calibrator_state()["operate"]))
    return plan, outcome, truth, history, operate, auto


def test_the_verification_plan():
    p = load_procedure(PROCEDURE)
    assert (p.direction, p.load) == ("source", Q_(2, "ohm"))
    ids = [q.id for q in p.points]
    assert ids[:6] == ["DCV-1V-+0.6V-ch1", "DCV-10V-+6V-ch1", "DCV-10V-+6V-ch1-readback",
                       "DCI-100mA-+100mA-ch1", "DCI-1A-+1A-ch1", "DCI-1A-+1A-ch1-readback"]
    # output 2's setting accuracy at 25 V: ± (0.03 % + 10 mV) = 17.5 mV; its readback at 1 A
    # ± (0.1 % + 4 mA) = 5 mA, with the readback resolution 0.1 mA
    assert p.point("DCV-100V-+25V-ch2").tolerance.to("mV").m == pytest.approx(17.5)
    rb = p.point("DCI-1A-+1A-ch2-readback")
    assert rb.tolerance.to("mA").m == pytest.approx(5.0)
    assert rb.dut_range.resolution.to("mA").m == pytest.approx(0.1)


def test_setting_and_readback_errors_are_found_within_U(verified):
    plan, outcome, truth, history, operate, auto = verified
    result = outcome.result
    # 18 points through the 3458A's own inputs, 5 A of output 1 through an external shunt
    assert len(result.points) == 19 and result.overall_decision == "pass"
    assert len(auto.confirmed) == 7                      # the lead changes, one per set-up
    outside = [p.point_id for p in result.points
               if abs(p.error - truth[p.point_id].to(p.error.units)) > p.expanded_uncertainty]
    assert len(outside) <= 1, outside
    assert operate is False and history[-1].startswith("VOLT 0")   # left off, at zero


def test_a_readback_point_compares_the_supplys_measurement_with_the_3458a(verified):
    plan, outcome, truth, *_ = verified
    p = {q.point_id: q for q in outcome.result.points}["DCI-1A-+1A-ch2-readback"]
    rows = [r.name for r in p.budget.rows]
    assert rows[:4] == ["X_rb", "X_ref", "dX_ref", "dX_res"]
    x_rb = next(r for r in p.budget.rows if r.name == "X_rb")
    # E = mean readback − mean 3458A reading (its correction estimated 0 by specification)
    # + the procedure's corrections (the 3458A's shunt self-heating at 1 A: +58 ppm)
    corrections = sum(r.estimate.to("A").m for r in p.budget.rows if r.name.startswith("dI_"))
    assert corrections == pytest.approx(58e-6)
    assert p.error.to("A").m == pytest.approx(x_rb.estimate.to("A").m - p.reference.to("A").m
                                              + corrections, abs=1e-12)
    # every reading of the 3458A is journalled with the supply's readback taken with it
    records = [json.loads(x) for x in (outcome.run_folder / "journal.jsonl").read_text().splitlines()]
    rb = [r for r in records if r.get("point_id") == p.point_id and r["type"] == "reading"]
    assert len(rb) == 5 and all(abs(r["readback"] - 1.0) < 0.005 for r in rb)
    assert x_rb.estimate.to("A").m == pytest.approx(sum(r["readback"] for r in rb) / 5)


def test_a_readback_row_shows_the_supplys_readback_as_its_indication(verified):
    """The row of a readback point states the supply's own readback (the indication whose
    error it is) beside the 3458A's mean, the reference value, in every certificate format."""
    plan, outcome, *_ = verified
    records = [json.loads(x) for x in (outcome.run_folder / "journal.jsonl").read_text().splitlines()]
    for pid in ("DCV-100V-+25V-ch2-readback", "DCI-1A-+1A-ch3-readback"):
        p = {q.point_id: q for q in outcome.result.points}[pid]
        recs = [r for r in records if r.get("point_id") == pid and r["type"] == "reading"]
        readback = sum(r["readback"] for r in recs) / len(recs)
        meter = sum(r["value"] for r in recs) / len(recs)
        unit = p.nominal.units
        assert p.mean.to(recs[0]["unit"]).m == pytest.approx(readback, abs=1e-12)
        assert p.reference.to(recs[0]["unit"]).m == pytest.approx(meter, abs=1e-12)
        assert p.readbacks == tuple(r["readback"] for r in recs)
        corrections = sum(r.estimate.to(unit).m for r in p.budget.rows if r.name.startswith("d")
                          and r.name != "dX_ref")     # the procedure's corrections (shunt heating)
        assert p.error.to(unit).m == pytest.approx((p.mean - p.reference).to(unit).m + corrections,
                                                   abs=1e-12)
        # the supply's readback differs from the 3458A's mean by more than its rounding
        assert abs(readback - meter) > 1e-5
    files = outcome.issued.files
    data = json.loads(files["json"].read_text())
    row = next(q for q in data["points"] if q["point_id"] == "DCV-100V-+25V-ch2-readback")
    assert len(row["readbacks"]) == 5
    assert row["mean"]["value"] == pytest.approx(sum(row["readbacks"]) / 5, abs=1e-12)
    from lxml import etree
    dcc = "{https://ptb.de/dcc}"
    names = {q.find(f"{dcc}name/{dcc}content").text
             for q in etree.fromstring(files["xml"].read_bytes()).iter(f"{dcc}quantity")
             if q.get("refType") == "basic_measuredValue"}
    assert names == {"Mean reading of the reference meter", "Mean readback of the source"}
    from pypdf import PdfReader
    text = " ".join(page.extract_text() for page in PdfReader(files["pdf"]).pages)
    assert "Mean readback of the source" in " ".join(text.split())


def test_current_points_run_in_constant_current_into_the_load():
    plan = load_procedure(PROCEDURE)
    with SimulatedLab(seed=31, latency="zero", dmm_model="keysight_3458a",
                      calibrator_model="keysight_e36312a", dut="source",
                      load_resistance=Q_(2, "ohm")) as lab:
        with open_instrument(lab.resources["dmm"], "keysight_3458a") as dmm, \
                open_instrument(lab.resources["calibrator"], "keysight_e36312a") as psu:
            dmm.configure("DCI", Q_(1, "A"))
            psu.apply("DCI", Q_(1, "A"), channel=2)
            psu.operate()
            v, i, mode = lab.calibrator.terminals(2)
            # the voltage setting goes to the output's rating (25 V): the 2 Ω + 0.1 Ω shunt
            # take ~2.1 V at the true current limit, so the supply regulates the current
            assert mode == "CC" and v == pytest.approx(2.1 * i, rel=1e-9)
            assert i == pytest.approx(1.0 + lab.truth.source_error(
                "DCI", plan.dut_model.function("DCI").range_for(Q_(1, "A"), 2), 1.0))
            # a 1 Ω load at 3 V on output 1 with a 5 A limit: constant voltage, I = V / R
            dmm.configure("DCI", Q_(1, "A"))
            psu.apply("DCV", Q_(0.2, "V"), channel=1)
            psu.operate()
            v, i, mode = lab.calibrator.terminals(1)
            assert mode == "CV" and i == pytest.approx(v / 2.1)
            with pytest.raises(UnsafeRequestError, match="outside every DCV range of channel 1"):
                psu.apply("DCV", Q_(7, "V"), channel=1)


# -- bad input -----------------------------------------------------------------------------

BAD = """\
procedure: {{id: PSU-BAD, title: t, version: "1", method: m}}
dut: keysight_e36312a
standard: keysight_3458a
load: {load}
settings: {{readings: 3, settle_time: 1 s}}
decision_rule: simple-acceptance
points:
  - {point}
"""


@pytest.mark.parametrize("load, point, reason", [
    # 1 A through 30 Ω + the 3458A's 0.1 Ω shunt needs 30.1 V; output 2 gives at most 25 V
    ("30 ohm", "{function: DCI, range: 1 A, nominal: 1 A, settings: {channel: 2}}",
     "1 A through the 30 Ω load and the 1 A range's 0.1 Ω shunt needs 30.1 V, beyond the "
     "Keysight Technologies E36312A's compliance voltage 25 V on this range (channel 2); use a "
     "smaller load"),
    ("2 ohm", "{function: DCI, range: 1 A, nominal: 1 A, settings: {channel: 4}}",
     "channel 4 is not offered by the Keysight Technologies E36312A on DCI"),
    ("2 ohm", "{function: DCV, range: 10 V, nominal: 7 V, settings: {channel: 1}}",
     "nominal 7 V is beyond channel 1 of the dut Keysight Technologies E36312A"),
    ("2 ohm", "{function: DCV, range: 10 V, nominal: 6 V, settings: {channel: 1}, readback: 1}",
     "readback is true or false"),
    ("-2 ohm", "{function: DCV, range: 10 V, nominal: 6 V}",
     "load must be a positive resistance"),
])
def test_bad_power_supply_points_are_refused_by_line(tmp_path, load, point, reason):
    proc = tmp_path / "psu.yaml"
    proc.write_text(BAD.format(load=load, point=point))
    with pytest.raises(ProcedureError) as exc:
        load_procedure(proc)
    assert reason in str(exc.value)
    line = 4 if reason.startswith("load") else 8
    assert f"{proc}:{line}:" in str(exc.value)


def test_a_readback_point_needs_a_source_under_test(tmp_path):
    proc = tmp_path / "meter.yaml"
    proc.write_text("""\
procedure: {id: RB-METER, title: t, version: "1", method: m}
dut: keysight_34465a
standard: fluke_5522a
settings: {readings: 3, settle_time: 1 s}
decision_rule: simple-acceptance
points:
  - {function: DCV, range: 10 V, nominal: 10 V, readback: true}
""")
    with pytest.raises(ProcedureError, match=r"meter.yaml:7: readback: true compares a source "
                                             r"under test's own measurement"):
        load_procedure(proc)


def test_an_instrument_error_on_a_readback_stops_the_point_with_every_output_off(tmp_path):
    """The supply rejects its MEAS:CURR? (fault injection): the point stops naming the
    instrument and the command, the readings taken stay journalled, the outputs end off."""
    proc = tmp_path / "rb.yaml"
    proc.write_text(BAD.format(load="2 ohm", point="{function: DCI, range: 1 A, nominal: 1 A, "
                                                   "settings: {channel: 3}, readback: true}"))
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text((ROOT / "labauto" / "data" / "lab.yaml").read_text())
    from labauto.visa import InstrumentError

    with SimulatedLab(seed=5, latency="zero", dmm_model="keysight_3458a",
                      calibrator_model="keysight_e36312a", dut="source",
                      load_resistance=Q_(2, "ohm")) as lab:
        lab.inject_fault("calibrator", "error", on=r"MEAS:CURR\?", count=1, code=-230,
                         message="Data corrupt or stale")
        with pytest.raises(InstrumentError, match=r'E36312A .*-230,"Data corrupt or stale" '
                                                  r"after command 'MEAS:CURR\? \(@3\)'"):
            run_calibration(proc, dut_resource=lab.resources["calibrator"],
                            standard_resource=lab.resources["dmm"], runs_dir=tmp_path / "runs",
                            out_dir=tmp_path / "certificates", settle_scale=0.0,
                            timeout_ms=2000, publish=False, lab_file=lab_file)
        assert not any(c.on for c in lab.calibrator.channels.values())
        assert lab.calibrator.history[-1].startswith("VOLT 0")
    journal = next((tmp_path / "runs").iterdir()) / "journal.jsonl"
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [r["type"] for r in records if r.get("point_id")][-2:] == ["reading", "point_failed"]


def test_labauto_validate_simulates_the_supplys_procedure_readbacks_included():
    """labauto validate's simulated calibration runs every point of the supply's procedure
    (its readbacks journalled in memory, the load wired, the truth on each point's channel)."""
    from labauto.validation.montecarlo import simulate_run

    run = simulate_run(load_procedure(PROCEDURE), seed=7)
    assert run.error == ""
    assert len(run.points) == 19          # with output 1's 5 A through the external shunt
    rb = {p.point_id: p for p in run.points}["DCI-1A-+1A-ch3-readback"]
    assert abs(rb.measured - rb.true) <= rb.expanded

"""As found, adjustment, as left (ISO/IEC 17025 7.8.4.1): a procedure declares an adjustment
policy; the simulated 34465A, out of tolerance on its 10 V range, is found failing, adjusted with
its own calibration commands (described in its model file; the simulated lab's true errors
change), measured again, and the certificate states both results in the JSON, DCC and PDF."""
from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from lxml import etree

from labauto.calibration import run_calibration
from labauto.engine.adjustment import records
from labauto.engine.operator import AutoConfirm, set_operator
from labauto.engine.run import open_run
from labauto.procedure import load_procedure
from labauto.procedure.schema import ProcedureError
from labauto.sim import SimulatedLab

ROOT = Path(__file__).resolve().parents[2]
ADJ = ROOT / "procedures" / "keysight_34465a_dcv_adjust.yaml"
NS = {"dcc": "https://ptb.de/dcc", "si": "https://ptb.de/si"}


@pytest.fixture(scope="module")
def adjusted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adj")
    previous = set_operator(AutoConfirm())
    try:
        with SimulatedLab(seed=21, latency="zero", out_of_tolerance="10 V") as lab:
            before = {p.id: lab.truth.dut_error_at_setting(p.function, p.range, p.nominal)
                      for p in load_procedure(ADJ).points}
            outcome = run_calibration(ADJ, dut_resource=lab.resources["dmm"],
                                      standard_resource=lab.resources["calibrator"],
                                      runs_dir=folder / "runs", out_dir=folder / "certificates",
                                      settle_scale=0.0, timeout_ms=5000, publish=False)
            after = {p.point_id: lab.truth.dut_error_at_setting(p.function, p.range, p.nominal)
                     for p in outcome.result.as_left_points}
            adjustments = list(lab.truth.adjustments)
            operate = lab.calibrator_state()["operate"]
    finally:
        set_operator(previous)
    return outcome, before, after, adjustments, operate


def test_found_out_of_tolerance_adjusted_and_left_in_tolerance(adjusted):
    outcome, before, after, adjustments, operate = adjusted
    r = outcome.result
    assert operate is False                                   # the calibrator is left in standby
    assert [p.decision for p in r.points] == ["pass", "fail", "fail", "fail", "pass"]
    assert [p.decision for p in r.as_left_points] == ["pass"] * 5
    assert (r.as_found_decision, r.overall_decision, r.adjusted) == ("fail", "pass", True)
    # the adjustment really changed the simulated meter: zero and full scale of every range
    assert adjustments == [("DCV", 0.1, 0.0), ("DCV", 0.1, 0.1), ("DCV", 10.0, 0.0),
                           ("DCV", 10.0, 10.0), ("DCV", 100.0, 0.0), ("DCV", 100.0, 100.0)]
    assert abs(before["DCV-10V-+10V"].to("uV").magnitude) > 800        # out of tolerance (400 µV)
    assert abs(after["DCV-10V-+10V"].to("uV").magnitude) < 40
    # as found and as left, each measured error lies within U of the true error of its time
    # (at 95 % coverage one point in twenty may lie outside U: all within 2 U, most within U)
    for points, truth in ((r.points, before), (r.as_left_points, after)):
        off = [abs(p.error - truth[p.point_id].to(p.error.units)) / p.expanded_uncertainty
               for p in points]
        assert max(off) <= 2 and sum(x <= 1 for x in off) >= len(off) - 1, off
    run = open_run(outcome.run_folder)
    [decision] = records(run, "adjustment_decision")
    assert decision["adjust"] is True and decision["policy"] == "tolerance-used"
    assert "largest: DCV-10V-0V" in decision["reason"]
    assert [p["id"] for p in records(run, "adjustment_point")] == [
        "ADJ-DCV-100mV-zero", "ADJ-DCV-100mV-gain", "ADJ-DCV-10V-zero", "ADJ-DCV-10V-gain",
        "ADJ-DCV-100V-zero", "ADJ-DCV-100V-gain"]
    assert {a["answer"] for a in records(run, "adjustment_point")} == {"+0"}


def test_certificate_states_as_found_adjustment_and_as_left(adjusted, dcc_schema_dir):
    from labauto.platform.server.schematron import RuleBook

    outcome = adjusted[0]
    data = json.loads(outcome.files["json"].read_bytes())
    assert (data["adjusted"], data["as_found_decision"], data["overall_decision"]) == (True, "fail", "pass")
    assert len(data["as_left_points"]) == 5 and data["as_left_functions"][0]["decision"] == "pass"
    assert data["adjustment"]["policy"] == "tolerance-used" and len(data["adjustment"]["points"]) == 6
    root = etree.fromstring(outcome.files["xml"].read_bytes())
    schema = etree.XMLSchema(etree.parse(str(dcc_schema_dir / "v3.3.0" / "dcc.xsd")))
    assert schema.validate(root), schema.error_log
    report = RuleBook(dcc_schema_dir, processes=0).check(root, "3.3.0")
    assert not report.errors and not report.warnings, [f.text() for f in report.errors + report.warnings]
    names = [mr.findtext("dcc:name/dcc:content", namespaces=NS)
             for mr in root.findall(".//dcc:measurementResult", NS)]
    assert [n.rsplit("— ", 1)[1] for n in names] == ["as found (before adjustment)",
                                                     "as left (after adjustment)"]
    left = root.findall(".//dcc:measurementResult", NS)[1]
    assert left.find("dcc:usedMethods/dcc:usedMethod[@refType='labauto_adjustment']", NS) is not None
    conformity = [c.text for c in left.iterfind(".//dcc:metaData/dcc:conformity", NS)]
    assert conformity == ["pass"] * 5
    statement = root.findtext(".//dcc:statement[@refType='labauto_adjustment']/dcc:declaration/"
                              "dcc:content", namespaces=NS)
    assert statement.startswith("adjusted during the calibration at 6 adjustment points (policy: "
                                "adjust if any as-found point uses more than 70 % of its tolerance")
    doc = pdfium.PdfDocument(str(outcome.files["pdf"]))
    text = " ".join(" ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).split())
    for s in ("Results as found: DCV — DC voltage (V)", "As-found result: FAIL; as-left result: PASS",
              "Results as left: DCV — DC voltage (V)", "DCV range 10 V at 10 V",
              "Overall result: PASS as left (as found: FAIL)", "Budgets as left: DCV"):
        assert s in text, s
    assert text.index("Results as found") < text.index("Adjustment The item") < text.index("Results as left")
    for i in range(len(doc)):                    # every page as a reader sees it
        ink = doc[i].render(scale=1).to_numpy().min(axis=2) < 128
        assert ink[: 842 - 60].sum() > 2000, f"page {i + 1} looks empty"
        assert not ink[:, :40].any() and not ink[:, 596 - 40:].any(), f"page {i + 1}: ink in a margin"
        assert f"Page {i + 1} of {len(doc)}" in doc[i].get_textpage().get_text_range()


def test_policies_decide_from_the_as_found_results(make_cal_result_points):
    from labauto.procedure.adjustment import Adjustment

    plan = load_procedure(ADJ).adjustment
    passing, failing = make_cal_result_points
    assert plan.decide(passing) == (False, "no as-found point used more than 70 % of its tolerance")
    always = Adjustment("always", None, plan.points, plan.commands)
    assert always.decide(passing) == (True, "the procedure adjusts always")
    on_fail = Adjustment("if-any-fails", None, plan.points, plan.commands)
    assert on_fail.decide(passing) == (False, "every as-found point passed")
    adjust, reason = on_fail.decide(failing)
    assert adjust and reason == "as found, 1 point(s) did not pass: P08"


@pytest.fixture()
def make_cal_result_points():
    import importlib.util

    # the certificate tests' hand-built result (tests/certificate/conftest.py)
    spec = importlib.util.spec_from_file_location("certificate_conftest",
                                                  ROOT / "tests" / "certificate" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    r = module.make_result()
    failing = r.points
    passing = tuple(p for p in r.points if p.decision == "pass" and p.tolerance_used < 0.7)
    return passing, failing


@pytest.mark.parametrize("text, line_text, reason", [
    ("adjustment:\n  policy: sometimes\n", "policy: sometimes", "unknown adjustment policy"),
    ("adjustment:\n  policy: tolerance-used\n", "adjustment:", "needs tolerance_used_above"),
    ("adjustment:\n  policy: tolerance-used\n  tolerance_used_above: 150 %\n",
     "tolerance_used_above", "at most 100 %"),
])
def test_bad_adjustment_sections_name_their_line(tmp_path, text, line_text, reason):
    src = (ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml").read_text() + text
    path = tmp_path / "p.yaml"
    path.write_text(src)
    line = next(i for i, l in enumerate(src.splitlines(), 1) if line_text in l)
    with pytest.raises(ProcedureError) as err:
        load_procedure(path)
    assert f"{line}" in str(err.value) and reason in str(err.value), str(err.value)


def test_a_model_without_adjustment_commands_is_refused(tmp_path):
    src = (ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml").read_text() \
        .replace("dut: keysight_34465a", "dut: keysight_34401a") + "adjustment:\n  policy: always\n"
    path = tmp_path / "p.yaml"
    path.write_text(src)
    with pytest.raises(ProcedureError, match="describes no adjustment"):
        load_procedure(path)


def test_an_interrupted_adjustment_resumes_and_the_meter_is_secured_again(tmp_path, monkeypatch):
    """Ctrl-C during the adjustment: the calibrator is in standby, the meter's calibration is
    secured again, nothing is stored; the resumed run keeps its decision, adjusts from the first
    point again and measures as left."""
    import labauto.drivers.adjustment as drv

    real = drv.adjusting
    calls = {"n": 0}

    def interrupted(meter, commands, code=None):
        cm = real(meter, commands, code)

        class Wrapped:
            def __enter__(self):
                adjust = cm.__enter__()

                def adjust_then_stop(value):
                    calls["n"] += 1
                    if calls["n"] == 3:
                        raise KeyboardInterrupt("Ctrl-C")
                    return adjust(value)
                return adjust_then_stop

            def __exit__(self, *exc):
                return cm.__exit__(*exc)
        return Wrapped()

    previous = set_operator(AutoConfirm())
    try:
        with SimulatedLab(seed=21, latency="zero", out_of_tolerance="10 V") as lab:
            kwargs = dict(dut_resource=lab.resources["dmm"], standard_resource=lab.resources["calibrator"],
                          runs_dir=tmp_path / "runs", out_dir=tmp_path / "certificates",
                          settle_scale=0.0, timeout_ms=5000, publish=False)
            monkeypatch.setattr(drv, "adjusting", interrupted)
            with pytest.raises(KeyboardInterrupt):
                run_calibration(ADJ, **kwargs)
            assert lab.calibrator_state()["operate"] is False
            assert lab.dmm.cal_secured is True                 # secured again after the interrupt
            [folder] = (tmp_path / "runs").iterdir()
            run = open_run(folder)
            assert len(records(run, "adjustment_decision")) == 1
            assert len(records(run, "adjustment_point")) == 2 and not records(run, "adjustment_done")
            monkeypatch.setattr(drv, "adjusting", real)
            outcome = run_calibration(ADJ, resume_folder=folder, **kwargs)
            adjustments = list(lab.truth.adjustments)
    finally:
        set_operator(previous)
    assert len(records(open_run(folder), "adjustment_decision")) == 1      # decided once
    assert len(adjustments) == 2 + 6                                     # redone from the start
    assert [p.decision for p in outcome.result.as_left_points] == ["pass"] * 5
    assert outcome.result.adjusted

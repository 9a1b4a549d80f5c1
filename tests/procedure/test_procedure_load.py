"""Loading the shipped procedures, tolerances from the DUT specification, and the plan's data.

Tolerances are hand-computed from instruments/keysight_34465a/model.yaml (1 year,
± (% of reading + % of range)); the standard's specification from instruments/fluke_5522a
(± (ppm of output + floor), 99 %).
"""
import hashlib
import json
import math

import pytest

from labauto.instruments import load_instrument_model
from labauto.procedure import Procedure, load_procedure, point_id
from labauto.results import DecisionRuleRef, ProcedureRef
from labauto.units import Q_

from procedure_base import ROOT, text_with

FULL = ROOT / "procedures" / "keysight_34465a_dcv.yaml"
QUICK = ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml"


@pytest.fixture(scope="module")
def full() -> Procedure:
    return load_procedure(FULL)


def test_main_procedure_loads(full):
    assert full.id == "KS34465A-DCV" and full.version == "1.0"
    assert "EURAMET cg-15" in full.method
    assert full.function == "DCV"
    assert full.dut_model is load_instrument_model("keysight_34465a")
    assert full.standard_model.model == "5522A"
    assert (full.nplc, full.autozero, full.readings) == (10.0, True, 6)
    assert full.settle_time == Q_(1, "s")
    assert full.sha256 == hashlib.sha256(FULL.read_bytes()).hexdigest()
    assert full.path == FULL
    assert full.decision_rule.name == "simple-acceptance"
    assert [c.name for c in full.contributions] == ["thermal_emf", "loading"]
    assert 12 <= len(full.points) <= 15
    assert {p.range for p in full.points} == {Q_(100, "mV"), Q_(1, "V"), Q_(10, "V"),
                                              Q_(100, "V"), Q_(1000, "V")}
    ids = [p.id for p in full.points]
    assert len(set(ids)) == len(ids)
    assert [p.index for p in full.points] == list(range(len(full.points)))
    assert all(p.readings == 6 for p in full.points)
    assert full.point("DCV-1000V-+1000V").settle_time == Q_(2, "s")


def test_quick_procedure_loads_with_10v_range_and_others():
    quick = load_procedure(QUICK)
    assert 3 <= len(quick.points) <= 4
    assert any(p.range == Q_(10, "V") for p in quick.points)
    assert any(p.range != Q_(10, "V") for p in quick.points)
    assert quick.id != load_procedure(FULL).id


@pytest.mark.parametrize("pid, expected", [
    # 0.0035 % x 10 V + 0.0005 % x 10 V = 350 µV + 50 µV
    ("DCV-10V-+10V", Q_(400, "uV")),
    ("DCV-10V--10V", Q_(400, "uV")),
    # 0.0035 % x 1 V + 0.0005 % x 10 V = 35 µV + 50 µV
    ("DCV-10V-+1V", Q_(85, "uV")),
    # 0.0035 % x 5 V + 50 µV = 175 µV + 50 µV
    ("DCV-10V-+5V", Q_(225, "uV")),
    # 0.0050 % x 100 mV + 0.0035 % x 100 mV = 5 µV + 3.5 µV
    ("DCV-100mV-+100mV", Q_(8.5, "uV")),
    # 0.0050 % x 10 mV + 0.0035 % x 100 mV = 0.5 µV + 3.5 µV
    ("DCV-100mV-+10mV", Q_(4.0, "uV")),
    # 0.0040 % x 1 V + 0.0007 % x 1 V = 40 µV + 7 µV
    ("DCV-1V-+1V", Q_(47, "uV")),
    # 0.0045 % x 100 V + 0.0006 % x 100 V = 4.5 mV + 0.6 mV
    ("DCV-100V-+100V", Q_(5.1, "mV")),
    # 0.0045 % x 1000 V + 0.0010 % x 1000 V = 45 mV + 10 mV
    ("DCV-1000V-+1000V", Q_(55, "mV")),
    # 0.0045 % x 100 V + 0.0010 % x 1000 V = 4.5 mV + 10 mV
    ("DCV-1000V-+100V", Q_(14.5, "mV")),
])
def test_tolerances_from_the_dut_specification(full, pid, expected):
    p = full.point(pid)
    assert p.tolerance.units == p.nominal.units
    assert p.tolerance.to("uV").magnitude == pytest.approx(expected.to("uV").magnitude, rel=1e-12)


@pytest.mark.parametrize("pid, std_range, expected", [
    # 5522A: 12 ppm x 10 V + 20 µV = 140 µV on the 32.99999 V range
    ("DCV-10V-+10V", Q_(32.99999, "V"), Q_(140, "uV")),
    # 20 ppm x 100 mV + 1 µV = 3 µV on the 329.9999 mV range
    ("DCV-100mV--100mV", Q_(329.9999, "mV"), Q_(3, "uV")),
    # 11 ppm x 1 V + 2 µV = 13 µV on the 3.299999 V range
    ("DCV-10V-+1V", Q_(3.299999, "V"), Q_(13, "uV")),
    # 18 ppm x 1000 V + 1500 µV = 19.5 mV on the 1020 V range
    ("DCV-1000V-+1000V", Q_(1020, "V"), Q_(19.5, "mV")),
])
def test_standard_range_and_spec(full, pid, std_range, expected):
    p = full.point(pid)
    assert p.standard_range.range == std_range
    assert p.standard_spec.to("uV").magnitude == pytest.approx(expected.to("uV").magnitude)
    assert p.dut_range.range == p.range


def test_point_ids_are_stable_and_ascii(write):
    rng = load_instrument_model("keysight_34465a").function("DCV").range_named(Q_(100, "mV"))
    assert point_id("DCV", rng, Q_(-100, "mV")) == "DCV-100mV--100mV"
    assert point_id("DCV", rng, Q_(0, "mV")) == "DCV-100mV-0mV"
    assert point_id("DCV", rng, Q_(500, "uV")) == "DCV-100mV-+500uV"
    p = load_procedure(write(text_with(extra=["  - {range: 10 V, nominal: 0 V}",
                                              "  - {id: my-zero, range: 1 V, nominal: 0 V}"])))
    assert [pt.id for pt in p.points][-2:] == ["DCV-10V-0V", "my-zero"]
    # the tolerance at 0 is the range term only: 0.0005 % x 10 V = 50 µV
    assert p.points[-2].tolerance.to("uV").magnitude == pytest.approx(50)


def test_per_point_settings_override_defaults(write):
    p = load_procedure(write(text_with()))
    assert [pt.readings for pt in p.points] == [5, 5, 5, 20, 20, 5]
    assert [pt.settle_time for pt in p.points] == [Q_(2, "s")] * 5 + [Q_(5, "s")]


def test_refs_for_results(full):
    assert full.ref == ProcedureRef(full.id, full.title, full.version, str(FULL), full.sha256)
    ref = full.decision_rule.ref
    assert isinstance(ref, DecisionRuleRef) and ref.name == "simple-acceptance"
    assert ref.description == full.decision_rule.statement


def test_decision_rule_decides_with_the_point_tolerance(full):
    p = full.point("DCV-10V-+10V")
    d = full.decision_rule.decide(Q_(390, "uV"), Q_(110, "uV"), p.tolerance)
    assert d.decision == "pass" and d.acceptance_limit.to("uV").magnitude == pytest.approx(400)
    assert full.decision_rule.decide(Q_(-0.41, "mV"), Q_(110, "uV"), p.tolerance).decision == "fail"


def test_to_dict_is_json(full):
    d = json.loads(json.dumps(full.to_dict()))
    assert d["id"] == "KS34465A-DCV" and d["dut"] == "keysight_34465a"
    assert d["settings"] == {"nplc": 10.0, "autozero": True, "readings": 6,
                             "settle_time": {"value": 1, "unit": "s"},
                             "plausibility_limit": 10.0}
    assert d["decision_rule"]["name"] == "simple-acceptance"
    assert d["contributions"][0]["name"] == "thermal_emf"
    assert d["contributions"][0]["label"].startswith("thermal EMFs of the low-thermal copper")
    assert {k: v for k, v in d["contributions"][0].items() if k != "label"} == {
        "name": "thermal_emf", "distribution": "rectangular",
        "half_width": {"value": 0.3, "unit": "µV"}}
    pt = next(x for x in d["points"] if x["id"] == "DCV-10V-+10V")
    assert pt["tolerance"]["unit"] == "V" and pt["tolerance"]["value"] == pytest.approx(400e-6)
    assert pt["standard_range"] == {"value": 32.99999, "unit": "V"}


def test_instrument_given_as_a_path_next_to_the_procedure(write, tmp_path):
    folder = tmp_path / "my_instruments"
    (folder / "dmm").mkdir(parents=True)
    model = (ROOT / "instruments" / "keysight_34465a" / "model.yaml").read_text()
    (folder / "dmm" / "model.yaml").write_text(model.replace("simulation: sim.yaml", ""))
    p = load_procedure(write(text_with({6: "dut: my_instruments/dmm"})))
    assert p.dut_model.folder == folder / "dmm"
    assert math.isclose(p.points[0].tolerance.to("uV").magnitude, 4.0)

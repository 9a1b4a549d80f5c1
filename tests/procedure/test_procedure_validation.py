"""Every validation error names the file and the exact line of the mistake.

Each test breaks one line of the BASE procedure in conftest.py (line numbers are in its
comments) and asserts the line and the reason reported.
"""
import pytest

from labauto.errors import SourceError
from labauto.procedure import ProcedureError, load_procedure

from procedure_base import text_with


def only(err: ProcedureError) -> tuple[int | None, str]:
    assert len(err.problems) == 1, err.problems
    return err.problems[0]


def test_base_procedure_is_valid(write):
    p = load_procedure(write(text_with()))
    assert [pt.id for pt in p.points] == [
        "DCV-100mV-+10mV", "DCV-100mV-+100mV", "DCV-100mV--100mV",
        "DCV-10V-+1V", "DCV-10V-+10V", "DCV-1000V-+1000V"]
    assert [pt.line for pt in p.points] == [18, 18, 18, 19, 19, 21]


# -- unknown keys, anywhere ------------------------------------------------------------------
def test_unknown_top_level_key(problems):
    err = problems(extra=["colour: blue"])
    line, reason = only(err)
    assert line == 23 and "unknown key 'colour'" in reason
    assert err.line == 23 and err.reason == reason


def test_unknown_key_in_procedure_section_with_suggestion(problems):
    err = problems({3: "  titel: Test procedure"})
    found = dict(err.problems)
    assert set(found) == {1, 3}
    assert "unknown key 'titel'" in found[3] and "did you mean 'title'" in found[3]
    assert "missing the required key 'title'" in found[1]   # reported at the section key


def test_unknown_key_in_settings(problems):
    err = problems({12: "  readingz: 5"})
    found = dict(err.problems)
    assert "unknown key 'readingz'" in found[12] and "did you mean 'readings'" in found[12]
    assert "missing the required key 'readings'" in found[9]


def test_unknown_key_in_a_flow_point(problems):
    err = problems({19: "  - {range: 10 V, nominal: [1 V, 10 V], reading: 20}"})
    line, reason = only(err)
    assert line == 19 and "unknown key 'reading'" in reason and "did you mean 'readings'" in reason


def test_unknown_key_in_a_block_point_is_reported_on_its_own_line(problems):
    line, reason = only(problems({22: "    settle_tme: 5 s"}))
    assert line == 22 and "unknown key 'settle_tme'" in reason


def test_unknown_key_in_a_contribution(problems):
    line, reason = only(problems(
        {16: "  - {name: thermal_emf, distribution: rectangular, halfwidth: 1 uV}"}))
    assert line == 16 and "unknown key 'halfwidth'" in reason


def test_missing_required_top_level_key(problems):
    line, reason = only(problems({14: None}))   # delete decision_rule
    assert line == 1 and "missing the required key 'decision_rule'" in reason


# -- units ------------------------------------------------------------------------------------
def test_missing_unit_on_a_nominal(problems):
    line, reason = only(problems({21: "    nominal: 1000"}))
    assert line == 21 and "has no unit" in reason


def test_missing_unit_on_settle_time(problems):
    line, reason = only(problems({13: "  settle_time: 2"}))
    assert line == 13 and "has no unit" in reason


def test_incompatible_unit_on_a_nominal(problems):
    line, reason = only(problems({18: "  - {range: 100 mV, nominal: [10 mV, 10 A]}"}))
    assert line == 18 and "'10 A' has unit A" in reason and "DCV values are in V" in reason


def test_incompatible_unit_on_a_range(problems):
    line, reason = only(problems({19: "  - {range: 10 A, nominal: [1 V, 10 V]}"}))
    assert line == 19 and "'10 A' has unit A" in reason


def test_incompatible_unit_on_a_contribution(problems):
    line, reason = only(problems(
        {16: "  - {name: thermal_emf, distribution: rectangular, half_width: 1 uA}"}))
    assert line == 16 and "half_width" in reason and "in V" in reason


# -- ranges and capability --------------------------------------------------------------------
def test_point_outside_the_dut_range_limits(problems):
    # 1000 V range: full scale 1050 V
    line, reason = only(problems({21: "    nominal: 1100 V"}))
    assert line == 21
    assert "outside the limits of the 1000 V range" in reason and "1050 V" in reason


def test_point_outside_the_dut_range_in_a_flow_list(problems):
    line, reason = only(problems({19: "  - {range: 10 V, nominal: [1 V, 13 V]}"}))
    assert line == 19 and "13 V is outside the limits of the 10 V range" in reason


def test_point_beyond_the_standards_capability(problems):
    # within the DMM's 1000 V range (to 1050 V) but the 5522A sources at most 1020 V
    line, reason = only(problems({21: "    nominal: 1040 V"}))
    assert line == 21
    assert "beyond the capability of the standard Fluke 5522A" in reason and "1020 V" in reason


def test_unknown_dut_range(problems):
    line, reason = only(problems({19: "  - {range: 20 V, nominal: [1 V, 10 V]}"}))
    assert line == 19 and "no DCV range 20 V" in reason and "100 mV, 1 V, 10 V" in reason


def test_unknown_instrument_model(problems):
    line, reason = only(problems({6: "dut: keysight_99999"}))
    assert line == 6 and "unknown instrument model 'keysight_99999'" in reason
    assert "keysight_34465a" in reason   # lists the known models


def test_standard_that_is_not_a_calibrator(problems):
    line, reason = only(problems({7: "standard: keysight_34465a"}))
    assert line == 7 and "must be a calibrator" in reason


def test_unsupported_function(problems):
    line, reason = only(problems({8: "function: ACV"}))
    assert line == 8 and "function 'ACV' is not supported" in reason


def test_function_the_dut_model_lacks(problems, tmp_path, monkeypatch):
    model = tmp_path / "models" / "dmm_dci_only"
    model.mkdir(parents=True)
    (model / "model.yaml").write_text(
        "manufacturer: Acme\nmodel: DCI-1\nrole: digital_multimeter\ndriver: x:Y\n"
        "identity: '^Acme,DCI-1,(?P<serial>[^,]+),(?P<firmware>.+)$'\n"
        "functions:\n  DCI:\n    quantity: A\n    ranges:\n"
        "      - {range: 1 A, resolution: 1 uA, accuracy: {reading: 0.01 %}}\n")
    monkeypatch.setenv("LABAUTO_INSTRUMENTS_PATH", str(tmp_path / "models"))
    line, reason = only(problems({6: "dut: dmm_dci_only"}))
    assert line == 8 and "has no function 'DCV'" in reason and "it has DCI" in reason


def test_nplc_the_dut_does_not_offer(problems):
    line, reason = only(problems({10: "  nplc: 3"}))
    assert line == 10 and "NPLC 3 is not offered" in reason and "0.02, 0.06, 0.2, 1, 10, 100" in reason


# -- readings, rules, distributions, ids ------------------------------------------------------
@pytest.mark.parametrize("value", ["1", "0", "-3"])
def test_readings_below_two_in_settings(problems, value):
    line, reason = only(problems({12: f"  readings: {value}"}))
    assert line == 12 and "at least 2" in reason


def test_readings_below_two_on_a_point(problems):
    line, reason = only(problems({19: "  - {range: 10 V, nominal: [1 V, 10 V], readings: 1}"}))
    assert line == 19 and "readings must be at least 2" in reason


def test_readings_must_be_whole(problems):
    line, reason = only(problems({12: "  readings: 2.5"}))
    assert line == 12 and "whole number" in reason


def test_unknown_decision_rule(problems):
    line, reason = only(problems({14: "decision_rule: guard-band-X"}))
    assert line == 14 and "unknown decision rule 'guard-band-X'" in reason
    assert "simple-acceptance" in reason and "non-binary-guard-band-U" in reason


def test_unknown_distribution(problems):
    line, reason = only(problems(
        {16: "  - {name: thermal_emf, distribution: triangular, half_width: 1 uV}"}))
    assert line == 16 and "unknown distribution 'triangular'" in reason
    assert "rectangular or normal" in reason


def test_duplicate_point_ids(problems):
    err = problems(extra=["  - range: 10 V", "    nominal: 10 V"])
    line, reason = only(err)
    assert line == 24 and "duplicate point id 'DCV-10V-+10V' (first at line 19)" in reason


def test_duplicate_explicit_point_ids(problems):
    err = problems(extra=["  - {id: ZERO, range: 10 V, nominal: 0 V}",
                          "  - {id: ZERO, range: 100 mV, nominal: 0 mV}"])
    line, reason = only(err)
    assert line == 24 and "duplicate point id 'ZERO' (first at line 23)" in reason


def test_explicit_id_needs_a_single_nominal(problems):
    line, reason = only(problems(extra=["  - {id: TWO, range: 10 V, nominal: [2 V, 3 V]}"]))
    assert line == 23 and "explicit id names one point" in reason


def test_version_must_be_quoted_text(problems):
    line, reason = only(problems({4: "  version: 1.10"}))
    assert line == 4 and "quote it" in reason


# -- several problems at once, and YAML-level errors -------------------------------------------
def test_all_problems_are_reported_in_line_order(problems):
    err = problems({10: "  nplc: 3", 14: "decision_rule: nope", 21: "    nominal: 1100 V"})
    assert [line for line, _ in err.problems] == [10, 14, 21]
    message = str(err).splitlines()
    assert len(message) == 3
    assert message[0].endswith(f":10: {err.problems[0][1]}")
    assert ":14: " in message[1] and ":21: " in message[2]


def test_yaml_syntax_error_has_its_line(write):
    path = write(text_with({19: "  - {range: 10 V, nominal: [1 V, 10 V}"}))
    with pytest.raises(SourceError) as exc:
        load_procedure(path)
    assert exc.value.line == 19 and "not valid YAML" in exc.value.reason


def test_duplicate_yaml_key(write):
    path = write(text_with({11: "  nplc: 1"}))
    with pytest.raises(SourceError) as exc:
        load_procedure(path)
    assert exc.value.line == 11 and "duplicate key 'nplc'" in exc.value.reason


def test_empty_points(problems):
    lines = {n: None for n in range(18, 23)}
    lines[17] = "points: []"
    line, reason = only(problems(lines))
    assert line == 17 and "non-empty list" in reason


def test_not_a_mapping(write):
    with pytest.raises(ProcedureError) as exc:
        load_procedure(write("- just\n- a list\n"))
    assert exc.value.line == 1


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match="cannot read file"):
        load_procedure(tmp_path / "nope.yaml")

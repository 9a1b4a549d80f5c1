"""Every validation error names the file and the exact line of the mistake.

Each test breaks one line of the BASE procedure in procedure_base.py (line numbers are in its
comments) and asserts the line and the reason reported.
"""
import pytest

from labauto.errors import SourceError
from labauto.procedure import ProcedureError, load_procedure

from procedure_base import text_with


def only(err: ProcedureError) -> tuple[int | None, str]:
    assert len(err.problems) == 1, err.problems
    return err.problems[0]


def assert_one_problem(err: ProcedureError, line: int, *fragments: str) -> None:
    """``err`` lists exactly one problem, on ``line``, whose reason contains every fragment."""
    found, reason = only(err)
    assert found == line, err.problems
    for fragment in fragments:
        assert fragment in reason, reason


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


# -- one broken line, one problem on its line ---------------------------------------------------
# (changes to BASE, the line reported, fragments of the reason)
ONE_BROKEN_LINE = [
    # unknown and missing keys
    pytest.param({19: "  - {range: 10 V, nominal: [1 V, 10 V], reading: 20}"},
                 19, ["unknown key 'reading'", "did you mean 'readings'"],
                 id="unknown_key_in_a_flow_point"),
    pytest.param({22: "    settle_tme: 5 s"},
                 22, ["unknown key 'settle_tme'"],
                 id="unknown_key_in_a_block_point_is_reported_on_its_own_line"),
    pytest.param({16: "  - {name: thermal_emf, distribution: rectangular, halfwidth: 1 uV}"},
                 16, ["unknown key 'halfwidth'"],
                 id="unknown_key_in_a_contribution"),
    pytest.param({14: None},                                  # delete decision_rule
                 1, ["missing the required key 'decision_rule'"],
                 id="missing_required_top_level_key"),
    # units
    pytest.param({21: "    nominal: 1000"},
                 21, ["has no unit"],
                 id="missing_unit_on_a_nominal"),
    pytest.param({13: "  settle_time: 2"},
                 13, ["has no unit"],
                 id="missing_unit_on_settle_time"),
    pytest.param({18: "  - {range: 100 mV, nominal: [10 mV, 10 A]}"},
                 18, ["'10 A' has unit A", "DCV values are in V"],
                 id="incompatible_unit_on_a_nominal"),
    pytest.param({19: "  - {range: 10 A, nominal: [1 V, 10 V]}"},
                 19, ["'10 A' has unit A"],
                 id="incompatible_unit_on_a_range"),
    pytest.param({16: "  - {name: thermal_emf, distribution: rectangular, half_width: 1 uA}"},
                 16, ["half_width", "in V"],
                 id="incompatible_unit_on_a_contribution"),
    # ranges and capability
    pytest.param({21: "    nominal: 1100 V"},                # 1000 V range: full scale 1050 V
                 21, ["outside the limits of the 1000 V range", "1050 V"],
                 id="point_outside_the_dut_range_limits"),
    pytest.param({19: "  - {range: 10 V, nominal: [1 V, 13 V]}"},
                 19, ["13 V is outside the limits of the 10 V range"],
                 id="point_outside_the_dut_range_in_a_flow_list"),
    # within the DMM's 1000 V range (to 1050 V) but the 5522A sources at most 1020 V
    pytest.param({21: "    nominal: 1040 V"},
                 21, ["beyond the capability of the standard Fluke 5522A", "1020 V"],
                 id="point_beyond_the_standards_capability"),
    pytest.param({19: "  - {range: 20 V, nominal: [1 V, 10 V]}"},
                 19, ["no DCV range 20 V", "100 mV, 1 V, 10 V"],
                 id="unknown_dut_range"),
    pytest.param({6: "dut: keysight_99999"},                  # the reason lists the known models
                 6, ["unknown instrument model 'keysight_99999'", "keysight_34465a"],
                 id="unknown_instrument_model"),
    pytest.param({7: "standard: keysight_34465a"},
                 7, ["must be a calibrator"],
                 id="standard_that_is_not_a_calibrator"),
    pytest.param({8: "function: XYZ"},
                 8, ["function 'XYZ' is not supported"],
                 id="unsupported_function"),
    pytest.param({10: "  nplc: 3"},
                 10, ["NPLC 3 is not offered", "0.02, 0.06, 0.2, 1, 10, 100"],
                 id="nplc_the_dut_does_not_offer"),
    # readings, rules, distributions, ids
    *[pytest.param({12: f"  readings: {value}"}, 12, ["at least 2"],
                   id=f"readings_below_two_in_settings[{value}]") for value in ("1", "0", "-3")],
    pytest.param({19: "  - {range: 10 V, nominal: [1 V, 10 V], readings: 1}"},
                 19, ["readings must be at least 2"],
                 id="readings_below_two_on_a_point"),
    pytest.param({12: "  readings: 2.5"},
                 12, ["whole number"],
                 id="readings_must_be_whole"),
    pytest.param({14: "decision_rule: guard-band-X"},
                 14, ["unknown decision rule 'guard-band-X'", "simple-acceptance",
                      "non-binary-guard-band-U"],
                 id="unknown_decision_rule"),
    pytest.param({16: "  - {name: thermal_emf, distribution: triangular, half_width: 1 uV}"},
                 16, ["unknown distribution 'triangular'", "rectangular or normal"],
                 id="unknown_distribution"),
    pytest.param({4: "  version: 1.10"},
                 4, ["quote it"],
                 id="version_must_be_quoted_text"),
]


@pytest.mark.parametrize("changes, line, fragments", ONE_BROKEN_LINE)
def test_one_broken_line_is_reported_on_that_line(problems, changes, line, fragments):
    assert_one_problem(problems(changes), line, *fragments)


def test_function_the_dut_model_lacks(problems, tmp_path, monkeypatch):
    model = tmp_path / "models" / "dmm_dci_only"
    model.mkdir(parents=True)
    (model / "model.yaml").write_text(
        "manufacturer: Acme\nmodel: DCI-1\nrole: meter\n"
        "identity: '^Acme,DCI-1,(?P<serial>[^,]+),(?P<firmware>.+)$'\n"
        "commands: {configure: 'CONF:{mnemonic} {range}', read: 'READ?', settings: {nplc: 'NPLC {value}', autozero: 'AZ {value}'}}\n"
        "functions:\n  DCI:\n    quantity: A\n    mnemonic: CURR\n"
        "    settings: {nplc: {values: [1, 10], default: 10}, autozero: {values: [true, false], default: true}}\n"
        "    ranges:\n"
        "      - {range: 1 A, resolution: 1 uA, accuracy: {reading: 0.01 %}}\n")
    monkeypatch.setenv("LABAUTO_INSTRUMENTS_PATH", str(tmp_path / "models"))
    assert_one_problem(problems({6: "dut: dmm_dci_only"}), 8, "has no function 'DCV'", "it has DCI")


# -- point ids (lines 23, 24: appended points) -------------------------------------------------
def test_duplicate_point_ids(problems):
    err = problems(extra=["  - range: 10 V", "    nominal: 10 V"])
    assert_one_problem(err, 24, "duplicate point id 'DCV-10V-+10V' (first at line 19)")


def test_duplicate_explicit_point_ids(problems):
    err = problems(extra=["  - {id: ZERO, range: 10 V, nominal: 0 V}",
                          "  - {id: ZERO, range: 100 mV, nominal: 0 mV}"])
    assert_one_problem(err, 24, "duplicate point id 'ZERO' (first at line 23)")


def test_explicit_id_needs_a_single_nominal(problems):
    err = problems(extra=["  - {id: TWO, range: 10 V, nominal: [2 V, 3 V]}"])
    assert_one_problem(err, 23, "explicit id names one point")


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

"""``labauto procedure validate|show`` (the typer sub-app, run in-process)."""
import json

from typer.testing import CliRunner

from labauto.procedure.cli import app

from procedure_base import ROOT, text_with

FULL = ROOT / "procedures" / "keysight_34465a_dcv.yaml"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "220"})


def test_validate_prints_the_points_with_tolerance_and_standard_spec():
    r = run("validate", str(FULL))
    assert r.exit_code == 0, r.output
    assert "DCV-10V-+10V" in r.output and "DCV-1000V-+1000V" in r.output
    row = next(line for line in r.output.splitlines() if "DCV-10V-+10V" in line)
    # tolerance 400 µV, 5522A range 32.99999 V with spec 140 µV (99 %)
    assert "400 µV" in row and "32.99999 V" in row and "140 µV" in row
    assert "5522A spec (±, 99%)" in r.output
    assert "OK" in r.output and "14 points" in r.output and "simple-acceptance" in r.output


def test_validate_reports_every_problem_as_file_line_reason_and_exits_1(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(text_with({10: "  nplc: 3", 21: "    nominal: 1040 V"}))
    r = run("validate", str(path))
    assert r.exit_code == 1
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert lines[0].startswith(f"{path}:10: NPLC 3 is not offered")
    assert lines[1].startswith(f"{path}:21: nominal 1040 V is beyond the capability")


def test_validate_yaml_syntax_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("procedure: {id: x\n")
    r = run("validate", str(path))
    assert r.exit_code == 1 and f"{path}:" in r.output and "not valid YAML" in r.output


def test_show_prints_header_rule_and_contributions():
    r = run("show", str(FULL))
    assert r.exit_code == 0, r.output
    assert "KS34465A-DCV version 1.0" in r.output
    assert "[simple-acceptance]" in r.output and "ILAC-G8:09/2019 clause 4.2.1" in r.output
    assert "[keysight_34465a]" in r.output and "NPLC 10," in r.output
    assert "Contribution thermal_emf" in r.output and "173.2051 nV" in r.output   # 0.3 µV/√3


def test_show_json():
    r = run("show", "--json", str(FULL))
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["id"] == "KS34465A-DCV" and len(data["points"]) == 14
    assert data["decision_rule"]["clause"] == "4.2.1"


def test_missing_file(tmp_path):
    r = run("validate", str(tmp_path / "nope.yaml"))
    assert r.exit_code == 1 and "cannot read file" in r.output


def test_validate_checks_every_file_given_and_fails_if_any_fails(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text_with({21: "    nominal: 1040 V"}))
    bundled = sorted((ROOT / "procedures").glob("*.yaml"))
    r = run("validate", *map(str, bundled))
    assert r.exit_code == 0, r.output
    assert f"{len(bundled)} of {len(bundled)} procedure files valid" in r.output
    assert r.output.count("OK ") == len(bundled)
    r = run("validate", str(FULL), str(bad))
    assert r.exit_code == 1
    assert f"OK {FULL}" in r.output and f"{bad}:21: nominal 1040 V" in r.output
    assert "1 of 2 procedure files valid" in r.output


def _bad_pt100(tmp_path):
    """The bundled Pt100 comparison with an unknown readout at line 15 (its certificate path
    made absolute so the copy still finds it)."""
    src = ROOT / "procedures" / "temperature" / "pt100_comparison.yaml"
    lines = src.read_text(encoding="utf-8").splitlines()
    assert lines[13].strip().startswith("certificate:") and lines[14].strip().startswith("readout:")
    lines[13] = f"  certificate: {(src.parent / '../references/sprt-5681-1234.yaml').resolve()}"
    lines[14] = "  readout: no_such_readout"
    path = tmp_path / "pt100.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_bad_temperature_procedure_is_named_at_its_line_by_validate_and_show(tmp_path):
    path = _bad_pt100(tmp_path)
    r = run("validate", str(path), str(FULL))
    assert r.exit_code == 1
    assert f"{path}:15:" in r.output and "no_such_readout" in r.output
    assert "1 of 2 procedure files valid" in r.output
    r = run("show", str(path))
    assert r.exit_code == 1 and f"{path}:15:" in r.output


def test_characterise_names_a_bad_file_at_its_line_and_exits_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(text_with({21: "    nominal: 1040 V"}))
    r = run("characterise", str(path), "--simulated", "--out", str(tmp_path / "n.yaml"))
    assert r.exit_code == 2 and f"{path}:21: nominal 1040 V" in r.output


def test_the_plan_in_a_pipe_cuts_no_value():
    """Out of a terminal (80 columns) the 34465A verification's 12-column plan was cut to
    'poi…', 'ran…' and lost its last columns; now every value is whole and an operator step's
    text wraps within the point column."""
    verification = ROOT / "procedures" / "keysight_34465a_verification.yaml"
    for command in ("validate", "show"):
        r = runner.invoke(app, [command, str(verification)], env={"COLUMNS": "80"})
        assert r.exit_code == 0, r.output
        rows = [line for line in r.output.splitlines() if line.startswith("│ ")]
        assert "…" not in "".join(rows)
        row = next(line for line in rows if "│ DCV-10V-+10V " in line)
        cells = [c.strip() for c in row.split("│")[1:-1]]
        # #, point, range, nominal, frequency, readings, settle, tolerance, 5522A range, spec,
        # tol / spec, line
        assert cells[1:4] == ["DCV-10V-+10V", "10 V", "10 V"]
        assert cells[7:11] == ["400 µV", "32.99999 V", "140 µV", "2.9"]
        assert cells[11].isdigit()
        assert sum("operator:" in line for line in rows) == 5

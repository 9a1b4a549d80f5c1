"""The equipment register: one schema in YAML files and in PostgreSQL, the CLI, the gate a run
passes (quarantined / out of service / uncalibrated / overdue refused), and bad input with
file:line."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from labauto.cli import app
from labauto.errors import SourceError
from labauto.lab import DEFAULT_LAB_FILE, StandardNotUsable, load_lab
from labauto.quality.records import (Calibration, CalibrationValue, CheckResult, Item,
                                     RegisterError, StatusChange)
from labauto.quality.register import open_register

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _calibrator(asset_id: str = "CAL-01") -> Item:
    return Item(asset_id, "Fluke", "5522A", "3456789", "reference", 365.0, bench="DC bench 1")


def _cal(cid: str, date: str, as_found: str = "in_tolerance") -> Calibration:
    return Calibration(cid, dt.date.fromisoformat(date), "PTB", as_found=as_found,
                       values=(CalibrationValue("DCV 10 V", "+3.2 uV", "1.1 uV", 2.0),))


@pytest.fixture(params=["files", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "files":
        yield open_register(tmp_path / "register", create=True)
        return
    store = open_register(request.getfixturevalue("postgres_url"), create=True)
    yield store
    store.engine.dispose()          # before the fixture drops the database


def test_the_same_register_interface_on_files_and_postgres(store, tmp_path):
    assert store.items() == []
    store.add(_calibrator())
    with pytest.raises(RegisterError, match="already"):
        store.add(_calibrator())                                 # same asset id
    with pytest.raises(RegisterError, match="already"):
        store.add(_calibrator("CAL-02"))                         # same identity, other id
    store.add_calibration("CAL-01", _cal("PTB-2025-1", "2025-01-15"))
    item = store.add_calibration("CAL-01", _cal("PTB-2026-7", "2026-01-20", "out_of_tolerance"))
    with pytest.raises(RegisterError, match="already recorded"):
        store.add_calibration("CAL-01", _cal("PTB-2026-7", "2026-02-01"))
    assert item.due_date() == dt.date(2027, 1, 20)              # latest + 365 d
    store.set_status("CAL-01", StatusChange(dt.date(2026, 3, 1), "quarantined", "check failed"))
    t = dt.datetime(2026, 3, 1, 9, tzinfo=dt.timezone.utc)
    store.add_check("CAL-01", CheckResult(t, 10.0000031, "V", "ZENER-1", False, ("rule 1",), "run-9"))
    with pytest.raises(RegisterError, match="no item 'NOPE'"):
        store.set_status("NOPE", StatusChange(dt.date(2026, 3, 1), "in_service", "x"))
    again = store.get("CAL-01")
    assert again.status == "quarantined"
    assert [c.certificate_id for c in again.sorted_calibrations()] == ["PTB-2025-1", "PTB-2026-7"]
    assert again.calibrations[1].as_found == "out_of_tolerance"
    assert again.calibrations[0].values[0] == CalibrationValue("DCV 10 V", "+3.2 uV", "1.1 uV", 2.0)
    assert again.status_history[0].reason == "check failed"
    assert again.checks[0].value == 10.0000031 and again.checks[0].rules == ("rule 1",)
    assert again.checks[0].time == t
    assert [i.asset_id for i in store.items()] == ["CAL-01"]
    # the gate reads this register when the lab file names it (folder or database URL)
    lab = load_lab(_lab_with_register(tmp_path, getattr(store, "url", "register")))
    with pytest.raises(StandardNotUsable, match="CAL-01.*quarantined since 2026-03-01"):
        lab.reference_equipment("Fluke", "5522A", "3456789", "R", "IDN", "1",
                                today=dt.date(2026, 3, 2))
    store.set_status("CAL-01", StatusChange(dt.date(2026, 3, 3), "in_service", "cleared"))
    assert lab.reference_equipment("Fluke", "5522A", "3456789", "R", "IDN", "1",
                                   today=dt.date(2026, 3, 4)).certificate_id == "PTB-2026-7"


def _lab_with_register(tmp_path: Path, location: str) -> Path:
    text = DEFAULT_LAB_FILE.read_text()
    text = text[:text.index("reference_standards:")] + f"register: {location}\n"
    p = tmp_path / "lab.yaml"
    p.write_text(text)
    return p


def test_the_gate_reads_the_register(tmp_path):
    store = open_register(tmp_path / "register", create=True)
    lab = load_lab(_lab_with_register(tmp_path, "register"))
    assert lab.register == str((tmp_path / "register").resolve()) and lab.standards == ()
    use = lambda today: lab.reference_equipment("FLUKE", "5522A", "3456789", "R", "IDN", "1",  # noqa: E731
                                                today=dt.date.fromisoformat(today))
    with pytest.raises(StandardNotUsable, match="not in the register"):
        use("2026-02-01")
    store.add(_calibrator())
    with pytest.raises(StandardNotUsable, match="has no calibration"):
        use("2026-02-01")
    store.add_calibration("CAL-01", _cal("PTB-2026-7", "2026-01-20"))
    eq = use("2027-01-20")                                        # the due date itself is fine
    assert (eq.certificate_id, eq.calibrated_by, eq.calibration_due) == ("PTB-2026-7", "PTB", "2027-01-20")
    with pytest.raises(StandardNotUsable, match="was due for calibration on 2027-01-20"):
        use("2027-01-21")
    store.set_status("CAL-01", StatusChange(dt.date(2026, 3, 1), "quarantined", "check failed"))
    with pytest.raises(StandardNotUsable, match=r"is quarantined since 2026-03-01 \(check failed\)"):
        use("2026-03-02")
    store.set_status("CAL-01", StatusChange(dt.date(2026, 3, 2), "out_of_service", "repair"))
    with pytest.raises(StandardNotUsable, match="is out of service"):
        use("2026-03-02")
    store.set_status("CAL-01", StatusChange(dt.date(2026, 3, 9), "in_service", "repaired"))
    assert use("2026-03-10").certificate_id == "PTB-2026-7"


def test_a_run_refuses_a_quarantined_standard_before_measuring(tmp_path):
    from labauto.calibration import run_calibration
    from labauto.sim import SimulatedLab

    store = open_register(tmp_path / "register", create=True)
    store.add(_calibrator())
    store.add_calibration("CAL-01", _cal("PTB-2026-7", dt.date.today().isoformat()))
    store.set_status("CAL-01", StatusChange(dt.date.today(), "quarantined", "check failed"))
    lab_file = _lab_with_register(tmp_path, "register")
    with SimulatedLab(seed=2, latency="zero") as sim:
        with pytest.raises(StandardNotUsable, match="quarantined"):
            run_calibration(ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml",
                            dut_resource=sim.resources["dmm"],
                            standard_resource=sim.resources["calibrator"],
                            runs_dir=tmp_path / "runs", out_dir=tmp_path / "certs",
                            settle_scale=0.0, timeout_ms=5000, publish=False, lab_file=lab_file)
        assert sim.calibrator_state()["operate"] is False


def test_the_cli_changes_the_files_a_lab_keeps_in_git(tmp_path):
    reg = str(tmp_path / "reg")
    ok = lambda *a: runner.invoke(app, list(a) + ["--register", reg])  # noqa: E731
    assert runner.invoke(app, ["register", "init", reg]).exit_code == 0
    r = ok("register", "add", "DMM-7", "--manufacturer", "Keysight Technologies", "--model",
           "34465A", "--serial", "MY1", "--role", "check_standard", "--interval", "24 months",
           "--reliability-target", "0.9")
    assert r.exit_code == 0, r.output
    r = ok("register", "add-calibration", "DMM-7", "--certificate", "DKD-1", "--date", "2026-02-01",
           "--laboratory", "DKD lab", "--as-found", "out_of_tolerance", "--adjusted",
           "--value", "DCV 10 V; -12 uV; 4 uV; 2", "--value", "DCV 1 V; 0.3 uV; 0.9 uV")
    assert r.exit_code == 0, r.output
    assert "due 2028-02-01" in r.output
    r = ok("register", "set-status", "DMM-7", "out-of-service", "--reason", "sent for repair",
           "--date", "2026-05-01")
    assert r.exit_code == 0 and "out_of_service" in r.output
    doc = yaml.safe_load((tmp_path / "reg" / "DMM-7.yaml").read_text())
    assert doc["interval"] == "24 months" and doc["reliability_target"] == 0.9
    assert doc["calibrations"][0]["values"][0] == {"point": "DCV 10 V", "value": "-12 uV",
                                                   "U": "4 uV", "k": 2.0}
    assert doc["calibrations"][0]["adjusted"] is True and doc["status"] == "out_of_service"
    shown = json.loads(ok("register", "show", "DMM-7", "--json").output)
    assert shown == doc
    listed = ok("register", "list", "--json")
    assert [i["asset_id"] for i in json.loads(listed.output)] == ["DMM-7"]
    # bad input: one line, exit 1, nothing written
    before = (tmp_path / "reg" / "DMM-7.yaml").read_text()
    for args, message in [
        (("register", "set-status", "DMM-7", "broken", "--reason", "x"), "unknown status 'broken'"),
        (("register", "add-calibration", "DMM-7", "--certificate", "X", "--date", "2026-13-01",
          "--laboratory", "L"), "ISO date"),
        (("register", "add-calibration", "DMM-7", "--certificate", "X", "--date", "2026-03-01",
          "--laboratory", "L", "--value", "DCV 10 V; 1 uV; 2 mA"), "has not the unit"),
        (("register", "add", "X 1", "--manufacturer", "A", "--model", "B", "--serial", "C",
          "--role", "reference", "--interval", "1 year"), "asset id 'X 1'"),
        (("register", "add", "X1", "--manufacturer", "A", "--model", "B", "--serial", "C",
          "--role", "reference", "--interval", "12 V"), "interval '12 V'"),
        (("register", "show", "NOPE"), "no item 'NOPE'"),
    ]:
        r = ok(*args)
        assert r.exit_code == 1 and message in r.output, (args, r.output)
    assert (tmp_path / "reg" / "DMM-7.yaml").read_text() == before
    r = runner.invoke(app, ["register", "list", "--register", str(tmp_path / "none")])
    assert r.exit_code == 1 and "labauto register init" in r.output


@pytest.mark.parametrize("old, new, message, at", [
    ("status: in_service", "status: broken", "unknown status 'broken'", "status: broken"),
    ("  date: '2026-01-20'", "  date: 2026-01-40", "not a valid date", "date: 2026-01-40"),
    ("  date: '2026-01-20'", "  date: '2026-01-40'", "ISO date", "date: '2026-01-40'"),
    ("role: reference", "role: standard", "unknown role 'standard'", "role: standard"),
    ("    U: 1.1 uV", "    U: 1.1 mA", "has not the unit", "- point: DCV 10 V"),
    ("  laboratory: PTB", "  lab: PTB", "unknown key 'lab'", "lab: PTB"),
    ("asset_id: CAL-01", "asset_id: CAL-02", "does not match the file name", "asset_id: CAL-02"),
    ("interval: 12 months", "interval: 12 V", "interval '12 V'", "interval: 12 V"),
    ("    k: 2.0", "    k: [2", "not valid YAML", "k: [2"),
])
def test_a_malformed_item_file_names_file_and_line(tmp_path, old, new, message, at):
    store = open_register(tmp_path / "reg", create=True)
    item = _calibrator()
    store.add(Item(item.asset_id, item.manufacturer, item.model, item.serial, item.role, 365.25))
    store.add_calibration("CAL-01", _cal("PTB-2026-7", "2026-01-20"))
    path = tmp_path / "reg" / "CAL-01.yaml"
    text = path.read_text()
    assert old in text, text
    text = text.replace(old, new, 1)
    path.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.strip() == at)
    with pytest.raises(SourceError) as e:
        store.items()
    assert message in str(e.value) and e.value.path == str(path), str(e.value)
    # a YAML syntax error is found where the parser gives up: the line after an open bracket
    assert e.value.line == line or (message == "not valid YAML" and e.value.line == line + 1), \
        (e.value.line, line, str(e.value))


def test_lab_file_register_key_errors(tmp_path):
    text = DEFAULT_LAB_FILE.read_text()
    p = tmp_path / "lab.yaml"
    p.write_text(text + "register: reg\n")
    with pytest.raises(SourceError, match="not both"):
        load_lab(p)
    p.write_text(text[:text.index("reference_standards:")] + "register: missing\n")
    with pytest.raises(SourceError, match="does not exist") as e:
        load_lab(p)
    assert e.value.line == len(p.read_text().splitlines())
    # existing lab files (a list of reference_standards) keep working
    assert load_lab(DEFAULT_LAB_FILE).register is None


def test_two_files_for_one_instrument_are_refused(tmp_path):
    store = open_register(tmp_path / "reg", create=True)
    store.add(_calibrator())
    text = (tmp_path / "reg" / "CAL-01.yaml").read_text().replace("asset_id: CAL-01", "asset_id: CAL-09")
    (tmp_path / "reg" / "CAL-09.yaml").write_text(text)
    with pytest.raises(SourceError, match="also registered in"):
        store.items()


@pytest.mark.parametrize("width, terminal", [(80, True), (80, False), (140, True)])
def test_the_list_never_cuts_an_asset_id_a_certificate_or_a_due_date(tmp_path, monkeypatch,
                                                                      width, terminal):
    """An 80-column terminal and a pipe (where rich's width is 80 too) printed the list's cells
    cut to 'CAL-55…', 'PTB-20…', '2027-…': what a technician greps for.  Now: the table when it
    fits (the pipe never crops), else two lines per item; asset, status, certificate and due
    date always whole, on one line."""
    from rich.console import Console

    import labauto.quality.cli as qcli
    monkeypatch.setattr(qcli, "console", Console(width=width, force_terminal=terminal,
                                                 soft_wrap=not terminal, color_system=None))
    store = open_register(tmp_path / "reg", create=True)
    store.add(_calibrator("CAL-5522A-01"))
    store.add_calibration("CAL-5522A-01", _cal("PTB-2026-0815", "2026-01-20"))
    store.add(Item("DMM-34465A-07", "Keysight Technologies", "34465A", "MY60012345",
                   "working_standard", 365.0, bench="DC bench 2"))
    store.add_calibration("DMM-34465A-07", _cal("DKD-K-2025-4711", "2025-01-02"))
    store.add(Item("ZENER-01", "Fluke", "732C", "Z1", "check_standard", 365.0))
    r = runner.invoke(app, ["register", "list", "--register", str(tmp_path / "reg")])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()

    def line_with(*words: str) -> str:
        found = [ln for ln in lines if all(w in ln for w in words)]
        assert found, (words, r.output)
        return found[0]
    line_with("CAL-5522A-01", "in_service", "PTB-2026-0815", "2027-01-20")
    line_with("DMM-34465A-07", "in_service", "DKD-K-2025-4711", "2026-01-02 OVERDUE")
    line_with("ZENER-01", "in_service", "uncalibrated")
    assert "…" not in r.output
    if width == 80 and terminal:             # too narrow for the table: the two-line form
        assert line_with("Keysight Technologies 34465A serial MY60012345").strip() == \
            "Keysight Technologies 34465A serial MY60012345, working_standard, DC bench 2"
    else:                                    # the table, wider than 80 columns in a pipe
        assert "┃ asset" in r.output
        assert max(len(ln) for ln in lines) > 80

"""A register file a lab versions in git keeps its comments and layout when `labauto register`
changes it: ``git diff`` shows only the lines of the change."""
from __future__ import annotations

import difflib
import datetime as dt

from typer.testing import CliRunner

from labauto.cli import app
from labauto.quality.records import StatusChange
from labauto.quality.register import open_register

COMMENTED = """\
# Fluke 5522A multifunction calibrator, DC bench 1.
# Owner: J. Smith; see the lab manual, section 6.4.
asset_id: CAL-5522A-01
manufacturer: Fluke
model: 5522A
serial: '3456789'      # as *IDN? spells it
role: reference
bench: DC bench 1
interval: 12 months    # agreed with the quality manager, 2025-11
reliability_target: 0.95
status: in_service
calibrations:
  # first calibration at PTB
  - certificate_id: PTB-2025-0815
    date: 2025-01-20
    laboratory: PTB
    as_found: in_tolerance
    values:
      - {point: DCV 10 V, value: +3.2 uV, U: 1.1 uV, k: 2}   # the 10 V point only
"""


def _diff(before: str, after: str) -> tuple[list[str], list[str]]:
    lines = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return ([line[2:] for line in lines if line.startswith("- ")],
            [line[2:] for line in lines if line.startswith("+ ")])


def _invoke(*args: str) -> None:
    r = CliRunner().invoke(app, ["register", *args])
    assert r.exit_code == 0, r.output


def test_a_commented_register_file_keeps_its_comments_and_only_the_changed_lines_differ(tmp_path):
    folder = tmp_path / "register"
    folder.mkdir()
    path = folder / "CAL-5522A-01.yaml"
    path.write_text(COMMENTED)

    _invoke("set-status", "CAL-5522A-01", "quarantined", "--reason", "check out of control",
            "--register", str(folder))
    after_status = path.read_text()
    removed, added = _diff(COMMENTED, after_status)
    today = dt.date.today().isoformat()
    assert removed == ["status: in_service"]
    assert added == ["status: quarantined", "status_history:", f"  - date: '{today}'",
                     "    status: quarantined", "    reason: check out of control"]

    _invoke("add-calibration", "CAL-5522A-01", "--certificate", "PTB-2026-0815", "--date",
            "2026-01-20", "--laboratory", "PTB", "--as-found", "in_tolerance", "--value",
            "DCV 10 V; +3.1 uV; 1.1 uV; 2", "--register", str(folder))
    removed, added = _diff(after_status, path.read_text())
    assert removed == []
    assert added[:4] == ["  - certificate_id: PTB-2026-0815", "    date: '2026-01-20'",
                         "    laboratory: PTB", "    as_found: in_tolerance"]
    assert "      - point: DCV 10 V" in added and "        value: +3.1 uV" in added
    # every comment of the lab is still there, on its line
    for line in COMMENTED.splitlines():
        if "#" in line:
            assert line in path.read_text().splitlines()
    # and the file reads back as the register's record
    item = open_register(folder).get("CAL-5522A-01")
    assert item.status == "quarantined"
    assert [c.certificate_id for c in item.sorted_calibrations()] == ["PTB-2025-0815",
                                                                     "PTB-2026-0815"]


def test_a_file_the_register_wrote_changes_only_where_the_record_changed(tmp_path):
    folder = tmp_path / "register"
    _invoke("init", str(folder))
    _invoke("add", "DMM-01", "--manufacturer", "Keysight Technologies", "--model", "34465A",
            "--serial", "MY1", "--role", "working_standard", "--interval", "12 months",
            "--register", str(folder))
    path = folder / "DMM-01.yaml"
    path.write_text(path.read_text().replace("role: working_standard",
                                             "role: working_standard  # used on bench 2"))
    before = path.read_text()
    _invoke("add-calibration", "DMM-01", "--certificate", "C-1", "--date", "2026-02-01",
            "--laboratory", "us", "--register", str(folder))
    removed, added = _diff(before, path.read_text())
    assert removed == ["calibrations: []"]           # the empty list, now with one entry
    assert "role: working_standard  # used on bench 2" in path.read_text()
    assert added == ["calibrations:", "- certificate_id: C-1", "  date: '2026-02-01'",
                     "  laboratory: us"]


def test_a_file_that_cannot_be_edited_in_place_is_rewritten_whole_and_keeps_the_change(
        tmp_path, monkeypatch):
    from labauto.quality import register_files

    folder = tmp_path / "register"
    folder.mkdir()
    (folder / "CAL-5522A-01.yaml").write_text(COMMENTED)

    def cannot(text, old, new):
        raise ValueError("the YAML text cannot be edited in place: (simulated)")
    monkeypatch.setattr(register_files, "edit", cannot)
    store = open_register(folder)
    store.set_status("CAL-5522A-01", StatusChange(dt.date(2026, 3, 1), "quarantined", "check"))
    text = (folder / "CAL-5522A-01.yaml").read_text()
    assert text.startswith(register_files.HEADER) and "status: quarantined" in text
    assert open_register(folder).get("CAL-5522A-01").status == "quarantined"

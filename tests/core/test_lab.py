"""Lab configuration and the register of reference standards."""
import datetime as dt

import pytest

from labauto.errors import SourceError
from labauto.lab import DEFAULT_LAB_FILE, StandardNotUsable, load_lab


def test_default_lab_loads():
    lab = load_lab(DEFAULT_LAB_FILE)
    assert lab.laboratory.identifier and lab.country == "DE"
    assert lab.environment["temperature"].to("degC").magnitude == pytest.approx(23.0)
    assert lab.standards[0].model == "5522A"


def test_register_refuses_unknown_and_overdue_standards():
    lab = load_lab(DEFAULT_LAB_FILE)
    s = lab.standards[0]
    eq = lab.reference_equipment("Fluke", s.model, s.serial, "R", "IDN", "1.0", today=s.calibration_due)
    assert eq.certificate_id == s.certificate_id and eq.role == "reference"
    with pytest.raises(StandardNotUsable, match="was due for calibration"):
        lab.reference_equipment("Fluke", s.model, s.serial, "R", "IDN", "1.0",
                                today=s.calibration_due + dt.timedelta(days=1))
    with pytest.raises(StandardNotUsable, match="not in the register"):
        lab.reference_equipment("Fluke", s.model, "OTHER-SERIAL", "R", "IDN", "1.0")
    # the manufacturer counts too (case as the instrument spells it: *IDN? says "FLUKE")
    assert lab.reference_equipment("FLUKE", s.model, s.serial, "R", "IDN", "1.0",
                                   today=s.calibration_due).certificate_id == s.certificate_id
    with pytest.raises(StandardNotUsable, match="not in the register"):
        lab.reference_equipment("Other Corp", s.model, s.serial, "R", "IDN", "1.0", today=s.calibration_due)


def test_bad_lab_file_names_line(tmp_path):
    text = DEFAULT_LAB_FILE.read_text().replace("calibration_due: \"2027-09-30\"", "calibration_due: soon")
    p = tmp_path / "lab.yaml"
    p.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "calibration_due: soon" in l)
    with pytest.raises(SourceError) as e:
        load_lab(p)
    assert e.value.line == line and "ISO date" in str(e.value)

"""Lab configuration and the register of reference standards."""
import datetime as dt

import pytest

from labauto.errors import SourceError
from labauto.lab import DEFAULT_LAB_FILE, StandardNotUsable, load_lab


def test_default_lab_loads():
    lab = load_lab(DEFAULT_LAB_FILE)
    assert lab.laboratory.identifier and lab.country == "DE"
    # conditions are measured during the run; the lab file holds the logger model and limits
    assert lab.environment.logger_model == "vaisala_hmt330"
    t = lab.environment.limits["temperature"]
    assert (t.minimum.to("degC").magnitude, t.maximum.to("degC").magnitude) == (22, 24)
    assert lab.environment.limits["relative_humidity"].maximum.to("percent").magnitude == 60
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


@pytest.mark.parametrize("old, new, message", [
    ("    temperature: {min: 22 degC, max: 24 degC}", "    temperature: {min: 22 degC, max: 24 V}", "unit"),
    ("    temperature: {min: 22 degC, max: 24 degC}", "    temperature: {min: 24 degC, max: 22 degC}", "max must be above min"),
    ("  logger_model: vaisala_hmt330", "  temperature: 23.0 degC", "measured during the run"),
])
def test_environment_section_errors_name_file_and_line(tmp_path, old, new, message):
    text = DEFAULT_LAB_FILE.read_text()
    assert old in text, f"lab.yaml no longer contains {old!r}; update this test"
    text = text.replace(old, new, 1)
    p = tmp_path / "lab.yaml"
    p.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith(new))
    with pytest.raises(SourceError) as e:
        load_lab(p)
    assert message in str(e.value) and e.value.line in (line, line + 1), (e.value.line, line, str(e.value))


def test_lab_file_mentions_no_nonexistent_options():
    """lab.yaml once told users of --temperature/--humidity options that never existed."""
    text = DEFAULT_LAB_FILE.read_text()
    assert "--temperature" not in text and "--humidity" not in text

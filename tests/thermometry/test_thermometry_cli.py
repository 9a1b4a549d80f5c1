"""`labauto comparison run`: the technician types a display-only thermometer's readings; the
resources a procedure needs are checked before anything starts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labauto.cli import app
from labauto.comparison_cli import typed_reading
from labauto.procedure.temperature import load_temperature_procedure
from labauto.sim.thermometry import lab_for_procedure
from labauto.units import Q_

ROOT = Path(__file__).resolve().parents[2]
DIGITAL = ROOT / "procedures" / "temperature" / "digital_thermometer.yaml"


def test_typed_readings():
    assert typed_reading("21.37") == Q_(21.37, "degC")
    assert typed_reading(" 21,37 ") == Q_(21.37, "degC")          # a decimal comma
    assert typed_reading("294.52 K").m == pytest.approx(21.37)
    with pytest.raises(ValueError, match="'twenty' is not a temperature"):
        typed_reading("twenty")
    with pytest.raises(ValueError, match="is not a temperature"):
        typed_reading("21 V")


def test_a_missing_heat_source_resource_is_refused_before_anything_starts(tmp_path):
    r = CliRunner().invoke(app, ["comparison", "run", str(DIGITAL), "--readout", "TCPIP0::x::1::SOCKET",
                                 "--workdir", str(tmp_path)], terminal_width=200)
    assert r.exit_code != 0 and "--heat-source" in r.output
    r = CliRunner().invoke(app, ["comparison", "run", str(DIGITAL), "--readout", "TCPIP0::x::1::SOCKET",
                                 "--heat-source", "oven=TCPIP0::y::2::SOCKET", "--workdir", str(tmp_path)],
                           terminal_width=200)
    assert r.exit_code == 1
    assert "--heat-source oven: the procedure's heat sources are bath" in r.output
    assert not (tmp_path / "runs").exists()


def test_the_technician_types_the_display_readings(tmp_path, monkeypatch):
    """On the wall clock (as on the bench), with a stability window of a fraction of a second so
    the test is quick.  The simulated lab's clock is virtual and does not follow the CLI's wall
    clock, so the bath is brought to the point's 0 °C beforehand (as a technician lets it settle
    before starting): the run's own check that the reference is stable within
    ``stability.max_offset`` of the setpoint then holds, as on the bench."""
    (tmp_path / "temperature").mkdir()
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / "sprt-5681-1234.yaml").write_text(
        (ROOT / "procedures" / "references" / "sprt-5681-1234.yaml").read_text())
    text = DIGITAL.read_text()
    for old, new in (("window: 5 min", "window: 0.3 s"), ("max_slope: 0.01 K/min", "max_slope: 1000 K/min"),
                     ("max_std: 5 mK", "max_std: 100 K"), ("sample_period: 10 s", "sample_period: 0.05 s"),
                     ("timeout: 90 min", "timeout: 10 s"), ("readings: 4", "readings: 2"),
                     ("  - {setpoint: 25 degC, heat_source: bath}\n", ""),
                     ("  - {setpoint: 50 degC, heat_source: bath}\n", ""),
                     ("  - {setpoint: 100 degC, heat_source: bath}\n", "")):
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "temperature" / "quick.yaml"
    path.write_text(text)
    monkeypatch.setenv("LABAUTO_LOCK_DIR", str(tmp_path / "locks"))
    lab = lab_for_procedure(load_temperature_procedure(path), seed=5)
    with lab:
        lab.place_probes("bath")
        lab.heat_sources["bath"].program(0.0)
        lab.advance(4 * 3600)
        r = CliRunner().invoke(app, [
            "comparison", "run", str(path), "--readout", lab.resources["readout"],
            "--heat-source", f"bath={lab.resources['bath']}", "--workdir", str(tmp_path), "--yes",
            "--no-issue", "--item", "Acme, DT-1, 42"],
            input="zero\n0.03\n273.19 K\n", terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "'zero' is not a temperature" in r.output            # asked again
    assert "no certificate issued (--no-issue)" in r.output
    assert "operator step before T0C: Immerse the reference SPRT" in r.output
    journal = next((tmp_path / "runs").glob("*/journal.jsonl"))
    readings = [json.loads(x) for x in journal.read_text().splitlines()]
    assert readings[0]["settings"]["item"] == {"manufacturer": "Acme", "model": "DT-1", "serial": "42"}
    typed = [(x["value"], x["unit"]) for x in readings if x["type"] == "reading"]
    assert typed[0] == (0.03, "degC") and typed[1][1] == "degC"
    assert typed[1][0] == pytest.approx(0.04)

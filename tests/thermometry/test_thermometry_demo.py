"""`labauto demo --procedure procedures/temperature/pt100_comparison.yaml --latency zero`: the
Pt100 comparison end to end on the simulated thermometry lab, on simulated time; and
`labauto procedure validate` on temperature procedures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from labauto.cli import app

ROOT = Path(__file__).resolve().parents[2]
PT100 = ROOT / "procedures" / "temperature" / "pt100_comparison.yaml"


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory):
    """The demo through the Prefect flow (as `labauto demo` runs it), without the platform."""
    from labauto.demo_temperature import run_temperature_demo

    console = Console(record=True, width=160)
    saved = dict(os.environ)          # the demo sets its lab home, outbox, lock folder ...
    try:
        out = run_temperature_demo(console, workdir=tmp_path_factory.mktemp("demo"),
                                   procedure=PT100, latency="zero", seed=2026,
                                   with_platform=False, use_prefect=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out["text"] = console.export_text()
    return out


def test_the_demo_runs_the_pt100_procedure_on_simulated_time(demo):
    assert "starting Prefect flow 'temperature-comparison'" in demo["text"]
    sim, ev = demo["lab"], demo["evaluation"]
    assert sim.clock.now() > 3 * 3600                     # hours of settling, simulated
    assert [r.nominal for r in ev.points] == [-40, 0, 50, 100, 200, 300, 420, 100]
    assert demo["inside"] == 8
    assert "true error lies within ± U at 8 of 8 points" in demo["text"]
    assert "Move the SPRT and the Pt100 from the bath into the metrology well" in demo["text"]
    # the points' uncertainty: the bath's (uniformity 7 mK) is ten times better than the well's
    bath, well = ev.points[1], ev.points[5]
    assert 0.005 < bath.U_error < 0.025 and 0.1 < well.U_error < 0.25
    # the Pt100's resistance near 0 °C is its R0; the fit agrees with the simulated sensor
    fit, truth = ev.fit, sim.dut_truth
    assert fit.coefficients["R0"] == pytest.approx(truth.r0, abs=2 * fit.standard_uncertainties["R0"] + 1e-3)
    assert fit.coefficients["A"] == pytest.approx(truth.a, abs=3 * fit.standard_uncertainties["A"])


def test_the_demo_issues_the_temperature_certificate(demo):
    import json

    issued, result = demo["issued"], demo["result"]
    assert set(issued.files) == {"json", "xml", "pdf", "journal"}
    assert all(path.stat().st_size > 0 for path in issued.files.values())
    doc = json.loads(issued.files["json"].read_text())
    assert doc["certificate_id"] == result.certificate_id and doc["dut_kind"] == "prt"
    assert [p["nominal"] for p in doc["points"]] == [-40, 0, 50, 100, 100, 200, 300, 420]   # by temperature
    r0 = next(c for c in doc["fit"]["coefficients"] if c["name"] == "R0")
    assert r0["value"] == pytest.approx(demo["evaluation"].fit.coefficients["R0"])
    standards = {(s["model"], s["serial_number"]): s for s in doc["standards"]}
    sprt = standards[("5681 (SPRT (ITS-90))", "1234")]
    assert (sprt["certificate_id"], sprt["calibration_due"]) == ("PTB-SIM-2026-7731", "2027-08-10")
    assert standards[("1594A", "B21044")]["certificate_id"] == "DKD-SIM-2026-0594"   # the register's
    assert sorted(m for m, _ in standards) == ["1594A", "5681 (SPRT (ITS-90))", "7060", "9144"]
    # the room's conditions were recorded by the thermo-hygrometer through the run
    assert doc["environment"]["recorded"] is True and doc["environment"]["logger"]["serial"] == "S4420017"
    journal = issued.files["journal"].read_text().splitlines()
    # per task of the flow (bath, well, the bath again for the return point): at its start,
    # after each setpoint, at its end
    assert sum('"type":"conditions"' in line for line in journal) == (1 + 4 + 1) + (1 + 3 + 1) + (1 + 1 + 1)
    assert demo["publication"]["state"] == "queued"           # no platform: in the outbox


def test_validate_checks_temperature_procedures(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["procedure", "validate", str(PT100)], terminal_width=300)
    assert r.exit_code == 0, r.output
    assert "temperature comparison, 8 setpoints -40 °C (bath)" in r.output
    assert "reference Fluke 5681 serial 1234 due 2027-08-10" in r.output
    bad = tmp_path / "temperature" / "bad.yaml"
    bad.parent.mkdir()
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / "sprt-5681-1234.yaml").write_text(
        (ROOT / "procedures" / "references" / "sprt-5681-1234.yaml").read_text())
    bad.write_text(PT100.read_text().replace("{setpoint: 300 degC, heat_source: well}",
                                             "{setpoint: 300 degC, heat_source: bath}"))
    r = runner.invoke(app, ["procedure", "validate", str(bad)], terminal_width=300)
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "300 degC" in t)
    assert r.exit_code == 1
    assert f"{bad}:{line}: setpoint 300 °C is outside the Fluke 7060's (bath) setpoint range " \
           "-60 °C to 110 °C" in r.output


def test_show_prints_the_temperature_plan():
    import json

    r = CliRunner().invoke(app, ["procedure", "show", str(PT100), "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert plan["kind"] == "temperature comparison"
    assert plan["heat_sources"] == {"bath": {"model": "fluke_7060", "safe_setpoint": 20.0},
                                    "well": {"model": "fluke_9144", "safe_setpoint": 50.0}}
    assert plan["stability"] == {"window_s": 300.0, "timeout_s": 5400.0,
                                 "max_slope_K_per_min": 0.01, "max_std_K": 0.005}
    assert [p["setpoint"] for p in plan["points"]] == [-40, 0, 50, 100, 200, 300, 420, 100]
    assert plan["reference"]["certificate_id"] == "PTB-SIM-2026-7731"


def test_the_progress_display_shows_the_approach():
    from labauto.demo_temperature import ApproachDisplay
    from labauto.engine.stability import StabilityVerdict
    from labauto.procedure.temperature import load_temperature_procedure
    from labauto.units import Q_

    point = load_temperature_procedure(PT100).points[4]
    console = Console(record=True, width=140)
    with ApproachDisplay(console) as display:
        display.point_started(point, 1)
        display.approach(point, Q_(187.3125, "degC"), Q_(188.1, "degC"),
                         StabilityVerdict(False, 31, 300.0, 0.532, 0.05, 187.2, elapsed_s=900.0))
        task = display.inner.progress.tasks[0]
        assert task.fields["last"] == "  187.312 °C +0.532 K/min"
        assert task.fields["status"] == "settling   15 min"
        display.approach(point, Q_(199.998, "degC"), Q_(200.3, "degC"),
                         StabilityVerdict(True, 31, 300.0, 0.004, 0.001, 199.998, elapsed_s=2400.0))
        assert task.fields["status"] == "[green]stable"
        display.reading(point, 0, Q_(199.9981, "degC"))
        display.reading(point, 1, Q_(199.9983, "degC"))
        assert task.fields["last"] == "t_ref 199.9982 °C" and task.completed == 2

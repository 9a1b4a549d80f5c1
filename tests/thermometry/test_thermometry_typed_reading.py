"""A display-only thermometer in the ``temperature-comparison`` flow with nobody at a terminal:
each typed reading pauses the flow run for a typed answer (flows/operator_input.py
``TypedReading``), answered here with ``labauto operator answer RUN --reading ... --technician``
through the session Prefect harness, on the zero-latency simulated lab.  Checked: pending
shows the request; the bath is held at the setpoint while it waits; a wrong unit, a
non-number and an answer of the wrong type (a step's) are refused (exit 2, nothing sent); the
good answers are journalled with who typed them and are the readings the evaluation uses; no
answer in time ends the run with the bath at its safe setpoint, and the run resumes (with a
simulated technician at the "terminal", today's behaviour) to completion."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labauto.engine.comparison import set_clock
from labauto.procedure.temperature import load_temperature_procedure
from labauto.sim.thermometry import lab_for_procedure

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]
DIGITAL = ROOT / "procedures" / "temperature" / "digital_thermometer.yaml"
runner = CliRunner()


@pytest.fixture()
def one_point(tmp_path, monkeypatch) -> Path:
    """The digital-thermometer procedure reduced to 25 °C, two readings, no operator step."""
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)
    (tmp_path / "temperature").mkdir()
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / "sprt-5681-1234.yaml").write_text(
        (ROOT / "procedures" / "references" / "sprt-5681-1234.yaml").read_text())
    text = DIGITAL.read_text()
    for drop in ("  - step: Immerse the reference SPRT and the thermometer's probe in the bath, "
                 "side by side, the probe 150 mm deep (tip to liquid surface)\n",
                 "  - {setpoint: 0 degC, heat_source: bath}\n",
                 "  - {setpoint: 50 degC, heat_source: bath}\n",
                 "  - {setpoint: 100 degC, heat_source: bath}\n"):
        assert drop in text
        text = text.replace(drop, "")
    text = text.replace("  readings: 4\n", "  readings: 2\n")
    path = tmp_path / "temperature" / "one.yaml"
    path.write_text(text)
    return path


def _operator(*args: str):
    from labauto.cli import app

    return runner.invoke(app, ["operator", *args])


def _pending(run_id: str, flow: threading.Thread) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and flow.is_alive():
        result = _operator("pending", "--json")
        assert result.exit_code == 0, result.output
        waiting = [w for w in json.loads(result.stdout) if w["labauto_run"] == run_id]
        if waiting:
            assert len(waiting) == 1
            return waiting[0]
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never paused for a typed reading")


def _records(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "journal.jsonl").read_text().splitlines()]


class Technician:
    """A simulated technician at the terminal (the demo's): reads the simulated display."""

    def __init__(self, lab):
        self.lab = lab

    def confirm(self, step, point):
        self.lab.place_probes(point.heat_source)

    def read_display(self, point, index):
        from labauto.units import Q_
        return Q_(self.lab.display(), "degC")


def test_typed_readings_pause_the_flow_and_the_checked_answers_are_journalled_and_used(
        prefect_harness, tmp_path, one_point):
    from flows.temperature_comparison import temperature_comparison
    from labauto.comparison_evaluation import evaluate_comparison
    from labauto.engine.comparison import open_comparison_run

    lab = lab_for_procedure(load_temperature_procedure(one_point), seed=11)
    lab.place_probes("bath")
    previous_clock = set_clock(lab.clock)
    results: dict = {}
    typed = ["25.031 degC", "298.1825 K"]           # the second in kelvin: 25.0325 °C
    try:
        with lab:
            flow = threading.Thread(target=lambda: results.setdefault(
                "state", temperature_comparison(
                    str(one_point), lab.resources, runs_dir=str(tmp_path / "runs"),
                    out_dir=str(tmp_path / "certs"), timeout_ms=500, publish=False, issue=False,
                    run_id="TYPED-RUN", operator_timeout_s=300, return_state=True)), daemon=True)
            flow.start()
            waiting: dict = {}
            try:
                waiting = _pending("TYPED-RUN", flow)
                assert waiting["wants"] == "reading"
                assert "reading 1 of 2" in waiting["asks"] and "T25C" in waiting["asks"]
                assert "`TYPED-RUN`" in waiting["asks"]
                assert lab.heat_sources["bath"].setpoint == 25.0     # held at the setpoint
                shown = _operator("pending")
                assert shown.exit_code == 0 and "--reading" in shown.output

                name = waiting["flow_run_name"]
                for bad, why in (("25.03 ohm", "'ohm' is not a unit"), ("25.03", "has no unit"),
                                 ("about 25 degC", "not a number")):
                    refused = _operator("answer", name, "--reading", bad,
                                        "--technician", "B. Reader")
                    assert refused.exit_code == 2 and why in refused.output, refused.output
                    assert "nothing sent" in refused.output
                step = _operator("answer", name, "--technician", "B. Reader")   # a step's answer
                assert step.exit_code == 2 and "waits for a typed reading" in step.output
                blank = _operator("answer", name, "--reading", "25.03 degC", "--technician", " ")
                assert blank.exit_code == 2 and "technician" in blank.output
                assert _pending("TYPED-RUN", flow)["flow_run_id"] == waiting["flow_run_id"]
                assert not [r for r in _records(tmp_path / "runs" / "TYPED-RUN")
                            if r["type"] in ("reading", "display_entry")]

                for n, reading in enumerate(typed):
                    if n:
                        waiting = _pending("TYPED-RUN", flow)
                        assert "reading 2 of 2" in waiting["asks"]
                    # named by flow run name, then by labauto run id
                    ref = [waiting["flow_run_name"], "TYPED-RUN"][n]
                    ok = _operator("answer", ref, "--reading", reading, "--technician",
                                   "B. Reader", "--note", f"display {n + 1}")
                    assert ok.exit_code == 0, ok.output
                    # the run takes it and pauses again (or ends): wait until it left this pause
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and flow.is_alive() and any(
                            w["flow_run_id"] == waiting["flow_run_id"]
                            and w["asks"] == waiting["asks"]
                            for w in json.loads(_operator("pending", "--json").stdout)):
                        time.sleep(0.2)
                flow.join(120)
            finally:
                if flow.is_alive() and waiting:         # never leave a paused run behind
                    _operator("answer", waiting["flow_run_name"], "--reading", "0 degC",
                              "--technician", "test cleanup")
                    flow.join(60)
    finally:
        set_clock(previous_clock)
    state = results["state"]
    assert state.is_completed(), state
    assert lab.heat_sources["bath"].setpoint == 20.0               # safe setpoint at the end
    folder = Path(state.result()["run_folder"])
    records = _records(folder)
    entries = [r for r in records if r["type"] == "display_entry"]
    assert [(r["point_id"], r["index"], r["value"], r["unit"], r["technician"], r["note"],
             r["answered_in"]) for r in entries] == [
        ("T25C", 0, 25.031, "degC", "B. Reader", "display 1", "prefect"),
        ("T25C", 1, 298.1825, "K", "B. Reader", "display 2", "prefect")]
    readings = [r for r in records if r["type"] == "reading"]
    assert [r["unit"] for r in readings] == ["degC", "degC"]
    assert [r["value"] for r in readings] == pytest.approx([25.031, 25.0325], abs=1e-9)
    # journalled before the reading it is
    assert all(records.index(e) < records.index(r) for e, r in zip(entries, readings))
    # the evaluation uses the typed readings: E = mean(display) - mean(reference), the SPRT's
    # temperature corrected for the self-heating its certificate states (1.5 mK at 1 mA)
    run = open_comparison_run(folder)
    (point,) = evaluate_comparison(run.procedure, run.state()).points
    reference = sum(r["reference"]["mean_degC"] for r in readings) / 2 - 0.0015
    assert point.error == pytest.approx((25.031 + 25.0325) / 2 - reference, abs=1e-9)


def test_no_typed_reading_in_time_ends_the_run_which_resumes_at_a_terminal(
        prefect_harness, tmp_path, one_point, caplog):
    from flows.temperature_comparison import temperature_comparison
    from labauto.engine.operator import set_operator

    lab = lab_for_procedure(load_temperature_procedure(one_point), seed=12)
    lab.place_probes("bath")
    previous_clock = set_clock(lab.clock)
    try:
        with lab:
            opts = dict(runs_dir=str(tmp_path / "runs"), out_dir=str(tmp_path / "certs"),
                        timeout_ms=500, publish=False, issue=False, return_state=True)
            stopped = temperature_comparison(str(one_point), lab.resources, run_id="LATE-T",
                                             operator_timeout_s=1, **opts)
            assert stopped.is_failed()
            assert lab.heat_sources["bath"].setpoint == 20.0        # its safe setpoint
            message = " ".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
            assert "nobody typed reading 1 of T25C" in message and "resume_run" in message
            folder = tmp_path / "runs" / "LATE-T"
            failed = [r for r in _records(folder) if r["type"] == "point_failed"]
            assert [(r["point_id"], r["attempt"]) for r in failed] == [("T25C", 1)]
            # resumed with a technician at the terminal: no pause, the terminal types
            previous = set_operator(Technician(lab))
            try:
                resumed = temperature_comparison(str(one_point), lab.resources,
                                                 resume_run=str(folder), operator_timeout_s=1,
                                                 **opts)
            finally:
                set_operator(previous)
    finally:
        set_clock(previous_clock)
    assert resumed.is_completed(), resumed
    records = _records(folder)
    assert [(r["point_id"], r["attempt"]) for r in records if r["type"] == "point_done"] \
        == [("T25C", 2)]
    assert len([r for r in records if r["type"] == "reading"]) == 2
    assert not [r for r in records if r["type"] == "display_entry"]   # typed at the terminal

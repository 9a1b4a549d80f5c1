"""Operator input (flows/operator_input.py, `labauto operator`): a procedure step pauses the
calibrate flow run for a typed answer; sources are in standby while it waits; a wrong answer is
refused (exit 2, nothing sent); the answer is journalled; no answer in time ends the run,
which is resumed without measuring a point twice."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labauto.engine.journal import RunJournal
from labauto.sim import SimulatedLab

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml"
STEP = "Move the leads to the 10 V terminals"
runner = CliRunner()


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)


@pytest.fixture()
def step_procedure(tmp_path) -> Path:
    """The quick procedure with a lead change before its 10 V points."""
    text = QUICK.read_text().replace("  - {range: 10 V,", f"  - step: {STEP}\n  - {{range: 10 V,")
    assert STEP in text
    path = tmp_path / "quick_with_step.yaml"
    path.write_text(text)
    return path


def _operator(*args: str):
    from labauto.cli import app

    return runner.invoke(app, ["operator", *args])


def _wait_for_pending(run_id: str, flow: threading.Thread) -> list[dict]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and flow.is_alive():
        result = _operator("pending", "--json")
        assert result.exit_code == 0, result.output
        # stdout only: the JSON document (a log line another test's handler writes to stderr
        # must not break the parse)
        waiting = [w for w in json.loads(result.stdout) if w["labauto_run"] == run_id]
        if waiting:
            return waiting
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never paused for the operator")


def _records(run_folder: Path) -> list[dict]:
    return [json.loads(line) for line in (run_folder / "journal.jsonl").read_text().splitlines()]


def test_a_step_pauses_the_flow_and_the_cli_answer_is_checked_and_journalled(
        prefect_harness, tmp_path, step_procedure):
    from flows.calibrate import calibrate

    results: dict = {}
    with SimulatedLab(seed=31, latency="zero") as lab:
        flow = threading.Thread(target=lambda: results.setdefault("state", calibrate(
            str(step_procedure), lab.resources["dmm"], lab.resources["calibrator"],
            runs_dir=str(tmp_path / "runs"), out_dir=str(tmp_path / "certs"), settle_scale=0.0,
            timeout_ms=5000, publish=False, run_id="STEP-RUN", operator_timeout_s=300,
            return_state=True)), daemon=True)
        flow.start()
        waiting: list[dict] = []
        try:
            waiting = _wait_for_pending("STEP-RUN", flow)
            assert len(waiting) == 1 and STEP in waiting[0]["asks"] and "10V" in waiting[0]["asks"]
            assert lab.calibrator_state()["operate"] is False         # standby while it waits
            before = _records(tmp_path / "runs" / "STEP-RUN")
            assert [r["point_id"] for r in before if r["type"] == "point_done"] == ["DCV-100mV-+100mV"]

            blank = _operator("answer", "STEP-RUN", "--technician", "   ")
            assert blank.exit_code == 2 and "technician" in blank.output and "nothing sent" in blank.output
            unknown = _operator("answer", "NO-SUCH-RUN", "--technician", "A. Tech")
            assert unknown.exit_code == 2 and "NO-SUCH-RUN" in unknown.output
            assert _wait_for_pending("STEP-RUN", flow)        # still waiting: nothing was sent

            ok = _operator("answer", waiting[0]["flow_run_name"], "--technician", "A. Tech",
                           "--note", "low-thermal leads")
            assert ok.exit_code == 0, ok.output
            flow.join(300)
            assert lab.calibrator_state()["operate"] is False
        finally:
            # a failed assertion above must not leave the paused run holding the instruments'
            # locks for the rest of the session: end it ("not done") and wait for it
            if flow.is_alive() and waiting:
                _operator("answer", waiting[0]["flow_run_name"], "--technician", "test cleanup",
                          "--not-done")
                flow.join(120)
    state = results["state"]
    assert state.is_completed(), state
    records = _records(Path(state.result()["run_folder"]))
    steps = [r for r in records if r["type"] == "operator_step"]
    assert len(steps) == 1
    assert (steps[0]["text"], steps[0]["technician"], steps[0]["note"], steps[0]["answered_in"]) \
        == (STEP, "A. Tech", "low-thermal leads", "prefect")
    assert steps[0]["point_id"] == "DCV-10V-+10V"
    # journalled before the point it was asked for was started
    first_10v = next(i for i, r in enumerate(records)
                     if r["type"] == "point_start" and r["point_id"] == "DCV-10V-+10V")
    assert records.index(steps[0]) < first_10v
    journal = RunJournal(Path(state.result()["run_folder"]) / "journal.jsonl").read()
    assert all(p.completed and len(p.attempts) == 1 for p in journal.points.values())


def test_no_answer_in_time_ends_the_run_which_resumes_without_measuring_twice(
        prefect_harness, tmp_path, step_procedure, caplog):
    from flows.calibrate import calibrate
    from labauto.engine.operator import AutoConfirm, set_operator

    with SimulatedLab(seed=32, latency="zero") as lab:
        args = (str(step_procedure), lab.resources["dmm"], lab.resources["calibrator"])
        opts = dict(runs_dir=str(tmp_path / "runs"), out_dir=str(tmp_path / "certs"),
                    settle_scale=0.0, timeout_ms=5000, publish=False, return_state=True)
        stopped = calibrate(*args, run_id="LATE-RUN", operator_timeout_s=1, **opts)
        assert lab.calibrator_state()["operate"] is False
        assert stopped.is_failed()
        # (the server words the failed state of a pause that ran out; the log says why)
        message = " ".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
        assert "nobody answered" in message and STEP in message and "labauto resume" in message
        folder = tmp_path / "runs" / "LATE-RUN"
        kept = RunJournal(folder / "journal.jsonl").read()
        assert kept.completed_ids() == {"DCV-100mV-+100mV"} and not kept.ended
        readings_before = [r for r in _records(folder) if r["type"] == "reading"]
        assert len(readings_before) == 5

        terminal = AutoConfirm()          # a person at the terminal answers the resumed run
        previous = set_operator(terminal)
        try:
            resumed = calibrate(*args, resume_run=str(folder), **opts)
        finally:
            set_operator(previous)
    assert resumed.is_completed(), resumed
    assert terminal.confirmed == [STEP]            # the step is asked again
    records = _records(folder)
    assert [r for r in records if r["type"] == "reading"][:5] == readings_before     # kept
    journal = RunJournal(folder / "journal.jsonl").read()
    assert all(p.completed and len(p.attempts) == 1 for p in journal.points.values())
    assert [r["answered_in"] for r in records if r["type"] == "operator_step"] == ["terminal"]


def test_an_answer_of_the_wrong_type_is_refused_before_anything_is_sent():
    from flows.operator_input import AnswerRefused, checked_answer

    assert checked_answer("  B. Tech ", "ok").technician == "B. Tech"
    with pytest.raises(AnswerRefused, match="technician"):
        checked_answer("")
    with pytest.raises(AnswerRefused, match="note"):
        checked_answer("B. Tech", "x" * 2001)

"""Interrupted calibrations: a killed run resumes without re-measuring completed points; an
instrument error or Ctrl-C leaves the calibrator in standby and keeps every reading taken."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labauto.calibration import run_calibration
from labauto.engine.journal import JournalError, RunJournal
from labauto.engine.run import RunSettings, execute_points, start_run
from labauto.procedure import load_procedure
from labauto.sim import SimulatedLab
from labauto.visa.errors import InstrumentError

ROOT = Path(__file__).resolve().parents[2]


def _journals(workdir: Path) -> list[Path]:
    return sorted((workdir / "runs").glob("*/journal.jsonl"))


def _done_points(journal: Path) -> int:
    try:
        return len(RunJournal(journal).read().completed_ids())
    except JournalError:      # the child has created the file but not yet written its header
        return 0


def _cli(args: list[str], home: Path) -> subprocess.Popen:
    env = dict(os.environ, LABAUTO_HOME=str(home), LABAUTO_OUTBOX=str(home / "outbox.sqlite3"),
               PYTHONUNBUFFERED="1")
    env.pop("LABAUTO_PLATFORM_URL", None)
    return subprocess.Popen([sys.executable, "-m", "labauto.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run_in_child(procedure: Path, res: dict, workdir: Path, home: Path) -> subprocess.Popen:
    """`labauto run` (plain engine) in a child process that the test can kill or interrupt.

    Half the procedure's 1 s settle time keeps each point sourcing for at least 0.5 s: a window
    the test cannot miss on a loaded machine (with no settling the four points took ~0.6 s
    together, and a test that was descheduled for that long found the run already ended)."""
    return _cli(["run", str(procedure), "--dut", res["dmm"], "--standard", res["calibrator"],
                 "--workdir", str(workdir), "--no-prefect", "--settle-scale", "0.5",
                 "--no-publish"], home)


def _wait_for_points(workdir: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        js = _journals(workdir)
        if js and _done_points(js[0]) >= n:
            return js[0]
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {n} points were done:\n{proc.stdout.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"no {n} completed points within {timeout} s")


def test_killed_run_resumes_without_remeasuring(quick_procedure, tmp_path, private_home):
    workdir = tmp_path / "work"
    with SimulatedLab(seed=3, latency="realistic") as lab:
        res = lab.resources
        proc = _run_in_child(quick_procedure, res, workdir, private_home)
        journal_path = _wait_for_points(workdir, 2, proc)
        proc.send_signal(signal.SIGKILL)          # a crash: no cleanup code runs
        proc.wait(10)
        state = RunJournal(journal_path).read()
        done_before = {pid: list(p.readings) for pid, p in state.points.items() if p.completed}
        assert len(done_before) >= 2
        assert not state.ended
        lines_before = journal_path.read_text().splitlines()

        # the lab has realistic timing: the output must settle (with no settle time the first
        # reading at -10 V was taken mid-slew, -6.7 V, and is stopped as a measurement fault)
        outcome = run_calibration(quick_procedure, dut_resource=res["dmm"],
                                  standard_resource=res["calibrator"],
                                  resume_folder=journal_path.parent, settle_scale=0.5,
                                  out_dir=tmp_path / "certificates", publish=False)
    final = RunJournal(journal_path).read()
    procedure = load_procedure(quick_procedure)
    assert [p.point_id for p in outcome.result.points] == [p.id for p in procedure.points]
    for pid, readings in done_before.items():
        # completed before the crash: measured once, and those very readings are certified
        assert list(final.points[pid].attempts) == [1], f"{pid} was measured again after the resume"
        cert_point = next(p for p in outcome.result.points if p.point_id == pid)
        assert [r["value"] for r in readings] == list(cert_point.readings)
    assert journal_path.read_text().splitlines()[:len(lines_before) - 1] == lines_before[:-1]
    assert all(p.completed for p in final.points.values())
    for p in outcome.result.points:
        assert len(p.readings) == next(tp.readings for tp in procedure.points if tp.id == p.point_id)


def test_ctrl_c_leaves_the_calibrator_in_standby_and_the_readings_journaled(
        quick_procedure, tmp_path, private_home):
    workdir = tmp_path / "work"
    with SimulatedLab(seed=4, latency="realistic") as lab:
        res = lab.resources
        proc = _run_in_child(quick_procedure, res, workdir, private_home)
        journal_path = _wait_for_points(workdir, 1, proc)
        # wait until the second point is sourcing (operate on), then press Ctrl-C
        deadline = time.monotonic() + 20
        while not lab.calibrator_state()["operate"] and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 130, out
        assert "interrupted" in out and "labauto resume" in out
        state = lab.calibrator_state()
        assert state["operate"] is False, "Ctrl-C must leave the calibrator in standby"
    js = RunJournal(journal_path).read()
    failed = [p for p in js.points.values() if not p.completed]
    assert failed, "the interrupted point is recorded as not completed"
    text = journal_path.read_text()
    assert "KeyboardInterrupt" in text


def test_instrument_error_mid_point_is_named_and_leaves_standby(quick_procedure, tmp_path):
    procedure = load_procedure(quick_procedure)
    with SimulatedLab(seed=2, latency="zero") as lab:
        run = start_run(procedure, tmp_path / "runs",
                        RunSettings(lab.resources["dmm"], lab.resources["calibrator"], 5000, 0.0, "t"))
        # the DMM refuses a READ? with an SCPI error
        lab.inject_fault("dmm", "error", on=r"READ\?", count=1, code=-230,
                         message="Data corrupt or stale")
        with pytest.raises(InstrumentError) as info:
            execute_points(run, sleep=lambda s: None)
        msg = str(info.value)
        assert "READ?" in msg and "-230" in msg
        assert lab.resources["dmm"] in msg or "34465A" in msg
        assert lab.calibrator_state()["operate"] is False
    state = run.state()
    first = procedure.points[0]
    record = state.points[first.id]
    assert not record.completed and len(record.attempts) == 1
    assert "InstrumentError" in run.journal.path.read_text()


def test_a_procedure_local_instrument_model_is_the_one_the_run_opens(quick_procedure, tmp_path):
    # docs/procedures.md: instrument keys may be folders relative to the procedure file.  The run
    # must drive the instrument with that model (its identity pattern here only accepts serials
    # starting "XX", which the simulated DMM's is not), not a stock model of the same name.
    import shutil
    models = tmp_path / "lab_models" / "keysight_34465a"
    shutil.copytree(ROOT / "instruments" / "keysight_34465a", models)
    text = (models / "model.yaml").read_text()
    (models / "model.yaml").write_text(text.replace("(?P<serial>[^,]+)", "(?P<serial>XX[^,]+)"))
    proc = tmp_path / "local.yaml"
    proc.write_text(quick_procedure.read_text().replace("dut: keysight_34465a", "dut: lab_models/keysight_34465a"))
    procedure = load_procedure(proc)
    assert procedure.dut_model.folder == models
    from labauto.instruments import IdentityMismatch
    with SimulatedLab(seed=2, latency="zero") as lab:
        run = start_run(procedure, tmp_path / "runs",
                        RunSettings(lab.resources["dmm"], lab.resources["calibrator"], 5000, 0.0, "t"))
        with pytest.raises(IdentityMismatch, match=r"XX\[\^,\]\+"):
            execute_points(run, sleep=lambda s: None)
        assert lab.calibrator_state()["operate"] is False


def test_a_second_session_on_the_same_run_is_refused(quick_procedure, tmp_path):
    # e.g. `labauto resume` while the original run is still measuring: every point would be
    # measured twice, the two sessions' readings mixed in one journal
    from labauto.engine.run import RunInUse, open_run, run_lock
    procedure = load_procedure(quick_procedure)
    with SimulatedLab(seed=3, latency="zero") as lab:
        run = start_run(procedure, tmp_path / "runs",
                        RunSettings(lab.resources["dmm"], lab.resources["calibrator"], 5000, 0.0, "t"))
        other = open_run(run.folder)
        with run_lock(run):
            with pytest.raises(RunInUse, match=f"pid {os.getpid()}"):
                execute_points(other, sleep=lambda s: None)
        assert not RunJournal(run.journal.path).read().points      # nothing was measured
        execute_points(other, sleep=lambda s: None)                 # the lock is free again
    assert len(run.state().completed_ids()) == len(procedure.points)


def test_a_run_started_with_a_relative_procedure_path_resumes_from_another_folder(tmp_path, monkeypatch):
    from labauto.engine.run import open_run
    monkeypatch.chdir(ROOT)
    run = start_run(load_procedure("procedures/keysight_34465a_dcv_quick.yaml"), tmp_path / "runs",
                    RunSettings("TCPIP0::x::1::SOCKET", "TCPIP0::x::2::SOCKET"))
    monkeypatch.chdir(tmp_path)
    again = open_run(run.folder)
    assert again.procedure.sha256 == run.procedure.sha256 and again.run_id == run.run_id


def test_a_run_is_not_resumed_with_a_changed_instrument_model(quick_procedure, tmp_path):
    # the model files' specifications set tolerances and budgets: like the procedure, they are
    # fixed for the life of a run (their SHA-256 is in the journal header)
    import shutil
    from labauto.engine.run import open_run
    models = tmp_path / "lab_models" / "keysight_34465a"
    shutil.copytree(ROOT / "instruments" / "keysight_34465a", models)
    proc = tmp_path / "local.yaml"
    proc.write_text(quick_procedure.read_text().replace("dut: keysight_34465a", "dut: lab_models/keysight_34465a"))
    run = start_run(load_procedure(proc), tmp_path / "runs",
                    RunSettings("TCPIP0::x::1::SOCKET", "TCPIP0::x::2::SOCKET"))
    assert run.state().header["instrument_models"]["dut"]["sha256"] == run.procedure.dut_model.sha256
    open_run(run.folder)                                    # unchanged: fine
    (models / "model.yaml").write_text((models / "model.yaml").read_text() + "\n# edited\n")
    with pytest.raises(JournalError, match="dut instrument model .*model.yaml changed since run"):
        open_run(run.folder)

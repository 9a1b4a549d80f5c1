"""Two runs on the same instruments: the second is refused, naming the run that holds them.

Without the locks, two `labauto run` on one simulated lab interleaved their commands and both
issued certificates with absurd values (a 10 V point read as 0.19 V, a -10 V point as +9.99997 V).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labauto.engine.journal import JournalError, RunJournal
from labauto.sim import SimulatedLab

ROOT = Path(__file__).resolve().parents[2]


def _cli(args: list[str], home: Path) -> subprocess.Popen:
    env = dict(os.environ, LABAUTO_HOME=str(home), LABAUTO_OUTBOX=str(home / "outbox.sqlite3"),
               PYTHONUNBUFFERED="1", COLUMNS="250")
    env.pop("LABAUTO_PLATFORM_URL", None)
    return subprocess.Popen([sys.executable, "-m", "labauto.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run(procedure: Path, dut: str, standard: str, workdir: Path, home: Path,
         settle_scale: str) -> subprocess.Popen:
    return _cli(["run", str(procedure), "--dut", dut, "--standard", standard, "--workdir",
                 str(workdir), "--no-prefect", "--settle-scale", settle_scale, "--no-publish"], home)


def _wait_until_measuring(workdir: Path, proc: subprocess.Popen, timeout: float = 60) -> Path:
    """The journal of the run in ``workdir`` once its first point has started (instruments open)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for journal in (workdir / "runs").glob("*/journal.jsonl"):
            try:
                if RunJournal(journal).read().points:
                    return journal
            except JournalError:
                pass
        if proc.poll() is not None:
            pytest.fail(f"run A ended before it measured:\n{proc.stdout.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("run A did not start measuring")


def test_a_second_run_on_busy_instruments_is_refused_naming_the_holder(quick_procedure, tmp_path,
                                                                        private_home):
    # A sources each point for 3 s (settle time): B, started while A measures, overlaps it
    with SimulatedLab(seed=5, latency="zero") as lab:
        res = lab.resources
        a = _run(quick_procedure, res["dmm"], res["calibrator"], tmp_path / "a", private_home, "3")
        try:
            journal_a = _wait_until_measuring(tmp_path / "a", a)
            run_a = RunJournal(journal_a).read().header["run_id"]
            # the same instruments, the standard named by an equivalent resource string
            b = _run(quick_procedure, res["dmm"], res["calibrator"].replace("TCPIP0::", "TCPIP::"),
                     tmp_path / "b", private_home, "0")
            out_b, _ = b.communicate(timeout=120)
            assert a.poll() is None, "run A must still be measuring while B is refused"
            out_a, _ = a.communicate(timeout=120)
        finally:
            for p in (a,):
                if p.poll() is None:
                    p.kill()
    flat_b = " ".join(out_b.split())
    assert b.returncode == 2, out_b
    assert "is busy" in flat_b
    assert f"run {run_a} (pid {a.pid} on host {socket.gethostname()}" in flat_b, out_b
    assert "Traceback" not in out_b
    assert not list((tmp_path / "b").glob("runs/*")), "a refused run leaves no run folder"
    # run A was not disturbed: its certificate shows the simulated DUT's small errors
    assert a.returncode == 0, out_a
    cert = json.loads(next((tmp_path / "a" / "certificates").glob("*/certificate.json")).read_bytes())
    assert [p["decision"] for p in cert["points"]] == ["pass"] * 4
    for p in cert["points"]:
        nominal = p["nominal"]["value"]
        mean = sum(p["readings"]) / len(p["readings"])
        assert abs(mean - nominal) <= 1e-4 * abs(nominal), (p["point_id"], mean, nominal)


def test_the_same_instrument_behind_another_resource_string_is_caught_by_its_identity(
        quick_procedure, tmp_path):
    # Two simulated labs whose instruments report the same *IDN? (maker, model, serial): to the
    # locks they are one instrument reached through two resource strings (e.g. LAN and GPIB).
    from labauto.calibration import run_calibration
    from labauto.engine.locks import InstrumentBusy, InstrumentLocks, open_locked
    from labauto.procedure import load_procedure
    from contextlib import ExitStack

    procedure = load_procedure(quick_procedure)
    with SimulatedLab(seed=6, latency="zero") as first, SimulatedLab(seed=7, latency="zero") as second:
        with ExitStack() as stack:
            locks = stack.enter_context(InstrumentLocks("RUN-A", timeout_s=0))
            open_locked(stack, locks, "the item (DUT)", first.resources["dmm"], procedure.dut_model)
            open_locked(stack, locks, "the reference standard", first.resources["calibrator"],
                        procedure.standard_model)
            with pytest.raises(InstrumentBusy) as info:
                run_calibration(quick_procedure, dut_resource=second.resources["dmm"],
                                standard_resource=second.resources["calibrator"],
                                runs_dir=tmp_path / "runs", out_dir=tmp_path / "certs",
                                settle_scale=0.0, publish=False)
            msg = str(info.value)
            assert "Keysight Technologies 34465A serial MY60012345" in msg
            assert f"run RUN-A (pid {os.getpid()} on host {socket.gethostname()}" in msg
            # nothing but *IDN? reached the second lab's instruments
            assert second.calibrator_state()["history"] == []
            assert not list(tmp_path.glob("runs/*/journal.jsonl"))
        # released: the run goes ahead
        outcome = run_calibration(quick_procedure, dut_resource=second.resources["dmm"],
                                  standard_resource=second.resources["calibrator"],
                                  runs_dir=tmp_path / "runs", out_dir=tmp_path / "certs",
                                  settle_scale=0.0, publish=False)
    assert outcome.result.overall_decision == "pass"


def test_a_killed_holder_releases_its_locks_and_a_waiting_run_gets_them(tmp_path):
    from labauto.engine.locks import InstrumentBusy, InstrumentLocks

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from labauto.engine.locks import InstrumentLocks\n"
        "with InstrumentLocks('RUN-KILLED', timeout_s=0) as l:\n"
        "    l.acquire_resource('GPIB0::22::INSTR', 'the DUT')\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        with InstrumentLocks("RUN-B", timeout_s=0) as locks:
            with pytest.raises(InstrumentBusy, match=f"run RUN-KILLED \\(pid {holder.pid} "):
                locks.acquire_resource("GPIB::22::INSTR", "the DUT")
        holder.send_signal(signal.SIGKILL)       # no cleanup runs: the kernel drops the flock
        holder.wait(10)
        with InstrumentLocks("RUN-B", timeout_s=0) as locks:
            locks.acquire_resource("GPIB0::22::INSTR", "the DUT")
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_run_waits_for_a_busy_instrument_when_asked_to(monkeypatch):
    from labauto.engine.locks import InstrumentBusy, InstrumentLocks

    first = InstrumentLocks("RUN-1", timeout_s=0)
    first.acquire_resource("TCPIP0::10.1.2.3::5025::SOCKET", "the standard")
    threading.Timer(0.5, first.close).start()
    monkeypatch.setenv("LABAUTO_LOCK_WAIT", "20")
    t0 = time.monotonic()
    with InstrumentLocks("RUN-2") as second:
        second.acquire_resource("TCPIP0::10.1.2.3::5025::SOCKET", "the standard")
        assert time.monotonic() - t0 >= 0.4
    monkeypatch.setenv("LABAUTO_LOCK_WAIT", "0.3")
    with InstrumentLocks("RUN-1") as held:
        held.acquire_resource("TCPIP0::10.1.2.3::5025::SOCKET", "the standard")
        with pytest.raises(InstrumentBusy, match="after waiting 0.3 s"):
            with InstrumentLocks("RUN-3") as third:
                third.acquire_resource("TCPIP0::10.1.2.3::5025::SOCKET", "the standard")

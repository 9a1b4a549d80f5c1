"""Resilience of a calibration on a bench's deployment (issue 14, item 6): the flow-run process
that a bench's worker started is killed with SIGKILL mid-run (no cleanup code runs); the
recovery that runs when the worker is started again (flows/recovery.py) marks the dead flow run
Crashed, leaves its instruments safe (the calibrator, left sourcing by the dead process, in
standby), releases its instrument slots and submits a flow run that resumes the SAME labauto run
from its journal: no completed point is measured again, every reading taken before the kill is
kept, the certificate is issued once.

The killed process is Prefect's own flow-run entry point (``python -m prefect.engine`` with
``PREFECT__FLOW_RUN_ID``, what the process worker starts), talking to the session's harness;
the resumption runs in this process (what the restarted worker's subprocess would do)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labauto.engine.journal import JournalError, RunJournal
from labauto.lab import DEFAULT_LAB_FILE
from labauto.sim import SimulatedLab

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml"


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)


def _completed(journal: Path) -> int:
    try:
        return len(RunJournal(journal).read().completed_ids())
    except JournalError:          # created, header not yet written
        return 0


def _wait_for_points(runs_dir: Path, n: int, child: subprocess.Popen, timeout: float = 90) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(runs_dir.glob("*/journal.jsonl"))
        if found and _completed(found[0]) >= n:
            return found[0]
        if child.poll() is not None:
            pytest.fail(f"the flow-run process ended before {n} points were done:\n"
                        f"{child.stdout.read()}")
        time.sleep(0.02)
    child.kill()
    pytest.fail(f"no {n} completed points within {timeout} s:\n{child.stdout.read()}")


def test_a_flow_run_killed_mid_run_is_resumed_from_its_journal(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow

    from flows.bench_run import submit
    from flows.calibrate import calibrate
    from flows.deployments import deploy_lab, job_variables
    from flows.instrument_slots import ensure_limits, resource_slot, server_url
    from flows.recovery import recover_bench
    from labauto.benches import load_benches

    with SimulatedLab(seed=21, latency="zero") as lab:
        res = lab.resources
        lab_file = tmp_path / "lab.yaml"
        lab_file.write_text(DEFAULT_LAB_FILE.read_text() + (
            f"benches:\n  kill-1:\n    standard: {res['calibrator']}\n    dut: {res['dmm']}\n"
            f"    workdir: {tmp_path / 'bench'}\n"))
        deploy_lab(lab_file)
        bench = load_benches(lab_file)["kill-1"]
        # 1 s settling per point: the run takes > 4 s, a window the kill cannot miss
        first = submit(bench, {"procedure": str(QUICK), "settle_scale": 1.0, "timeout_ms": 5000})
        env = dict(os.environ, **job_variables(lab_file)["env"], PREFECT_API_URL=server_url(),
                   PREFECT__FLOW_RUN_ID=str(first.id), PYTHONUNBUFFERED="1")
        child = subprocess.Popen([sys.executable, "-m", "prefect.engine"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with get_client(sync_client=True) as client:    # as the process worker records it
            client.update_flow_run(first.id, infrastructure_pid=f"{socket.gethostname()}:{child.pid}")
        journal = _wait_for_points(bench.runs_dir, 2, child)
        deadline = time.monotonic() + 30                 # kill it while the calibrator sources
        while not lab.calibrator_state()["operate"] and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)               # worker and flow run die: no cleanup
        assert child.wait(30) == -signal.SIGKILL
        assert lab.calibrator_state()["operate"] is True  # left live by the dead process
        before = RunJournal(journal).read()
        assert before.ended is None
        done_before = {pid: p.readings for pid, p in before.points.items() if p.completed}
        assert len(done_before) >= 2
        lines_before = journal.read_text().splitlines()
        readings_before = [json.loads(x) for x in lines_before[:-1]
                           if json.loads(x)["type"] == "reading"]

        slots = [resource_slot(res["dmm"]), resource_slot(res["calibrator"])]
        assert ensure_limits(slots) == slots             # the dead run still holds the bench
        recovered = recover_bench(bench)                 # what `labauto lab up` does first
        assert len(recovered) == 1 and recovered[0]["crashed"] == str(first.id)
        assert recovered[0]["resume_run"] == str(journal.parent)
        assert recovered[0]["instruments"] == "safe"
        assert lab.calibrator_state()["operate"] is False  # standby before anything else
        assert ensure_limits(slots) == []                # released at once, not after 60 s
        with get_client(sync_client=True) as client:
            resumed = client.read_flow_run(recovered[0]["resumed_by"])
            assert client.read_flow_run(first.id).state.is_crashed()
        # the restarted worker runs the resumption (here: in this process)
        state = run_flow(calibrate, flow_run=resumed, parameters=resumed.parameters,
                         return_type="state")
        assert state.is_completed(), state
        summary = state.result()

    after = RunJournal(journal).read()
    assert summary["run_id"] == journal.parent.name                  # the same labauto run
    assert sorted(p.name for p in bench.runs_dir.iterdir()) == [journal.parent.name]
    assert all(p.completed for p in after.points.values()) and len(after.points) == 4
    for pid, readings in done_before.items():                        # not measured again
        assert list(after.points[pid].attempts) == [1], pid
        assert after.points[pid].readings == readings
    lines_after = journal.read_text().splitlines()
    assert lines_after[:len(lines_before) - 1] == lines_before[:-1]  # nothing rewritten
    kept = [json.loads(x) for x in lines_after if json.loads(x)["type"] == "reading"]
    assert all(r in kept for r in readings_before)                   # no reading lost
    done = [json.loads(x)["point_id"] for x in lines_after if json.loads(x)["type"] == "point_done"]
    assert sorted(done) == sorted(after.points)                      # each point done once
    cert = json.loads(Path(summary["files"]["json"]).read_bytes())
    for p in cert["points"]:
        if p["point_id"] in done_before:
            assert p["readings"] == [r["value"] for r in done_before[p["point_id"]]]
    assert len(list(bench.out_dir.rglob("*.xml"))) == 1              # issued once
    assert [json.loads(x)["type"] for x in lines_after].count("run_end") == 1

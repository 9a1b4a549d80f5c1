"""A Prefect server restart mid-run (issue 14, item 6): the lab's own server command (flows/lab_up.py
``plan``, what ``labauto lab up`` starts; SQLite in a temporary Prefect home, its own port) is
killed with SIGKILL while a calibration on a bench's deployment is measuring, and started again
on the same database; the calibration goes on (or is resumed from its journal by the recovery)
and the run is whole: one labauto run, every point completed once, the journal written before
the kill unchanged, one certificate, one ``run_end``.

The scenario is benchmarks/bench_server_restart.py's ``once`` (one implementation for the
benchmark and the test), here with 4 points, the server killed after 2.  It is the one test that
starts a Prefect server of its own: a restart of the session's harness server would disturb
every other Prefect test, so this server is a separate process with its own port and Prefect
home, and the session harness is neither used nor touched.  About 25 s on the development
machine (two server starts)."""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_server_restart.py"
POINTS, KILL_AFTER = 4, 2


@pytest.fixture()
def bench_module(tmp_path, monkeypatch):
    """The benchmark script as a module; the environment and sys.path restored afterwards."""
    env, path = dict(os.environ), list(sys.path)
    spec = importlib.util.spec_from_file_location("bench_server_restart", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)
    try:
        yield module
    finally:
        sys.path[:] = path
        os.environ.clear()
        os.environ.update(env)


def test_server_killed_and_restarted_mid_run_keeps_the_run_whole(bench_module, tmp_path):
    args = argparse.Namespace(points=POINTS, kill_after=KILL_AFTER, settle_scale=1.0, down_s=0.0,
                              kill="server", database=None)
    work = tmp_path / "work"
    work.mkdir()
    r = bench_module.once(args, work)

    # the kill landed mid-run: at least KILL_AFTER points done, not all of them
    assert KILL_AFTER <= r["points_done_at_kill"] < POINTS, r
    # the flow run rode the restart out, or the recovery resumed it from its journal and the
    # resuming flow run completed
    if r["resumed_by_recovery"]:
        assert r["second_flow_run_state"] == "Completed", r
    else:
        assert r["first_flow_run_state"] == "Completed", r
        assert r["first_process_exit"] == 0, r
    assert r["checks"] == {
        "one labauto run": True,
        "every point completed": True,
        "each point completed once": True,
        "journal before the restart kept as it was": True,
        "certificate issued once": True,
        "run ended once": True,
    }, r
    # no point measured twice: one attempt per point unless a point was being measured when a
    # flow-run process died (then resumed as a new attempt, its readings kept)
    assert POINTS <= r["attempts"] <= POINTS + 1, r
    if not r["resumed_by_recovery"]:
        assert r["attempts"] == POINTS, r

"""A flow run's end does not wait for Prefect's heartbeat thread (flows/heartbeat.py): before,
the synchronous engine joined the thread, which sleeps in 1 s steps (up to 1 s per flow run)."""
from __future__ import annotations

import logging
import threading
import time

from flows.heartbeat import dont_wait_for_heartbeat_thread


class _Engine:
    """What ``prefect.flow_engine._send_heartbeats`` uses of a flow run engine."""

    heartbeat_seconds = 30
    flow_run = None
    logger = logging.getLogger("test-heartbeat")

    def __init__(self):
        self.emitted = threading.Event()

    def _build_heartbeat_event_template(self):
        return {}, []

    def _emit_flow_run_heartbeat(self, resource, related):
        self.emitted.set()


def test_flow_run_end_does_not_wait_for_the_heartbeat_thread_which_ends_by_itself():
    from prefect import flow_engine

    import flows.calibrate  # noqa: F401 - the calibrate flow's module applies it

    assert dont_wait_for_heartbeat_thread() is True
    engine = _Engine()
    before = set(threading.enumerate())
    with flow_engine._send_heartbeats(engine):
        assert engine.emitted.wait(10)        # the thread sent its first heartbeat and sleeps
        (thread,) = set(threading.enumerate()) - before
        t0 = time.perf_counter()
    waited = time.perf_counter() - t0
    assert waited < 0.5, f"the flow run's end waited {waited:.2f} s for the heartbeat thread"
    thread.join(3)                            # it sees the stop at its next 1 s step
    assert not thread.is_alive()


def test_applying_twice_wraps_once():
    from prefect import flow_engine

    dont_wait_for_heartbeat_thread()
    first = flow_engine._send_heartbeats
    assert dont_wait_for_heartbeat_thread() is True
    assert flow_engine._send_heartbeats is first


def test_every_deployed_flow_module_applies_it_by_itself():
    """A worker loads a deployment's flow from its entrypoint file alone: each module must
    apply the hook itself (check-standard and validate waited for the thread before)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from flows.deployments import ENTRYPOINTS

    root = Path(__file__).resolve().parents[2]
    modules = sorted(e.split(":")[0][:-3].replace("/", ".") for e in ENTRYPOINTS.values())
    code = ("import importlib, sys\nfrom prefect import flow_engine\n"
            "importlib.import_module(sys.argv[1])\n"
            "print(getattr(flow_engine._send_heartbeats, '_labauto_no_join', False))")
    env = {**os.environ, "PYTHONPATH": str(root), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    for module in modules:
        out = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True,
                             cwd=root, env=env, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == "True", module

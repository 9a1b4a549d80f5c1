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

"""A flow run's end does not wait for Prefect's heartbeat thread.

Prefect 3.8 sends a flow run's heartbeats (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, 180 s by
default) from a thread that sleeps in 1 s steps (``prefect.flow_engine._send_heartbeats``).
The synchronous flow engine joins that thread when the flow run ends, so every run of a
synchronous flow (``calibrate``, ``check-standard``, ...) waited up to 1 s (0.5 s on average)
doing nothing: 17 ms per point of a 30-point calibration.  The asynchronous engine does not
join it (``join_on_exit=False``): the thread, a daemon, sees the stop at its next 1 s step and
ends without emitting again.  :func:`dont_wait_for_heartbeat_thread` makes the synchronous
engine do the same; heartbeats are still sent while the run lasts.

The setting cannot do this: it accepts whole seconds >= 30 and no "off" from the environment,
and labauto's crash recovery does not use heartbeats (flows/recovery.py: the flow-run process
is alive or not).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator


def dont_wait_for_heartbeat_thread() -> bool:
    """Have Prefect's synchronous flow engine leave its heartbeat thread to end by itself;
    True if applied (or already), False if this Prefect has no such hook (then nothing
    changes: the flow runs wait as before)."""
    import inspect

    from prefect import flow_engine

    original = getattr(flow_engine, "_send_heartbeats", None)
    if original is None:
        return False
    if getattr(original, "_labauto_no_join", False):
        return True
    if "join_on_exit" not in inspect.signature(original).parameters:
        return False

    @contextmanager
    def send_heartbeats(engine: Any, join_on_exit: bool = True) -> Iterator[None]:
        with original(engine, join_on_exit=False):
            yield

    send_heartbeats._labauto_no_join = True  # type: ignore[attr-defined]
    flow_engine._send_heartbeats = send_heartbeats
    return True

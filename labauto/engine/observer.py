"""Progress events of a run, for progress bars and logs.  The engine calls an observer; the CLI
supplies one that draws a rich progress bar per test point."""
from __future__ import annotations

from typing import Any, Protocol

import pint


class RunObserver(Protocol):
    def point_started(self, point: Any, attempt: int) -> None: ...
    def reading(self, point: Any, index: int, value: pint.Quantity) -> None: ...
    def point_finished(self, point: Any) -> None: ...
    def point_skipped(self, point: Any, reason: str) -> None: ...
    # optional: ``conditions(when, values, problems)`` for each environment-logger reading


class NullObserver:
    def point_started(self, point: Any, attempt: int) -> None:
        pass

    def reading(self, point: Any, index: int, value: pint.Quantity) -> None:
        pass

    def point_finished(self, point: Any) -> None:
        pass

    def point_skipped(self, point: Any, reason: str) -> None:
        pass


_current: RunObserver = NullObserver()


def set_observer(observer: RunObserver | None) -> RunObserver:
    """Install the process-wide observer (used by the Prefect tasks, which run in-process);
    returns the previous one."""
    global _current
    previous, _current = _current, observer or NullObserver()
    return previous


def current_observer() -> RunObserver:
    return _current

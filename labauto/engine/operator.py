"""Steps only a person can do (move the leads to the current terminals, switch to 4-wire, fit
the short): the engine puts every source in standby and asks the *operator* to confirm.

The CLI installs a terminal operator (``labauto run`` asks; ``--yes`` confirms every step, for
an unattended simulated run; ``labauto demo`` confirms them itself).  Without one, a step
stops the run with :class:`OperatorStepRefused`, sources in standby and every reading kept, so
an unattended run never goes on with the leads in the wrong place.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from labauto.errors import LabautoError


class OperatorStepRefused(LabautoError):
    """A step the procedure needs a person for was not confirmed; the run can be resumed."""


class Operator(Protocol):
    def confirm(self, step: Any, point: Any) -> None:
        """Return when the technician has done ``step`` (before ``point``); raise otherwise."""


class NoOperator:
    """Nobody at the bench: refuse every step."""

    def confirm(self, step: Any, point: Any) -> None:
        raise OperatorStepRefused(
            f"point {point.id} needs the technician: {step.text!r} (procedure line {step.line}); "
            "run interactively to confirm it, or with --yes for an unattended simulated run. "
            "Sources are in standby; resume the run when ready")


class AutoConfirm:
    """Confirm every step (a simulated lab has no leads to move); ``log`` sees each one."""

    def __init__(self, log: Callable[[str], None] | None = None):
        self.log = log
        self.confirmed: list[str] = []

    def confirm(self, step: Any, point: Any) -> None:
        self.confirmed.append(step.text)
        if self.log is not None:
            self.log(f"operator step before {point.id}: {step.text} (confirmed automatically)")


class AskOperator:
    """Ask at a terminal: ``ask(prompt) -> bool``."""

    def __init__(self, ask: Callable[[str], bool]):
        self.ask = ask

    def confirm(self, step: Any, point: Any) -> None:
        if not self.ask(f"Sources are in standby. {step.text} — done? (before {point.id})"):
            raise OperatorStepRefused(f"the technician did not confirm {step.text!r} before "
                                      f"point {point.id}; sources are in standby; resume the "
                                      "run when ready")


_current: Operator = NoOperator()
_benches: list[Callable[[Any], None]] = []


def attach_bench(set_up: Callable[[Any], None]) -> None:
    """A simulated bench follows the connections each point needs (a shunt in circuit or not):
    ``set_up(point)`` is called with the sources in standby before each point is measured, as
    the technician has wired it by the procedure's steps.  A real bench attaches nothing."""
    _benches.append(set_up)


def detach_bench(set_up: Callable[[Any], None]) -> None:
    if set_up in _benches:
        _benches.remove(set_up)


def set_up(point: Any) -> None:
    """Tell the attached simulated benches which point is measured next."""
    for bench in list(_benches):
        bench(point)


def set_operator(operator: Operator | None) -> Operator:
    """Install the process-wide operator (the Prefect tasks run in-process); returns the
    previous one."""
    global _current
    previous, _current = _current, operator or NoOperator()
    return previous


def current_operator() -> Operator:
    return _current

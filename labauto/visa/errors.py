"""Errors of the instrument-communication layer.

Every error names the instrument (model and resource) and, where there is one, the command
that was sent, so a technician can find the cable, the instrument and the procedure step.

    VisaError                   base (a LabautoError)
    ├── TransientVisaError      timeout, connection refused / reset / lost: worth retrying
    │   └── ConnectionLostError the other end closed the connection
    ├── InstrumentError         the instrument reported an error in its error queue
    ├── SafeStateError          a source could not be put in its safe state (standby, 0 V)
    ├── CommunicationError      anything else on the bus: permanent (bad resource string ...)
    └── OverloadError           a reading overloaded the configured range
    RefusedRequestError         refused *before* sending (outside the model's ranges ...)
    └── UnsafeRequestError      a source request beyond the model's or the configured limits
"""
from __future__ import annotations

from dataclasses import dataclass

from labauto.errors import LabautoError


class VisaError(LabautoError):
    """A failure talking to one instrument."""

    def __init__(self, message: str, *, instrument: str = "", resource: str = "",
                 command: str | None = None):
        self.instrument, self.resource, self.command = instrument, resource, command
        super().__init__(message)


def where(instrument: str, resource: str) -> str:
    """``Keysight Technologies 34465A at TCPIP0::...`` (or whichever part is known)."""
    if instrument and resource:
        return f"{instrument} at {resource}"
    return instrument or resource or "instrument"


class TransientVisaError(VisaError):
    """Timeout or lost/refused/reset connection: the run may be retried after reconnecting."""


class ConnectionLostError(TransientVisaError):
    """The instrument (or the network) closed the connection."""


class CommunicationError(VisaError):
    """A permanent communication failure (unknown resource, unsupported interface ...)."""


@dataclass(frozen=True)
class ScpiError:
    """One entry of an instrument's error queue."""

    code: int
    message: str

    def __str__(self) -> str:
        return f"{self.code},\"{self.message}\""


class InstrumentError(VisaError):
    """The instrument rejected a command: its error queue held one or more errors."""

    def __init__(self, *, instrument: str, resource: str, command: str | None,
                 errors: list[ScpiError]):
        self.errors = list(errors)
        first = self.errors[0]
        self.code, self.text = first.code, first.message
        listed = "; ".join(str(e) for e in self.errors)
        sent = f" after command {command!r}" if command is not None else ""
        super().__init__(
            f"{where(instrument, resource)} reported error {listed}{sent}; check the command "
            "against the instrument's manual and the procedure's settings",
            instrument=instrument, resource=resource, command=command)


class SafeStateError(VisaError):
    """Putting a source in its safe state failed: it may still be outputting a voltage.

    ``original`` is the exception that was leaving the ``with`` block (or None)."""

    def __init__(self, message: str, *, instrument: str, resource: str, command: str | None,
                 original: BaseException | None = None):
        self.original = original
        super().__init__(message, instrument=instrument, resource=resource, command=command)


class RefusedRequestError(LabautoError, ValueError):
    """A request was refused before anything was sent (outside the instrument model)."""


class UnsafeRequestError(RefusedRequestError):
    """A source request beyond the model's ranges or the configured output limit."""


class OverloadError(VisaError):
    """A reading was an overload (±9.9E37): the input exceeds the configured range."""

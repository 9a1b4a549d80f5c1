"""One VISA session to one instrument: terminations, timeouts, the error queue, error mapping.

``VisaSession.open(resource, instrument=..., backend=...)`` picks the VISA backend:

* an explicit ``resource_manager`` (a ``pyvisa.ResourceManager``) is used as given;
* otherwise ``backend`` (``"@py"``, ``"path/to/sim.yaml@sim"``, ``"@ivi"``) or the
  ``LABAUTO_VISA_BACKEND`` environment variable, defaulting to ``@py`` (pyvisa-py), which
  talks to ``TCPIP0::host::port::SOCKET`` raw SCPI sockets (real instruments and the
  simulated lab alike).

After every command that can fail, ``write``/``query`` read the error queue (``SYST:ERR?`` or
the model's own query) until it reports "no error" and raise :class:`InstrumentError` naming
the instrument, the command and each SCPI error.  Timeouts and lost/refused/reset
connections become :class:`TransientVisaError` (a flow may retry them); other VISA failures
are :class:`CommunicationError`.
"""
from __future__ import annotations

import logging
import os
import re
import socket
from typing import Any, Callable, TypeVar

import pyvisa
from pyvisa import constants

from labauto.visa.errors import (CommunicationError, ConnectionLostError, InstrumentError,
                                 ScpiError,
                                 TransientVisaError, VisaError, where)

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_BACKEND = "@py"
MAX_ERROR_QUEUE = 32          # an instrument's queue is finite; stop draining after this many

_TRANSIENT_CODES = {
    constants.StatusCode.error_timeout,
    constants.StatusCode.error_connection_lost,
    constants.StatusCode.error_io,
    constants.StatusCode.error_resource_busy,
}
_ERROR_LINE = re.compile(r'^\s*([+-]?\d+)\s*(?:,\s*"?(.*?)"?)?\s*$')


def parse_error_entry(text: str) -> ScpiError:
    """``-113,"Undefined header"`` / ``0,No Error`` -> ScpiError(code, message)."""
    m = _ERROR_LINE.match(text)
    if not m:
        raise ValueError(f"not an error-queue entry: {text!r}")
    return ScpiError(int(m.group(1)), (m.group(2) or "").strip())


def resource_manager(backend: str | None = None) -> pyvisa.ResourceManager:
    """A ResourceManager for ``backend`` (default ``LABAUTO_VISA_BACKEND`` or ``@py``)."""
    backend = backend or os.environ.get("LABAUTO_VISA_BACKEND") or DEFAULT_BACKEND
    try:
        return pyvisa.ResourceManager(backend)
    except (OSError, ValueError, pyvisa.errors.Error) as exc:
        raise CommunicationError(f"cannot load VISA backend {backend!r}: {exc}; install "
                                 "pyvisa-py (@py) or a vendor VISA, or fix LABAUTO_VISA_BACKEND"
                                 ) from exc


def fresh_sim_resource_manager(yaml_path: str | os.PathLike[str]) -> pyvisa.ResourceManager:
    """A pyvisa-sim ResourceManager whose devices start from the YAML's defaults.

    pyvisa caches one library object per path, so device state (properties, error queues)
    would leak between ResourceManagers; re-initialising the library reloads the devices."""
    rm = pyvisa.ResourceManager(f"{os.fspath(yaml_path)}@sim")
    rm.visalib._init()  # type: ignore[attr-defined]
    return rm


class VisaSession:
    """A pyvisa message-based session with error-queue checking and error mapping."""

    def __init__(self, resource: Any, *, resource_name: str, instrument: str,
                 error_query: str = "SYST:ERR?", timeout_ms: int = 10000,
                 rm: pyvisa.ResourceManager | None = None,
                 read_termination: str = "\n", write_termination: str = "\n"):
        self._res = resource
        self.resource_name = resource_name
        self.instrument = instrument
        self.error_query = error_query
        self._rm = rm
        self._terminations = (read_termination, write_termination)
        self.closed = False
        self.timeout_ms = timeout_ms

    # -- opening / closing -------------------------------------------------------------
    @classmethod
    def open(cls, resource_name: str, *, instrument: str = "", timeout_ms: int = 10000,
             resource_manager: pyvisa.ResourceManager | str | None = None,
             error_query: str = "SYST:ERR?", read_termination: str = "\n",
             write_termination: str = "\n") -> "VisaSession":
        """Open ``resource_name``; ``resource_manager`` is a ResourceManager or a backend."""
        rm = resource_manager if isinstance(resource_manager, pyvisa.ResourceManager) \
            else resource_manager_for(resource_manager)
        session = cls(None, resource_name=resource_name, instrument=instrument,
                      error_query=error_query, timeout_ms=timeout_ms, rm=rm,
                      read_termination=read_termination, write_termination=write_termination)
        session._connect()
        return session

    def _connect(self) -> None:
        assert self._rm is not None
        try:
            res = self._rm.open_resource(self.resource_name)
        except Exception as exc:  # noqa: BLE001 - mapped to a named VisaError
            raise self._map(exc, "open") from exc
        res.read_termination, res.write_termination = self._terminations
        res.timeout = self.timeout_ms
        if self.resource_name.upper().endswith("::SOCKET"):
            # a command followed by the error query is two small packets: without
            # TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every checked command
            _set_nodelay(res)
        self._res = res
        self.closed = False

    def reopen(self) -> None:
        """Close the pyvisa resource (if still open) and connect again (same settings)."""
        self._close_resource()
        self._connect()

    def _close_resource(self) -> None:
        if self._res is not None:
            try:
                self._res.close()
            except Exception as exc:  # noqa: BLE001 - closing a dead link must not mask errors
                log.debug("closing %s: %s", self.describe(), exc)
            self._res = None

    def close(self) -> None:
        """Close the session.

        The ResourceManager stays open even when this session created it: pyvisa shares one
        ResourceManager per VISA library, so closing it would close every other session."""
        if self.closed:
            return
        self._close_resource()
        self.closed = True

    def __enter__(self) -> "VisaSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- properties ----------------------------------------------------------------------
    def describe(self) -> str:
        return where(self.instrument, self.resource_name)

    @property
    def timeout_ms(self) -> int:
        return self._timeout_ms

    @timeout_ms.setter
    def timeout_ms(self, value: int) -> None:
        self._timeout_ms = int(value)
        if self._res is not None:
            self._res.timeout = self._timeout_ms

    # -- raw I/O -------------------------------------------------------------------------
    def _do(self, command: str, action: Callable[[], T]) -> T:
        if self._res is None:
            raise CommunicationError(f"session to {self.describe()} is closed; cannot send "
                                     f"{command!r}", instrument=self.instrument,
                                     resource=self.resource_name, command=command)
        try:
            return action()
        except VisaError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is mapped to a named error
            raise self._map(exc, command) from exc

    def raw_write(self, command: str) -> None:
        """Send without checking the error queue (for the error query itself, *CLS ...)."""
        log.debug("%s <- %s", self.resource_name, command)
        self._do(command, lambda: self._res.write(command))

    def raw_query(self, command: str, timeout_ms: int | None = None) -> str:
        """Query without checking the error queue."""
        log.debug("%s <- %s", self.resource_name, command)

        def action() -> str:
            if timeout_ms is None or timeout_ms == self._timeout_ms:
                return self._res.query(command)
            self._res.timeout = timeout_ms
            try:
                return self._res.query(command)
            finally:
                if self._res is not None:
                    self._res.timeout = self._timeout_ms
        answer = self._do(command, action).strip()
        log.debug("%s -> %s", self.resource_name, answer)
        return answer

    def raw_read(self, what: str = "read") -> str:
        """Read one more line of a multi-line answer (no error-queue check); ``what`` names the
        answer in error messages."""
        answer = self._do(what, lambda: self._res.read()).strip()
        log.debug("%s -> %s", self.resource_name, answer)
        return answer

    # -- checked I/O ---------------------------------------------------------------------
    def write(self, command: str) -> None:
        """Send ``command`` and raise InstrumentError if the error queue is not empty."""
        self.raw_write(command)
        self.check_errors(command)

    def query(self, command: str, timeout_ms: int | None = None) -> str:
        """Query, then check the error queue.

        A query the instrument rejects usually gets no answer: on a timeout the error queue
        is read, and an error found there is raised as InstrumentError (the timeout chained)."""
        try:
            answer = self.raw_query(command, timeout_ms)
        except TransientVisaError as exc:
            if self._res is None or isinstance(exc, ConnectionLostError) or not is_timeout(exc):
                raise
            try:
                errors = self.read_errors(command)
            except VisaError:
                raise exc from None
            if errors:
                raise InstrumentError(instrument=self.instrument, resource=self.resource_name,
                                      command=command, errors=errors) from exc
            raise
        self.check_errors(command)
        return answer

    def read_errors(self, command: str | None = None) -> list[ScpiError]:
        """Drain the error queue; return the errors found (empty: no error)."""
        errors: list[ScpiError] = []
        for _ in range(MAX_ERROR_QUEUE):
            try:
                text = self.raw_query(self.error_query)
            except TransientVisaError as exc:
                if command is None:
                    raise
                raise type(exc)(f"{exc} (reading the error queue after {command!r}, which "
                                "may or may not have been executed)",
                                instrument=self.instrument, resource=self.resource_name,
                                command=command) from exc.__cause__
            try:
                entry = parse_error_entry(text)
            except ValueError:
                raise CommunicationError(
                    f"{self.describe()} answered {self.error_query} with {text!r}, which is not "
                    f"an error-queue entry (after {command!r}); is this the right instrument "
                    "model?", instrument=self.instrument, resource=self.resource_name,
                    command=command) from None
            if entry.code == 0:
                return errors
            errors.append(entry)
        log.warning("%s: error queue still not empty after %d reads", self.describe(),
                    MAX_ERROR_QUEUE)
        return errors

    def check_errors(self, command: str | None = None) -> None:
        errors = self.read_errors(command)
        if errors:
            raise InstrumentError(instrument=self.instrument, resource=self.resource_name,
                                  command=command, errors=errors)

    def _peer_closed(self) -> bool:
        """True when the raw socket under this session was closed by the other end."""
        sock = _socket_of(self._res)
        if sock is None:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    # -- error mapping -------------------------------------------------------------------
    def _map(self, exc: BaseException, command: str) -> VisaError:
        kind = classify(exc)
        what = "opening the session" if command == "open" else f"sending {command!r}"
        cls = TransientVisaError if kind == "transient" else CommunicationError
        advice = ("check that it is switched on, connected and reachable; the run can be "
                  "retried" if cls is TransientVisaError else
                  "check the resource string and the VISA backend")
        if is_timeout(exc) and self._peer_closed():
            cls, detail = ConnectionLostError, "connection lost (closed by the other end)"
        elif is_timeout(exc):
            detail = f"no answer within {self._timeout_ms} ms (timeout)"
        elif isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            cls, detail = ConnectionLostError, f"connection lost ({type(exc).__name__}: {exc})"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        return cls(f"{self.describe()}: {detail} while {what}; {advice}",
                   instrument=self.instrument, resource=self.resource_name,
                   command=None if command == "open" else command)


def _socket_of(res: Any) -> socket.socket | None:
    """The TCP socket of a pyvisa-py SOCKET session (None for any other backend)."""
    try:
        interface = getattr(res.visalib.sessions.get(res.session), "interface", None)
    except Exception:  # noqa: BLE001 - not pyvisa-py, or already closed
        return None
    return interface if isinstance(interface, socket.socket) else None


def _set_nodelay(res: Any) -> None:
    """Disable Nagle's algorithm on a raw socket session (an optimisation only).

    pyvisa-py 0.8 maps VI_ATTR_TCPIP_NODELAY's setter to a stub that raises, so the
    option is set on its socket directly; other backends get the VISA attribute."""
    try:
        interface = _socket_of(res)
        if interface is not None:
            interface.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            res.set_visa_attribute(constants.ResourceAttribute.tcpip_nodelay, constants.VI_TRUE)
    except Exception as exc:  # noqa: BLE001
        log.debug("%s: cannot set TCP_NODELAY: %s", getattr(res, "resource_name", res), exc)


def resource_manager_for(spec: str | None) -> pyvisa.ResourceManager:
    """The ResourceManager for a backend string (``None``: the default backend).

    pyvisa-sim devices keep their state for the life of the process; tests that need a clean
    device use :func:`fresh_sim_resource_manager`."""
    return resource_manager(spec)


def is_timeout(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) is a VISA timeout."""
    cause = exc.__cause__ if isinstance(exc, VisaError) else exc
    return (isinstance(cause, pyvisa.errors.VisaIOError)
            and cause.error_code == constants.StatusCode.error_timeout) or isinstance(
        cause, TimeoutError)


def classify(exc: BaseException) -> str:
    """``"transient"`` for timeouts and lost/refused/reset connections, else ``"permanent"``."""
    if isinstance(exc, pyvisa.errors.VisaIOError):
        return "transient" if exc.error_code in _TRANSIENT_CODES else "permanent"
    if isinstance(exc, (TimeoutError, ConnectionError, BrokenPipeError, EOFError)):
        return "transient"
    if isinstance(exc, OSError):
        return "transient"
    return "permanent"

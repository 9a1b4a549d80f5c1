"""What every instrument driver has: a checked VISA session, its model, its identity, and a
safe state it is left in (a no-op for meters; standby and 0 V for sources)."""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
import traceback
from typing import Any, Callable, Iterator

from labauto.drivers.identity import Identity, parse_identity
from labauto.drivers.language import language_for
from labauto.instruments import InstrumentModel
from labauto.visa.errors import SafeStateError, TransientVisaError, VisaError
from labauto.visa.session import VisaSession

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold back SIGINT (Ctrl-C) for the ``with`` block and deliver it as KeyboardInterrupt
    right after: putting a source in standby takes a few SCPI commands, and an impatient second
    Ctrl-C in the middle would leave the output live.  Only the main thread can handle
    signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if pending:
        log.warning("Ctrl-C held back until the instrument reached its safe state")
        raise KeyboardInterrupt


class Instrument:
    """Base driver: a session, the model file, its command language (labauto.drivers.language)."""

    def __init__(self, session: VisaSession, model: InstrumentModel, **options: Any):
        if options:
            raise TypeError(f"{type(self).__name__} has no options {sorted(options)}")
        self.session = session
        self.model = model
        self.language = language_for(model.language)
        self._identity: Identity | None = None

    @classmethod
    def error_query_for(cls, model: InstrumentModel) -> str:
        """The query that reads one entry of the model's error queue."""
        return model.error_query or language_for(model.language).error_query

    @property
    def name(self) -> str:
        return f"{self.model.manufacturer} {self.model.model}"

    @property
    def resource(self) -> str:
        return self.session.resource_name

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            raise VisaError(f"{self.session.describe()} has not been identified yet "
                            "(open it with labauto.drivers.open_instrument)",
                            instrument=self.name, resource=self.resource)
        return self._identity

    def connect(self, on_identity: Callable[[Identity], None] | None = None) -> Identity:
        """Query and check the identity, clear stale errors, then reach the safe state.

        ``on_identity`` runs between ``*IDN?`` and every other command (the engine takes the
        instrument's identity lock there); if it raises, nothing more is sent."""
        idn = self.language.identify(self.session)
        identity = parse_identity(idn, self.resource, self.model, self.language)
        if on_identity is not None:
            on_identity(identity)
        self._identity = identity
        self.session.check_errors(self.language.clear(self.session))
        self.safe_state()
        return self._identity

    def safe_state(self) -> None:
        """Put the instrument where it can do no harm (meters: nothing to do)."""

    def shutdown(self, original: BaseException | None = None) -> None:
        """Safe state, then close the session, whatever happens.

        A failing safe state is logged; after a transient failure it is retried once on a
        new connection.  It is then raised as SafeStateError (cause: the safe-state failure,
        ``.original``: the exception leaving the ``with`` block).  A KeyboardInterrupt or
        other non-Exception leaving the block is never replaced: it gets a note instead."""
        try:
            try:
                with _interrupts_deferred():   # a second Ctrl-C must not cut the standby short
                    self.safe_state()
            except Exception as first:  # noqa: BLE001 - every failure must be reported
                failure = self._retry_safe_state(first)
                if failure is None:
                    return
                during = (f" while handling {type(original).__name__}: {original}"
                          if original is not None else "")
                err = SafeStateError(
                    f"{self.session.describe()} could not be put in its safe state{during}: "
                    f"{failure}; its output may still be live: put it in standby by hand",
                    instrument=self.name, resource=self.resource,
                    command=getattr(failure, "command", None), original=original)
                log.critical("%s", err)
                if original is not None and not isinstance(original, Exception):
                    original.add_note(str(err))
                    return          # the caller re-raises the KeyboardInterrupt itself
                if original is not None:   # keep the original's traceback in the report
                    err.add_note("the original error was:\n" + "".join(
                        traceback.format_exception(original)).rstrip())
                raise err from failure
        finally:
            self.session.close()

    def _retry_safe_state(self, first: Exception) -> Exception | None:
        log.error("%s: safe state failed: %s", self.session.describe(), first)
        if not isinstance(first, TransientVisaError):
            return first
        try:
            self.session.reopen()
            self.safe_state()
        except Exception as second:  # noqa: BLE001
            log.error("%s: safe state failed again on a new connection: %s",
                      self.session.describe(), second)
            return second
        log.warning("%s: safe state reached on a new connection", self.session.describe())
        return None

"""The socket servers of a simulated lab: start, stop, resource strings and fault injection,
shared by the electrical lab (:class:`labauto.sim.SimulatedLab`) and the thermometry lab
(:class:`labauto.sim.thermometry.SimulatedThermometryLab`)."""
from __future__ import annotations

import re
from typing import Any

from labauto.errors import LabautoError
from labauto.sim.server import Fault, ScpiSocketServer


class ServedInstruments:
    """A set of simulated instruments, each on its own raw SCPI socket.

    A subclass sets ``self._host`` and ``self._servers = {}`` in its constructor and names its
    instruments and ports in :meth:`_instruments`; ``_start_hint`` ends the error when a port
    cannot be opened."""

    _host: str
    _servers: dict[str, ScpiSocketServer]
    _what = "the simulated lab"
    _start_hint = ""

    def _instruments(self) -> dict[str, tuple[Any, int]]:
        """Instrument name -> (simulated instrument, TCP port; 0 = any free port)."""
        raise NotImplementedError

    def start(self) -> dict[str, str]:
        """Start the socket servers; return their VISA resource strings."""
        if self._servers:
            return self.resources
        try:
            for name, (inst, port) in self._instruments().items():
                srv = ScpiSocketServer(inst, name, self._host, port)
                srv.start()
                self._servers[name] = srv
        except OSError as exc:
            self.stop()
            raise LabautoError(f"cannot start {self._what} on {self._host}: {exc}"
                               f"{self._start_hint}") from exc
        return self.resources

    def stop(self) -> None:
        for srv in self._servers.values():
            srv.stop()
        self._servers.clear()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def resources(self) -> dict[str, str]:
        return {name: srv.resource for name, srv in self._servers.items()}

    def inject_fault(self, instrument: str, kind: str, *, on: str | None = None,
                     count: int | None = 1, code: int = -300,
                     message: str = "Device-specific error") -> None:
        """Make ``instrument`` (a name of :meth:`_instruments`) misbehave on matching commands.

        ``kind``: "drop" (close the connection), "hang" (never answer), "error" (reject with
        ``code``/``message`` in the error queue), "reply" (answer ``message`` instead of
        executing the command).  ``on`` is a regex searched in the command
        line (None: any command); ``count`` commands are affected (None: until cleared)."""
        srv = self._server(instrument)
        pattern = re.compile(on, re.IGNORECASE) if on is not None else None
        srv.faults.add(Fault(kind, pattern, count, code, message))

    def clear_faults(self) -> None:
        for srv in self._servers.values():
            srv.faults.clear()

    def pending_faults(self) -> int:
        """Injected faults no command has triggered yet (all instruments)."""
        return sum(srv.faults.pending() for srv in self._servers.values())

    def drop_connections(self, instrument: str) -> None:
        """Cut ``instrument``'s open connections immediately."""
        self._server(instrument).drop_connections()

    def _server(self, instrument: str) -> ScpiSocketServer:
        try:
            return self._servers[instrument]
        except KeyError:
            raise LabautoError(f"no running simulated instrument {instrument!r}; "
                               f"running: {sorted(self._servers)} (call start() first)") from None

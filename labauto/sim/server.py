"""A raw SCPI socket server (one per simulated instrument) on loopback, line-based (``\\n``).

This is the transport real LAN instruments offer on port 5025; pyvisa-py reaches it as
``TCPIP0::127.0.0.1::<port>::SOCKET``.  Each connection is served by its own thread; the
instrument object serialises commands.  Fault hooks let tests break the link on purpose:

* ``drop``  : close the connection when a matching command arrives (not executed);
* ``hang``  : swallow matching commands without executing or answering (client times out);
* ``error`` : reject a matching command, pushing ``code, message`` to the error queue;
* ``reply`` : answer a matching query with ``message`` instead of executing it (e.g. an
  overload indication ``+9.90000000E+37`` for a read command).
"""
from __future__ import annotations

import logging
import re
import socket
import socketserver
import threading
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

FAULT_KINDS = ("drop", "hang", "error", "reply")


class ScpiInstrument(Protocol):
    def handle(self, line: str) -> str | None: ...
    def push_error(self, code: int, message: str) -> None: ...


@dataclass
class Fault:
    kind: str
    on: re.Pattern[str] | None      # None: the next command whatever it is
    count: int | None               # None: every matching command until cleared
    code: int = -300
    message: str = "Device-specific error"

    def matches(self, line: str) -> bool:
        return self.on is None or bool(self.on.search(line))


class FaultPlan:
    """Pending faults of one instrument (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault.kind!r}; use one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        """Faults not yet (or not all their ``count`` times) injected."""
        with self._lock:
            return len(self._faults)

    def take(self, line: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.matches(line):
                    if f.count is not None:
                        f.count -= 1
                        if f.count <= 0:
                            self._faults.remove(f)
                    return f
        return None


class _Handler(socketserver.StreamRequestHandler):
    server: "_TcpServer"

    def handle(self) -> None:
        srv = self.server
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        srv.track(self.connection, True)
        try:
            for raw in self.rfile:
                line = raw.decode("ascii", "replace").strip()
                if not line:
                    continue
                fault = srv.faults.take(line)
                if fault is not None:
                    log.info("%s: injected fault %s on %r", srv.name, fault.kind, line)
                    if fault.kind == "drop":
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if fault.kind == "hang":
                        continue
                    if fault.kind == "reply":
                        self.wfile.write(fault.message.encode("ascii", "replace") + b"\n")
                        self.wfile.flush()
                        continue
                    srv.instrument.push_error(fault.code, fault.message)
                    continue
                answer = srv.instrument.handle(line)
                if answer is not None:
                    self.wfile.write(answer.encode("ascii", "replace") + b"\n")
                    self.wfile.flush()
        except (ConnectionError, OSError, ValueError):
            pass  # client went away, or the server is stopping
        finally:
            srv.track(self.connection, False)


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, instrument: ScpiInstrument, name: str):
        self.instrument, self.name = instrument, name
        self.faults = FaultPlan()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._conn_lock:
            (self._connections.add if alive else self._connections.discard)(conn)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ScpiSocketServer:
    """Serve one simulated instrument on ``host:port`` (port 0: a free port) in a thread."""

    def __init__(self, instrument: ScpiInstrument, name: str, host: str = "127.0.0.1",
                 port: int = 0):
        self.name = name
        self._server = _TcpServer((host, port), instrument, name)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def resource(self) -> str:
        host, port = self.address
        return f"TCPIP0::{host}::{port}::SOCKET"

    @property
    def faults(self) -> FaultPlan:
        return self._server.faults

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"sim-{self.name}", daemon=True)
        self._thread.start()

    def drop_connections(self) -> None:
        """Cut every open client connection now (a cable pulled)."""
        self._server.close_connections()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.close_connections()
        self._server.server_close()

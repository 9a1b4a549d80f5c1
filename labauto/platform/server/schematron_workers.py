"""PTB's Schematron rules in worker processes (:class:`WorkerPool`), for
:class:`~labauto.platform.server.schematron.RuleBook` with ``processes`` > 0.

saxonche holds the GIL for the whole parse and transform, so in the server's process the rules
stop every other thread for their ≈ 1.5–3 ms.  Each worker is a spawned process (a forked copy
of Saxon's runtime is not safe) holding its own RuleBook, compiled from the same schema folder
with the same rewrites; a request thread sends it the document's text (without its signature)
over a pipe and waits for the (role, message, location) findings without holding the GIL.  The
server's process keeps the lines (it has the lxml tree).  Workers are daemons (they end with the
server) and end when their pipe closes; a worker that dies is replaced, and
:meth:`WorkerPool.findings` returns None so the caller checks that document itself.
"""
from __future__ import annotations

import multiprocessing
import queue
import threading
from pathlib import Path


def _serve(conn, schema_dir: str, lean: bool, pattern_modes: bool) -> None:
    """A worker: compile the rules, say so, then answer (name, text) requests until EOF."""
    from labauto.platform.server.schematron import RuleBook, RulesEngineError

    book = RuleBook(schema_dir, lean=lean, pattern_modes=pattern_modes, processes=0)
    conn.send(("ready", (book.lean, book.pattern_modes)))
    while True:
        try:
            name, text = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", book.findings(name, text)))
        except RulesEngineError as exc:
            conn.send(("engine", str(exc)))


class WorkerPool:
    """``n`` worker processes, each used by one thread at a time."""

    def __init__(self, n: int, schema_dir: Path, *, lean: bool, pattern_modes: bool) -> None:
        self._args = (str(schema_dir), lean, pattern_modes)
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.processes: list = []
        for _ in range(n):
            self._idle.put(self._start())

    def _start(self):
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_serve, args=(child, *self._args), daemon=True,
                                 name="labauto-schematron")
        proc.start()
        child.close()
        status, _ = parent.recv()           # compiled (or EOFError: it could not start)
        assert status == "ready", status
        with self._lock:
            self.processes.append(proc)
        return proc, parent

    def findings(self, name: str, text: str) -> list[tuple[str, str, str]] | None:
        """The findings of rules file ``name`` on ``text`` from a worker (as
        :meth:`RuleBook.findings`); None if the worker died (a new one takes its place)."""
        from labauto.platform.server.schematron import RulesEngineError

        worker = self._idle.get()
        try:
            proc, conn = worker
            conn.send((name, text))
            status, value = conn.recv()
        except (EOFError, OSError):
            with self._lock:
                self.processes.remove(worker[0])
            worker[1].close()
            worker[0].join(5)
            worker = self._start()
            return None
        finally:
            self._idle.put(worker)
        if status == "engine":
            raise RulesEngineError(value)
        return value

    def close(self) -> None:
        """End the workers (each ends when its pipe closes)."""
        while True:
            try:
                proc, conn = self._idle.get_nowait()
            except queue.Empty:
                return
            conn.close()
            proc.join(5)

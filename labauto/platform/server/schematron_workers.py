"""Admission worker processes (:class:`WorkerPool`), started by
:class:`~labauto.platform.server.schematron.RuleBook` with ``processes`` > 0 (the default on a
machine with two cores or more, :func:`~labauto.platform.server.schematron.default_processes`).

saxonche holds the GIL for the whole parse and transform, and lxml's parse, the XSD and the
signature check hold it too, so in the server's process a publication's admission stops every
other thread for its ≈ 5 ms.  Each worker is a new Python process (``python -c``, this source
tree first on its path; not multiprocessing's spawn, which would import the caller's
``__main__`` again) holding its own RuleBook, compiled once when it starts, from the same schema
folder with the same rewrites.  A request thread sends it work over a socket pair and waits for
the answer without holding the GIL:

- ``admit``: the whole database-free admission of a submitted DCC
  (:func:`~labauto.platform.server.admission.admit_document`): the worker parses, validates,
  runs the rules, verifies the signature and its time-stamp, reads the facts and results, and
  answers with the :class:`~labauto.platform.server.admission.Admission` or the stage that
  refuses the document;
- ``rules``: only the Schematron findings of a document's text (without its signature), for
  :meth:`RuleBook.check` (verification of an uploaded DCC); the server's process keeps the
  lines (it has the lxml tree).

Lifetime: the workers start with the pool (the server's start-up) and end with it —
:meth:`WorkerPool.close`, called at interpreter exit for every pool still open; if the server's
process dies without running it (SIGKILL, a crash), its end of the socket closes and the worker
ends at once (EOF), and a worker whose parent process changed (it was re-parented) ends within
a second.  Workers ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and the
server shuts them down itself.  A worker that dies is replaced, and the request it had returns
None so the caller does that work itself; so does a request that failed in the worker for a
reason other than the document (the failure then surfaces in the server's process).
"""
from __future__ import annotations

import atexit
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import weakref
from multiprocessing.connection import Connection
from pathlib import Path

import labauto

_SOURCE = str(Path(labauto.__file__).resolve().parent.parent)   # the tree this module comes from
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from labauto.platform.server.schematron_workers import serve; serve(sys.argv[2:])")
_POOLS: "weakref.WeakSet[WorkerPool]" = weakref.WeakSet()
_PARENT_POLL_S = 1.0


def serve(argv: list[str]) -> None:
    """A worker (``argv``: socket fd, schema folder, lean, pattern_modes, parent pid): compile
    the rules, say so, then answer requests until the server goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, schema_dir, lean, pattern_modes, parent = argv
    conn = Connection(int(fd))
    from labauto.platform.server.schematron import RuleBook

    try:
        book = RuleBook(schema_dir, lean=lean == "1", pattern_modes=pattern_modes == "1", processes=0)
    except Exception as exc:             # noqa: BLE001 - reported to the server, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    answers = _Answers(book, schema_dir)
    answers.warm()
    conn.send(("ready", (book.lean, book.pattern_modes)))
    while True:
        try:
            while not conn.poll(_PARENT_POLL_S):
                if os.getppid() != int(parent):
                    return                      # the server's process is gone
            request = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(answers.reply(request))
        except OSError:
            return


class _Answers:
    """A worker's replies: ``("rules", name, text)`` -> the rules' findings
    (:meth:`RuleBook.findings`); ``("admit", dcc, any_version, time_anchors)`` -> an
    :class:`~labauto.platform.server.admission.Admission`
    (:func:`~labauto.platform.server.admission.admit_here`).  Each reply is ``("ok", value)``,
    ``("engine", message)`` (Saxon failed), ``("refused", (stage, detail))`` (the document is
    refused at that stage) or ``("unexpected", text)`` (anything else: the server then runs the
    request itself, where the failure surfaces as it would without workers)."""

    def __init__(self, book, schema_dir: str) -> None:
        self.book, self.schema_dir = book, schema_dir
        self.registries: dict[bool, object] = {}      # any_version -> SchemaRegistry

    def warm(self) -> None:
        """What the first publication would otherwise pay (≈ 0.6 s): the admission's imports
        (SQLAlchemy's models, pint's unit registry, the signature modules) and the XSD of every
        version the platform stores, compiled now, while the server starts.  A schema that does
        not compile is left for the document that names it (its admission then fails here and
        is run again in the server's process, where the error surfaces)."""
        from lxml import etree

        from labauto.platform.server import admission  # noqa: F401

        registry = self.registry(False)
        for version in registry.supported_versions():
            try:
                registry._schema(version)
            except etree.XMLSchemaParseError:
                pass

    def registry(self, any_version: bool):
        from labauto.platform.server.dcc import SchemaRegistry

        if any_version not in self.registries:
            self.registries[any_version] = SchemaRegistry(self.schema_dir, any_version=any_version,
                                                          rules=self.book)
        return self.registries[any_version]

    def reply(self, request: tuple) -> tuple:
        from labauto.platform.server.schematron import RulesEngineError
        from labauto.platform.server.service import Rejected

        try:
            if request[0] == "rules":
                return ("ok", self.book.findings(request[1], request[2]))
            from labauto.platform.server.admission import admit_here

            _, dcc, any_version, anchors = request
            return ("ok", admit_here(dcc, self.registry(any_version), anchors))
        except RulesEngineError as exc:
            return ("engine", str(exc))
        except Rejected as exc:
            return ("refused", (exc.stage, str(exc)))
        except Exception as exc:         # noqa: BLE001 - the server runs it itself (see above)
            return ("unexpected", f"{type(exc).__name__}: {exc}")


class Worker:
    """One worker process and the server's end of its socket."""

    def __init__(self, schema_dir: str, lean: bool, pattern_modes: bool) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, _SOURCE, str(theirs.fileno()), schema_dir,
                 "1" if lean else "0", "1" if pattern_modes else "0", str(os.getpid())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.pid = self.proc.pid

    def ready(self) -> tuple[bool, bool]:
        """Wait until the worker has compiled its rules; (lean, pattern_modes) of what it runs."""
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            self.stop()
            raise RuntimeError(f"the admission worker process (pid {self.pid}) ended before its rules "
                               f"were compiled (exit code {self.proc.returncode}; see its error above)") from None
        if status != "ready":
            self.stop()
            raise RuntimeError(f"the admission worker process could not compile the rules: {value}")
        return value

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Close the socket (the worker ends at EOF), wait for it, kill it if it does not end."""
        self.conn.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class WorkerPool:
    """``n`` worker processes, each used by one thread at a time."""

    def __init__(self, n: int, schema_dir: Path, *, lean: bool, pattern_modes: bool) -> None:
        self._args = (str(schema_dir), lean, pattern_modes)
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self.workers: list[Worker] = []
        started = [Worker(*self._args) for _ in range(n)]     # they compile side by side
        try:
            kinds = {w.ready() for w in started}
        except BaseException:
            for w in started:
                w.stop()
            raise
        (self.kind,) = kinds                     # (lean, pattern_modes): the same in every worker
        for w in started:
            self.workers.append(w)
            self._idle.put(w)
        _POOLS.add(self)

    @property
    def processes(self) -> list[subprocess.Popen]:
        """The worker processes now serving (a replaced one is no longer listed)."""
        with self._lock:
            return [w.proc for w in self.workers]

    def _replace(self, dead: Worker) -> None:
        dead.stop()
        with self._lock:
            if dead in self.workers:
                self.workers.remove(dead)
            if self._closed:
                return
        try:
            new = Worker(*self._args)
            new.ready()
        except (OSError, RuntimeError) as exc:
            print(f"labauto: could not start a new admission worker process ({exc}); "
                  f"{len(self.workers)} left; without one, documents are admitted in the server's process",
                  file=sys.stderr)
            return
        with self._lock:
            if self._closed:
                new.stop()
                return
            self.workers.append(new)
        self._idle.put(new)

    def _ask(self, request: tuple) -> tuple | None:
        """Send ``request`` to an idle worker and return its reply; None if no worker could
        answer (the one asked died and was replaced, or the pool is closed)."""
        while True:
            with self._lock:
                if self._closed or not self.workers:
                    return None
            try:
                worker = self._idle.get(timeout=1.0)
            except queue.Empty:         # all busy: wait on (unless the pool closed meanwhile)
                continue
            if worker in self.workers:
                break                   # (not one that was closed or replaced)
        try:
            worker.conn.send(request)
            reply = worker.conn.recv()
        except (EOFError, OSError):
            self._replace(worker)
            return None
        self._idle.put(worker)
        return reply

    def findings(self, name: str, text: str) -> list[tuple[str, str, str]] | None:
        """The findings of rules file ``name`` on ``text`` from a worker (as
        :meth:`RuleBook.findings`); None if no worker answered: the caller then checks the
        document itself."""
        from labauto.platform.server.schematron import RulesEngineError

        reply = self._ask(("rules", name, text))
        if reply is None or reply[0] == "unexpected":
            return None
        if reply[0] == "engine":
            raise RulesEngineError(reply[1])
        return reply[1]

    def admit(self, dcc: bytes, any_version: bool, time_anchors: list[bytes]):
        """The :class:`~labauto.platform.server.admission.Admission` of ``dcc`` from a worker
        (:func:`~labauto.platform.server.admission.admit_here` on a registry of this pool's
        schema folder); :class:`~labauto.platform.server.service.Rejected` as it refuses; None
        if no worker answered or one failed unexpectedly: the caller then admits it itself."""
        from labauto.platform.server.service import Rejected

        reply = self._ask(("admit", dcc, any_version, time_anchors))
        if reply is None or reply[0] not in ("ok", "refused"):
            return None
        if reply[0] == "refused":
            raise Rejected(*reply[1])
        return reply[1]

    def close(self) -> None:
        """End every worker (each ends when its socket closes; one that does not is killed)."""
        with self._lock:
            self._closed = True
            workers, self.workers = self.workers, []
        for w in workers:
            w.stop()
        _POOLS.discard(self)


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        pool.close()

"""``labauto lab up``: the lab's self-hosted Prefect server, its work pool and one worker per bench.

    prefect server start --host H --port P       database: PostgreSQL (--database URL, Prefect's
                                                 asyncpg driver) or SQLite in the lab home
    the work pool ``labauto``, a queue and the deployments of every bench (flows/deployments.py)
    prefect worker start --pool labauto --work-queue bench-<name>     one per bench, polling
                                                 every 2 s (PREFECT_WORKER_QUERY_SECONDS)

The server keeps concurrency leases (the instrument slots) on disk in its Prefect home, so a
server restart does not forget who holds an instrument.  ``lab up`` stays in the foreground: a
worker that dies is started again (its flow runs are resumed from their journals); Ctrl-C or
SIGTERM stops the workers, then the server.  ``--dry-run`` prints what would be started.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from labauto.benches import Bench
from labauto.errors import LabautoError

from flows.deployments import ROOT, WORK_POOL

LEASES = "prefect.server.concurrency.lease_storage.filesystem"
# how often a bench's worker asks for flow runs to start (Prefect's default: 10 s); a submitted
# calibration waits for the next poll (docs/lab-day.md, "Many benches through one server")
WORKER_QUERY_S = "2"


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)     # added to the environment

    def shell(self) -> str:
        import shlex

        return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in self.env.items()),
                         *map(shlex.quote, self.argv)])


def database_url(database: str | None, prefect_home: Path) -> str:
    """Prefect's database URL: PostgreSQL (any ``postgresql`` URL is given Prefect's asyncpg
    driver) or, by default, SQLite in the lab home."""
    if not database:
        return f"sqlite+aiosqlite:///{prefect_home / 'prefect.db'}"
    scheme, sep, rest = database.partition("://")
    if not sep:
        raise LabautoError(f"--database {database!r} is not a database URL "
                           "(postgresql://user@host:5432/prefect)")
    if scheme.startswith("postgresql"):
        return "postgresql+asyncpg://" + rest
    if scheme.startswith("sqlite"):
        return "sqlite+aiosqlite://" + rest
    raise LabautoError(f"--database {database!r}: Prefect's server runs on PostgreSQL or SQLite")


def plan(benches: list[Bench], lab_file: Path, *, prefect_home: Path, database: str | None = None,
         host: str = "127.0.0.1", port: int = 4200) -> list[Process]:
    """The server and one worker per bench, with their environments."""
    if not benches:
        raise LabautoError(f"the lab file {lab_file} defines no benches (benches: in the lab "
                           "file, see docs/lab-day.md): nothing for workers to run")
    api = f"http://{host}:{port}/api"
    py = sys.executable
    common = {"PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
              "DO_NOT_TRACK": "1"}
    server = Process("server", [py, "-m", "prefect", "server", "start", "--host", host,
                                "--port", str(port)],
                     {**common, "PREFECT_API_DATABASE_CONNECTION_URL":
                      database_url(database, prefect_home),
                      "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": LEASES})
    workers = [Process(f"worker {b.deployment}",
                       [py, "-m", "prefect", "worker", "start", "--pool", WORK_POOL,
                        "--work-queue", b.deployment, "--name", b.deployment, "--type", "process"],
                       {**common, "PREFECT_API_URL": api, "PYTHONPATH": str(ROOT),
                        "LABAUTO_LAB": str(lab_file),
                        "PREFECT_WORKER_QUERY_SECONDS": os.environ.get(
                            "PREFECT_WORKER_QUERY_SECONDS", WORKER_QUERY_S)})
               for b in benches]
    return [server, *workers]


def wait_for_server(api: str, timeout_s: float = 120.0, alive: Callable[[], bool] = lambda: True) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise LabautoError("the Prefect server stopped while starting; see its output above")
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise LabautoError(f"the Prefect server did not answer at {api} within {timeout_s:g} s")


def run(processes: list[Process], lab_file: Path, *, say: Callable[[str], None],
        host: str, port: int, benches: list[Bench] | None = None) -> None:
    """Start the server, deploy, start the workers (each after resuming the runs its dead
    predecessor left, flows/recovery.py); supervise until stopped."""
    from flows.recovery import recover_bench

    api = f"http://{host}:{port}/api"
    by_queue = {b.deployment: b for b in benches or []}
    started: dict[str, subprocess.Popen] = {}

    def start(p: Process) -> None:
        say(f"starting {p.name}: {' '.join(p.argv[1:])}")
        started[p.name] = subprocess.Popen(p.argv, env={**os.environ, **p.env}, cwd=ROOT)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    server, workers = processes[0], processes[1:]
    try:
        Path(server.env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
        start(server)
        wait_for_server(api, alive=lambda: started["server"].poll() is None)
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.deployments import deploy_lab
        with temporary_settings({PREFECT_API_URL: api}):
            names = deploy_lab(lab_file)
        say(f"deployments: {', '.join(names)}")

        def start_worker(w: Process) -> None:
            bench = by_queue.get(w.argv[w.argv.index("--work-queue") + 1])
            if bench is not None:       # runs its dead predecessor left: resumed first
                try:
                    with temporary_settings({PREFECT_API_URL: api}):
                        for r in recover_bench(bench):
                            say(f"flow run {r['name']} of bench {bench.name} was orphaned by its "
                                f"worker: crashed; resumed by flow run {r['resumed_by']}"
                                + (f" from {r['resume_run']}" if r['resume_run'] else "")
                                + f"; its instruments: {r['instruments']}")
                except Exception as exc:  # noqa: BLE001 - the worker starts all the same
                    say(f"could not look for orphaned runs of bench {bench.name}: {exc}")
            start(w)

        for w in workers:
            start_worker(w)
        say(f"the lab is up: Prefect UI http://{host}:{port}  (clients: PREFECT_API_URL={api}); "
            "Ctrl-C stops it")
        while True:
            time.sleep(2)
            if started["server"].poll() is not None:
                raise LabautoError(f"the Prefect server exited (status {started['server'].returncode})")
            for w in workers:
                if started[w.name].poll() is not None:
                    say(f"{w.name} exited (status {started[w.name].returncode}); starting it again")
                    start_worker(w)
    except KeyboardInterrupt:
        say("stopping the workers, then the server")
    finally:
        _stop([started[w.name] for w in workers if w.name in started])
        _stop([started["server"]] if "server" in started else [])


def _stop(procs: list[subprocess.Popen], grace_s: float = 30.0) -> None:
    """SIGTERM to all, then wait (a worker lets its running flow run finish its task); SIGKILL
    what is left after ``grace_s``."""
    live = [p for p in procs if p.poll() is None]
    for p in live:
        p.terminate()
    deadline = time.monotonic() + grace_s
    for p in live:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

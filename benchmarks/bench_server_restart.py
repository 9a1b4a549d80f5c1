"""A Prefect server restart, or a bench's worker killed, in the middle of a calibration (issue 14,
item 6): demonstration and timing, with the checks of the resilience test
(tests/flows/test_resilience.py).

``--kill worker`` / ``--kill worker+flow-run``: instead of the server, the bench's real worker
(``lab up``'s ``prefect worker start`` command) runs the flow run and is killed with SIGKILL
mid-run, alone or with its flow run's process (the machine dies); then, as ``lab up`` does, the
recovery step runs and a new worker is started; the same checks follow.

tests/flows/test_server_restart.py runs ``once`` (``--kill server``, 4 points, killed after 2,
SQLite) as a test; the longer runs, ``--postgres`` and ``--kill worker`` stay here (each server
start takes 6-13 s on the development machine).  What it does:

  1. starts the lab's server exactly as ``labauto lab up`` does (flows/lab_up.py ``plan``:
     ``prefect server start``, SQLite in a temporary Prefect home or ``--database`` PostgreSQL,
     concurrency leases on disk), deploys one bench whose instruments are a simulated lab;
  2. submits a calibration to the bench's deployment and starts its flow-run process as the
     bench's worker does (``python -m prefect.engine``, ``PREFECT__FLOW_RUN_ID``);
  3. once ``--kill-after`` points are done, kills the server with SIGKILL and starts it again
     on the same database (the flow run goes on measuring meanwhile);
  4. waits for the flow run; if its process died with the server away, the recovery that
     ``lab up`` runs before (re)starting a worker (flows/recovery.py) resumes it from its
     journal in a new flow-run process;
  5. checks the journal and the certificates: every point completed once (one ``point_done``
     each), every reading taken before the restart still there, one labauto run, one
     certificate; prints what happened and how long it took.

    .venv/bin/python benchmarks/bench_server_restart.py [--points 8] [--kill-after 2]
        [--down-s 0] [--repeat 1] [--postgres [URL]] [--kill server|worker|worker+flow-run]

Exit status 1 if a check fails.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")

import report  # noqa: E402
from bench_calibration import make_procedure  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def completed(journal: Path) -> int:
    from labauto.engine.journal import JournalError, RunJournal

    try:
        return len(RunJournal(journal).read().completed_ids())
    except JournalError:
        return 0


def journals(runs_dir: Path) -> list[Path]:
    return sorted(runs_dir.glob("*/journal.jsonl"))


def start_flow_run_process(flow_run_id: str, api: str, lab_file: Path, log: Path) -> subprocess.Popen:
    """The flow run's process, as the bench's process worker starts it; its pid recorded on the
    flow run as the worker records it."""
    from prefect.client.orchestration import get_client

    from flows.deployments import job_variables

    env = dict(os.environ, **job_variables(lab_file)["env"], PREFECT_API_URL=api,
               PREFECT__FLOW_RUN_ID=flow_run_id, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "prefect.engine"], cwd=ROOT, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    with get_client(sync_client=True) as client:
        client.update_flow_run(flow_run_id, infrastructure_pid=f"{socket.gethostname()}:{proc.pid}")
    return proc


def point_tasks(flow_run_id: object) -> int:
    """The measuring tasks of the flow run that the server knows (some ran while it was away;
    one per stretch of points without operator steps, and one per retry after progress)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    time.sleep(2)                       # (task-run events reach the database asynchronously)
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return sum(1 for t in runs if t.name.startswith("measure "))


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def flow_run_pid(flow_run_id: object, timeout_s: float = 120) -> int:
    """The flow run's process, as its worker recorded it (``host:pid``)."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            pid = client.read_flow_run(flow_run_id).infrastructure_pid
            if pid:
                return int(str(pid).rsplit(":", 1)[-1])
            time.sleep(0.2)
    raise SystemExit("the worker recorded no process for the flow run")


def wait_final(flow_run_id: object, timeout_s: float = 600) -> str:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(flow_run_id).state
            if state is not None and state.is_final():
                return state.name
            time.sleep(0.5)
    return "not final"


def kill_worker(args: argparse.Namespace, bench: object, first_id: object, worker_def: object,
                log: Path, procs: list[subprocess.Popen]) -> dict:
    """``--kill worker``: the bench's worker (``lab up``'s command) is killed with SIGKILL mid-run
    (``worker+flow-run``: with its flow run's process, as when the machine dies); ``lab up``
    starts it again after its recovery step (flows/recovery.py)."""
    from flows.recovery import process_alive, recover_bench

    out: dict = {"resumed_by_recovery": False}
    env = {**os.environ, **worker_def.env, "PREFECT_WORKER_QUERY_SECONDS": "2"}

    def start_worker() -> subprocess.Popen:
        p = subprocess.Popen(worker_def.argv, env=env, cwd=ROOT, stdout=log.open("ab"),
                             stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    worker = start_worker()
    pid = flow_run_pid(first_id)
    deadline = time.monotonic() + 300
    while not (journals(bench.runs_dir) and completed(journals(bench.runs_dir)[0]) >= args.kill_after):
        if time.monotonic() > deadline or not pid_exists(pid):
            raise SystemExit(f"the flow run ({wait_final(first_id, 5)}, process {pid}: alive "
                             f"{process_alive(pid)}) ended before the kill:\n{log.read_text()}")
        time.sleep(0.02)
    journal = journals(bench.runs_dir)[0]
    out["before"] = journal.read_text().splitlines()[:-1]
    t_kill = time.monotonic()
    worker.send_signal(signal.SIGKILL)
    if args.kill == "worker+flow-run":
        os.kill(pid, signal.SIGKILL)
    worker.wait()
    out["points_done_at_kill"] = completed(journal)
    time.sleep(args.down_s)
    out["flow_run_process_alive_after_kill"] = process_alive(pid)
    recovered = recover_bench(bench)                 # what `lab up` does, then the new worker
    out["recovered"] = recovered
    start_worker()
    out["downtime_s"] = time.monotonic() - t_kill
    out["points_done_when_back"] = completed(journal)
    out["first_flow_run_state"] = wait_final(first_id) if not recovered else "Crashed"
    out["first_process_exit"] = "killed" if args.kill == "worker+flow-run" else "(the worker's child)"
    if recovered:
        out["resumed_by_recovery"] = True
        out["second_flow_run_state"] = wait_final(recovered[0]["resumed_by"])
        out["second_process_exit"] = "(the new worker's child)"
    return out


def once(args: argparse.Namespace, work: Path) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.bench_run import submit
    from flows.deployments import deploy_lab
    from flows.lab_up import plan, wait_for_server
    from flows.recovery import recover_bench
    from labauto.benches import load_benches
    from labauto.engine.journal import RunJournal
    from labauto.lab import DEFAULT_LAB_FILE
    from labauto.sim import SimulatedLab

    procedure = make_procedure(args.points, work / "procedure")
    out: dict = {"resumed_by_recovery": False}
    with SimulatedLab(seed=31, latency="zero") as lab:
        res = lab.resources
        lab_file = work / "lab.yaml"
        lab_file.write_text(DEFAULT_LAB_FILE.read_text() + (
            f"benches:\n  restart-1:\n    standard: {res['calibrator']}\n    dut: {res['dmm']}\n"
            f"    workdir: {work / 'bench'}\n"))
        bench = load_benches(lab_file)["restart-1"]
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        server_def = plan([bench], lab_file, prefect_home=work / "prefect", database=args.database,
                          port=port)[0]
        (work / "prefect").mkdir(parents=True, exist_ok=True)
        server_log = work / "server.log"

        def start_server() -> subprocess.Popen:
            p = subprocess.Popen(server_def.argv, env={**os.environ, **server_def.env}, cwd=ROOT,
                                 stdout=server_log.open("ab"), stderr=subprocess.STDOUT)
            wait_for_server(api, alive=lambda: p.poll() is None)
            return p

        t0 = time.monotonic()
        server = start_server()
        out["server_start_s"] = time.monotonic() - t0
        procs: list[subprocess.Popen] = []
        try:
            with temporary_settings({PREFECT_API_URL: api}):
                deploy_lab(lab_file)
                first = submit(bench, {"procedure": str(procedure), "settle_scale": args.settle_scale,
                                       "timeout_ms": 5000})
                log = work / "flow-runs.log"
                if args.kill != "server":
                    worker_def = plan([bench], lab_file, prefect_home=work / "prefect",
                                      database=args.database, port=port)[1]
                    out.update(kill_worker(args, bench, first.id, worker_def, log, procs))
                    out["point_tasks_on_server"] = point_tasks(first.id)
                    out["total_s"] = time.monotonic() - t0
                    journal = journals(bench.runs_dir)[0]
                    before = out.pop("before")
                else:
                    procs.append(start_flow_run_process(str(first.id), api, lab_file, log))
                    deadline = time.monotonic() + 300
                    while not (journals(bench.runs_dir)
                               and completed(journals(bench.runs_dir)[0]) >= args.kill_after):
                        if procs[0].poll() is not None or time.monotonic() > deadline:
                            raise SystemExit(f"the flow run ended before the restart:\n{log.read_text()}")
                        time.sleep(0.02)
                    journal = journals(bench.runs_dir)[0]
                    before = journal.read_text().splitlines()[:-1]    # (the last line may be torn)
                    t_kill = time.monotonic()
                    server.send_signal(signal.SIGKILL)
                    server.wait()
                    done_at_kill = completed(journal)
                    time.sleep(args.down_s)                  # the server stays away this long
                    server = start_server()
                    out["downtime_s"] = time.monotonic() - t_kill
                    out["points_done_at_kill"] = done_at_kill
                    out["points_done_when_back"] = completed(journal)
                    code = procs[0].wait(600)
                    out["first_process_exit"] = code
                    with get_client(sync_client=True) as client:
                        state = client.read_flow_run(first.id).state
                    out["first_flow_run_state"] = state.name if state else "?"
                    out["point_tasks_on_server"] = point_tasks(first.id)
                    if not (state and state.is_completed()):
                        recovered = recover_bench(bench)      # what `lab up` does before a worker starts
                        out["recovered"] = recovered
                        if recovered:
                            out["resumed_by_recovery"] = True
                            procs.append(start_flow_run_process(recovered[0]["resumed_by"], api,
                                                                lab_file, log))
                            out["second_process_exit"] = procs[1].wait(600)
                            with get_client(sync_client=True) as client:
                                s2 = client.read_flow_run(recovered[0]["resumed_by"]).state
                            out["second_flow_run_state"] = s2.name if s2 else "?"
            out["total_s"] = time.monotonic() - t0
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()

    lines = journal.read_text().splitlines()
    records = [json.loads(x) for x in lines]
    state = RunJournal(journal).read()
    done = [r["point_id"] for r in records if r["type"] == "point_done"]
    checks = {
        "one labauto run": [p.name for p in bench.runs_dir.iterdir()] == [journal.parent.name],
        "every point completed": len(state.points) == args.points
        and all(p.completed for p in state.points.values()),
        "each point completed once": sorted(done) == sorted(state.points),
        "journal before the restart kept as it was": lines[:len(before)] == before,
        "certificate issued once": len(list(bench.out_dir.rglob("*.xml"))) == 1,
        "run ended once": [r["type"] for r in records].count("run_end") == 1,
    }
    out["checks"] = checks
    out["attempts"] = sum(len(p.attempts) for p in state.points.values())
    return out


@contextmanager
def database(postgres: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database for the server (dropped afterwards), or None: SQLite."""
    if not postgres:
        yield None
        return
    import sqlalchemy

    name = f"labauto_restart_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield postgres.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--kill-after", type=int, default=2, help="points done before the restart")
    ap.add_argument("--settle-scale", type=float, default=1.0,
                    help="x the procedure's 1 s settle time per point (keeps the run measuring "
                         "through the restart)")
    ap.add_argument("--down-s", type=float, default=0.0,
                    help="seconds the server stays down before it is started again (beyond its "
                         "start-up time): long enough and the flow run's process gives up")
    ap.add_argument("--kill", choices=["server", "worker", "worker+flow-run"], default="server",
                    help="what is killed with SIGKILL mid-run: the server (started again on the "
                         "same database), the bench's worker, or the worker and its flow run's "
                         "process (the machine dies); a killed worker is started again as "
                         "`lab up` does, after its recovery step")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--postgres", nargs="?", const=os.environ.get(
        "LABAUTO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        default=None, help="the server on a fresh database of this PostgreSQL server (default "
        "without the flag: SQLite in the temporary Prefect home)")
    args = ap.parse_args()
    report.header("")
    os.environ.setdefault("LABAUTO_LOCK_DIR", tempfile.mkdtemp(prefix="labauto-locks-"))
    failed = False
    downtimes, totals = [], []
    for i in range(args.repeat):
        work = Path(tempfile.mkdtemp(prefix="labauto-restart-"))
        os.environ["LABAUTO_HOME"] = str(work / "home")
        os.environ["LABAUTO_OUTBOX"] = str(work / "home" / "outbox.sqlite3")
        with database(args.postgres) as args.database:
            r = once(args, work)
        downtimes.append(r["downtime_s"])
        totals.append(r["total_s"])
        how = ("resumed from its journal by the recovery (new flow run)" if r["resumed_by_recovery"]
               else "the flow run rode the restart out and completed")
        print(f"run {i + 1}: {args.kill} killed after {r['points_done_at_kill']} of {args.points} points, "
              f"{'server' if args.kill == 'server' else 'new worker'} back after {r['downtime_s']:.1f} s ({r['points_done_when_back']} points done by "
              f"then); first flow run {r['first_flow_run_state']} (process exit "
              f"{r['first_process_exit']}): {how}; {r['attempts']} attempts for {args.points} "
              f"points; measuring tasks the server shows for it: {r['point_tasks_on_server']}; "
              f"total {r['total_s']:.1f} s (first server start {r['server_start_s']:.1f} s)")
        for name, ok in r["checks"].items():
            print(f"    {'ok  ' if ok else 'FAIL'} {name}")
            failed |= not ok
        if r["resumed_by_recovery"]:
            print(f"    second flow run: {r.get('second_flow_run_state')} (process exit "
                  f"{r.get('second_process_exit')})")
    what = ("server down (kill to healthy again)" if args.kill == "server"
            else "kill to the new worker started (recovery included)")
    print(f"{what}: {report.span(downtimes, '{:.1f}', 's')}; "
          f"whole scenario {report.span(totals, '{:.1f}', 's')}")
    report.footer()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

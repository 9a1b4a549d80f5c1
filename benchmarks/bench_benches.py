"""Benchmark of the lab's day (issue 14): N simulated benches driven in parallel through one
self-hosted Prefect server on PostgreSQL, against one bench alone, in the same run.

What ``labauto lab up`` starts, started by its own plan (flows/lab_up.py ``plan``):

  * ``prefect server start`` on a fresh PostgreSQL database (created here from ``--postgres``,
    default the test server at 127.0.0.1:5432, dropped at the end), concurrency leases on disk;
  * the work pool ``labauto``, one queue and the deployments of every bench of a lab file
    (flows/deployments.py ``deploy_lab``);
  * one ``prefect worker start --pool labauto --work-queue bench-<name>`` per bench.

Each bench has its own simulated lab at realistic latency (its own calibrator and DMM serials,
so no two benches share an instrument slot), served by its own process (a bench's instruments
are their own hardware).  A calibration is submitted to ``calibrate/bench-<name>`` as
``labauto run PROCEDURE --bench NAME`` does (flows/bench_run.py ``submit``) and waited for on the
server.  Rounds alternate 1 bench and N benches (so the load of the shared machine falls on
both alike), ``--repeat`` of each after a warm-up round; a round's time runs from its
submissions to its last flow run completed.  Prints points per second, their ratio per pair of
rounds (goal: N benches >= 0.8 N x one bench: the work is instrument-bound), and, per flow run,
where the time went: waiting for the worker to start it (worker polling, flow-run process
start) and the run itself (its measuring, certificate).

    .venv/bin/python benchmarks/bench_benches.py [--benches 4] [--points 15] [--repeat 3]
        [--query-seconds S]

``--query-seconds``: the workers' ``PREFECT_WORKER_QUERY_SECONDS`` (default: what ``lab up``
gives them).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")

import report  # noqa: E402
from bench_calibration import make_procedure  # noqa: E402


def create_database(postgres: str) -> tuple[str, str]:
    """A fresh database on the PostgreSQL server of ``postgres``: (its name, its URL)."""
    import sqlalchemy

    name = f"labauto_bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    rest = postgres.split("://", 1)[1].rsplit("/", 1)[0]
    return name, f"postgresql://{rest}/{name}"


def drop_database(postgres: str, name: str) -> None:
    import sqlalchemy

    admin = sqlalchemy.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def serve_lab(i: int, serial: str, conn: Any) -> None:
    """A bench's simulated lab (realistic latency) in its own process, until told to stop."""
    from labauto.sim import SimulatedLab

    with SimulatedLab(seed=10 + i, latency="realistic", calibrator_serial=serial,
                      dmm_serial=f"MY9{i:07d}") as lab:
        conn.send(dict(lab.resources))
        conn.recv()


def start_labs(serials: list[str]) -> tuple[list[dict[str, str]], list[Any]]:
    ctx = multiprocessing.get_context("spawn")
    resources, handles = [], []
    for i, serial in enumerate(serials):
        ours, theirs = ctx.Pipe()
        p = ctx.Process(target=serve_lab, args=(i, serial, theirs), daemon=True)
        p.start()
        handles.append((p, ours))
    for p, ours in handles:
        if not ours.poll(120):
            raise SystemExit("a simulated lab did not start")
        resources.append(ours.recv())
    return resources, handles


def stop_labs(handles: list[Any]) -> None:
    for p, ours in handles:
        try:
            ours.send("stop")
        except OSError:
            pass
    for p, _ in handles:
        p.join(30)


def lab_file(folder: Path, serials: list[str], labs: list[dict[str, str]]) -> Path:
    """The default lab file, the benches' calibrators as standards, and one bench per lab."""
    from labauto.lab import DEFAULT_LAB_FILE

    base = DEFAULT_LAB_FILE.read_text()
    extra = "".join(f"""
  - manufacturer: Fluke
    model: 5522A
    serial: "{s}"
    certificate_id: BENCH-{s}
    calibrated_by: simulated
    calibration_due: "2099-01-01"
""" for s in serials)
    benches = "\nbenches:\n" + "".join(f"""  b{i}:
    standard: {r['calibrator']}
    dut: {r['dmm']}
    workdir: work/b{i}
""" for i, r in enumerate(labs))
    path = folder / "lab.yaml"
    path.write_text(base.rstrip("\n") + "\n" + extra + benches)
    return path


def run_round(benches: list[Any], procedure: Path, timeout_s: float = 1800) -> dict[str, Any]:
    """Submit one calibration per bench (as ``labauto run --bench``) and wait for all; the
    round's wall time and, per flow run, its wait for the worker and its run time (server's)."""
    from prefect.client.orchestration import get_client

    from flows.bench_run import submit

    t0 = time.perf_counter()
    ids = [submit(b, {"procedure": str(procedure), "publish": False}).id for b in benches]
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + timeout_s
        while True:
            runs = [client.read_flow_run(i) for i in ids]
            if all(r.state is not None and r.state.is_final() for r in runs):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"flow runs not done after {timeout_s:g} s: "
                                 f"{[r.state_name for r in runs]}")
            time.sleep(0.25)
    wall = time.perf_counter() - t0
    bad = [f"{r.name}: {r.state_name} {r.state.message}" for r in runs if not r.state.is_completed()]
    if bad:
        raise SystemExit(f"flow runs did not complete: {bad}")
    return {"wall": wall,
            "wait": [(r.start_time - r.created).total_seconds() for r in runs],
            "run": [(r.end_time - r.start_time).total_seconds() for r in runs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--benches", type=int, default=4)
    ap.add_argument("--points", type=int, default=15, help="points per calibration (per bench)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres", default=os.environ.get(
        "LABAUTO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--port", type=int, default=4399)
    ap.add_argument("--query-seconds", type=float, default=None,
                    help="the workers' PREFECT_WORKER_QUERY_SECONDS (default: lab up's)")
    args = ap.parse_args()
    report.header("")
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import deploy_lab
    from flows.lab_up import plan, wait_for_server
    from labauto.benches import load_benches

    tmp = Path(tempfile.mkdtemp(prefix="labauto-benches-"))
    os.environ["LABAUTO_HOME"] = str(tmp / "home")            # the workers' flow runs get these
    os.environ["LABAUTO_LOCK_DIR"] = str(tmp / "locks")
    procedure = make_procedure(args.points, tmp)
    serials = [f"90000{i}" for i in range(args.benches)]
    resources, lab_procs = start_labs(serials)
    lab = lab_file(tmp, serials, resources)
    benches = list(load_benches(lab).values())
    db, url = create_database(args.postgres)
    server, *workers = plan(benches, lab, prefect_home=tmp / "prefect", database=url,
                            port=args.port)
    api = f"http://127.0.0.1:{args.port}/api"
    procs: list[subprocess.Popen] = []
    logs = (tmp / "logs.txt").open("ab")
    rounds: list[tuple[int, dict[str, Any]]] = []
    try:
        (tmp / "prefect").mkdir()
        procs.append(subprocess.Popen(server.argv, env={**os.environ, **server.env}, cwd=ROOT,
                                      stdout=logs, stderr=logs))
        wait_for_server(api, alive=lambda: procs[0].poll() is None)
        os.environ["PREFECT_API_URL"] = api
        with temporary_settings({PREFECT_API_URL: api}):
            deploy_lab(lab)
            for w in workers:
                env = {**os.environ, **w.env}
                if args.query_seconds is not None:
                    env["PREFECT_WORKER_QUERY_SECONDS"] = f"{args.query_seconds:g}"
                procs.append(subprocess.Popen(w.argv, env=env, cwd=ROOT, stdout=logs, stderr=logs))
            run_round(benches, procedure)             # warm-up: every worker's first flow run
            for _ in range(args.repeat):
                for n in (1, args.benches):
                    rounds.append((n, run_round(benches[:n], procedure)))
                    print(f"  {n} bench(es): {rounds[-1][1]['wall']:.1f} s "
                          f"({os.getloadavg()[0]:.1f} load)", flush=True)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        stop_labs(lab_procs)
        drop_database(args.postgres, db)
    n, pts = args.benches, args.points
    one = [r for k, r in rounds if k == 1]
    many = [r for k, r in rounds if k == n]
    rate_one = [pts / r["wall"] for r in one]
    rate_many = [n * pts / r["wall"] for r in many]
    ratios = [m / o for o, m in zip(rate_one, rate_many)]
    query = (f"PREFECT_WORKER_QUERY_SECONDS={args.query_seconds:g}" if args.query_seconds is not None
             else "the workers' settings from lab up")
    print(f"server: prefect server on PostgreSQL ({db}), {n} benches each with its own worker "
          f"({query}) and realistic simulated lab; {pts} points per calibration")
    print(f"1 bench                : {report.span(rate_one, '{:.3f}', 'points/s')}")
    print(f"{n} benches in parallel: {report.span(rate_many, '{:.3f}', 'points/s')}")
    print(f"ratio per pair of rounds: {report.span(ratios, '{:.2f}', 'x')}; ratio of medians "
          f"{statistics.median(rate_many) / statistics.median(rate_one):.2f}x (goal >= {0.8 * n:.1f}x)")
    for label, rs in (("1 bench", one), (f"{n} benches", many)):
        print(f"{label:>10}: waiting for the worker {report.span([w for r in rs for w in r['wait']], '{:.1f}', 's')}; "
              f"flow run {report.span([w for r in rs for w in r['run']], '{:.1f}', 's')}")
    report.footer()


if __name__ == "__main__":
    main()

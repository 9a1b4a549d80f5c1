"""Benchmark of the lab's day (issue 14): N simulated benches driven in parallel through one
self-hosted Prefect server on PostgreSQL, against one bench alone, in the same run.

Starts ``prefect server`` on a fresh PostgreSQL database (``--postgres``, default the test
server at 127.0.0.1:5432) with the lease storage ``lab up`` uses, then runs the calibrate flow
on 1 bench, and on ``--benches`` benches at once (threads of this process, each bench its own
realistic-latency simulated lab with its own calibrator serial, so no two flows share an
instrument slot), ``--repeat`` times each.  Prints points per second for both and their ratio
(goal: 4 benches >= 3.2x one bench; the work is instrument-bound).

    .venv/bin/python benchmarks/bench_benches.py [--benches 4] [--points 3] [--repeat 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")

import report  # noqa: E402
from bench_calibration import make_procedure  # noqa: E402


def start_server(postgres: str, home: Path, port: int) -> tuple[subprocess.Popen, str, str]:
    import sqlalchemy

    name = f"labauto_bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    rest = postgres.split("://", 1)[1].rsplit("/", 1)[0]
    env = {**os.environ, "PREFECT_HOME": str(home),
           "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://{rest}/{name}",
           "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE":
               "prefect.server.concurrency.lease_storage.filesystem",
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host",
                             "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from flows.lab_up import wait_for_server

    api = f"http://127.0.0.1:{port}/api"
    wait_for_server(api, alive=lambda: proc.poll() is None)
    return proc, api, name


def drop_database(postgres: str, name: str) -> None:
    import sqlalchemy

    admin = sqlalchemy.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def lab_file(folder: Path, serials: list[str]) -> Path:
    from labauto.lab import DEFAULT_LAB_FILE

    extra = "".join(f"""
  - manufacturer: Fluke
    model: 5522A
    serial: "{s}"
    certificate_id: BENCH-{s}
    calibrated_by: simulated
    calibration_due: "2099-01-01"
""" for s in serials)
    path = folder / "lab.yaml"
    path.write_text(DEFAULT_LAB_FILE.read_text() + extra)
    return path


def run_benches(labs: list, proc: Path, lab: Path, work: Path) -> float:
    from flows.calibrate import calibrate

    errors: list[BaseException] = []

    def one(i: int, sim) -> None:
        try:
            state = calibrate(str(proc), sim.resources["dmm"], sim.resources["calibrator"],
                              lab_file=str(lab), runs_dir=str(work / f"b{i}" / "runs"),
                              out_dir=str(work / f"b{i}" / "certs"), publish=False,
                              return_state=True)
            if not state.is_completed():
                raise RuntimeError(f"bench {i}: {state}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i, s)) for i, s in enumerate(labs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--benches", type=int, default=4)
    ap.add_argument("--points", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--postgres", default=os.environ.get(
        "LABAUTO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--port", type=int, default=4399)
    args = ap.parse_args()
    report.header("")
    tmp = Path(tempfile.mkdtemp(prefix="labauto-benches-"))
    os.environ["LABAUTO_HOME"] = str(tmp / "home")
    os.environ["LABAUTO_LOCK_DIR"] = str(tmp / "locks")
    proc = make_procedure(args.points, tmp)
    serials = [f"90000{i}" for i in range(args.benches)]
    lab = lab_file(tmp, serials)
    server, api, db = start_server(args.postgres, tmp / "prefect", args.port)
    os.environ["PREFECT_API_URL"] = api
    from labauto.sim import SimulatedLab

    try:
        labs = [SimulatedLab(seed=10 + i, latency="realistic", calibrator_serial=s,
                             dmm_serial=f"MY9{i:07d}") for i, s in enumerate(serials)]
        for s in labs:
            s.start()
        run_benches(labs[:1], proc, lab, tmp / "warm")            # imports, first-use caches
        one = [run_benches(labs[:1], proc, lab, tmp / f"one{i}") for i in range(args.repeat)]
        many = [run_benches(labs, proc, lab, tmp / f"many{i}") for i in range(args.repeat)]
    finally:
        for s in labs:
            s.stop()
        server.terminate()
        server.wait(60)
        drop_database(args.postgres, db)
    n = args.points
    rate_one = [n / t for t in one]
    rate_many = [args.benches * n / t for t in many]
    print(f"server: prefect server on PostgreSQL ({db}), realistic simulated lab, {n} points per bench")
    print(f"1 bench                : {report.span(rate_one, '{:.3f}', 'points/s')}")
    print(f"{args.benches} benches in parallel: {report.span(rate_many, '{:.3f}', 'points/s')}")
    print(f"ratio (medians)        : {statistics.median(rate_many) / statistics.median(rate_one):.2f}x "
          f"(goal >= {0.8 * args.benches:.1f}x)")
    report.footer()


if __name__ == "__main__":
    main()

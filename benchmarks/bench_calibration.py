"""Benchmark of the main job (issue 2): a 30-point DC-voltage run on the simulated lab.

Prints, for the zero-latency lab, total time and time per point of the plain engine and of the
Prefect flow (embedded ephemeral server; its start-up is reported separately), and compares the
framework's per-point overhead with the instrument dwell time per point measured on the
realistic-timing lab (NPLC x 20 ms per reading, autozero, settle time).

The Prefect overhead per point is also measured directly in each flow run: the time of each
measuring task's call in the flow minus the time the measurement took inside the task (the
benchmark wraps both for the run), divided by the task's points (one task for all the points
of a procedure without operator steps).  It is split from the costs a flow run pays once (flow
run, instrument slots, artifacts, the evaluate and publish tasks), which ``(flow - engine) /
points`` spreads over the points and which the load makes noisy.  CPU seconds are printed too,
of this process (engine, flow) and of the Prefect server (the harness's child process, over
each flow run and the 2 s after it, while it records the run's events): the load moves them
less than wall time.

    .venv/bin/python benchmarks/bench_calibration.py [--points 30] [--realistic-points 3] [--repeat 5]

Every figure is a range over --repeat runs (min-max, median); the overhead ratio divides the
flow's median time per point by the realistic lab's median time per point, both from this run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")

from labauto.sim import SimulatedLab  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import report  # noqa: E402

BASE_PROCEDURE = ROOT / "procedures" / "keysight_34465a_dcv.yaml"
# 30 points over the five ranges: 6 per range (0, ±10 %, ±50 %, +100 % of range)
RANGES = [("100 mV", 0.1, "mV", 1000), ("1 V", 1, "V", 1), ("10 V", 10, "V", 1),
          ("100 V", 100, "V", 1), ("1000 V", 1000, "V", 1)]
FRACTIONS = [0.0, 0.1, -0.1, 0.5, -0.5, 1.0]


def make_procedure(n_points: int, folder: Path) -> Path:
    """A copy of the real procedure with its points replaced by an n-point plan."""
    import yaml

    data = yaml.safe_load(BASE_PROCEDURE.read_text())
    points = []
    for rng, full, unit, scale in RANGES:
        for f in FRACTIONS:
            value = f * full * scale
            points.append({"range": rng, "nominal": f"{value:g} {unit}"})
    data["points"] = points[:n_points]
    data["procedure"]["id"] = data["procedure"]["id"] + "-BENCH"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench_{n_points}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def run_engine(procedure: Path, lab: SimulatedLab, work: Path, settle_scale: float) -> float:
    from labauto.calibration import run_calibration

    t0 = time.perf_counter()
    run_calibration(procedure, dut_resource=lab.resources["dmm"],
                    standard_resource=lab.resources["calibrator"], runs_dir=work / "runs",
                    out_dir=work / "certs", settle_scale=settle_scale, publish=False)
    return time.perf_counter() - t0


def run_flow(procedure: Path, lab: SimulatedLab, work: Path,
             per_point: list[float] | None = None, rest: list[float] | None = None) -> float:
    """The calibrate flow's wall time; ``per_point`` collects, for each measuring task, the
    Prefect overhead per point of its call: the time of the task call in the flow minus the time
    the measurement took inside it (the engine's ``measure_points``), both timed in this run,
    divided by the task's points; ``rest`` gets the flow's time outside the measuring tasks and
    the certificate (``evaluate_and_issue``)."""
    import flows.calibrate as module

    real_task, real_measure = module.measure_points_task, module.measure_points
    real_issue = module.evaluate_and_issue
    inside: list[float] = []
    calls: list[float] = []

    def issue(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real_issue(*args, **kwargs)
        finally:
            calls.append(time.perf_counter() - t)

    def measure(*args, **kwargs):            # the engine's measurement, inside the task
        t = time.perf_counter()
        try:
            return real_measure(*args, **kwargs)
        finally:
            inside.append(time.perf_counter() - t)

    def task(run_folder, point_ids, *args, **kwargs):   # the task call, as the flow makes it
        t = time.perf_counter()
        n = len(inside)
        try:
            return real_task(run_folder, point_ids, *args, **kwargs)
        finally:
            calls.append(time.perf_counter() - t)
            if per_point is not None and len(inside) == n + 1:
                per_point.append((calls[-1] - inside[-1]) / len(point_ids))

    module.measure_points_task, module.measure_points = task, measure
    module.evaluate_and_issue = issue
    try:
        t0 = time.perf_counter()
        module.calibrate(str(procedure), lab.resources["dmm"], lab.resources["calibrator"],
                         runs_dir=str(work / "runs"), out_dir=str(work / "certs"),
                         settle_scale=0.0, publish=False)
        total = time.perf_counter() - t0
        if rest is not None:
            rest.append(total - sum(calls))
        return total
    finally:
        module.measure_points_task, module.measure_points = real_task, real_measure
        module.evaluate_and_issue = real_issue


def children_cpu_s() -> float:
    """CPU seconds used so far by this process's children (the harness's Prefect server)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=30)
    ap.add_argument("--realistic-points", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure")
    args = ap.parse_args()
    report.header("")
    tmp = Path(tempfile.mkdtemp(prefix="labauto-bench-"))
    os.environ["LABAUTO_HOME"] = str(tmp / "home")
    proc = make_procedure(args.points, tmp)
    from labauto.procedure import load_procedure

    p = load_procedure(proc)
    n, n_read = len(p.points), sum(pt.readings for pt in p.points)
    print(f"procedure: {n} points, {n_read} readings, NPLC {p.nplc}, autozero {p.autozero}")
    per_point = lambda ts: [1e3 * t / n for t in ts]  # noqa: E731

    with SimulatedLab(seed=7, latency="zero") as lab:
        run_engine(proc, lab, tmp / "warm", 0.0)            # imports, first-use caches
        t_engine, cpu_engine = [], []
        for i in range(args.repeat):
            c0 = time.process_time()
            t_engine.append(run_engine(proc, lab, tmp / f"e{i}", 0.0))
            cpu_engine.append(time.process_time() - c0)
    print(f"zero-latency lab, plain engine : per point {report.span(per_point(t_engine), '{:.1f}', 'ms')}"
          "  (incl. evaluation + certificate)")

    from prefect.testing.utilities import prefect_test_harness

    t0 = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        t_start = time.perf_counter() - t0
        with SimulatedLab(seed=7, latency="zero") as lab:
            run_flow(proc, lab, tmp / "fwarm")
            task_overheads: list[list[float]] = []
            t_flow: list[float] = []
            t_rest: list[float] = []
            cpu_flow, cpu_server = [], []
            for i in range(args.repeat):
                task_overheads.append([])
                s0, c0 = children_cpu_s(), time.process_time()
                t_flow.append(run_flow(proc, lab, tmp / f"f{i}", task_overheads[-1], t_rest))
                cpu_flow.append(time.process_time() - c0)
                time.sleep(2)                # (the server records the run's events after it)
                cpu_server.append(children_cpu_s() - s0)
    print(f"zero-latency lab, Prefect flow : per point {report.span(per_point(t_flow), '{:.1f}', 'ms')}"
          f"  (+ {t_start:.1f} s ephemeral server start, once per process)")
    overhead = [(f - e) / n * 1e3 for f, e in zip(sorted(t_flow), sorted(t_engine))]
    print(f"(flow - engine) / points       : {report.span(overhead, '{:.1f}', 'ms')} (runs paired by "
          "rank: the per-run costs below spread over the points, plus the load's noise)")
    medians = [1e3 * statistics.median(o) for o in task_overheads]
    print(f"Prefect overhead per point     : {report.span(medians, '{:.1f}', 'ms')} (per run: its "
          "measuring task's call minus the measurement inside it, over its points)")
    print(f"flow run outside the points    : {report.span(t_rest, '{:.2f}', 's')} (once per run, not "
          "per point: pre-flight checks, instrument slots, flow-run states, the evaluate task "
          "around the certificate, artifacts)")
    extra = [1e3 * (f - statistics.median(cpu_engine)) / n for f in cpu_flow]
    print(f"CPU per run, this process      : engine {report.span(cpu_engine, '{:.2f}', 's')}, flow "
          f"{report.span(cpu_flow, '{:.2f}', 's')}: + {report.span(extra, '{:.1f}', 'ms')} per point")
    server = [1e3 * c / n for c in cpu_server]
    print(f"CPU per flow run, the server   : {report.span(cpu_server, '{:.2f}', 's')} ("
          f"{report.span(server, '{:.1f}', 'ms')} per point; the plain engine needs none; the "
          "load does not move CPU time as much as wall time)")

    # instrument dwell time per point on the realistic lab, measured on a few points
    real_proc = make_procedure(args.realistic_points, tmp / "r")
    with SimulatedLab(seed=7, latency="realistic") as lab:
        t_real = [run_engine(real_proc, lab, tmp / f"real{i}", 1.0) for i in range(max(1, args.repeat // 2))]
    dwell = [t / args.realistic_points for t in t_real]
    print(f"realistic lab, plain engine    : {report.span(dwell, '{:.3f}', 's')} per point (instrument "
          "dwell: settle + readings)")
    ratio = 100 * statistics.median(t_flow) / n / statistics.median(dwell)
    print(f"framework overhead / dwell     : {ratio:6.2f} %  (median Prefect-flow time per point on the "
          "zero-latency lab / median realistic time per point, same run)")
    report.footer()


if __name__ == "__main__":
    main()

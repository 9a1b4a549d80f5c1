"""Benchmark of every function (issue 11): the full Keysight 34465A performance verification
on the zero-latency simulated lab with the plain engine, the framework's overhead against the
realistic instrument dwell per function, and the peak memory of a 500-point procedure.

    .venv/bin/python benchmarks/bench_functions.py [--repeat 3] [--realistic-repeat 2]
                                                   [--rss-points 500] [--rss-repeat 2]

1. Full verification (procedures/keysight_34465a_verification.yaml, 48 points, every
   function, operator steps confirmed automatically): time of the measurement phase (the
   plain engine: pre-flight checks, instrument sessions, every point), per point and per
   function (each point's span from the observer's point_started to point_finished), then
   evaluation and certificate issuing, and the whole run_calibration.
2. Overhead per function: one point per function (the verification's first point of it, with
   its readings and settle time) on the realistic-timing lab (readings take their real time:
   NPLC x 20 ms with autozero doubled, AC filter settling, frequency aperture; the settle time
   is waited) -> the realistic dwell per point; the framework's overhead per point is the same
   function's median span on the zero-latency lab (part 1, where instruments take no time).
   Goal: overhead <= 5 % of the dwell for every function.
3. Peak RSS of a 500-point procedure (all seven functions) run end to end, certificate
   included, in a fresh process each (ru_maxrss of the child).  Goal: < 300 MB.

Every figure is a range over repeated runs (min-max, median) with the date, machine and load.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

sys.path.insert(0, str(ROOT / "benchmarks"))
import report  # noqa: E402

PV = ROOT / "procedures" / "keysight_34465a_verification.yaml"
ORDER = ("DCV", "ACV", "FREQ", "RES4W", "RES2W", "DCI", "ACI")


class Spans:
    """Observer: the span of every point (point_started -> point_finished), by point."""

    def __init__(self) -> None:
        self.start: dict[str, float] = {}
        self.span: dict[str, float] = {}
        self.function: dict[str, str] = {}

    def point_started(self, point, attempt) -> None:
        self.start[point.id] = time.perf_counter()
        self.function[point.id] = point.function

    def reading(self, point, index, value) -> None:
        pass

    def point_finished(self, point) -> None:
        self.span[point.id] = time.perf_counter() - self.start[point.id]

    def point_skipped(self, point, reason) -> None:
        pass

    def by_function(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = defaultdict(list)
        for pid, s in self.span.items():
            out[self.function[pid]].append(s)
        return out


def calibrate(procedure: Path, lab, work: Path, settle_scale: float, *, issue: bool = True,
              source_under_test: bool = False):
    """(spans, measure s, evaluate s, issue s): the plain engine, phase by phase (the lab's
    meter is the DUT, or with ``source_under_test`` its source)."""
    from labauto.calibration import measure_points, preflight, start_or_resume_run
    from labauto.engine.run import open_run
    from labauto.evaluation import evaluate_run
    from labauto.issuing import issue_certificate
    from labauto.lab import load_lab

    spans = Spans()
    dut, std = ("calibrator", "dmm") if source_under_test else ("dmm", "calibrator")
    res = {"dut_resource": lab.resources[dut], "standard_resource": lab.resources[std]}
    t0 = time.perf_counter()
    with preflight(procedure, **res) as checked:
        run = start_or_resume_run(procedure, runs_dir=work / "runs", settle_scale=settle_scale,
                                  run_id=checked.run_id, **res)
        measure_points(run, observer=spans)
    t1 = time.perf_counter()
    lab_config = load_lab(None)
    result = evaluate_run(open_run(run.folder), lab_config)
    t2 = time.perf_counter()
    if issue:
        issue_certificate(result, work / "certificates", lab=lab_config, journal=run.journal.path,
                          queue=False)
    t3 = time.perf_counter()
    return spans, t1 - t0, t2 - t1, t3 - t2


def overhead_line(label: str, about: str, overheads: list[float], dwells: list[float]) -> float:
    """Print one kind of point's overhead (zero-latency spans, s) against its realistic dwell
    (s); return the worst run's ratio in % (largest overhead / smallest dwell)."""
    ratio = 100 * statistics.median(overheads) / statistics.median(dwells)
    worst_run = 100 * max(overheads) / min(dwells)
    over = report.span([1e3 * x for x in overheads], "{:.1f}", "ms")
    dwell = report.span(dwells, "{:.2f}", "s")
    print(f"   {label} ({about}): overhead {over}, dwell {dwell} -> {ratio:.2f} % of the median "
          f"(largest overhead / smallest dwell {worst_run:.2f} %)")
    return worst_run


def one_point_per_function(folder: Path, procedure: Path = PV) -> Path:
    """``procedure`` with only its first point of each function (its own readings, settle
    time, range and frequency; a readback point counts as a function of its own) and no
    operator steps."""
    import yaml

    data = yaml.safe_load(procedure.read_text())
    seen, points = set(), []
    for entry in data["points"]:
        if "step" in entry:
            continue
        fn = (entry.get("function", data.get("function", "DCV")), bool(entry.get("readback")))
        if fn in seen:
            continue
        seen.add(fn)
        first = dict(entry)
        for key in ("nominal", "frequency"):
            if isinstance(first.get(key), list):
                first[key] = first[key][-1 if key == "nominal" else 0]
        points.append(first)
    data["points"] = points
    data["procedure"]["id"] += "-ONE-PER-FUNCTION"
    path = folder / f"{procedure.stem}_one_per_function.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def big_procedure(n: int, folder: Path) -> Path:
    """``n`` points over every function of the 34465A (the verification's points, repeated at
    values scaled by 0.1 to 1.0 of their nominal, each with its own id)."""
    import yaml

    from labauto.procedure import load_procedure

    data = yaml.safe_load(PV.read_text())
    base = [p for p in load_procedure(PV).points if p.nominal.m != 0]
    points, k = [], 0
    while len(points) < n:
        p = base[k % len(base)]
        scale = 1.0 - 0.9 * ((k // len(base)) % 10) / 10
        nominal = p.nominal * scale
        if p.function == "FREQ":
            nominal = p.nominal             # frequency points keep their value
        entry = {"function": p.function, "range": f"{p.range:~P}", "nominal": f"{nominal:~P}",
                 "id": f"P{len(points):04d}", "readings": 2}
        if p.frequency is not None:
            entry["frequency"] = f"{p.frequency:~P}"
        points.append(entry)
        k += 1
    data["points"] = points
    data["settings"]["readings"] = 2
    data["procedure"]["id"] += f"-{n}"
    path = folder / f"points_{n}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def rss_child(n: int) -> None:
    """Run an n-point procedure end to end in this process; print JSON with peak RSS."""
    from labauto.calibration import run_calibration
    from labauto.engine.operator import AutoConfirm, set_operator
    from labauto.sim import SimulatedLab

    tmp = Path(tempfile.mkdtemp(prefix="labauto-bench-rss-"))
    os.environ["LABAUTO_HOME"] = str(tmp / "home")
    proc = big_procedure(n, tmp)
    set_operator(AutoConfirm())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    with SimulatedLab(seed=3, latency="zero") as lab:
        outcome = run_calibration(proc, dut_resource=lab.resources["dmm"],
                                  standard_resource=lab.resources["calibrator"],
                                  runs_dir=tmp / "runs", out_dir=tmp / "certs", settle_scale=0.0,
                                  publish=False)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"points": len(outcome.result.points), "seconds": elapsed, "before_mb": before,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="full verifications (part 1)")
    ap.add_argument("--realistic-repeat", type=int, default=2, help="realistic runs (part 2)")
    ap.add_argument("--rss-points", type=int, default=500)
    ap.add_argument("--rss-repeat", type=int, default=2)
    ap.add_argument("--rss-child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return
    report.header("")
    from labauto.engine.operator import AutoConfirm, set_operator
    from labauto.procedure import load_procedure
    from labauto.sim import SimulatedLab

    tmp = Path(tempfile.mkdtemp(prefix="labauto-bench-functions-"))
    os.environ["LABAUTO_HOME"] = str(tmp / "home")
    set_operator(AutoConfirm())
    n = len(load_procedure(PV).points)

    # 1. the full verification, zero latency
    measure, evaluate, issue, per_fn = [], [], [], defaultdict(list)
    with SimulatedLab(seed=21, latency="zero") as lab:
        calibrate(PV, lab, tmp / "warm", 0.0)             # imports, first-use caches
        for i in range(args.repeat):
            spans, m, e, c = calibrate(PV, lab, tmp / f"z{i}", 0.0)
            measure.append(m)
            evaluate.append(e)
            issue.append(c)
            for fn, s in spans.by_function().items():
                per_fn[fn].append(statistics.median(s))
    total = [m + e + c for m, e, c in zip(measure, evaluate, issue)]
    print(f"1. full 34465A verification ({n} points, 7 functions), zero-latency lab, plain engine")
    print(f"   measurement (pre-flight + all points): {report.span(measure, '{:.2f}', 's')}; "
          f"per point {report.span([1e3 * m / n for m in measure], '{:.1f}', 'ms')}")
    print(f"   evaluation (GUM budgets, decisions):   {report.span(evaluate, '{:.2f}', 's')}")
    print(f"   certificate (PDF + DCC + JSON, signed): {report.span(issue, '{:.2f}', 's')}")
    print(f"   total:                                 {report.span(total, '{:.2f}', 's')}; "
          f"per point {report.span([1e3 * t / n for t in total], '{:.1f}', 'ms')}")

    # 2. realistic dwell per function
    one = one_point_per_function(tmp)
    dwell = defaultdict(list)
    with SimulatedLab(seed=21, latency="realistic") as lab:
        for i in range(args.realistic_repeat):
            spans, *_ = calibrate(one, lab, tmp / f"r{i}", 1.0, issue=False)
            for fn, s in spans.by_function().items():
                dwell[fn].extend(s)
    print("2. overhead per point (median span on the zero-latency lab) / realistic dwell "
          "(span of the same point on the realistic lab); goal <= 5 %")
    worst = 0.0
    for fn in ORDER:
        point = next(p for p in load_procedure(one).points if p.function == fn)
        settings = ", ".join(f"{k} {v:~P}" if hasattr(v, "units") else f"{k} {v}"
                             for k, v in point.meter_settings.items())
        worst = max(worst, overhead_line(f"{fn:5s}", f"{point.readings} readings, settle "
                                         f"{point.settle_time:~P}, {settings}", per_fn[fn],
                                         dwell[fn]))
    print(f"   worst case over functions and runs: {worst:.2f} % "
          f"({'meets' if worst <= 5 else 'MISSES'} the 5 % goal)")

    # 3. peak RSS of a 500-point procedure, fresh process each
    rss = []
    for _ in range(args.rss_repeat):
        out = subprocess.run([sys.executable, __file__, "--rss-child", str(args.rss_points)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        rss.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"3. {rss[0]['points']}-point procedure (all functions, 2 readings each) end to end, "
          "certificate included, fresh process each")
    print(f"   peak RSS {report.span([r['maxrss_mb'] for r in rss], '{:.0f}', 'MB')} (goal < 300 MB; "
          f"{report.span([r['before_mb'] for r in rss], '{:.0f}', 'MB')} before the run, after "
          f"the engine's imports); time {report.span([r['seconds'] for r in rss], '{:.1f}', 's')}")
    report.footer()


if __name__ == "__main__":
    main()

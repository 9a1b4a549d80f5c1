"""Benchmark of the main job (issue 2): a 30-point DC-voltage run on the simulated lab.

Prints, for the zero-latency lab, total time and time per point of the plain engine and of the
Prefect flow (embedded ephemeral server; its start-up is reported separately), and compares the
framework's per-point overhead with the instrument dwell time per point measured on the
realistic-timing lab (NPLC x 20 ms per reading, autozero, settle time).

    .venv/bin/python benchmarks/bench_calibration.py [--points 30] [--realistic-points 3]
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


def run_flow(procedure: Path, lab: SimulatedLab, work: Path) -> float:
    from flows.calibrate import calibrate

    t0 = time.perf_counter()
    calibrate(str(procedure), lab.resources["dmm"], lab.resources["calibrator"],
              runs_dir=str(work / "runs"), out_dir=str(work / "certs"), settle_scale=0.0,
              publish=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=30)
    ap.add_argument("--realistic-points", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="labauto-bench-"))
    os.environ["LABAUTO_HOME"] = str(tmp / "home")
    proc = make_procedure(args.points, tmp)
    from labauto.procedure import load_procedure

    p = load_procedure(proc)
    n_read = sum(pt.readings for pt in p.points)
    print(f"procedure: {len(p.points)} points, {n_read} readings, NPLC {p.nplc}, autozero {p.autozero}")

    with SimulatedLab(seed=7, latency="zero") as lab:
        run_engine(proc, lab, tmp / "warm", 0.0)            # imports, first-use caches
        t_engine = statistics.median(run_engine(proc, lab, tmp / f"e{i}", 0.0) for i in range(3))
    print(f"zero-latency lab, plain engine : total {t_engine:7.3f} s  per point {1e3 * t_engine / len(p.points):7.2f} ms"
          "  (incl. evaluation + certificate)")

    from prefect.testing.utilities import prefect_test_harness

    t0 = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        t_start = time.perf_counter() - t0
        with SimulatedLab(seed=7, latency="zero") as lab:
            run_flow(proc, lab, tmp / "fwarm")
            t_flow = statistics.median(run_flow(proc, lab, tmp / f"f{i}") for i in range(2))
    print(f"zero-latency lab, Prefect flow : total {t_flow:7.3f} s  per point {1e3 * t_flow / len(p.points):7.2f} ms"
          f"  (+ {t_start:.1f} s ephemeral server start, once per process)")
    prefect_overhead = (t_flow - t_engine) / len(p.points)
    print(f"Prefect overhead per point     : {1e3 * prefect_overhead:7.2f} ms")

    # instrument dwell time per point on the realistic lab, measured on a few points
    real_proc = make_procedure(args.realistic_points, tmp / "r")
    with SimulatedLab(seed=7, latency="realistic") as lab:
        t_real = run_engine(real_proc, lab, tmp / "real", 1.0)
    dwell = t_real / args.realistic_points
    framework_per_point = t_flow / len(p.points)
    print(f"realistic lab, plain engine    : {dwell:7.3f} s per point (instrument dwell: settle + readings)")
    print(f"framework overhead / dwell     : {100 * framework_per_point / dwell:6.2f} %  "
          f"(Prefect flow per point on the zero-latency lab / realistic time per point)")


if __name__ == "__main__":
    main()

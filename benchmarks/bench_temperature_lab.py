"""Benchmark of issue 12: a 7-point Pt100 comparison calibration (-40 °C to 420 °C, bath and
metrology well) on the zero-latency simulated thermometry lab (goal: <= 10 s).

One run = start the simulated lab, measure every setpoint through the real drivers (approach
until stable, 6 bracketed readings), evaluate (per-point budgets, CVD fit).  The figures are
ranges over --repeat runs; the simulated time each run covers is printed beside them, and the
split between the approach (stability wait) and the readings.

    .venv/bin/python benchmarks/bench_temperature_lab.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import report  # noqa: E402

PROCEDURE = ROOT / "procedures" / "temperature" / "pt100_comparison.yaml"


def one_run(work: Path, seed: int) -> dict[str, float]:
    from labauto.comparison_evaluation import evaluate_comparison
    from labauto.engine.comparison import (ComparisonSettings, execute_comparison,
                                           start_comparison_run)
    from labauto.engine.operator import set_operator
    from labauto.procedure.temperature import load_temperature_procedure
    from labauto.sim.thermometry import lab_for_procedure

    t0 = time.perf_counter()
    procedure = load_temperature_procedure(PROCEDURE)
    lab = lab_for_procedure(procedure, seed=seed)

    class Technician:
        def confirm(self, step, point):
            lab.place_probes(point.heat_source)

    previous = set_operator(Technician())
    try:
        with lab:
            run = start_comparison_run(procedure, work, ComparisonSettings(lab.resources))
            execute_comparison(run, clock=lab.clock)
        t_measured = time.perf_counter()
        evaluate_comparison(procedure, run.state())
    finally:
        set_operator(previous)
    t1 = time.perf_counter()
    records = [json.loads(x) for x in run.journal.path.read_text().splitlines()]
    samples = sum(len(r["samples"]) for r in records if r["type"] == "stability")
    return {"total": t1 - t0, "measure": t_measured - t0, "evaluate": t1 - t_measured,
            "simulated_h": lab.clock.now() / 3600, "approach_samples": samples,
            "readings": sum(1 for r in records if r["type"] == "reading")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["LABAUTO_LOCK_DIR"] = tempfile.mkdtemp(prefix="bench-locks-")
    report.header("")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            runs.append(one_run(Path(tmp) / f"r{i}", seed=100 + i))
    print(f"7-point Pt100 comparison, zero-latency lab: {report.span([r['total'] for r in runs], '{:.2f}', 's')} "
          f"(goal <= 10 s)")
    print(f"  measuring: {report.span([r['measure'] for r in runs], '{:.2f}', 's')}; evaluation "
          f"(7 budgets + CVD fit): {report.span([r['evaluate'] * 1000 for r in runs], '{:.0f}', 'ms')}")
    print(f"  per run: {report.span([r['simulated_h'] for r in runs], '{:.1f}', 'h')} of simulated time, "
          f"{report.span([r['approach_samples'] for r in runs], '{:.0f}')} approach samples, "
          f"{runs[0]['readings']:.0f} bracketed readings")
    report.footer()


if __name__ == "__main__":
    main()

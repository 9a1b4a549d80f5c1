"""Benchmark of ``labauto validate`` (issue 16 item 4): 1,000 simulated calibrations of a
20-point procedure.  Goal: <= 60 s on the 2-core machine.

The procedure: the first 20 points of procedures/keysight_34465a_verification.yaml (DC and AC
voltage on every range, both polarities, zero points; 6 readings each).  Each run draws new
true errors, drives the real drivers and the engine's measure_point on the in-process
simulated instruments, and evaluates every point with labauto.evaluation.evaluate_point (GUM
budget, ILAC-P14 rounding, decision rule), as ``labauto validate`` does.  Printed per
repetition: wall time and CPU time of the process (CPU time of the workers too), with 1 worker
and with one per core; the figures are ranges over ``--repeat`` repetitions.

    .venv/bin/python benchmarks/bench_validate.py [--runs 1000] [--repeat 2] [--workers 1,2]

``--procedure FILE`` times that procedure whole instead (e.g. a temperature comparison:
``--procedure procedures/temperature/pt100_comparison.yaml --runs 20``); runs/s are printed.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import report  # noqa: E402

from labauto.procedure import load_procedure  # noqa: E402
from labauto.validation.validate import default_workers, load_any, validate_procedure  # noqa: E402

GOAL_S = 60.0


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", default=f"1,{default_workers()}",
                    help="comma-separated worker counts to time (default: 1 and one per core)")
    ap.add_argument("--procedure", default=None,
                    help="time this procedure file whole (default: the 20-point 34465A subset)")
    args = ap.parse_args()
    report.header("")
    if args.procedure:
        proc = load_any(args.procedure)
        validate_procedure(proc, runs=1, seed=99)        # warm-up: imports, model caches
        print(f"procedure: {proc.id}, {len(proc.points)} points; {args.runs} runs")
    else:
        proc = load_procedure(ROOT / "procedures" / "keysight_34465a_verification.yaml")
        proc = dataclasses.replace(proc, points=proc.points[:20])
        validate_procedure(proc, runs=3, seed=99)        # warm-up: imports, model caches
        print(f"procedure: {proc.id}, first {len(proc.points)} points "
              f"({', '.join(sorted({p.function for p in proc.points}))}); {args.runs} runs")
    for workers in dict.fromkeys(int(w) for w in args.workers.split(",")):
        walls, cpus, ok = [], [], []
        for rep in range(args.repeat):
            c0, t0 = _cpu(), time.perf_counter()
            result = validate_procedure(proc, runs=args.runs, seed=1 + rep, workers=workers)
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu() - c0)
            ok.append(result.ok)
        per_1000 = min(walls) / args.runs * 1000
        goal = (f"goal <= {GOAL_S:.0f} s: {'met' if max(walls) <= GOAL_S else 'NOT met'}"
                if args.runs == 1000 else f"1,000 runs at this rate: {per_1000:.0f} s")
        print(f"workers {workers}: wall {report.span(walls, '{:.1f}', 's')}; CPU "
              f"{report.span(cpus, '{:.1f}', 's')}; {goal} "
              f"({min(walls) / args.runs * 1e3:.1f} ms per run at best, "
              f"{args.runs / min(walls):.2f} runs/s; CPU {min(cpus) / args.runs * 1e3:.0f} ms "
              f"per run); "
              f"validation verdicts ok: {ok}")
    report.footer()


if __name__ == "__main__":
    main()

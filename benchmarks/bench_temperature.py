"""Fit plus budgets of a 20-point Pt100 calibration (goal ≤ 50 ms), and their parts.

One "calibration evaluation" is what a temperature run does after its readings: a GUM budget
per point (labauto.temperature.budgets.point_budget: two equations, ~20 named inputs each) and
the weighted Callendar–Van Dusen fit with its covariance over the 20 points
(labauto.temperature.fits.fit_cvd), then u(t) from the fitted curve at 20 temperatures.
The data are synthetic and fixed (a PRT with its own CVD curve, -80 °C .. 420 °C).

    python benchmarks/bench_temperature.py --repeat 20
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from report import footer, header, span  # noqa: E402

from labauto.temperature.budgets import (ComparisonPoint, dut_influences, point_budget,  # noqa: E402
                                         reference_influences)
from labauto.temperature.cvd import CallendarVanDusen  # noqa: E402
from labauto.temperature.fits import fit_cvd  # noqa: E402

DUT = CallendarVanDusen(r0=100.021, a=3.90851e-3, b=-5.7893e-7, c=-4.31e-12)


def points(n: int = 20) -> list[ComparisonPoint]:
    out = []
    for i in range(n):
        t = -80.0 + 500.0 * i / (n - 1)
        offset = 0.01 + 0.0002 * (i % 3)
        r = DUT.resistance(t + offset)
        out.append(ComparisonPoint(
            nominal=t, reference=[t + offset + d for d in (-0.001, 0.0005, 0.0005, 0.0)],
            dut=[r + d for d in (-0.0002, 0.0001, 0.0001, 0.0)], dut_kind="prt",
            influences=reference_influences(calibration_U=0.010, drift=0.005, readout_U=0.002,
                                            axial=0.005, radial=0.003, stability=0.004,
                                            immersion=0.002, self_heating=0.001)
            + dut_influences("prt", unit="ohm", resolution=0.0001, readout_U=0.0008,
                             hysteresis=0.010, self_heating=0.004, immersion=0.003)))
    return out


def evaluate(pts: list[ComparisonPoint]) -> float:
    results = [point_budget(p) for p in pts]
    fit = fit_cvd([r.nominal for r in results], [r.value for r in results], [r.u for r in results])
    return max(fit.u_temperature(r.nominal) for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--points", type=int, default=20)
    args = ap.parse_args()
    header("")
    pts = points(args.points)
    evaluate(pts)                                     # warm: imports, pint and scipy caches
    total, budgets, fits = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        results = [point_budget(p) for p in pts]
        t1 = time.perf_counter()
        fit = fit_cvd([r.nominal for r in results], [r.value for r in results], [r.u for r in results])
        _ = [fit.u_temperature(r.nominal) for r in results]
        t2 = time.perf_counter()
        budgets.append((t1 - t0) * 1e3)
        fits.append((t2 - t1) * 1e3)
        total.append((t2 - t0) * 1e3)
    print(f"{args.points} points: fit + budgets {span(total, '{:.1f}', 'ms')} (goal ≤ 50 ms)")
    print(f"  budgets (GUM, {len(results[0].budget.rows)} rows each): {span(budgets, '{:.1f}', 'ms')}; "
          f"per point {span([b / args.points for b in budgets], '{:.2f}', 'ms')}")
    print(f"  CVD fit ({', '.join(fit.fitted)}, {fit.method}) + u(t) at every point: "
          f"{span(fits, '{:.2f}', 'ms')}")
    footer()


if __name__ == "__main__":
    main()

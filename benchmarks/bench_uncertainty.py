"""Benchmark of the uncertainty core (issue 3), side by side with GTC and suncal.

(a) JCGM 101 Monte Carlo, 10^6 trials, of a 6-input DMM calibration model
        E = X - V + dR + dT + dL + dZ
    (normal indication and calibrator, rectangular resolution and temperature terms, a
    Student-t term with 9 degrees of freedom, a normal zero term).  labauto vs suncal
    (GTC has no Monte Carlo).  Goal: labauto <= 0.2 s.
(b) GUM law of propagation of uncertainty (with Welch-Satterthwaite) for a 50-input model
        y = x1*x2 + x3*x4 + ... + x49*x50
    labauto vs GTC vs suncal.  Goal: labauto at least as fast as GTC.

Timing: N wall-clock runs (time.perf_counter) in one process; printed as median (min, max);
a ratio to GTC compares medians measured in the same process, one after the other.  For labauto the LPU
figure is given twice: building the Model from its equation text plus gum() and the budget
(the fair comparison with GTC, which has no separate build step), and gum() + budget on a
model already built (the repeated-evaluation case, e.g. one model per calibration point).
GTC and suncal are optional: a missing package prints a note and its column is skipped
(install them into the venv only: ``.venv/bin/pip install GTC suncal``).

    .venv/bin/python benchmarks/bench_uncertainty.py [--repeat 7] [--trials 1000000] [--suncal-lpu-runs 1]
"""
from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import report  # noqa: E402

import numpy as np  # noqa: E402

from labauto.units import Q_  # noqa: E402
from labauto.uncertainty import (Model, Normal, Rectangular, StudentT, gum,  # noqa: E402
                                 monte_carlo)

try:
    import GTC
except ImportError:  # pragma: no cover - optional comparison
    GTC = None
try:
    import suncal
except ImportError:  # pragma: no cover - optional comparison
    suncal = None


class Timing(float):
    """The median of repeated wall times (a float, so ratios compare medians), with the range."""

    def __new__(cls, times: list[float]) -> "Timing":
        t = super().__new__(cls, statistics.median(times))
        t.times = sorted(times)
        return t


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[Timing, Any]:
    """Wall times of ``repeat`` calls (median, with min and max), and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return Timing(times), result


def fmt_t(t: float) -> str:
    if isinstance(t, Timing) and len(t.times) > 1:
        return f"{t * 1e3:9.2f} ms (min {t.times[0] * 1e3:.2f}, max {t.times[-1] * 1e3:.2f})"
    return f"{t * 1e3:9.2f} ms"


# --------------------------------------------------------------------------- (a) MC, 6 inputs

# name, kind, estimate [V], parameter [V] (u for normal, half-width for rectangular, scale for t), dof
DMM_INPUTS = [
    ("X", "normal", 10.0001, 20e-6, math.inf),       # mean DMM indication
    ("V", "normal", 10.0, 15e-6, math.inf),          # calibrator output (certificate, k=1)
    ("dR", "rect", 0.0, 5e-6, math.inf),             # DMM resolution
    ("dT", "rect", 0.0, 10e-6, math.inf),            # calibrator temperature coefficient
    ("dL", "t", 0.0, 3e-6, 9.0),                     # lead/thermal EMF from 10 readings
    ("dZ", "normal", 0.0, 2e-6, math.inf),           # zero offset
]
DMM_EQUATION = "E = X - V + dR + dT + dL + dZ"


def labauto_dmm_model() -> Model:
    inputs = {}
    for name, kind, x, p, nu in DMM_INPUTS:
        if kind == "normal":
            inputs[name] = Normal(Q_(x, "V"), Q_(p, "V"))
        elif kind == "rect":
            inputs[name] = Rectangular(Q_(x, "V"), Q_(p, "V"))
        else:
            inputs[name] = StudentT(Q_(x, "V"), Q_(p, "V"), dof=nu)
    return Model(DMM_EQUATION, inputs=inputs)


def suncal_dmm_model() -> Any:
    m = suncal.Model(DMM_EQUATION)
    for name, kind, x, p, nu in DMM_INPUTS:
        v = m.var(name).measure(x)
        if kind == "normal":
            v.typeb(dist="normal", std=p)
        elif kind == "rect":
            v.typeb(dist="uniform", a=p)
        else:  # same t_nu(x, scale^2) as labauto's StudentT for Monte Carlo
            v.typeb(dist="t", scale=p, df=nu)
    return m


def bench_mc(repeat: int, trials: int) -> None:
    print(f"(a) Monte Carlo, {trials:.0e} trials, 6-input DMM model: {DMM_EQUATION}")
    model = labauto_dmm_model()
    monte_carlo(model, trials=1000, seed=0)  # warm-up (imports, caches)
    t_lab, mc = best_of(lambda: monte_carlo(model, trials=trials, seed=1), repeat)
    lo, hi = mc.interval("E")
    u_lab = mc.u("E").to("uV").magnitude
    print(f"  labauto  monte_carlo()       {fmt_t(t_lab)}   u(E) = {u_lab:.4f} uV   "
          f"95 % interval [{lo.to('uV').magnitude:.3f}, {hi.to('uV').magnitude:.3f}] uV   "
          f"goal <= 200 ms: {'MET' if t_lab <= 0.2 else 'NOT MET'}")
    if suncal is None:
        print("  suncal   (not installed: .venv/bin/pip install suncal)")
    else:
        m = suncal_dmm_model()
        np.random.seed(1)  # suncal draws through scipy's global NumPy generator
        m.monte_carlo(samples=1000)
        t_sc, res = best_of(lambda: m.monte_carlo(samples=trials), max(1, repeat))
        u_sc = float(res.uncertainty["E"]) * 1e6
        print(f"  suncal   Model.monte_carlo()  {fmt_t(t_sc)}   u(E) = {u_sc:.4f} uV   "
              f"(labauto is {t_sc / t_lab:.1f}x faster; u differs by {abs(u_sc - u_lab) / u_lab:.2%})")
    print("  GTC      (no Monte Carlo in GTC: law of propagation only)")
    # where the time goes: sampling vs evaluation vs statistics
    t_gum, g = best_of(lambda: gum(model), repeat)
    print(f"  labauto  gum() of the same model {fmt_t(t_gum)}   u(E) = "
          f"{g.u('E').to('uV').magnitude:.4f} uV (GUM uses the t scale 3 uV; MC draws t_9, sd 3.40 uV)")


# --------------------------------------------------------------------------- (b) LPU, 50 inputs

N_LPU = 50


def lpu_inputs() -> list[tuple[str, str, float, float, float]]:
    """x_i ~ 1 + i/100; every 3rd rectangular, every 5th normal with 10 dof, others normal."""
    rows = []
    for i in range(1, N_LPU + 1):
        x, p = 1.0 + i / 100.0, 1e-3 * (1 + i % 5)
        if i % 3 == 0:
            rows.append((f"x{i}", "rect", x, p, math.inf))
        elif i % 5 == 0:
            rows.append((f"x{i}", "normal", x, p, 10.0))
        else:
            rows.append((f"x{i}", "normal", x, p, math.inf))
    return rows


LPU_EQUATION = "y = " + " + ".join(f"x{2 * k + 1}*x{2 * k + 2}" for k in range(N_LPU // 2))


def labauto_lpu_inputs() -> dict[str, Any]:
    inputs = {}
    for name, kind, x, p, nu in lpu_inputs():
        inputs[name] = (Rectangular(Q_(x, "V"), Q_(p, "V")) if kind == "rect"
                        else Normal(Q_(x, "V"), Q_(p, "V"), dof=nu))
    return inputs


def labauto_lpu_inputs_unit() -> dict[str, Any]:
    """The same inputs as plain numbers with ``unit="V"`` (no pint quantity built per number)."""
    inputs = {}
    for name, kind, x, p, nu in lpu_inputs():
        inputs[name] = (Rectangular(x, p, unit="V") if kind == "rect" else Normal(x, p, dof=nu, unit="V"))
    return inputs


def labauto_lpu(equation: str = LPU_EQUATION, inputs: Callable[[], dict[str, Any]] = labauto_lpu_inputs
                ) -> tuple[Model, Any]:
    model = Model(equation, inputs=inputs())
    return model, gum(model).budget("y")


def gtc_lpu() -> tuple[float, float, float]:
    xs = []
    for name, kind, x, p, nu in lpu_inputs():
        u = p / math.sqrt(3.0) if kind == "rect" else p
        xs.append(GTC.ureal(x, u, nu))
    y = xs[0] * xs[1]
    for k in range(1, N_LPU // 2):
        y = y + xs[2 * k] * xs[2 * k + 1]
    return GTC.value(y), GTC.uncertainty(y), GTC.dof(y)


def suncal_lpu() -> Any:
    m = suncal.Model(LPU_EQUATION)
    for name, kind, x, p, nu in lpu_inputs():
        v = m.var(name).measure(x)
        if kind == "rect":
            v.typeb(dist="uniform", a=p)
        else:
            v.typeb(dist="normal", std=p, df=nu)
    return m.calculate_gum()


def bench_lpu(repeat: int, suncal_runs: int) -> None:
    print(f"(b) GUM LPU + Welch-Satterthwaite, {N_LPU}-input model y = x1*x2 + ... + x49*x50")
    labauto_lpu()  # warm-up
    t_full, (model, budget) = best_of(labauto_lpu, repeat)
    t_unit, (_, budget_unit) = best_of(lambda: labauto_lpu(inputs=labauto_lpu_inputs_unit), repeat)
    t_gum, _ = best_of(lambda: gum(model).budget("y"), repeat)

    def numbers_only(m: Model) -> tuple[float, float]:  # what GTC computes: u(y) and nu_eff, no table
        g = gum(m)
        return g.u("y").magnitude, g.nu_eff("y")

    t_num, _ = best_of(lambda: numbers_only(model), repeat)
    t_unit_num, _ = best_of(lambda: numbers_only(Model(LPU_EQUATION, inputs=labauto_lpu_inputs_unit())), repeat)
    # parsed equations are cached by text: a new text each run shows a model's first build
    fresh = iter(range(10 ** 9))
    t_cold, _ = best_of(lambda: labauto_lpu(LPU_EQUATION + " " * next(fresh)), repeat)
    t_inputs, inputs = best_of(labauto_lpu_inputs, repeat)
    t_inputs_unit, _ = best_of(labauto_lpu_inputs_unit, repeat)
    t_rest, _ = best_of(lambda: gum(Model(LPU_EQUATION, inputs=inputs)).budget("y"), repeat)
    u_lab = budget.combined_uncertainty.to("V**2").magnitude
    assert budget_unit.combined_uncertainty.to("V**2").magnitude == u_lab
    print(f"  labauto  Model() + gum() + budget   {fmt_t(t_full)}   u(y) = {u_lab:.9f} V²  "
          f"nu_eff = {budget.dof_eff:.1f}   (inputs from pint quantities)")
    print(f"    of which 100 Q_(x, 'V') + 50 distributions {fmt_t(t_inputs)}   (pint's Q_ alone: "
          f"{best_of(lambda: [Q_(1.0, 'V') for _ in range(100)], repeat)[0] * 1e3:.2f} ms)")
    print(f"    of which Model() + gum() + budget  {fmt_t(t_rest)}   (inputs already built)")
    print(f"  labauto  same, inputs as Normal(x, u, unit='V') {fmt_t(t_unit)}   (50 distributions: "
          f"{t_inputs_unit * 1e3:.2f} ms; same u(y), nu_eff)")
    print(f"  labauto  same, first build of a new equation text {fmt_t(t_cold)}   (parse + unit checks)")
    print(f"  labauto  gum() + budget (built)     {fmt_t(t_gum)}")
    print(f"  labauto  gum() + u + nu_eff (built) {fmt_t(t_num)}   (no budget table: like GTC)")
    print(f"  labauto  50 inputs (unit=) + Model() + gum() + u + nu_eff {fmt_t(t_unit_num)}   (GTC's work)")
    if GTC is None:
        print("  GTC      (not installed: .venv/bin/pip install GTC)")
    else:
        gtc_lpu()
        t_gtc, (v, u, nu) = best_of(gtc_lpu, repeat)
        print(f"  GTC      ureal() x50 + expr + u + dof {fmt_t(t_gtc)}   u(y) = {u:.9f} V²  "
              f"nu_eff = {nu:.1f}   (relative difference in u: {abs(u - u_lab) / u_lab:.1e})")
        for label, t in (("inputs (unit=) + Model + gum + u + nu_eff", t_unit_num),
                         ("inputs (unit=) + Model + gum + budget", t_unit),
                         ("inputs (Q_) + Model + gum + budget", t_full),
                         ("gum() + budget, built model", t_gum),
                         ("gum() + u + nu_eff, built model", t_num)):
            print(f"  goal labauto <= GTC, {label:42s}: {'MET' if t <= t_gtc else 'NOT MET'} "
                  f"(labauto takes {t / t_gtc:5.2f}x GTC's time)")
    if suncal is None:
        print("  suncal   (not installed: .venv/bin/pip install suncal)")
    elif suncal_runs < 1:
        print("  suncal   (skipped: --suncal-lpu-runs 0)")
    else:  # sympy differentiates 50 symbols: about 2 minutes a run on a 2-core machine
        t_sc, res = best_of(suncal_lpu, suncal_runs)
        u_sc = float(res.uncertainty["y"])
        print(f"  suncal   Model() + calculate_gum()   {fmt_t(t_sc)}   u(y) = {u_sc:.9f} V²  "
              f"nu_eff = {float(res.degf['y']):.1f}   (median of {suncal_runs}; symbolic, sympy)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="runs per figure (default 7)")
    ap.add_argument("--trials", type=int, default=10 ** 6, help="Monte Carlo trials (default 1e6)")
    ap.add_argument("--suncal-lpu-runs", type=int, default=1,
                    help="runs of suncal's 50-input GUM, ~2 min each (default 1; 0 skips)")
    args = ap.parse_args(argv)
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    versions.append(f"GTC {GTC.version}" if GTC is not None else "GTC missing")
    versions.append(f"suncal {suncal.version.__version__}" if suncal is not None else "suncal missing")
    report.header("")
    print("labauto uncertainty benchmark -- " + ", ".join(versions) + f"; median (min, max) of "
          f"{args.repeat} runs")
    bench_mc(args.repeat, args.trials)
    print()
    bench_lpu(args.repeat, args.suncal_lpu_runs)
    report.footer()


if __name__ == "__main__":
    main()

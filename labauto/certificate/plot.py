"""Plots for the certificate.  :func:`function_plot`: one per function (the PDF's plot of each
results section), every point's error as a percentage of its tolerance with U.
:func:`error_plot`: error vs nominal, one panel per (function, range), with
U error bars and the ± tolerance limits.  Matplotlib Agg backend; deterministic PNG bytes
(fixed size/DPI, no timestamp metadata)."""
from __future__ import annotations

import io
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from labauto.certificate.wording import wording  # noqa: E402
from labauto.results import CalibrationResult, FunctionResults  # noqa: E402


def error_plot(result: CalibrationResult, *, width_in: float = 7.0, dpi: int = 150) -> bytes:
    """PNG bytes of the error-vs-nominal plot, one subplot per (function, range)."""
    if not result.points:
        raise ValueError(f"certificate {result.certificate_id}: no points to plot")
    groups: "OrderedDict[tuple[str, str], list]" = OrderedDict()
    for p in result.points:
        groups.setdefault((p.function, f"{p.range:~P}"), []).append(p)
    n = len(groups)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    with plt.rc_context({"svg.hashsalt": "labauto", "font.size": 8}):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width_in, 2.4 * nrows), squeeze=False)
        for ax, ((fn, rng), pts) in zip(axes.flat, groups.items()):
            eu = pts[0].error.units
            nu = pts[0].nominal.units
            x = [p.nominal.to(nu).magnitude for p in pts]
            y = [p.error.to(eu).magnitude for p in pts]
            U = [p.expanded_uncertainty.to(eu).magnitude for p in pts]
            tol = [p.tolerance.to(eu).magnitude for p in pts]
            order = sorted(range(len(x)), key=x.__getitem__)
            xs = [x[i] for i in order]
            ts = [tol[i] for i in order]
            if len(xs) == 1:
                pad = max(abs(xs[0]) * 0.1, 1e-12)
                xs, ts = [xs[0] - pad, xs[0] + pad], ts * 2
            ax.plot(xs, ts, color="tab:red", lw=1, ls="--", label="± tolerance")
            ax.plot(xs, [-t for t in ts], color="tab:red", lw=1, ls="--")
            colors = ["tab:blue" if p.decision == "pass" else "tab:orange" if "conditional"
                      in p.decision else "tab:red" for p in pts]
            ax.errorbar(x, y, yerr=U, fmt="none", ecolor="0.3", capsize=3, lw=1)
            ax.scatter(x, y, c=colors, s=18, zorder=3)
            ax.axhline(0, color="0.6", lw=0.6)
            ax.set_title(f"{fn} range {rng}")
            ax.set_xlabel(f"nominal / {nu:~P}")
            ax.set_ylabel(f"error / {eu:~P}")
            ax.grid(True, lw=0.3)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        fig.suptitle(f"{result.certificate_id}: {wording(result.measurement_model).subject} with U "
                     f"(red dashed: ± tolerance)", fontsize=9)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        plt.close(fig)
    return buf.getvalue()


def _short(q) -> str:
    """``100 mV``, ``1 kHz``: a quantity in its engineering unit, 4 significant digits."""
    from labauto.units import engineering_unit

    q = q.to(engineering_unit(q)) if q.magnitude else q
    return f"{float(q.magnitude):.4g} {q.units:~P}"


def function_plot(function: FunctionResults, certificate_id: str,
                  measurement_model: str = "error of indication", *, width_in: float = 7.0,
                  dpi: int = 150) -> bytes:
    """PNG bytes of one function's plot: the error of every point as a percentage of its
    tolerance, with its expanded uncertainty U (bars) and the tolerance (±100 %, red dashed);
    acceptance limits moved by a guard band as dotted marks.  One axis for all ranges of the
    function (their errors are in different units; as a fraction of the tolerance they compare
    directly).  Deterministic: fixed size, no metadata."""
    pts = function.points
    if not pts:
        raise ValueError(f"certificate {certificate_id}: function {function.function} has no points")
    x = list(range(len(pts)))
    tol = [float(p.tolerance.to(p.error.units).magnitude) or float("inf") for p in pts]
    y = [100 * float(p.error.magnitude) / t for p, t in zip(pts, tol)]
    U = [100 * float(p.expanded_uncertainty.to(p.error.units).magnitude) / t for p, t in zip(pts, tol)]
    al = [100 * float(p.acceptance_limit.to(p.error.units).magnitude) / t for p, t in zip(pts, tol)]
    labels = [_short(p.nominal) + (f" @ {_short(p.frequency)}" if p.frequency is not None else "")
              + f"\n({_short(p.range)} range)" for p in pts]
    colours = ["tab:blue" if p.decision == "pass" else "tab:orange" if "conditional" in p.decision
               else "tab:red" for p in pts]
    with plt.rc_context({"svg.hashsalt": "labauto", "font.size": 7}):
        fig, ax = plt.subplots(figsize=(width_in, 2.9))
        ax.axhspan(-100, 100, color="0.95", zorder=0)
        ax.axhline(100, color="tab:red", lw=1, ls="--", label="tolerance (±100 %)")
        ax.axhline(-100, color="tab:red", lw=1, ls="--")
        ax.axhline(0, color="0.6", lw=0.6)
        if any(abs(a - 100) > 1e-9 for a in al):
            ax.scatter(x + x, al + [-a for a in al], marker="_", s=80, color="tab:purple",
                       label="acceptance limit", zorder=2)
        ax.errorbar(x, y, yerr=U, fmt="none", ecolor="0.3", capsize=3, lw=1, label="U")
        ax.scatter(x, y, c=colours, s=20, zorder=3)
        top = max([110.0] + [abs(v) + u for v, u in zip(y, U)]) * 1.05
        ax.set_ylim(-top, top)
        ax.set_xlim(-0.6, len(pts) - 0.4)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=5.5 if len(pts) > 8 else 6.5,
                           rotation=30 if len(pts) > 6 else 0, ha="right" if len(pts) > 6 else "center")
        ax.set_ylabel("error / tolerance (%)")
        ax.set_title(f"{function.name} ({function.function}): "
                     f"{wording(measurement_model).subject} of each point as a percentage of its "
                     "tolerance, with U", fontsize=8)
        ax.grid(True, axis="y", lw=0.3)
        ax.legend(fontsize=6, loc="upper right", ncol=3, framealpha=0.9)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        plt.close(fig)
    return buf.getvalue()

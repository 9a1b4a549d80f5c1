"""Error-of-indication plot for the certificate: error vs nominal, one panel per range, with
U error bars and the ± tolerance limits.  Matplotlib Agg backend; deterministic PNG bytes
(fixed size/DPI, no timestamp metadata)."""
from __future__ import annotations

import io
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from labauto.certificate.wording import wording  # noqa: E402
from labauto.results import CalibrationResult  # noqa: E402


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

"""The control chart of an item's intermediate checks as a matplotlib figure / PNG.

Deviations from the centre line in a prefixed unit (µV, mΩ ...), the centre line and the 1, 2
and 3 sigma lines labelled at the right (CL, ±1σ, ±2σ, UCL/LCL), the points judged out of
control in red, the baseline the limits were estimated from shaded, and the checks' first and
last dates under the axis.  The title gives the item's identity on one line and the limits on
the next, so a long maker's name does not push the limits off the figure.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from labauto.quality.control import Limits
from labauto.quality.records import Item


def chart_figure(item: Item, unit: str, limits: Limits | None = None) -> Any:
    """The chart as a matplotlib ``Figure`` (not shown, not saved)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from labauto.quality.checks import chart_limits, chart_values

    history = chart_values(item, unit)
    if limits is None:
        limits, _ = chart_limits(item, history)
    fig = Figure(figsize=(8, 4.0), dpi=100)
    ax = fig.add_subplot()
    xs = list(range(1, len(history) + 1))
    center = limits.center if limits is not None else (history[0].value if history else 0.0)
    spread = limits.sigma if limits is not None else max(
        (abs(h.value - center) for h in history), default=1.0) or 1.0
    exponent = max(-12, min(0, 3 * math.floor(math.log10(spread * 3) / 3)))
    prefix = {-12: "p", -9: "n", -6: "µ", -3: "m", 0: ""}[exponent]
    scale = 10.0 ** -exponent
    ys = [(h.value - center) * scale for h in history]
    ax.plot(xs, ys, marker="o", color="#1f4e79", lw=1, ms=4)
    bad = [(x, y) for x, y, h in zip(xs, ys, history) if not h.in_control]
    if bad:
        ax.plot(*zip(*bad), "o", color="#c00000", ms=7, label="out of control")
        ax.legend(loc="upper left", fontsize=8)
    identity = f"{item.asset_id} ({item.manufacturer} {item.model} s/n {item.serial})"
    if limits is not None:
        labels = {0: "CL", 1: "+1σ", -1: "−1σ", 2: "+2σ", -2: "−2σ", 3: "UCL", -3: "LCL"}
        for k, style in ((0, "-"), (1, ":"), (2, "--"), (3, "-")):
            for sign in ((1,) if k == 0 else (1, -1)):
                y = sign * k * limits.sigma * scale
                ax.axhline(y, ls=style, lw=0.8 if k else 1.0,
                           color="#c00000" if k == 3 else "#555555")
                ax.text(1.005, y, labels[sign * k], transform=ax.get_yaxis_transform(),
                        va="center", ha="left", fontsize=7,
                        color="#c00000" if k == 3 else "#555555")
        declared = item.control is not None and item.control.center is not None \
            and item.control.sigma is not None
        baseline = item.control.baseline if item.control else 20
        if not declared and history:
            ax.axvspan(0.5, min(baseline, len(history)) + 0.5, color="#1f4e79", alpha=0.06,
                       lw=0, label="baseline")
        ax.set_title(f"{identity}\ncentre line {limits.center:.9g} {unit}, sigma "
                     f"{limits.sigma * scale:.3g} {prefix}{unit}, limits ±3 sigma"
                     + ("" if declared else f" (from the first {baseline} checks, shaded)"),
                     fontsize=9)
    else:
        ax.set_title(f"{identity}\nbaseline being collected ({len(history)} checks)", fontsize=9)
    dates = ""
    if history:
        first, last = history[0].time.date(), history[-1].time.date()
        dates = f" ({first.isoformat()}" + ("" if first == last else f" to {last.isoformat()}") + ")"
    ax.set_xlabel(f"check{dates}")
    ax.set_ylabel(f"value − {center:.9g} {unit} / {prefix}{unit}")
    fig.tight_layout()
    return fig


def chart_png(item: Item, unit: str, path: Path, limits: Limits | None = None) -> Path:
    """The item's control chart written as a PNG at ``path``."""
    fig = chart_figure(item, unit, limits)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path

"""The control chart's figure: nothing cut off (a long maker's name pushed the limits out of the
title before), the lines labelled, the out-of-control points red, the baseline shaded, dates."""
from __future__ import annotations

import datetime as dt

from labauto.quality.chart import chart_figure, chart_png
from labauto.quality.control import Limits
from labauto.quality.records import CheckResult, ControlSettings, Item

T0 = dt.datetime(2026, 3, 1, 8, tzinfo=dt.timezone.utc)


def _item(control: ControlSettings | None = None) -> Item:
    values = [0.1, 0.8, -0.5, 0.6, -0.1] * 4 + [0.2, 4.0]          # sigma units; the last WE1
    checks = tuple(CheckResult(T0 + dt.timedelta(days=k), 10.0 + v * 2e-6, "V", "ZENER-01",
                               k < 21) for k, v in enumerate(values))
    return Item("DMM-34465A-07", "Keysight Technologies", "34465A", "MY60012345",
                "reference", 365.0, control=control, checks=checks)


def _inside(fig, artist) -> bool:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(fig).get_renderer()
    box = artist.get_window_extent(renderer)
    return 0 <= box.x0 and box.x1 <= fig.bbox.width and 0 <= box.y0 and box.y1 <= fig.bbox.height


def test_the_chart_keeps_title_and_labels_inside_the_figure(tmp_path):
    limits = Limits(10.0, 2e-6)
    fig = chart_figure(_item(), "V", limits)
    ax = fig.axes[0]
    assert ax.get_title().splitlines() == [
        "DMM-34465A-07 (Keysight Technologies 34465A s/n MY60012345)",
        "centre line 10 V, sigma 2 µV, limits ±3 sigma (from the first 20 checks, shaded)"]
    assert _inside(fig, ax.title)
    labels = {t.get_text(): t for t in ax.texts}
    assert set(labels) == {"UCL", "+2σ", "+1σ", "CL", "−1σ", "−2σ", "LCL"}
    assert all(_inside(fig, t) for t in labels.values())
    assert labels["UCL"].get_position()[1] == 6.0 and labels["LCL"].get_position()[1] == -6.0  # µV
    assert ax.get_xlabel() == "check (2026-03-01 to 2026-03-22)"
    assert ax.get_ylabel() == "value − 10 V / µV"
    red = [line for line in ax.lines if line.get_color() == "#c00000" and line.get_marker() == "o"]
    assert len(red) == 1 and list(red[0].get_xdata()) == [22]
    assert len(ax.patches) == 1                                    # the baseline, checks 1-20
    assert ax.patches[0].get_x() == 0.5 and ax.patches[0].get_width() == 20
    assert chart_png(_item(), "V", tmp_path / "c.png", limits).read_bytes()[:4] == b"\x89PNG"


def test_declared_limits_are_not_called_a_baseline():
    fig = chart_figure(_item(ControlSettings(center=10.0, sigma=2e-6, unit="V")), "V")
    ax = fig.axes[0]
    assert ax.get_title().splitlines()[1] == "centre line 10 V, sigma 2 µV, limits ±3 sigma"
    assert not ax.patches

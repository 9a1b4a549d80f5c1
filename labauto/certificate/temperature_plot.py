"""The temperature certificate's figure: the DUT's errors with their U bars (top) and the
residuals of the fitted characteristic with the curve's own expanded uncertainty band, ± U
(95 %, k from the propagated distribution: labauto.temperature.curve_coverage) (bottom).  Matplotlib Agg; deterministic PNG bytes (fixed size and DPI, no metadata)."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from labauto.temperature.results import TemperatureCalibrationResult  # noqa: E402


def error_and_residual_plot(result: TemperatureCalibrationResult, *, width_in: float = 7.0,
                            dpi: int = 150) -> bytes:
    """PNG bytes: errors ± U against t; fit residuals (mK) and ± U (95 %) of the curve."""
    pts = result.points
    t = [p.nominal for p in pts]
    fit = result.fit
    rows = 2 if fit is not None else 1
    with plt.rc_context({"font.size": 8, "svg.hashsalt": "labauto"}):
        fig, axes = plt.subplots(rows, 1, figsize=(width_in, 2.6 * rows), squeeze=False,
                                 sharex=True)
        ax = axes[0, 0]
        ax.errorbar(t, [p.error for p in pts], yerr=[p.U_error for p in pts], fmt="o", ms=4,
                    color="tab:blue", ecolor="0.3", capsize=3, lw=1, label="error ± U")
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_ylabel("error / K")
        nominal = {"prt": "IEC 60751", "thermocouple": "IEC 60584-1"}.get(result.dut_kind)
        ax.set_title("Error of the calibration item" + (f" against {nominal}" if nominal else "")
                     + " with its expanded uncertainty U", fontsize=8)
        ax.grid(True, lw=0.3)
        if fit is not None:
            ax2 = axes[1, 0]
            res_mk = np.asarray(fit.residuals_temperature) * 1e3
            grid = np.linspace(fit.t_min, fit.t_max, 121)
            band = np.asarray([fit.expanded_temperature(x) for x in grid]) * 1e3
            ax2.fill_between(grid, -band, band, color="tab:green", alpha=0.2, lw=0,
                             label="± U (95 %) of the fitted curve")
            ax2.plot(fit.t, res_mk, "s", ms=4, color="tab:red", label="residuals")
            ax2.axhline(0, color="0.6", lw=0.6)
            ax2.set_ylabel("residual / mK")
            ax2.set_title("Residuals of the fitted characteristic", fontsize=8)
            ax2.legend(loc="best", fontsize=7)
            ax2.grid(True, lw=0.3)
        axes[-1, 0].set_xlabel("calibration temperature t / °C")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        plt.close(fig)
    return buf.getvalue()


__all__ = ["error_and_residual_plot"]

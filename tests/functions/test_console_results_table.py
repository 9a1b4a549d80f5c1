"""The results table a technician reads after a run names every point, even in a pipe (rich
assumes 80 columns there): with DC and AC points on the same range and nominal value the rows
were identical but for their numbers (range, nominal, no function, no frequency)."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console

from labauto import cli
from labauto.calibration import run_calibration
from labauto.sim import SimulatedLab

ROOT = Path(__file__).resolve().parents[2]
PV = ROOT / "procedures" / "keysight_34465a_verification.yaml"


def test_dc_and_ac_points_stay_apart_in_a_narrow_table(tmp_path, monkeypatch):
    head = PV.read_text().split("\npoints:")[0]
    proc = tmp_path / "dc_ac.yaml"
    proc.write_text(head + "\npoints:\n  - {range: 1 V, nominal: [1 V]}\n"
                    "  - {function: ACV, range: 1 V, nominal: [1 V], frequency: [20 Hz, 1 kHz]}\n")
    with SimulatedLab(seed=31, latency="zero") as lab:
        outcome = run_calibration(proc, dut_resource=lab.resources["dmm"],
                                  standard_resource=lab.resources["calibrator"],
                                  runs_dir=tmp_path / "runs", out_dir=tmp_path / "certificates",
                                  settle_scale=0.0, timeout_ms=5000, publish=False)
    console = Console(record=True, width=80, force_terminal=False, soft_wrap=True)
    monkeypatch.setattr(cli, "console", console)
    cli.print_results(outcome.result)
    text = console.export_text()
    for point in ("DCV-1V-+1V", "ACV-1V-+1V-20Hz", "ACV-1V-+1V-1kHz"):
        assert f" {point} " in text, text
    # one table row per point, each naming its point
    rows = [line for line in text.splitlines() if line.strip().startswith(("DCV-", "ACV-"))]
    assert len(rows) == 3, text

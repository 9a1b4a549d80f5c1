"""A bundled source-under-test procedure run end to end on the coupled simulated lab, as the
tests of this folder need it (helper module, not a test module)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from labauto.calibration import run_calibration
from labauto.engine.operator import AutoConfirm, set_operator
from labauto.procedure import load_procedure
from labauto.sim.lab import lab_for_procedure

ROOT = Path(__file__).resolve().parents[2]
REGISTER_3458A = """\
  - manufacturer: Keysight Technologies
    model: 3458A
    serial: "2823A05432"
    certificate_id: SIM-3458A-01
    calibrated_by: National Metrology Institute (simulated)
    calibration_due: "2099-03-31"
"""


def run_source_procedure(procedure: Path, tmp: Path, seed: int,
                         inspect: Callable[[Any], Any] = lambda lab: None) -> tuple:
    """(plan, outcome, {point id: true error}, auto-confirmer, inspect(lab)): the procedure on
    a lab wired as it names (the reference meter is the procedure's model, the load its load),
    the 3458A registered in a lab file of its own, operator steps confirmed."""
    lab_file = tmp / "lab.yaml"
    lab_file.write_text((ROOT / "labauto" / "data" / "lab.yaml").read_text() + REGISTER_3458A)
    plan = load_procedure(procedure)
    auto = AutoConfirm()
    previous = set_operator(auto)
    try:
        with lab_for_procedure(plan, seed=seed) as lab:
            outcome = run_calibration(procedure, dut_resource=lab.resources["calibrator"],
                                      standard_resource=lab.resources["dmm"],
                                      runs_dir=tmp / "runs", out_dir=tmp / "certificates",
                                      settle_scale=0.0, timeout_ms=5000, publish=False,
                                      lab_file=lab_file)
            truth = {p.id: lab.true_error(p) for p in plan.points}
            seen = inspect(lab)
    finally:
        set_operator(previous)
    return plan, outcome, truth, auto, seen

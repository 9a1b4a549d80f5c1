"""A temperature comparison calibration as plain Python: start (or resume) the run, measure
every pending setpoint, evaluate, issue the certificate and publish it -- the counterpart of
:func:`labauto.calibration.run_calibration` for a ``kind: temperature comparison`` procedure.

The zero-latency simulated lab's demo (its plain-engine path), the fault scenarios
(labauto.validation.faults) and the pytest plugin call it; the Prefect flow ``temperature-comparison`` runs the same steps one task
at a time, and ``labauto comparison run`` the same with its terminal display.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labauto.engine.observer import RunObserver


@dataclass
class ComparisonOutcome:
    evaluation: Any                  # labauto.comparison_evaluation.ComparisonEvaluation
    result: Any                      # labauto.temperature.results.TemperatureCalibrationResult
    issued: Any                      # labauto.issuing.IssuedCertificate
    run_folder: Path
    run: Any                         # labauto.engine.comparison.ComparisonRun
    publication: dict[str, Any] = field(default_factory=dict)

    @property
    def files(self) -> dict[str, Path]:
        return self.issued.files


def run_comparison_calibration(procedure_path: str | Path, resources: dict[str, str], *,
                               runs_dir: str | Path = "runs",
                               out_dir: str | Path = "certificates",
                               lab_file: str | Path | None = None,
                               resume_folder: str | Path | None = None,
                               run_id: str | None = None, timeout_ms: int = 10000,
                               clock: Any = None, observer: RunObserver | None = None,
                               read_display: Any = None, environment_resource: str = "",
                               item: dict[str, str] | None = None,
                               verify_base_url: str | None = None,
                               publish: bool = True, queue: bool | None = None
                               ) -> ComparisonOutcome:
    """Calibrate the thermometer ``procedure_path`` describes; ``resources`` maps "readout",
    each heat source's name and "dmm" to VISA resources (a resumed run keeps its own).  The
    lab file's register checks the measuring instruments; operator steps go to the current
    operator (labauto.engine.operator); ``clock``: the lab's (a zero-latency simulated lab's
    own), else the wall clock; ``read_display``: a display-only DUT's readings, else the
    current operator's.  ``queue``: put the signed DCC in the publishing outbox (default:
    ``publish``; the demo queues it without a platform to publish to)."""
    from labauto.comparison_evaluation import evaluate_comparison, issue_comparison_certificate
    from labauto.engine.comparison import (ComparisonSettings, execute_comparison,
                                           open_comparison_run, start_comparison_run)
    from labauto.lab import load_lab
    from labauto.procedure.temperature import load_temperature_procedure
    from labauto.publishing import not_requested, publish_issued

    lab = load_lab(lab_file)
    if resume_folder is not None:
        run = open_comparison_run(resume_folder)
    else:
        run = start_comparison_run(load_temperature_procedure(procedure_path), runs_dir,
                                   ComparisonSettings(dict(resources), timeout_ms=timeout_ms,
                                                      operator=lab.performed_by,
                                                      item=dict(item or {}),
                                                      environment_resource=environment_resource),
                                   run_id=run_id)
    execute_comparison(run, clock=clock, observer=observer, read_display=read_display,
                       environment=lab.environment, check_identities=lab.check_identities)
    evaluation = evaluate_comparison(run.procedure, run.state())
    result, issued = issue_comparison_certificate(
        run, evaluation, lab, Path(out_dir), verify_base_url=verify_base_url,
        queue=publish if queue is None else queue)
    outcome = ComparisonOutcome(evaluation, result, issued, run.folder, run)
    outcome.publication = publish_issued(issued) if publish else not_requested(issued)
    return outcome


__all__ = ["ComparisonOutcome", "run_comparison_calibration"]

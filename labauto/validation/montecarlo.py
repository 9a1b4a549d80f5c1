"""N simulated calibrations of a procedure, each with new true errors, evaluated as a real run.

One run: a simulated lab (labauto.sim) with a new seed draws the DUT's true errors (uniform
within ``dut_spread`` × its specification, per range), the set-up's effects (thermal EMFs,
leads, loading, shunt heating) and the reading noise; the reference's true errors are drawn
from what its specification states (labauto.validation.truth).  The engine's own
``measure_point`` drives the procedure's instruments through their real drivers, in-process
(labauto.validation.loopback: no sockets), and every point is evaluated by
``labauto.evaluation.evaluate_point``, the code a real run's certificate comes from.  Each
point's outcome is the measured error, U and u_c as stated, the decision, and the DUT's true
error there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from labauto.engine.measure import measure_point
from labauto.evaluation import evaluate_point
from labauto.procedure import Procedure
from labauto.sim.lab import SimulatedLab, lab_for_procedure
from labauto.validation.loopback import loopback_instrument
from labauto.validation.truth import with_stated_reference

ACCEPTED = ("pass", "conditional pass")
#: what one simulated run draws (the validation report's "what was simulated" rows)
SIMULATED = (
    ("DUT's true errors", "uniform within the DUT spread × its specification, per function and range"),
    ("reference's true errors", "drawn from its specification as stated (normal at the stated "
     "coverage probability, or uniform within limits)"),
    ("set-up", "thermal EMFs, lead resistance, loading, shunt self-heating, reading noise "
     "(simulated lab)"),
    ("evaluation", "the measurement model, GUM budget, ILAC-P14 rounding and decision rule of a "
     "real run"),
)


@dataclass(frozen=True)
class PointOutcome:
    """One point of one simulated run, in the unit the certificate states it in."""

    point_id: str
    unit: str
    measured: float              # the error as evaluated (E)
    true: float                  # the DUT's true error at the point
    expanded: float              # U as stated (ILAC-P14: two digits, rounded up)
    combined: float              # u_c

    coverage_factor: float
    tolerance: float
    accepted: bool | None        # the decision rule accepted the point (None: no rule applies)
    specific_risk: float | None  # the rule's probability that this decision is wrong
    evaluated: float | None = None   # U as evaluated, before the rounding up (None: as stated)

    @property
    def covered(self) -> bool:
        return abs(self.measured - self.true) <= self.expanded

    @property
    def covered_as_evaluated(self) -> bool:
        """Covered by U as evaluated (the rounding up to two digits only widens U)."""
        U = self.expanded if self.evaluated is None else self.evaluated
        return abs(self.measured - self.true) <= U

    @property
    def normalized(self) -> float:
        return (self.measured - self.true) / self.combined if self.combined > 0 else math.nan

    @property
    def conforms(self) -> bool:
        return abs(self.true) <= self.tolerance


@dataclass(frozen=True)
class RunOutcome:
    seed: int
    points: tuple[PointOutcome, ...]
    error: str = ""              # why the simulated run stopped ("" : it completed)


def run_seed(seed: int, index: int) -> int:
    """The simulated lab's seed of run ``index`` of a validation seeded ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


class MemoryJournal:
    """The journal interface the engine writes to (``measure_point``, a comparison's
    ``measure_setpoint``), kept in memory (a validation run's readings are not records of a
    calibration); :meth:`read` gives the run's state as a journal file's would."""

    def __init__(self, header: dict[str, Any] | None = None) -> None:
        self.records: list[dict[str, Any]] = [{"type": "run", **(header or {})}]

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def read(self) -> Any:
        from labauto.engine.journal import journal_state
        return journal_state(self.records, where="the simulated run's journal")

    def point_start(self, point_id: str, attempt: int, **info: Any) -> None:
        self.records.append({"type": "point_start", "point_id": point_id, "attempt": attempt,
                             **info})

    def reading(self, point_id: str, attempt: int, index: int, value: float, unit: str,
                readback: float | None = None) -> None:
        self.records.append({"type": "reading", "point_id": point_id, "attempt": attempt,
                             "index": index, "value": value, "unit": unit, "readback": readback})

    def readbacks(self) -> list[float | None]:
        """A source's own readings journalled with the meter's (a readback point)."""
        return [r["readback"] for r in self.records if r["type"] == "reading"]

    def point_done(self, point_id: str, attempt: int) -> None:
        self.records.append({"type": "point_done", "point_id": point_id, "attempt": attempt})

    def point_failed(self, point_id: str, attempt: int, error: str) -> None:
        self.records.append({"type": "point_failed", "point_id": point_id, "attempt": attempt,
                             "error": error})


def simulated_lab(procedure: Procedure, seed: int, dut_spread: float = 1.5) -> SimulatedLab:
    """A simulated lab (not started: no sockets) for ``procedure`` with a new set of true
    errors; the reference's errors drawn from its specification."""
    lab = lab_for_procedure(procedure, seed=seed, error_fraction=dut_spread)
    with_stated_reference(lab.truth, np.random.default_rng([seed, 11]), procedure.contributions)
    return lab


_CHARACTERISED: dict[tuple[Any, ...], Procedure] = {}


def characterised(procedure: Procedure, seed: int, dut_spread: float = 1.5) -> Procedure:
    """``procedure`` with its readback characterisation (``readback_noise``) measured anew on
    a simulated unit of its own, with the file's design (levels, readbacks per level), before
    the runs: the budget's prior knowledge is then a measurement on the simulated lab, not a
    value read from the simulator.  A procedure without one is returned as it is."""
    noise = getattr(procedure, "readback_noise", None)
    if noise is None:
        return procedure
    key = (procedure.sha256, noise.sha256, seed, dut_spread)
    if key not in _CHARACTERISED:
        from dataclasses import replace

        from labauto.engine.characterise import characterise_simulated

        design = noise.entries[0]
        measured = characterise_simulated(
            procedure, int(np.random.SeedSequence([seed, 7919]).generate_state(1)[0]), dut_spread,
            measured=f"labauto validate --seed {seed}: a simulated unit of its own",
            levels=design.levels, readings=max(2, design.readings // design.levels))
        _CHARACTERISED[key] = replace(procedure, readback_noise=replace(
            measured, path=noise.path, sha256=noise.sha256))
    return _CHARACTERISED[key]


def characterisation_rows(procedure: Procedure) -> tuple[tuple[str, str], ...]:
    """The report's row for a characterisation measured before the runs (none without)."""
    noise = getattr(procedure, "readback_noise", None)
    if noise is None:
        return ()
    fits = "; ".join(f"{e.function} ch{e.channel}: σ = {e.sigma:.3g~P} ± {e.u_sigma:.2g~P} "
                     f"(ν = {e.dof:.0f}) ahead of {e.resolution:~P} steps" for e in noise.entries)
    return (("readback noise", "characterised before the runs on a simulated unit of its own "
             f"({noise.entries[0].readings} readbacks per output and channel): {fits}"),)


def simulate_run(procedure: Procedure, seed: int, dut_spread: float = 1.5) -> RunOutcome:
    """One simulated calibration of every point of ``procedure``."""
    lab = simulated_lab(procedure, seed, dut_spread)
    meter_sim, source_sim = lab.dmm, lab.calibrator
    outcomes: list[PointOutcome] = []
    try:
        with loopback_instrument(meter_sim, procedure.meter_model, "meter") as meter, \
                loopback_instrument(source_sim, procedure.source_model, "source") as source:
            for point in procedure.points:
                journal = MemoryJournal()
                if lab.shunts:
                    lab.wire_for(point)      # the connections the point's steps made
                readings = measure_point(point, meter, source, journal, 1,
                                         sleep=lab.advance,
                                         plausibility_limit=procedure.plausibility_limit)
                outcomes.append(_outcome(point, procedure, lab, readings,
                                         journal.readbacks() if point.readback else None))
    except Exception as exc:  # noqa: BLE001 - a run that stops is a finding, reported
        return RunOutcome(seed, tuple(outcomes), f"{type(exc).__name__}: {exc}")
    return RunOutcome(seed, tuple(outcomes))


def _outcome(point: Any, procedure: Procedure, lab: SimulatedLab, readings: list,
             readbacks: list | None = None) -> PointOutcome:
    unit = f"{point.nominal.units:~C}"
    result = evaluate_point(point, procedure, [float(r.magnitude) for r in readings], unit,
                            readbacks=readbacks)
    report = result.error.units
    true = lab.true_error(point).to(report).magnitude     # (on the point's channel, readback)
    return PointOutcome(
        point_id=point.id, unit=f"{report:~P}", measured=float(result.error.magnitude),
        true=float(true), expanded=float(result.expanded_uncertainty.to(report).magnitude),
        combined=float(result.budget.combined_uncertainty.to(report).magnitude),
        evaluated=float(result.budget.expanded_uncertainty.to(report).magnitude),
        coverage_factor=float(result.coverage_factor),
        tolerance=float(result.tolerance.to(report).magnitude),
        accepted=result.decision in ACCEPTED, specific_risk=result.specific_risk)


def simulate(procedure: Procedure, runs: int, seed: int = 1, dut_spread: float = 1.5,
             progress: Callable[[int], None] | None = None, first: int = 0,
             run: Callable[[Any, int, float], RunOutcome] | None = None) -> Iterator[RunOutcome]:
    """Simulated calibrations ``first`` .. ``first + runs - 1`` of a validation seeded
    ``seed``, one after the other (a chunk of runs gives the same outcomes as the whole);
    ``run(procedure, seed, dut_spread)`` simulates one (default :func:`simulate_run`, an
    electrical procedure; labauto.validation.comparison's for a temperature comparison)."""
    run = run or simulate_run
    if run is simulate_run:
        procedure = characterised(procedure, seed, dut_spread)
    for i in range(first, first + runs):
        yield run(procedure, run_seed(seed, i), dut_spread)
        if progress is not None:
            progress(i + 1 - first)

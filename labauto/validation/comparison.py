"""N simulated temperature comparison calibrations, each with new true errors, evaluated as a
real run is (the temperature counterpart of labauto.validation.montecarlo).

One run: the simulated thermometry lab (labauto.sim.thermometry) with a new seed draws

* the DUT's true characteristic: a Pt100's Callendar–Van Dusen coefficients, a thermocouple's
  deviation from its IEC 60584-1 reference function, a digital thermometer's offset (their
  deviations scaled by ``dut_spread``);
* the reference thermometer's true error from what its certificate states
  (labauto.validation.truth.certificate_offset: normal with σ = U(t)/k per calibrated
  sub-range, plus the drift allowance, uniform), and the readout's error from its
  specification (labauto.validation.truth.StatedErrors: normal at the stated confidence),
  the heat source's axial and radial gradients between the reference's and the DUT's places
  from its uniformity figures (uniform within them: the figures are limits);
* the thermometry physics: the heat source's approach, stability wander, the readout's
  noise and a
  scanner's parasitic emfs, both probes' self-heating at their measuring current.

The instruments run in-process behind their real drivers (labauto.validation.loopback) on
simulated time; the engine's own ``measure_setpoint`` approaches each setpoint, waits for the
reference to be stable and takes the bracketed readings (journalled in memory), and
``labauto.comparison_evaluation.evaluate_comparison`` -- the code a real run's certificate
comes from -- gives each point's error of the DUT with U.  The DUT's true error at the point
(its true characteristic against its nominal one at the calibration temperature) is what the
measured error is compared with.  Temperature comparison procedures state no tolerance, so no
decision rule is checked.
"""
from __future__ import annotations

import math
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from labauto.procedure.temperature import TemperatureProcedure
from labauto.validation.montecarlo import MemoryJournal, PointOutcome, RunOutcome

#: what one simulated run draws (the validation report's "what was simulated" rows)
SIMULATED = (
    ("DUT's true errors", "a Pt100's Callendar–Van Dusen coefficients (R0 ±0.04 %, A ±0.03 %, "
     "B ±0.2 %, C ±5 %), a thermocouple's deviation from its reference function (±0.01 mV "
     "± 3·10⁻⁵ mV/°C × t), a digital thermometer's offset (±0.15 K), uniform, × the DUT spread"),
    ("reference's true errors", "from its calibration certificate: normal with σ = U(t)/k per "
     "calibrated sub-range plus the drift allowance (uniform); the readout's error from its "
     "specification (normal at the stated confidence)"),
    ("heat source gradients", "between the reference's and the DUT's places: uniform within "
     "the heat source's axial and radial uniformity figures"),
    ("set-up", "heat source approach, stability wander, probe self-heating, readout noise, "
     "scanner parasitic emfs (simulated thermometry lab)"),
    ("evaluation", "the comparison budgets (EA-4/02, EURAMET cg-8/cg-13) and the certificate's "
     "ILAC-P14 rounding of a real run"),
    ("fitted curve", "a stated fit (CVD, thermocouple deviation) against the DUT's true curve at "
     "each calibration temperature and half-way between two (rows 'curve <t> °C'), with the "
     "u of a temperature from the curve the certificate states, with its 95 % U (k from the "
     "propagated distribution of the points' inputs)"),
)


def simulated_comparison_lab(procedure: TemperatureProcedure, seed: int,
                             dut_spread: float = 1.0):
    """A simulated thermometry lab (not started: no sockets) for ``procedure`` with new true
    errors; the reference's drawn from its certificate, the readout's from its specification,
    each heat source's gradients between the reference's and the DUT's places uniform within
    its uniformity figures (the budget's rectangular limits)."""
    from labauto.sim.thermometry import lab_for_procedure
    from labauto.validation.truth import StatedErrors, certificate_offset

    rng = np.random.default_rng([seed, 11])
    lab = lab_for_procedure(procedure, seed=seed, latency="zero", dut_spread=dut_spread,
                            reference_offset=certificate_offset(procedure.reference, rng))
    lab.readout.reading_error = StatedErrors(procedure.readout_model, rng).at
    for source in lab.heat_sources.values():   # the gradients within its uniformity figures
        source.set_gradients(float(rng.uniform(-1.0, 1.0)), float(rng.uniform(-1.0, 1.0)))
    return lab


def simulate_comparison_run(procedure: TemperatureProcedure, seed: int,
                            dut_spread: float = 1.0) -> RunOutcome:
    """One simulated comparison calibration of every setpoint of ``procedure``."""
    from labauto.comparison_evaluation import evaluate_comparison
    from labauto.demo_temperature import SimulatedTechnician
    from labauto.engine.comparison import (ComparisonInstruments, ComparisonRun,
                                           ComparisonSettings, measure_setpoint)
    from labauto.engine.observer import NullObserver
    from labauto.engine.run import steps_before
    from labauto.uncertainty.rounding import round_result
    from labauto.validation.loopback import loopback_instrument

    lab = simulated_comparison_lab(procedure, seed, dut_spread)
    technician = SimulatedTechnician(lab)
    journal = MemoryJournal({"run_id": f"validation-{seed}"})
    run = ComparisonRun(f"validation-{seed}", Path("."), procedure, ComparisonSettings({}),
                        journal)  # type: ignore[arg-type] - the journal's interface, in memory
    try:
        with ExitStack() as stack:
            sources = {name: stack.enter_context(loopback_instrument(
                lab.heat_sources[name], hs.model, f"heat source {name}",
                safe_setpoint=hs.safe_setpoint)) for name, hs in procedure.heat_sources.items()}
            readout = stack.enter_context(loopback_instrument(lab.readout, procedure.readout_model,
                                                              "readout"))
            dmm = stack.enter_context(loopback_instrument(lab.dmm, procedure.dmm_model, "dmm")) \
                if procedure.dut.read_by == "dmm" else None
            if procedure.dut.reference_junction == "compensated":
                raise NotImplementedError("a compensated reference junction (the room's "
                                          "thermo-hygrometer) is not simulated in-process")
            inst = ComparisonInstruments(readout, sources, dmm)
            for n, point in enumerate(procedure.points):
                for step in steps_before(procedure, point, first_of_session=n == 0):
                    technician.confirm(step, point)
                measure_setpoint(run, point, 1, inst, clock=lab.clock, observer=NullObserver(),
                                 read_display=technician.read_display)
        evaluation = evaluate_comparison(procedure, journal.read())
    except Exception as exc:  # noqa: BLE001 - a run that stops is a finding, reported
        return RunOutcome(seed, (), f"{type(exc).__name__}: {exc}")
    outcomes = []
    for point, r in zip(procedure.points, evaluation.points):
        stated_U = float(round_result(r.error, r.U_error)[1])
        outcomes.append(PointOutcome(
            point_id=point.id, unit="K", measured=float(r.error),
            true=float(lab.true_dut_error(r.nominal)), expanded=stated_U,
            combined=float(r.u_error), coverage_factor=float(r.k), tolerance=math.inf,
            accepted=None, specific_risk=None, evaluated=float(r.U_error)))
    if evaluation.fit is not None:          # the certificate states the fitted curve too
        outcomes += fitted_curve_outcomes(evaluation.fit, lab)
    return RunOutcome(seed, tuple(outcomes))


#: where the fitted curve is checked: each calibration temperature and half-way between two
CURVE_CHECK = "curve"


def curve_check_temperatures(fit: Any) -> list[float]:
    """The fit's calibration temperatures and the midpoints between neighbours (°C)."""
    t = sorted({round(float(x), 9) for x in fit.t})
    return sorted(t + [(a + b) / 2 for a, b in zip(t, t[1:])])


def fitted_curve_outcomes(fit: Any, lab: Any) -> list[PointOutcome]:
    """The fitted characteristic against the simulated DUT's true one, as the certificate
    states it: at each check temperature t the DUT's error by its nominal curve (IEC 60751,
    IEC 60584-1) as the fitted curve gives it and as the true curve does, and the standard
    uncertainty of a temperature "from the curve alone" the certificate states
    (``fit.u_temperature(t)``, k = 1), checked with the expanded uncertainty (95 %) the
    certificate states for it (``fit.expanded_temperature(t)``: k from the propagated
    distribution of the points' inputs, labauto.temperature.curve_coverage)."""
    from labauto.temperature import PT100, thermocouples
    from labauto.temperature.fits import CvdFit

    truth = lab.dut_truth
    out = []
    for t in curve_check_temperatures(fit):
        if isinstance(fit, CvdFit):
            measured = PT100.temperature(fit.curve.resistance(t)) - t
            true = PT100.temperature(truth.resistance(t)) - t
        else:           # the emf with the reference junction at 0 °C (labauto.sim.thermometry)
            measured = thermocouples.temperature(fit.letter, fit.curve.emf(t)) - t
            true = thermocouples.temperature(fit.letter, truth.emf(t) - truth.emf(0.0)) - t
        u = float(fit.u_temperature(t))
        k = float(fit.k_temperature(t))
        out.append(PointOutcome(
            point_id=f"{CURVE_CHECK} {t:g} °C", unit="K", measured=float(measured),
            true=float(true), expanded=k * u, combined=u, coverage_factor=k,
            tolerance=math.inf, accepted=None, specific_risk=None))
    return out

"""A temperature comparison run: at each setpoint the heat source is set, the run waits until
the reference thermometer is stable (labauto.engine.stability), then takes N readings of the
thermometer under test, each bracketed by two readings of the reference.

    runs/<run_id>/journal.jsonl   header (procedure, reference certificate, models, resources),
                                  instrument identities, per setpoint: point_start, the
                                  approach in windows (``stability``: time, R, t of every
                                  reference sample -- R, or a reference thermocouple's emf -- and
                                  the source's control temperature),
                                  ``reading`` records (DUT value + the
                                  bracketing reference readings), point_done / point_failed

Same journal as the electrical runs (labauto.engine.journal): every reading reaches the disk
before the next is taken; a stopped run is resumed with :func:`open_comparison_run` and
:func:`execute_comparison`, which re-measures only setpoints without a completed attempt (a
setpoint interrupted mid-ramp starts its approach again).  The heat sources are opened with
the procedure's safe setpoint as their safe state: any exit -- a stability time-out, a lost
connection, Ctrl-C -- leaves them there.

Time comes from ``clock`` (``now()``, ``sleep_until(t)``): :class:`labauto.sim.clock.RealClock`
on the bench, the simulated lab's own clock for the zero-latency lab.
"""
from __future__ import annotations

import math
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pint

from labauto.engine.conditions import ConditionsMonitor, environment_logger
from labauto.engine.journal import JournalError, JournalState, RunJournal, now_iso
from labauto.engine.locks import InstrumentLocks, open_locked
from labauto.engine.observer import RunObserver, current_observer
from labauto.engine.operator import current_operator
from labauto.engine.run import JOURNAL_NAME, new_run_id, run_lock, steps_before
from labauto.engine.stability import SetpointNotReached, StabilityVerdict, wait_until_stable
from labauto.errors import LabautoError
from labauto.procedure.temperature import (TemperaturePoint, TemperatureProcedure,
                                           load_temperature_procedure, reference_settings)
from labauto.units import Q_

ReadDisplay = Callable[[TemperaturePoint, int], pint.Quantity]
_clock: Any = None


def set_clock(clock: Any) -> Any:
    """Install the process-wide clock of comparison runs (the Prefect tasks run in-process;
    the zero-latency simulated lab installs its own); returns the previous one."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def current_clock() -> Any:
    """The installed clock, else the wall clock (labauto.sim.clock.RealClock)."""
    if _clock is None:
        from labauto.sim.clock import RealClock
        return RealClock()
    return _clock
CONTROL_EVERY = 6          # approach samples between two readings of the source's control sensor


@dataclass(frozen=True)
class ComparisonSettings:
    """Where the instruments are: ``resources`` maps "readout", each heat source's name in the
    procedure and "dmm" (when the DUT is read by one) to VISA resource strings."""

    resources: dict[str, str]
    timeout_ms: int = 10000
    operator: str = ""
    item: dict[str, str] = field(default_factory=dict)    # the DUT: manufacturer, model, serial
    environment_resource: str = ""     # the room's thermo-hygrometer, if any

    def to_dict(self) -> dict[str, Any]:
        return {"resources": dict(self.resources), "timeout_ms": self.timeout_ms,
                "operator": self.operator, "item": dict(self.item),
                "environment_resource": self.environment_resource}


@dataclass
class ComparisonRun:
    run_id: str
    folder: Path
    procedure: TemperatureProcedure
    settings: ComparisonSettings
    journal: RunJournal

    def state(self) -> JournalState:
        return self.journal.read()

    def pending_points(self) -> list[TemperaturePoint]:
        done = self.state().completed_ids()
        return [p for p in self.procedure.points if p.id not in done]


def _needed_resources(procedure: TemperatureProcedure) -> list[str]:
    names = ["readout", *procedure.heat_sources]
    if procedure.dut.read_by == "dmm":
        names.append("dmm")
    return names


def _check_settings(procedure: TemperatureProcedure, settings: ComparisonSettings) -> None:
    missing = [n for n in _needed_resources(procedure) if n not in settings.resources]
    if missing:
        raise LabautoError(f"procedure {procedure.path} needs the VISA resource of "
                           f"{', '.join(missing)} (give every one of {', '.join(_needed_resources(procedure))})")


def _header(procedure: TemperatureProcedure) -> dict[str, Any]:
    return {"kind": procedure.kind,
            "procedure": {"id": procedure.id, "version": procedure.version,
                          "path": str(procedure.path), "resolved_path": str(procedure.path.resolve()),
                          "sha256": procedure.sha256},
            "reference_certificate": procedure.reference.to_dict(),
            "points": [p.id for p in procedure.points],
            "instrument_models": {name: {"key": m.key, "path": str(m.folder / "model.yaml"),
                                         "sha256": m.sha256}
                                  for name, m in procedure.instrument_models().items()}}


def start_comparison_run(procedure: TemperatureProcedure, runs_dir: str | Path,
                         settings: ComparisonSettings, run_id: str | None = None) -> ComparisonRun:
    _check_settings(procedure, settings)
    run_id = run_id or new_run_id()
    folder = Path(runs_dir) / run_id
    journal = RunJournal.create(folder / JOURNAL_NAME, {
        "run_id": run_id, **_header(procedure), "settings": settings.to_dict()})
    return ComparisonRun(run_id, folder, procedure, settings, journal)


def open_comparison_run(folder: str | Path, settings: ComparisonSettings | None = None) -> ComparisonRun:
    """Reopen an interrupted comparison run; refused if the procedure, the reference
    certificate or an instrument model changed since it started."""
    folder = Path(folder)
    journal = RunJournal(folder / JOURNAL_NAME)
    header = journal.read().header
    if header.get("kind") != TemperatureProcedure.kind:
        raise JournalError(f"{folder} is not a temperature comparison run")
    path = Path(header["procedure"]["path"])
    if not path.exists():
        path = Path(header["procedure"]["resolved_path"])
    procedure = load_temperature_procedure(path)
    now = _header(procedure)
    for key, what in (("procedure", "the procedure"), ("reference_certificate",
                                                       "the reference thermometer's certificate")):
        if now[key]["sha256"] != header[key]["sha256"]:
            raise JournalError(f"{what} ({now[key]['path']}) changed since run "
                               f"{header['run_id']} started: a run is resumed only with the "
                               "files it started with")
    for name, m in now["instrument_models"].items():
        then = header["instrument_models"].get(name)
        if then is None or then["sha256"] != m["sha256"]:
            raise JournalError(f"the instrument model {m['path']} ({name}) changed since run "
                               f"{header['run_id']} started")
    if settings is None:
        s = header["settings"]
        settings = ComparisonSettings(s["resources"], s["timeout_ms"], s.get("operator", ""),
                                      s.get("item", {}), s.get("environment_resource", ""))
    _check_settings(procedure, settings)
    return ComparisonRun(header["run_id"], folder, procedure, settings, journal)


# ------------------------------------------------------------------------------ measuring

def execute_comparison(run: ComparisonRun, *, clock: Any = None, resource_manager: Any = None,
                       observer: RunObserver | None = None,
                       read_display: ReadDisplay | None = None, environment: Any = None,
                       points: Sequence[str] | None = None, confirm_steps: bool = True,
                       check_identities: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Measure every setpoint not yet completed (or those of ``points`` not yet completed),
    with one session per instrument; with an environment logger (``settings.environment_resource``
    and the lab file's ``environment`` settings) the room's conditions are journalled at the
    start, after each setpoint and at the end (labauto.engine.conditions).  ``clock``:
    :func:`current_clock` by default; ``read_display``: the current operator's by default;
    ``confirm_steps=False``: the caller had the operator steps done (the Prefect flow asks
    them between its tasks).  ``check_identities`` (the lab's register,
    :meth:`labauto.lab.LabConfig.check_identities`) may refuse the readout, the DMM or the
    environment logger (unregistered, overdue) before anything is measured."""
    obs = observer or current_observer()
    clock = clock or current_clock()
    read_display = read_display or getattr(current_operator(), "read_display", None)
    state = run.state()
    wanted = set(points) if points is not None else {p.id for p in run.procedure.points}
    unknown = wanted - {p.id for p in run.procedure.points}
    if unknown:
        raise LabautoError(f"procedure {run.procedure.id} has no setpoint {sorted(unknown)[0]!r}")
    for p in run.procedure.points:
        if p.id in state.completed_ids() and p.id in wanted:
            obs.point_skipped(p, "completed in an earlier session of this run")
    if not [p for p in run.pending_points() if p.id in wanted]:
        return
    with run_lock(run):                      # type: ignore[arg-type] - needs .folder only
        todo = [p for p in run.pending_points() if p.id in wanted]
        with _open_instruments(run, resource_manager, check_identities) as inst, \
                environment_logger(run, environment, resource_manager) as logger:
            if logger is not None:
                if check_identities is not None:
                    check_identities({"environment": logger.identity})
                _record_identities(run, {"environment": logger.identity})
            monitor = ConditionsMonitor(run, logger, environment, obs)
            monitor.poll("start")
            if run.procedure.dut.reference_junction == "compensated":
                if logger is None:
                    raise LabautoError(
                        f"{run.procedure.path}: the DUT's reference junction is compensated: the "
                        "run needs the room's thermo-hygrometer to measure its temperature (give "
                        "the environment logger's resource), or put the junction in an ice point")
                inst.junction = lambda: float(logger.read().values["temperature"].to("degC").m)
            for n, point in enumerate(todo):
                if confirm_steps:
                    for step in steps_before(run.procedure, point, first_of_session=n == 0):
                        current_operator().confirm(step, point)
                        run.journal.append({"type": "operator_step", "point_id": point.id,
                                            "text": step.text, "line": step.line, "t": now_iso()})
                record = run.state().points.get(point.id)
                attempt = record.next_attempt if record else 1
                measure_setpoint(run, point, attempt, inst, clock=clock, observer=obs,
                                 read_display=read_display)
                monitor.poll(f"after {point.id}")
            monitor.poll("end")


@dataclass
class ComparisonInstruments:
    """The open drivers of a comparison run (what :func:`measure_setpoint` measures with)."""

    readout: Any
    heat_sources: dict[str, Any]
    dmm: Any = None
    junction: Any = None            # () -> °C of a compensated reference junction (the room)


@contextmanager
def reserved_instruments(run: ComparisonRun, *, resource_manager: Any = None,
                         check_identities: Callable[[dict[str, Any]], None] | None = None
                         ) -> Iterator[dict[str, dict[str, Any]]]:
    """The run's pre-flight (the Prefect flow's, before its first measuring task): the heat
    sources, the readout and the DMM opened under the run's instrument locks, identified
    (``*IDN?``), checked against the lab's register and recorded in the journal, then left safe
    and closed; the locks stay held for the ``with`` block (the tasks reopen the instruments
    under the same, re-entrant, locks).  Yields the journal's instrument records, ``{role:
    {"manufacturer", "model", "serial", ...}}``."""
    with InstrumentLocks(run.run_id) as locks:
        with _open_instruments(run, resource_manager, check_identities, locks=locks):
            pass
        yield run.state().instruments


@contextmanager
def _open_instruments(run: ComparisonRun, resource_manager: Any,
                      check_identities: Callable[[dict[str, Any]], None] | None = None,
                      locks: InstrumentLocks | None = None) -> Iterator[ComparisonInstruments]:
    """Open the heat sources (the procedure's safe setpoint as their safe state), the readout
    and the DMM under the instrument locks (``locks``, else the run's own, released after);
    check the measuring instruments against the lab's register; record their identities;
    leave every one safe on exit.  (The reference thermometer is checked against its own
    certificate when the procedure loads.)"""
    proc, res = run.procedure, run.settings.resources
    with ExitStack() as stack:
        if locks is None:
            locks = stack.enter_context(InstrumentLocks(run.run_id))
        opts = {"timeout_ms": run.settings.timeout_ms, "resource_manager": resource_manager}
        # heat sources first: closed last, they reach their safe setpoints last
        sources = {name: open_locked(stack, locks, f"the heat source '{name}'", res[name],
                                     hs.model, safe_setpoint=hs.safe_setpoint, **opts)
                   for name, hs in proc.heat_sources.items()}
        readout = open_locked(stack, locks, "the reference readout", res["readout"],
                              proc.readout_model, **opts)
        dmm = open_locked(stack, locks, "the DMM", res["dmm"], proc.dmm_model, **opts) \
            if proc.dut.read_by == "dmm" else None
        identities = {"reference readout": readout.identity,
                      **{f"heat source {n}": s.identity for n, s in sources.items()}}
        if dmm is not None:
            identities["dmm"] = dmm.identity
        if check_identities is not None:
            for measuring in (readout, dmm):
                if measuring is not None:
                    check_identities({"reference": measuring.identity})
        _record_identities(run, identities)
        yield ComparisonInstruments(readout, sources, dmm)


def _record_identities(run: ComparisonRun, identities: dict[str, Any]) -> None:
    known = run.state().instruments
    for role, ident in identities.items():
        seen = known.get(role)
        if seen and seen["serial"] != ident.serial:
            raise JournalError(f"run {run.run_id} was measured with {role} serial "
                               f"{seen['serial']}, but the instrument at {ident.resource} is "
                               f"serial {ident.serial}; resume with the same instruments or "
                               "start a new run")
        if not seen:
            run.journal.append({"type": "instrument", "role": role,
                                "manufacturer": ident.manufacturer, "model": ident.model,
                                "serial": ident.serial, "firmware": ident.firmware,
                                "identity": ident.raw, "resource": ident.resource})


class _ApproachLog:
    """The approach to a setpoint, journalled one stability window at a time (a crash loses
    at most the current window's samples, never a reading)."""

    def __init__(self, run: ComparisonRun, point: TemperaturePoint, attempt: int, window_s: float,
                 unit: str = "ohm"):
        self.run, self.point, self.attempt, self.window_s = run, point, attempt, window_s
        self.fields = ["t_s", "R_ohm" if unit == "ohm" else f"E_{unit}", "t_degC", "source_degC"]
        self.samples: list[list[float]] = []
        self.first_t: float | None = None

    def add(self, t: float, resistance: float, temperature: float, control: float,
            verdict: StabilityVerdict) -> None:
        self.samples.append([t, resistance, temperature, control])
        if self.first_t is None:
            self.first_t = t
        if t - self.first_t >= self.window_s or verdict.stable:
            self.flush(verdict)

    def flush(self, verdict: StabilityVerdict | None) -> None:
        if not self.samples:
            return
        rec: dict[str, Any] = {"type": "stability", "point_id": self.point.id,
                               "attempt": self.attempt,
                               "samples": [[None if isinstance(x, float) and math.isnan(x) else x
                                            for x in row] for row in self.samples],
                               "fields": self.fields, "t": now_iso()}
        if verdict is not None and verdict.n >= 2:
            rec.update(stable=verdict.stable, slope_K_per_min=_finite(verdict.slope_k_per_min),
                       std_K=_finite(verdict.std_k), elapsed_s=verdict.elapsed_s)
        self.run.journal.append(rec)
        self.samples, self.first_t = [], None


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


def measure_setpoint(run: ComparisonRun, point: TemperaturePoint, attempt: int,
                     inst: ComparisonInstruments, *, clock: Any, observer: RunObserver | None = None,
                     read_display: ReadDisplay | None = None) -> None:
    """One attempt at one setpoint; on any error the attempt is marked failed (its readings
    stay in the journal) and the error propagates (the heat sources go to their safe
    setpoints as the instruments close)."""
    obs = observer or current_observer()
    proc, journal = run.procedure, run.journal
    ref = proc.reference
    journal.point_start(point.id, attempt, setpoint={"value": float(point.setpoint.m), "unit": "degC"},
                        heat_source=point.heat_source, readings=point.readings)
    obs.point_started(point, attempt)
    approach = _ApproachLog(run, point, attempt, proc.stability.window_s, ref.value_unit)
    try:
        source = inst.heat_sources[point.heat_source]
        source.set_temperature(point.setpoint)
        ro = inst.readout
        fn, unit = ref.function, ref.value_unit          # RES4W in ohm, or DCV in mV
        ref_settings = reference_settings(ref, proc.reference_channel, proc.reference_current)

        def read_reference(aperture: pint.Quantity) -> tuple[float, float, float]:
            ro.configure(fn, None, aperture=aperture, **ref_settings)
            r = float(ro.read(1)[0].to(unit).m)
            return clock.now(), r, float(ref.temperature(Q_(r, unit)).to("degC").m)

        period = proc.stability.sample_period
        offered = ro.model.function(fn).settings.get("aperture")
        sample_aperture = period if offered is None or any(
            abs(v.to("s").m - period.to("s").m) < 1e-9 for v in offered.values) else proc.aperture

        ro.configure(fn, None, aperture=sample_aperture, **ref_settings)
        last: dict[str, Any] = {"control": math.nan, "n": 0}

        def sample() -> tuple[float, pint.Quantity]:
            r = float(ro.read(1)[0].to(unit).m)
            temp = float(ref.temperature(Q_(r, unit)).to("degC").m)
            last.update(r=r, temp=temp)
            return clock.now(), Q_(temp, "degC")

        def on_sample(t: float, value: pint.Quantity, verdict: StabilityVerdict) -> None:
            if last["n"] % CONTROL_EVERY == 0:     # the source's own view, about once a minute
                last["control"] = float(source.temperature().to("degC").m)  # a lost link shows
            last["n"] += 1
            approach.add(t, last["r"], last["temp"], last["control"], verdict)
            show = getattr(obs, "approach", None)
            if show is not None:
                show(point, value, Q_(last["control"], "degC"), verdict)

        try:
            verdict = wait_until_stable(sample, proc.stability, on_sample=on_sample,
                                        sleep_until=clock.sleep_until,
                                        what=f"the reference at {point.id} ({point.setpoint:~P} "
                                             f"in {point.heat_source})")
        finally:
            approach.flush(None)
        _check_reached(point, verdict, proc)
        second = proc.dut.self_heating_current
        series = [(index, None) for index in range(point.readings)] + (
            [] if second is None else [(point.readings + i, second) for i in range(point.readings)])
        for index, current in series:
            t1, r1, temp1 = read_reference(proc.aperture)
            dut_value, dut_unit = _read_dut(proc, inst, point, index, read_display, current)
            extra: dict[str, Any] = {}
            if inst.junction is not None:
                # the junction at t_j: E(t) - E(t_j) measured; E(t_j) added, as at 0 °C
                from labauto.temperature import thermocouples
                t_j = inst.junction()
                extra = {"measured": dut_value, "junction_degC": t_j}
                dut_value = dut_value + thermocouples.emf(proc.dut.type, t_j)
            if current is not None:           # the self-heating series (the budget corrects it)
                extra["dut_current_mA"] = float(current.to("mA").m)
            t2, r2, temp2 = read_reference(proc.aperture)
            reference = (temp1 + temp2) / 2       # brackets the DUT reading: linear drift cancels
            journal.append({"type": "reading", "point_id": point.id, "attempt": attempt,
                            "index": index, "value": dut_value, "unit": dut_unit, **extra,
                            "reference": {"values": [r1, r2], "unit": unit,
                                          "t_degC": [temp1, temp2], "mean_degC": reference},
                            "t_lab_s": [t1, t2], "t": now_iso()})
            obs.reading(point, index, Q_(reference, "degC"))
    except BaseException as exc:        # KeyboardInterrupt too: record, then propagate
        journal.point_failed(point.id, attempt, f"{type(exc).__name__}: {exc}")
        raise
    journal.point_done(point.id, attempt)
    obs.point_finished(point)


def _check_reached(point: TemperaturePoint, verdict: StabilityVerdict,
                   proc: TemperatureProcedure) -> None:
    """A stable reference away from the setpoint is no calibration temperature: stop.  The
    limit is the procedure's ``stability.max_offset``, else 1 K beyond the heat source's
    display accuracy at the setpoint (how far its medium may settle from the setpoint)."""
    limit = proc.stability.max_offset
    if limit is None:
        from labauto.drivers.heat_source import heat_source_performance
        shown = heat_source_performance(proc.heat_sources[point.heat_source].model).at(
            "display_accuracy", point.setpoint)
        limit = Q_(1.0 + (float(shown.to("K").m) if shown is not None else 0.0), "K")
    offset = verdict.mean_c - float(point.setpoint.to("degC").m)
    if abs(offset) > float(limit.to("K").m):
        raise SetpointNotReached(
            f"{point.id}: the reference became stable at {verdict.mean_c:.3f} °C, {offset:+.3f} K "
            f"from the setpoint {point.setpoint:~P} in {point.heat_source} (limit "
            f"{float(limit.to('K').m):g} K, stability.max_offset); check the heat source (setpoint "
            "accepted? heater or cooling working? probes in it?); it is left at its safe "
            "setpoint and the run can be resumed")


def _read_dut(proc: TemperatureProcedure, inst: ComparisonInstruments, point: TemperaturePoint,
              index: int, read_display: ReadDisplay | None,
              current: pint.Quantity | None = None) -> tuple[float, str]:
    """One reading of the DUT (a PRT on the readout at ``current``, default its own)."""
    dut = proc.dut
    if dut.read_by == "readout" and dut.sensor == "thermocouple":
        inst.readout.configure("DCV", None, channel=dut.channel, aperture=proc.aperture)
        return float(inst.readout.read(1)[0].to("mV").m), "mV"
    if dut.read_by == "readout":
        inst.readout.configure("RES4W", None, channel=dut.channel, current=current or dut.current,
                               aperture=proc.aperture)
        return float(inst.readout.read(1)[0].to("ohm").m), "ohm"
    if dut.read_by == "dmm":
        if dut.sensor == "thermocouple":
            inst.dmm.configure("DCV", dut.dmm_range)
            return float(inst.dmm.read(1)[0].to("mV").m), "mV"
        inst.dmm.configure("RES4W", dut.dmm_range)
        return float(inst.dmm.read(1)[0].to("ohm").m), "ohm"
    if read_display is None:
        raise LabautoError(f"point {point.id}: the DUT's reading must be typed by the technician "
                           "(a display-only thermometer); run interactively")
    value = read_display(point, index)
    return float(value.to("degC").m), "degC"


__all__ = ["ComparisonInstruments", "ComparisonRun", "ComparisonSettings", "current_clock", "execute_comparison",
           "measure_setpoint", "open_comparison_run", "set_clock",
           "start_comparison_run"]

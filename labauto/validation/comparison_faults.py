"""``labauto validate PROCEDURE --faults`` for a temperature comparison procedure: the
scenarios of labauto.validation.faults (the same loop, resume and checks) on the simulated
thermometry lab (labauto.sim.thermometry, SCPI sockets, its own simulated clock), with faults
of the heat sources and the reference readout:

    timeout               the readout does not answer one read command (after a random reading)
    dropped-socket        the readout's connection is cut at a read command
    error-queue           the readout rejects its channel selection (-222 in its error queue)
    overload              the readout answers one read with the overload indication (+9.9E37,
                          what an open sensor or a broken lead reads)
    setpoint-not-reached  at the start of a random setpoint the heat source's heater (or cooler)
                          fails: the medium levels off half-way to the setpoint, stable
    stability-timeout     at the start of a random setpoint the heat source's controller hunts
                          (its stability figure x 50): the reference never becomes stable
    heat-source-lost      the heat source's connection is cut at its control-temperature query
                          (during the approach to a random setpoint)
    heat-source-error     the heat source rejects a random setpoint (-222 in its error queue)
    killed                the calibration process is killed (SIGKILL) at a random approach
                          window or reading (mid-setpoint) and a new session resumes the run
    platform-down         the platform does not answer while the certificate is published

"Standby" of a heat source is its procedure's ``safe_setpoint`` (the heat-source driver's safe
state, labauto.drivers.heat_source): checked on the simulated source as the setpoint it was
last programmed to, when the run stopped and at the end.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Callable, Iterator

from labauto.validation.faults import OVERLOAD_ANSWER, FaultBench, FaultOutcome

COMPARISON_SCENARIOS = ("timeout", "dropped-socket", "error-queue", "overload",
                        "setpoint-not-reached", "stability-timeout", "heat-source-lost",
                        "heat-source-error", "killed", "platform-down")
#: a heat-source fault that makes a setpoint unusable: the first session must not complete
MUST_STOP = ("setpoint-not-reached", "stability-timeout")
REACH = 0.5                 # the failed heater's medium levels off half-way to the setpoint
HUNTING = 50.0              # the hunting controller's wander, times its stability figure


class ComparisonFaultBench(FaultBench):
    scenarios = COMPARISON_SCENARIOS

    def _load(self, path: Path) -> Any:
        from labauto.procedure.temperature import load_temperature_procedure
        return load_temperature_procedure(path)

    @contextlib.contextmanager
    def _lab(self) -> Iterator[Any]:
        from labauto.demo_temperature import SimulatedTechnician
        from labauto.engine.operator import set_operator
        from labauto.sim.thermometry import lab_for_procedure

        from labauto.sim.clock import SharedClock

        self._labs = getattr(self, "_labs", 0) + 1
        # one simulated time for this process and a calibration process of its own ("killed")
        clock = SharedClock(self.workdir / f"clock-{self._labs}")
        with lab_for_procedure(self.procedure, seed=self.seed, clock=clock) as lab:
            self.technician = SimulatedTechnician(lab)
            previous = set_operator(self.technician)     # moves the probes at operator steps
            try:
                yield lab
            finally:
                set_operator(previous)

    def _injection(self, lab: Any, scenario: str) -> tuple[str, Callable[[], None], str]:
        read = "READ\\?"
        setpoint = "SOUR:SPO "
        control = "SENS:DATA\\?"

        def physics(**fault: float) -> Callable[[], None]:
            def inject() -> None:
                for source in lab.heat_sources.values():
                    for name, value in fault.items():
                        setattr(source, name, value)
            return inject

        return {
            "timeout": ("the readout does not answer READ?",
                        lambda: lab.inject_fault("readout", "hang", on=read, count=1), "reading"),
            "dropped-socket": ("the readout's connection is cut at READ?",
                               lambda: lab.inject_fault("readout", "drop", on=read, count=1),
                               "reading"),
            "error-queue": ("the readout rejects ROUT:CLOS with -222",
                            lambda: lab.inject_fault("readout", "error", on="ROUT:CLOS", count=1,
                                                     code=-222, message="Data out of range"),
                            "reading"),
            "overload": (f"the readout answers READ? with {OVERLOAD_ANSWER} (an open sensor)",
                         lambda: lab.inject_fault("readout", "reply", on=read, count=1,
                                                  message=OVERLOAD_ANSWER), "reading"),
            "setpoint-not-reached": (f"the heat source's medium levels off {REACH:g} of the "
                                     "way to the setpoint", physics(reach=REACH), "point"),
            "stability-timeout": (f"the heat source's controller hunts (its stability figure "
                                  f"x {HUNTING:g})", physics(wander_scale=HUNTING), "point"),
            "heat-source-lost": ("the heat source's connection is cut at SOUR:SENS:DATA?",
                                 lambda: [lab.inject_fault(name, "drop", on=control, count=1)
                                          for name in self._sources_of_next_point()], "point"),
            "heat-source-error": ("the heat source rejects SOUR:SPO with -222",
                                  lambda: [lab.inject_fault(name, "error", on=setpoint, count=1,
                                                            code=-222,
                                                            message="Data out of range")
                                           for name in self._sources_of_next_point()], "point"),
        }[scenario]

    def _sources_of_next_point(self) -> list[str]:
        # the fault is set as a point starts, before it programs its heat source: on that one
        return [self._starting.heat_source] if getattr(self, "_starting", None) else \
            list(self.procedure.heat_sources)

    def _injected_run(self, lab: Any, name: str, injected: str, inject: Callable[[], None],
                      trigger: str = "reading") -> FaultOutcome:
        outcome = super()._injected_run(lab, name, injected, inject, trigger)
        if name in MUST_STOP and outcome.first_session == "completed" and not outcome.error:
            outcome.error = ("the first session completed at a heat source that did not reach "
                             "or hold its setpoint")
        return outcome

    def _calibrate(self, lab: Any, folder: Path, run_id: str, *, observer: Any = None,
                   resume: bool = False, publish: bool = True) -> Any:
        from labauto.comparison_calibration import run_comparison_calibration

        return run_comparison_calibration(
            self.procedure_path, lab.resources, runs_dir=folder / "runs",
            out_dir=folder / "certificates",
            resume_folder=folder / "runs" / run_id if resume else None,
            run_id=None if resume else run_id, timeout_ms=self.timeout_ms, clock=lab.clock,
            observer=None if observer is None else _Starting(self, observer),
            read_display=self.technician.read_display, publish=publish)

    # -- the killed process ------------------------------------------------------------------
    def _kill_target(self) -> tuple[str, Callable[[str], bool]]:
        """Mid-setpoint: a random setpoint, killed after its first approach window (it is
        settling) or after one of its readings but the last."""
        point = self.procedure.points[int(self.rng.integers(len(self.procedure.points)))]
        nth = int(self.rng.integers(1, point.readings + 1))
        import json

        where = (f"{point.id}'s first approach window" if nth == 1
                 else f"{point.id}'s reading {nth - 1}")

        kind, count = ("stability", 1) if nth == 1 else ("reading", nth - 1)

        def reached(text: str) -> bool:
            records = (json.loads(line) for line in text.splitlines()
                       if point.id in line and line.endswith("}"))
            return sum(1 for r in records if r.get("point_id") == point.id
                       and r.get("type") == kind) >= count
        return where, reached

    def _child(self, lab: Any, folder: Path, run_id: str) -> tuple[str, dict[str, Any]]:
        args = dict(procedure=str(self.procedure_path), resources=lab.resources,
                    runs=str(folder / "runs"), out=str(folder / "certificates"), run_id=run_id,
                    timeout_ms=self.timeout_ms, clock=lab.clock.path,
                    technician=str(folder / "technician"))
        code = ("import json,sys\n"
                "from labauto.comparison_calibration import run_comparison_calibration\n"
                "from labauto.engine.operator import set_operator\n"
                "from labauto.sim.clock import SharedClock\n"
                "from labauto.validation.comparison_faults import RemoteTechnician\n"
                "a=json.loads(sys.argv[1]); t=RemoteTechnician(a['technician']); set_operator(t)\n"
                "run_comparison_calibration(a['procedure'], a['resources'], runs_dir=a['runs'],"
                " out_dir=a['out'], run_id=a['run_id'], timeout_ms=a['timeout_ms'],"
                " clock=SharedClock(a['clock']), read_display=t.read_display, publish=False)\n")
        return code, args

    def _serve_child(self, lab: Any, folder: Path) -> None:
        serve_technician(folder / "technician", self.technician)

    def _certified_readings(self, outcome: Any) -> dict[str, list[float]]:
        """The DUT readings each point's result was evaluated from; with a self-heating series
        (the readings at a second current) those too, when the budget has the measured
        self-heating row they make."""
        state = outcome.run.state()
        out = {}
        for r in outcome.evaluation.points:
            values = list(r.point.dut)
            measured = any(row.name == "dt_sh_X" and math.isfinite(row.dof) for row in r.budget.rows)
            if measured:
                values += [x["value"] for x in state.points[r.point.label].readings
                           if "dut_current_mA" in x]
            out[r.point.label] = values
        return out

    def _in_standby(self, lab: Any) -> bool:
        from labauto.sim.thermometry import at_safe_setpoints
        return at_safe_setpoints(lab, self.procedure)


class _Starting:
    """Passes the run's events on to the injecting observer, telling the bench which point
    starts (a heat-source fault goes to that point's heat source)."""

    def __init__(self, bench: ComparisonFaultBench, inner: Any):
        self.bench, self.inner = bench, inner

    def point_started(self, point: Any, attempt: int) -> None:
        self.bench._starting = point
        self.inner.point_started(point, attempt)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RemoteTechnician:
    """The simulated technician of a calibration process of its own (the "killed" scenario):
    each operator step and display reading is a request file in ``folder``, done by the
    process holding the simulated lab (:func:`serve_technician`), whose answer file it waits
    for."""

    def __init__(self, folder: str | Path, timeout_s: float = 60.0):
        self.folder, self.timeout_s, self.n = Path(folder), timeout_s, 0
        self.folder.mkdir(parents=True, exist_ok=True)

    def _ask(self, request: dict[str, Any]) -> Any:
        import json
        import time

        self.n += 1
        name = f"{self.n:06d}"
        tmp = self.folder / f"{name}.tmp"
        tmp.write_text(json.dumps(request))
        tmp.rename(self.folder / f"{name}.request")
        answer = self.folder / f"{name}.answer"
        deadline = time.monotonic() + self.timeout_s
        while not answer.exists():
            if time.monotonic() > deadline:
                from labauto.engine.operator import OperatorStepRefused
                raise OperatorStepRefused(f"the simulated technician did not answer {request}")
            time.sleep(0.001)
        return json.loads(answer.read_text())

    def confirm(self, step: Any, point: Any) -> None:
        self._ask({"do": "step", "point": point.id, "heat_source": point.heat_source})

    def read_display(self, point: Any, index: int) -> Any:
        from labauto.units import Q_
        return Q_(self._ask({"do": "display", "point": point.id})["value"], "degC")


def serve_technician(folder: Path, technician: Any) -> None:
    """Do what a :class:`RemoteTechnician` asked (``technician``: the simulated lab's own)."""
    import json

    if not folder.is_dir():
        return
    for request in sorted(folder.glob("*.request")):
        answer = request.with_suffix(".answer")
        if answer.exists():
            continue
        asked = json.loads(request.read_text())
        value = None
        if asked["do"] == "step":
            technician.lab.place_probes(asked["heat_source"])
        else:
            value = float(technician.lab.display())
        tmp = request.with_suffix(".tmp-answer")
        tmp.write_text(json.dumps({"value": value}))
        tmp.rename(answer)

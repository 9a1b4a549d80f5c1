"""``labauto demo --procedure procedures/temperature/<procedure>.yaml``: a temperature
comparison calibration end to end on the simulated thermometry lab.

    simulated readout + reference SPRT, bath, metrology well, DMM (labauto.sim.thermometry)
    -> the comparison run (labauto.engine.comparison): setpoints, stability, bracketed readings
    -> budgets and the fitted characteristic (labauto.comparison_evaluation, labauto.temperature)
    -> the temperature certificate (PDF, signed DCC, JSON) and the outbox

With ``--latency zero`` the lab runs on simulated time: hours of thermal settling take the few
seconds the readings need.  A simulated technician does what the operator steps say (moves
the probes between the heat sources) and types a display-only DUT's reading.  Everything is
written under the working folder, as for the electrical demo (labauto.demo).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pint
from rich.console import Console
from rich.table import Table

from labauto.units import Q_


class SimulatedTechnician:
    """Confirms operator steps by doing them in the simulated lab (the probes go to the next
    point's heat source) and reads a display-only thermometer."""

    def __init__(self, lab: Any, log: Any = None):
        self.lab, self.log = lab, log
        self.steps: list[str] = []

    def confirm(self, step: Any, point: Any) -> None:
        self.steps.append(step.text)
        self.lab.place_probes(point.heat_source)
        if self.log is not None:
            self.log(f"operator step before {point.id}: {step.text} (done by the simulated technician)")

    def read_display(self, point: Any, index: int) -> pint.Quantity:
        return Q_(self.lab.display(), "degC")


class ApproachDisplay:
    """The run's progress (labauto.progress.RichRunObserver) with the approach to each setpoint."""

    def __init__(self, console: Console):
        from labauto.progress import RichRunObserver
        self.inner = RichRunObserver(console)

    def __enter__(self) -> "ApproachDisplay":
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def reading(self, point: Any, index: int, value: pint.Quantity) -> None:
        """A reference/DUT reading pair: the running mean of the reference (°C has an offset:
        pint will not add two temperatures, so the mean is taken of the magnitudes)."""
        values = self.inner._values.setdefault(point.id, [])
        values.append(float(value.to("degC").m))
        self.inner.progress.update(self.inner._task(point), completed=index + 1,
                                   last=f"t_ref {sum(values) / len(values):.4f} °C",
                                   status="measuring")

    def approach(self, point: Any, reference: pint.Quantity, control: pint.Quantity, verdict: Any) -> None:
        slope = verdict.slope_k_per_min
        text = f"{reference.to('degC').m:9.3f} °C" + ("" if slope != slope else f" {slope:+.3f} K/min")
        self.inner.progress.update(self.inner._task(point), last=text,
                                   status="[green]stable" if verdict.stable else
                                   f"settling {verdict.elapsed_s / 60:4.0f} min")


def run_temperature_demo(console: Console, *, workdir: Path, procedure: Path, latency: str,
                         seed: int, with_platform: bool = False,
                         use_prefect: bool = False) -> dict[str, Any]:
    """The comparison run through the Prefect flow ``temperature-comparison`` (``use_prefect``)
    or the plain engine; the same certificate either way."""
    from contextlib import ExitStack

    from labauto.demo import _isolate_from_the_lab, _keep_caches_in
    from labauto.engine.comparison import set_clock
    from labauto.engine.observer import set_observer
    from labauto.engine.operator import set_operator
    from labauto.lab import DEFAULT_LAB_FILE, load_lab
    from labauto.labhome import LabHome, use_lab_home
    from labauto.procedure.temperature import load_temperature_procedure
    from labauto.sim.thermometry import lab_for_procedure

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    home = use_lab_home(LabHome(workdir / "home", "the demo's working folder"))
    _isolate_from_the_lab(home.path)
    _keep_caches_in(workdir)
    os.environ["LABAUTO_LOCK_DIR"] = str(workdir / "locks")
    plan = load_temperature_procedure(procedure)      # a bad file stops here
    lab_config = load_lab(DEFAULT_LAB_FILE)
    from labauto.demo import heading
    heading(console, f"labauto demo: {plan.title} (simulated)")
    console.print(f"Lab home: {home.describe()}")
    if latency != "zero":
        console.print("[yellow]realistic timing: the heat sources settle in real time, about an "
                      "hour per setpoint; `--latency zero` runs the same calibration on "
                      "simulated time in seconds[/yellow]")
    sim = lab_for_procedure(plan, seed=seed, latency=latency)
    technician = SimulatedTechnician(sim, console.print)
    item = {"manufacturer": "Example Sensors", "model": plan.dut.description or plan.dut.sensor,
            "serial": f"SIM-{seed}"}
    with ExitStack() as stack:
        sim = stack.enter_context(sim)
        console.print(f"simulated thermometry lab ({latency} timing, seed {seed}): "
                      + ", ".join(f"{k} {v}" for k, v in sim.resources.items()))
        base_url = None
        if with_platform:
            from labauto.demo_platform import start_demo_platform
            from labauto.signing_identity import lab_signing_identity

            base_url = start_demo_platform(console, workdir, stack, lab_config,
                                           lab_signing_identity(lab_config))
        display = stack.enter_context(ApproachDisplay(console))
        previous = (set_operator(technician), set_observer(display), set_clock(sim.clock))
        try:
            if use_prefect:
                from labauto.cli import _quiet_prefect
                _quiet_prefect()
                from flows.temperature_comparison import temperature_comparison

                console.print("[dim]starting Prefect flow 'temperature-comparison' ("
                              + (f"server {os.environ['PREFECT_API_URL']}" if os.environ.get("PREFECT_API_URL")
                                 else "embedded ephemeral server") + ")[/dim]")
                out = temperature_comparison(
                    str(procedure), sim.resources, runs_dir=str(workdir / "runs"),
                    out_dir=str(workdir / "certificates"), lab_file=str(DEFAULT_LAB_FILE),
                    environment_resource=sim.resources["environment"], verify_base_url=base_url,
                    publish=True, item=item, operator=lab_config.performed_by)
                from labauto.engine.comparison import open_comparison_run
                run = open_comparison_run(out["run_folder"])
                evaluation, result, issued = out["evaluation"], out["result"], out["issued"]
                publication = out["publication"]
            else:
                from labauto.comparison_calibration import run_comparison_calibration

                done = run_comparison_calibration(
                    procedure, sim.resources, runs_dir=workdir / "runs",
                    out_dir=workdir / "certificates", lab_file=DEFAULT_LAB_FILE, clock=sim.clock,
                    observer=display, read_display=technician.read_display,
                    environment_resource=sim.resources["environment"], item=item,
                    verify_base_url=base_url, publish=base_url is not None, queue=True)
                run, evaluation, result = done.run, done.evaluation, done.result
                issued, publication = done.issued, done.publication
        finally:
            set_operator(previous[0])
            set_observer(previous[1])
            set_clock(previous[2])
            display.__exit__(None, None, None)
        console.print(f"run {run.run_id}: {len(plan.points)} setpoints in "
                      f"{sim.clock.now() / 3600:.1f} h of "
                      f"{'simulated' if latency == 'zero' else 'real'} time")
        console.print(results_table(evaluation))
        if evaluation.fit is not None:
            fit = evaluation.fit
            coef = ", ".join(f"{k} = {v:.6g} ± {fit.standard_uncertainties.get(k, 0):.2g}"
                             for k, v in fit.coefficients.items())
            console.print(f"fitted characteristic ({fit.method}): {coef}")
        console.print(f"certificate {result.certificate_id}: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(issued.files.items())))
        console.print(f"publication: {publication.get('state')} ({publication.get('detail', '')})")
    inside = simulation_check(sim, evaluation)
    console.print(f"simulation check: the simulated DUT's true error lies within ± U at "
                  f"{inside} of {len(evaluation.points)} points")
    return {"run": run, "evaluation": evaluation, "inside": inside, "lab": sim,
            "result": result, "issued": issued, "publication": publication}


def results_table(evaluation: Any) -> Table:
    first = evaluation.points[0]
    table = Table(title=f"{evaluation.procedure.id}: error of the DUT by its nominal curve")
    value = "E / K" if evaluation.dut_kind == "indicating" else f"DUT / {first.unit}"
    rows = [(p.id, f"{r.nominal:g}", f"{r.reference_temperature:.4f}", f"{r.value:.6f}",
             f"{r.U:.6f}", f"{r.error * 1000:+.1f}", f"{r.U_error * 1000:.1f}", f"{r.k:.2f}")
            for p, r in zip(evaluation.procedure.points, evaluation.points)]
    for i, col in enumerate(("point", "t / °C", "t_ref / °C", value, f"U / {first.unit}",
                             "error / mK", "U(error) / mK", "k")):
        # values are never cut (in a pipe rich assumes 80 columns and cut 84.271100 to 84.2711…)
        table.add_column(col, justify="right", min_width=max(len(row[i]) for row in rows))
    for row in rows:
        table.add_row(*row)
    return table


def simulation_check(sim: Any, evaluation: Any) -> int:
    """At how many points the simulated DUT's true error (its own curve against the nominal
    one, at the point's temperature) lies within the reported error ± U."""
    inside = 0
    for r in evaluation.points:
        true = sim.true_dut_error(r.nominal)
        inside += abs(r.error - true) <= r.U_error
    return inside

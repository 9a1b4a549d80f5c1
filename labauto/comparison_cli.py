"""``labauto comparison run|resume``: a temperature comparison calibration on real (or
simulated) instruments, from a procedure file (``kind: temperature comparison``).

    labauto comparison run procedures/temperature/pt100_comparison.yaml \\
        --readout TCPIP0::10.0.0.40::5025::SOCKET \\
        --heat-source bath=TCPIP0::10.0.0.42::10001::SOCKET \\
        --heat-source well=ASRL3::INSTR
    labauto comparison resume out/runs/<run id>

The technician confirms each operator step (moving the probes) at the terminal (``--yes``
confirms them unattended) and, for a display-only thermometer, types each reading when asked;
then the certificate is issued (``--no-issue``: results only) and queued for the platform.
Time is the wall clock: waiting for stability takes as long as the heat source needs.  The
zero-latency simulated lab runs on its own simulated clock through ``labauto demo``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from labauto.errors import LabautoError

app = typer.Typer(help="Temperature comparison runs: reference readout, heat sources, stability.",
                  no_args_is_help=True, add_completion=False)
console = Console()


def parse_heat_sources(values: list[str]) -> dict[str, str]:
    """``["bath=TCPIP0::...", "well=ASRL3::INSTR"]`` -> ``{"bath": ..., "well": ...}``."""
    out = {}
    for v in values:
        name, sep, resource = v.partition("=")
        if not sep or not name.strip() or not resource.strip():
            raise typer.BadParameter(f"{v!r}: give NAME=RESOURCE, NAME as in the procedure's "
                                     "heat_sources", param_hint="--heat-source")
        out[name.strip()] = resource.strip()
    return out


def typed_reading(answer: str) -> Any:
    """A reading the technician typed: ``21.37`` (°C) or with a unit (``294.52 K``)."""
    from labauto.units import Q_, UnitError, parse_quantity

    text = answer.strip().replace(",", ".")
    try:
        value = float(text)
        return Q_(value, "degC")
    except ValueError:
        pass
    try:
        q = parse_quantity(text, "degC")
    except UnitError as exc:
        raise ValueError(f"{answer!r} is not a temperature ({exc}); type the number shown, "
                         "e.g. 21.37") from None
    return q.to("degC")


class TerminalTechnician:
    """Asks the technician at the terminal: confirm steps, type display readings."""

    def __init__(self, confirm_all: bool, progress: Any = None):
        self.confirm_all, self.progress = confirm_all, progress

    def _ask(self, fn: Any) -> Any:
        if self.progress is not None:
            self.progress.stop()
        try:
            return fn()
        finally:
            if self.progress is not None:
                self.progress.start()

    def confirm(self, step: Any, point: Any) -> None:
        from labauto.engine.operator import OperatorStepRefused

        if self.confirm_all:
            console.print(f"[yellow]operator step before {point.id}: {step.text} (confirmed: --yes)[/yellow]")
            return
        if not sys.stdin.isatty() or not self._ask(
                lambda: typer.confirm(f"{step.text} — done? (before {point.id})", default=True)):
            raise OperatorStepRefused(f"the technician did not confirm {step.text!r} before "
                                      f"{point.id} (procedure line {step.line}); the heat sources "
                                      "are at their safe setpoints; resume the run when ready")

    def read_display(self, point: Any, index: int) -> Any:
        def ask() -> Any:
            while True:
                answer = typer.prompt(f"{point.id}: reading {index + 1} of {point.readings} on the "
                                      "thermometer's display (°C)")
                try:
                    return typed_reading(answer)
                except ValueError as exc:
                    console.print(f"[red]{exc}[/red]")
        return self._ask(ask)


def _measure(run: Any, yes: bool, lab_file: Optional[Path] = None, issue: bool = True,
             publish: bool = True, out_dir: Optional[Path] = None) -> None:
    from labauto.comparison_evaluation import evaluate_comparison
    from labauto.demo_temperature import ApproachDisplay, results_table
    from labauto.engine.comparison import execute_comparison
    from labauto.engine.operator import set_operator
    from labauto.sim.clock import RealClock

    console.print(f"run {run.run_id} in {run.folder}")
    with ApproachDisplay(console) as display:
        technician = TerminalTechnician(yes, display.inner.progress)
        previous = set_operator(technician)
        try:
            from labauto.lab import load_lab
            lab = load_lab(lab_file)
            execute_comparison(run, clock=RealClock(), observer=display,
                               read_display=technician.read_display,
                               environment=lab.environment,
                               check_identities=lab.check_identities)
        finally:
            set_operator(previous)
    evaluation = evaluate_comparison(run.procedure, run.state())
    console.print(results_table(evaluation))
    if not issue:
        console.print("no certificate issued (--no-issue)")
        return
    import os

    from labauto.comparison_evaluation import issue_comparison_certificate
    from labauto.lab import load_lab
    from labauto.publishing import not_requested, publish_issued

    result, issued = issue_comparison_certificate(
        run, evaluation, load_lab(lab_file), out_dir or run.folder.parent.parent / "certificates",
        verify_base_url=os.environ.get("LABAUTO_PLATFORM_URL"), queue=publish)
    console.print(f"certificate {result.certificate_id}: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(issued.files.items())))
    publication = publish_issued(issued) if publish else not_requested(issued)
    console.print(f"publication: {publication.get('state')} ({publication.get('detail', '')})")


def _guarded(fn: Any) -> None:
    try:
        fn()
    except LabautoError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        raise typer.Exit(2 if isinstance(exc, ValueError) else 1)
    except KeyboardInterrupt:
        console.print("[bold yellow]interrupted[/bold yellow]: every reading is in the run's "
                      "journal and the heat sources are at their safe setpoints; resume the run "
                      "with `labauto comparison resume RUN_FOLDER`")
        raise typer.Exit(130)


@app.command()
def run(procedure: Path = typer.Argument(..., help="temperature comparison procedure (YAML)"),
        readout: str = typer.Option(..., "--readout", help="VISA resource of the reference readout"),
        heat_source: list[str] = typer.Option(..., "--heat-source",
                                              help="NAME=RESOURCE for each heat source of the procedure"),
        dmm: Optional[str] = typer.Option(None, "--dmm", help="VISA resource of the DMM reading the DUT"),
        environment: Optional[str] = typer.Option(None, "--environment", help="the room's thermo-"
                                                  "hygrometer: ambient conditions on the certificate; "
                                                  "a compensated thermocouple junction's temperature"),
        lab: Optional[Path] = typer.Option(None, "--lab", envvar="LABAUTO_LAB", help="the lab file"),
        item: Optional[str] = typer.Option(None, "--item", help="the DUT as MANUFACTURER,MODEL,SERIAL "
                                           "(on the certificate)"),
        issue: bool = typer.Option(True, "--issue/--no-issue", help="issue the certificate"),
        publish: bool = typer.Option(True, "--publish/--no-publish", help="queue it for the platform"),
        workdir: Path = typer.Option(Path("out"), "--workdir", help="runs go to WORKDIR/runs"),
        timeout_ms: int = typer.Option(10000, "--timeout-ms"),
        yes: bool = typer.Option(False, "--yes", help="confirm operator steps without asking")) -> None:
    """Calibrate the thermometer PROCEDURE describes against its reference."""
    def go() -> None:
        from labauto.engine.comparison import ComparisonSettings, start_comparison_run
        from labauto.procedure.temperature import load_temperature_procedure

        plan = load_temperature_procedure(procedure)
        resources = {"readout": readout, **parse_heat_sources(heat_source)}
        if dmm:
            resources["dmm"] = dmm
        unknown = sorted(set(resources) - {"readout", "dmm", *plan.heat_sources})
        if unknown:
            raise LabautoError(f"--heat-source {unknown[0]}: the procedure's heat sources are "
                               f"{', '.join(plan.heat_sources)}")
        who = [x.strip() for x in (item or "").split(",")] if item else []
        if item and len(who) != 3:
            raise typer.BadParameter("give MANUFACTURER,MODEL,SERIAL", param_hint="--item")
        from labauto.lab import load_lab
        run_ = start_comparison_run(plan, workdir / "runs", ComparisonSettings(
            resources, timeout_ms=timeout_ms, operator=load_lab(lab).performed_by,
            item=dict(zip(("manufacturer", "model", "serial"), who)),
            environment_resource=environment or ""))
        _measure(run_, yes, lab, issue, publish, workdir / "certificates")
    _guarded(go)


@app.command()
def resume(run_folder: Path = typer.Argument(..., help="folder of the interrupted run"),
           yes: bool = typer.Option(False, "--yes", help="confirm operator steps without asking"),
           lab: Optional[Path] = typer.Option(None, "--lab", envvar="LABAUTO_LAB", help="the lab file"),
           issue: bool = typer.Option(True, "--issue/--no-issue", help="issue the certificate"),
           publish: bool = typer.Option(True, "--publish/--no-publish", help="queue it for the platform")) -> None:
    """Resume an interrupted comparison run: completed setpoints are not measured again."""
    def go() -> None:
        from labauto.engine.comparison import open_comparison_run
        _measure(open_comparison_run(run_folder), yes, lab, issue, publish)
    _guarded(go)

"""``labauto sim serve``: run the simulated lab in the foreground until Ctrl-C."""
from __future__ import annotations

import time
from typing import Optional

import typer
from rich.console import Console

from labauto.errors import LabautoError
from labauto.sim.lab import LATENCIES, SimulatedLab, parse_out_of_tolerance
from labauto.units import UnitError, parse_quantity

app = typer.Typer(help="The simulated lab (coupled DMM + calibrator over SCPI sockets).",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def _group() -> None:
    """The simulated lab."""


@app.command()
def serve(seed: int = typer.Option(1, help="seed of the true errors and the noise"),
          latency: str = typer.Option("realistic", help="realistic | zero"),
          dmm_port: int = typer.Option(0, help="TCP port of the DMM (0: any free port)"),
          calibrator_port: int = typer.Option(0, help="TCP port of the calibrator (0: any)"),
          environment_port: int = typer.Option(0, help="TCP port of the room's thermo-hygrometer (0: any)"),
          room_temperature: float = typer.Option(23.0, help="the room's set temperature in °C"),
          room_humidity: float = typer.Option(45.0, help="the room's set relative humidity in %RH"),
          host: str = typer.Option("127.0.0.1", help="address to listen on"),
          dmm_model: str = typer.Option("keysight_34465a", help="the meter's model folder "
                                        "(instruments/<model>; it speaks that file's commands)"),
          calibrator_model: str = typer.Option("fluke_5522a", help="the source's model folder "
                                               "(a calibrator, or a power supply)"),
          dut: str = typer.Option("meter", help="which one is calibrated: meter | source"),
          load: Optional[str] = typer.Option(None, help="a source under test's load resistor "
                                             "on current points, e.g. '2 ohm'"),
          procedure: Optional[str] = typer.Option(
              None, help="wire the lab as this procedure names it (its meter and source models, "
                         "which is under test, its load resistor and external shunts; the other "
                         "model options are then not used)"),
          out_of_tolerance: Optional[str] = typer.Option(
              None, "--out-of-tolerance", metavar="RANGE",
              help="make the DUT out of tolerance on this range: '10 V' (DCV) or 'ACV 1 V'"),
          check_standard: Optional[str] = typer.Option(
              None, "--check-standard", metavar="ARTIFACT",
              help="connect a check standard to the meter's input instead of the calibrator, "
                   "for an intermediate check (`labauto register check`): zener-10v (a 732-class "
                   "10 V reference) or resistor-10k (a 742A-class 10 kΩ resistor)"),
          day: float = typer.Option(0.0, help="the check standard's day (its drift and its "
                                    "day-to-day scatter)"),
          run_for: float = typer.Option(0.0, help="stop after this many seconds (0: until Ctrl-C)",
                                        hidden=True)) -> None:
    """Start the simulated DMM, calibrator and thermo-hygrometer; print their VISA resource strings."""
    console = Console()
    if latency not in LATENCIES:
        raise typer.BadParameter(f"use one of {', '.join(LATENCIES)}", param_hint="--latency")
    try:
        oot = parse_out_of_tolerance(out_of_tolerance)
        if dut not in ("meter", "source"):
            raise typer.BadParameter("use meter or source", param_hint="--dut")
        where = dict(seed=seed, latency=latency, out_of_tolerance=oot, host=host,
                     dmm_port=dmm_port, calibrator_port=calibrator_port,
                     environment_port=environment_port, room_temperature=room_temperature,
                     room_humidity=room_humidity)
        if procedure is not None:
            from labauto.procedure import load_procedure
            from labauto.sim.lab import lab_for_procedure

            plan = load_procedure(procedure)
            lab = lab_for_procedure(plan, **where)
            lab.infer_wiring(plan)      # it cannot see the steps: the set-ups tell the shunt
        else:
            lab = SimulatedLab(dmm_model=dmm_model, calibrator_model=calibrator_model, dut=dut,
                               load_resistance=None if load is None else parse_quantity(load, "ohm"),
                               **where)
        artifact = None
        if check_standard is not None:
            from labauto.sim.artifacts import ARTIFACTS
            if check_standard not in ARTIFACTS:
                raise typer.BadParameter(f"use one of {', '.join(ARTIFACTS)}",
                                         param_hint="--check-standard")
            artifact = ARTIFACTS[check_standard]
        resources = lab.start()
        if artifact is not None:
            lab.connect_artifact(artifact, day)
    except (LabautoError, UnitError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        console.print(f"simulated lab running (seed {seed}, {latency} latency"
                      + (f", DUT out of tolerance on {oot[1]:~P} ({oot[0]})" if oot is not None else "")
                      + ")")
        names = {"dmm": lab.dmm.model.name, "calibrator": lab.calibrator.model.name}
        for role, resource in resources.items():
            console.print(f"  {role:<11} {resource}" + (f"  ({names[role]})" if role in names else ""))
        if artifact is not None:
            console.print(f"  the meter's input: check standard {check_standard} (day {day:g}); "
                          "the calibrator is in standby")
        console.print("Ctrl-C stops it.")
        deadline = time.monotonic() + run_for if run_for > 0 else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.05 if deadline else 0.5)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        lab.stop()

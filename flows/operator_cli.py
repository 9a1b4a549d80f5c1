"""``labauto operator pending|answer``: the operator steps (and a display-only thermometer's
typed readings) that paused calibrations wait for, answered from the command line (the Prefect
UI's Resume form does the same).  Talks to the Prefect server of ``PREFECT_API_URL``."""
from __future__ import annotations

import json
import typer
from rich.console import Console

from flows.cli_support import server_errors

app = typer.Typer(help="Operator steps of paused calibrations: list and answer them.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console()



def _server() -> str:
    from flows.instrument_slots import server_url

    url = server_url()
    if url is None:
        console.print("[bold red]error:[/bold red] no Prefect server: set PREFECT_API_URL to the "
                      "lab's server (`labauto lab up` prints it)")
        raise typer.Exit(2)
    return url


@app.command()
def pending(as_json: bool = typer.Option(False, "--json", help="machine-readable list")) -> None:
    """The calibrations waiting for a technician, and what each asks."""
    from flows.operator_input import waiting_runs

    url = _server()
    with server_errors(console):
        runs = waiting_runs()
    if as_json:
        typer.echo(json.dumps(runs, indent=2))
        return
    if not runs:
        console.print(f"no calibration is waiting for an operator answer ({url})")
        return
    for w in runs:
        wants = " a typed reading (--reading VALUE)" if w.get("wants") == "reading" else ""
        console.print(f"[bold]{w['flow_run_name']}[/bold] ({w['flow_run_id']}; labauto run "
                      f"{w['labauto_run'] or '?'}) waiting{wants} since {w['paused_since']}, "
                      f"answer by {w['answer_by'] or '-'}:")
        console.print("  " + w["asks"].replace("\n\n", "\n  ").replace("**", ""), markup=False)


@app.command()
def answer(run: str = typer.Argument(..., help="flow run id or name, or labauto run id"),
           technician: str = typer.Option(..., "--technician", help="who did the step or read "
                                          "the display"),
           reading: str = typer.Option(None, "--reading",
                                       help="a display-only thermometer's reading with its unit, "
                                            "e.g. \"25.03 degC\" (a run waiting for a reading)"),
           note: str = typer.Option("", "--note", help="recorded with the answer"),
           not_done: bool = typer.Option(False, "--not-done",
                                         help="the step cannot be done: the run stops, resumable")) -> None:
    """Answer the step or the typed reading a paused calibration waits for (exit 2: refused,
    nothing sent)."""
    from flows.operator_input import AnswerRefused, checked_answer, checked_reading, send_answer

    _server()
    try:
        if reading is not None and not_done:
            raise AnswerRefused("--not-done answers a step, not a reading; nothing sent")
        given = checked_reading(reading, technician, note) if reading is not None \
            else checked_answer(technician, note, done=not not_done)
        with server_errors(console):
            waiting = send_answer(run, given)
    except AnswerRefused as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        raise typer.Exit(2)
    if reading is not None:
        state = f"reading {given.value:g} {given.unit} sent: the run goes on"
    else:
        state = "not done: the run stops (resumable)" if not_done else "done: the run goes on"
    console.print(f"answered flow run {waiting['flow_run_name']} ({waiting['flow_run_id']}): {state}")

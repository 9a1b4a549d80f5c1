"""``labauto lab up|deploy|benches``: the lab's Prefect server, work pool, deployments and workers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from labauto.errors import LabautoError

app = typer.Typer(help="The lab's Prefect server, work pool, bench workers and deployments.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console()
LAB = typer.Option(None, "--lab", envvar="LABAUTO_LAB", help="lab file (its benches: section)")


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/bold red] {exc}")
    raise typer.Exit(2)


@app.command()
def up(lab: Optional[Path] = LAB,
       database: Optional[str] = typer.Option(
           None, "--database", envvar="LABAUTO_PREFECT_DATABASE",
           help="PostgreSQL URL of Prefect's database (postgresql://user@host:5432/prefect); "
           "default: SQLite in the lab home"),
       host: str = typer.Option("127.0.0.1", "--host", help="address the server listens on"),
       port: int = typer.Option(4200, "--port"),
       lab_home: Optional[Path] = typer.Option(None, "--lab-home", help="lab home (Prefect's "
                                                "home and SQLite database go to <lab home>/prefect)"),
       dry_run: bool = typer.Option(False, "--dry-run", help="print what would be started")) -> None:
    """Start the lab's Prefect server, deploy every bench's flows, and one worker per bench."""
    from labauto.benches import lab_file_path, load_benches
    from labauto.labhome import select_lab_home

    from flows.lab_up import plan, run

    try:
        lab_file = lab_file_path(lab)
        home = select_lab_home(lab_home, lab_file)
        benches = list(load_benches(lab_file).values())
        processes = plan(benches, lab_file,
                         prefect_home=home.path / "prefect", database=database, host=host,
                         port=port)
    except LabautoError as exc:
        _fail(exc)
    if dry_run:
        for p in processes:
            console.print(f"# {p.name}", markup=False)
            console.print(p.shell(), markup=False, soft_wrap=True)
        return
    try:
        run(processes, lab_file, say=lambda text: console.print(text, markup=False),
            host=host, port=port, benches=benches)
    except LabautoError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        raise typer.Exit(1)


@app.command()
def deploy(lab: Optional[Path] = LAB) -> None:
    """Create or update the work pool, bench queues and deployments on PREFECT_API_URL."""
    from flows.instrument_slots import server_url

    if server_url() is None:
        _fail(LabautoError("no Prefect server: set PREFECT_API_URL (`labauto lab up` prints it)"))
    from flows.cli_support import server_errors
    from flows.deployments import deploy_lab

    try:
        with server_errors(console):
            names = deploy_lab(lab)
    except LabautoError as exc:
        _fail(exc)
    for name in names:
        console.print(name, markup=False)


@app.command()
def benches(lab: Optional[Path] = LAB,
            as_json: bool = typer.Option(False, "--json")) -> None:
    """The benches of the lab file and their instruments."""
    from labauto.benches import describe, load_benches

    try:
        found = [describe(b) for b in load_benches(lab).values()]
    except LabautoError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    for b in found:
        console.print(f"{b['name']}: standard {b['standard']}, dut {b['dut'] or '-'}, "
                      f"environment {b['environment'] or '-'}; {b['deployment']}; {b['workdir']}",
                      markup=False)

"""``labauto instruments list|identify``: what VISA sees, and which model answers."""
from __future__ import annotations

import warnings
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from labauto.errors import LabautoError
from labauto.instruments import IdentityMismatch, available_models, load_instrument_model
from labauto.visa.session import VisaSession, resource_manager_for

app = typer.Typer(help="List and identify instruments.", no_args_is_help=True,
                  add_completion=False)

BACKEND_HELP = "VISA backend: @py (default), @ivi, or path/to/sim.yaml@sim"


@app.command("list")
def list_(backend: Optional[str] = typer.Option(None, help=BACKEND_HELP)) -> None:
    """VISA resources found, and the instrument models labauto knows."""
    console = Console()
    try:
        rm = resource_manager_for(backend)
        with warnings.catch_warnings():   # pyvisa-py's hints about optional discovery packages
            warnings.simplefilter("ignore")
            found = rm.list_resources()
    except LabautoError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"VISA resources ({len(found)}):" if found else
                  "No VISA resources found (raw SOCKET instruments are never listed; "
                  "use 'identify TCPIP0::host::port::SOCKET').")
    for r in found:
        console.print(f"  {r}")
    table = Table(title="Instrument models")
    names = available_models()
    # the folder name is what a procedure names: never shortened, the other columns wrap
    table.add_column("model", no_wrap=True, min_width=max((len(n) for n in names), default=5))
    for col in ("manufacturer", "type", "role", "functions"):
        table.add_column(col, overflow="fold")
    from labauto.drivers.environment import is_environment_logger, load_environment_logger_model

    for name in names:
        if is_environment_logger(name):
            e = load_environment_logger_model(name)
            table.add_row(name, e.manufacturer, e.model, "environment_logger",
                          "labauto.drivers.environment:EnvironmentLogger")
            continue
        m = load_instrument_model(name)
        table.add_row(name, m.manufacturer, m.model, m.role, ", ".join(m.functions))
    console.print(table)


@app.command()
def identify(resource: str = typer.Argument(..., help="VISA resource string"),
             model: Optional[str] = typer.Option(None, help="expected instrument model"),
             backend: Optional[str] = typer.Option(None, help=BACKEND_HELP),
             timeout_ms: int = typer.Option(5000, help="VISA timeout in ms")) -> None:
    """Ask RESOURCE for *IDN? and say which instrument model it matches."""
    console = Console()
    try:
        session = VisaSession.open(resource, instrument="", timeout_ms=timeout_ms,
                                   resource_manager=backend)
        try:
            idn = session.raw_query("*IDN?")
        finally:
            session.close()
    except LabautoError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"{resource}: {idn}")
    from labauto.drivers.environment import is_environment_logger

    names = [model] if model else [n for n in available_models() if not is_environment_logger(n)]
    matches = []
    for name in names:
        try:
            m = load_instrument_model(name)
            groups = m.match_identity(idn, resource)
        except IdentityMismatch as exc:
            if model:
                console.print(f"[red]mismatch:[/red] {exc}")
                raise typer.Exit(1) from None
            continue
        except LabautoError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        matches.append(name)
        extra = ", ".join(f"{k} {v}" for k, v in groups.items())
        console.print(f"matches model [bold]{name}[/bold] ({m.manufacturer} {m.model}"
                      + (f"; {extra}" if extra else "") + ")")
    if not matches:
        console.print("[yellow]no known instrument model matches[/yellow]")
        raise typer.Exit(1)

"""``labauto schedule sync``: Prefect schedules for the register's items (flows/schedules.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from labauto.errors import LabautoError

app = typer.Typer(help="Prefect schedules from the equipment register (items falling due).",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console()


@app.callback()
def schedule() -> None:
    """Prefect schedules from the equipment register (items falling due)."""


@app.command()
def sync(lab: Optional[Path] = typer.Option(None, "--lab", envvar="LABAUTO_LAB",
                                            help="lab file (register: and benches:)"),
         dry_run: bool = typer.Option(False, "--dry-run", help="check and show; change nothing"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Create or update a scheduled calibration deployment per register item with a procedure
    and a bench (every interval, first on its due date); items needing a person wait for a
    technician.  Exit 2 (nothing changed) when an item cannot be scheduled."""
    from flows.schedules import plan_schedules

    try:
        if dry_run:
            plans, skipped = plan_schedules(lab)
            report = {"scheduled": [p.describe() for p in plans], "not_scheduled": skipped}
        else:
            from flows.instrument_slots import server_url
            if server_url() is None:
                raise LabautoError("no Prefect server: set PREFECT_API_URL (`labauto lab up` "
                                   "prints it), or use --dry-run")
            from flows.cli_support import server_errors
            from flows.schedules import sync as do_sync
            with server_errors(console):
                report = do_sync(lab)
    except LabautoError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for s in report["scheduled"]:
        who = "attended (waits for a technician)" if s["attended"] else "unattended"
        console.print(f"{s['deployment']}: every {s['interval_days']:g} d on bench {s['bench']}, "
                      f"due {s['due']}, {who}", markup=False)
    for line in report.get("deleted", []):
        console.print(f"{line}: deleted (no longer scheduled)", markup=False)
    for line in report["not_scheduled"]:
        console.print(f"not scheduled: {line}", markup=False)
    if dry_run:
        console.print("(dry run: nothing changed)")

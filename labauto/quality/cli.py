"""``labauto register init|list|show|add|set-status|add-calibration|chart|check``: the equipment
register (``check``: an intermediate check, labauto/quality/check_cli.py).

The register is named by ``--register`` (a folder or a database URL; ``LABAUTO_REGISTER``) or
by the ``register:`` key of the lab file (``--lab`` / ``LABAUTO_LAB``).  Errors print one line
(file:line for a malformed item file) and exit 1.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from labauto.errors import LabautoError

app = typer.Typer(help="The equipment register: items, status, calibrations.",
                  no_args_is_help=True, add_completion=False)
console = Console(soft_wrap=not sys.stdout.isatty())

REGISTER_OPT = typer.Option(None, "--register", envvar="LABAUTO_REGISTER",
                            help="register folder or database URL (default: the lab file's "
                                 "register:)")
LAB_OPT = typer.Option(None, "--lab", envvar="LABAUTO_LAB", help="lab file naming the register")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """A LabautoError (file:line, unknown item, bad status ...) is one red line and exit 1."""
    try:
        yield
    except LabautoError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None


def resolve_location(register: Optional[str], lab: Optional[Path]) -> str:
    if register:
        return register
    from labauto.lab import load_lab
    from labauto.quality.records import RegisterError

    if lab is None:
        raise RegisterError("no register given: pass --register FOLDER|URL, set LABAUTO_REGISTER, "
                            "or name it in the lab file (register:) and pass --lab")
    config = load_lab(lab)
    if config.register is None:
        raise RegisterError(f"the lab file {config.path} lists reference_standards and names no "
                            "register; add `register: <folder>` or pass --register")
    return config.register


def open_store(register: Optional[str], lab: Optional[Path]) -> Any:
    from labauto.quality.register import open_register
    return open_register(resolve_location(register, lab))


def _date(value: Optional[str], what: str) -> dt.date:
    from labauto.quality.records import parse_date
    return dt.date.today() if value is None else parse_date(value, what)


@app.command()
def init(location: str = typer.Argument(..., help="a folder, or a database URL "
                                                    "(postgresql+psycopg://host/db)")) -> None:
    """Create an empty register (the folder, or the database table), or bring an existing
    register database's schema to the newest migration."""
    from labauto.quality.register import open_register
    with user_errors():
        store = open_register(location, create=True)
        console.print(f"register ready: {store.location} ({len(store.items())} items)")


def print_table(table: Table) -> bool:
    """Print ``table`` without cutting a cell: out of a terminal at its natural width
    (labauto.tables; rich squeezes a table to 80 columns there and cuts cells with '…'), on a
    terminal when its narrowest form fits.  False: the terminal is too narrow, nothing printed
    (the caller prints another form)."""
    from labauto.tables import print_whole

    if not console.is_terminal:
        print_whole(console, table)
        return True
    if Measurement.get(console, console.options.update_width(10_000), table).minimum > console.width:
        return False
    console.print(table)
    return True


LIST_COLUMNS = ("asset", "item", "serial", "role", "bench", "status", "certificate", "due")
KEEP_WHOLE = ("asset", "serial", "status", "certificate", "due")
FOLDED_MIN_WIDTH = {"item": 8, "role": 9, "bench": 5}


@app.command("list")
def list_items(register: Optional[str] = REGISTER_OPT, lab: Optional[Path] = LAB_OPT,
               as_json: bool = typer.Option(False, "--json", help="machine-readable")) -> None:
    """Every item with its status, current certificate and due date."""
    with user_errors():
        store = open_store(register, lab)
        items = store.items()
    if as_json:
        print(json.dumps([i.to_dict() for i in items], indent=2))
        return
    today = dt.date.today()
    title = f"Equipment register {store.location}: {len(items)} items"
    rows = []
    for i in items:
        cal, due = i.latest_calibration(), i.due_date()
        due_text = "uncalibrated" if due is None else due.isoformat() + (
            " OVERDUE" if due < today else "")
        style = None if i.status == "in_service" and due is not None and due >= today else "red"
        rows.append(((i.asset_id, f"{i.manufacturer} {i.model}", i.serial, i.role, i.bench,
                      i.status, cal.certificate_id if cal else "", due_text), style))
    # what identifies an item and says whether it may be used (asset, serial, status,
    # certificate, due date) is never cut or folded: a technician greps for an asset id, a
    # certificate or OVERDUE; the descriptive columns fold
    table = Table(title=title)
    for col in LIST_COLUMNS:
        table.add_column(col, no_wrap=col in KEEP_WHOLE, overflow="fold",
                         min_width=FOLDED_MIN_WIDTH.get(col))
    for cells, style in rows:
        table.add_row(*cells, style=style)
    if print_table(table):
        return
    # a terminal too narrow for the table: two lines per item, nothing cut
    console.print(title)
    for (asset, what, serial, role, bench, status, cert, due_text), style in rows:
        first = "  ".join(x for x in (asset, status, cert, due_text if due_text == "uncalibrated"
                                      else f"due {due_text}") if x)
        console.print(escape(first), style=style, overflow="fold")
        console.print(escape(f"    {what} serial {serial}, {role}" + (f", {bench}" if bench else "")),
                      overflow="fold")


@app.command()
def show(asset_id: str, register: Optional[str] = REGISTER_OPT, lab: Optional[Path] = LAB_OPT,
         as_json: bool = typer.Option(False, "--json", help="machine-readable")) -> None:
    """One item's whole record (identity, status history, calibrations, checks)."""
    import yaml
    with user_errors():
        item = open_store(register, lab).get(asset_id)
    if as_json:
        print(json.dumps(item.to_dict(), indent=2))
    else:
        due = item.due_date()
        print(yaml.safe_dump(item.to_dict(), sort_keys=False, allow_unicode=True, width=100),
              end="")
        print(f"# due: {due.isoformat() if due else 'uncalibrated'}")


@app.command()
def add(asset_id: str,
        manufacturer: str = typer.Option(..., help="as the instrument's *IDN? spells it"),
        model: str = typer.Option(...), serial: str = typer.Option(...),
        role: str = typer.Option(..., help="reference, check_standard, environment, "
                                           "working_standard, auxiliary"),
        interval: str = typer.Option(..., help="calibration interval, e.g. '12 months'"),
        bench: str = typer.Option("", help="where it is used"),
        description: str = typer.Option(""),
        reliability_target: float = typer.Option(0.95, help="end-of-period reliability target "
                                                             "for interval analysis"),
        register: Optional[str] = REGISTER_OPT, lab: Optional[Path] = LAB_OPT) -> None:
    """Add an item (in service, not yet calibrated: record its certificate next)."""
    from labauto.quality.records import Item, parse_interval
    with user_errors():
        store = open_store(register, lab)
        item = store.add(Item(asset_id, manufacturer, model, serial, role,
                              parse_interval(interval), bench, description, reliability_target))
    console.print(f"added {item.asset_id}: {manufacturer} {model} serial {serial} to "
                  f"{store.location}")


@app.command("set-status")
def set_status(asset_id: str,
               status: str = typer.Argument(..., help="in_service, out_of_service, quarantined"),
               reason: str = typer.Option(..., help="why (kept in the status history)"),
               by: str = typer.Option("", help="who decided"),
               date: Optional[str] = typer.Option(None, help="ISO date (default today)"),
               register: Optional[str] = REGISTER_OPT, lab: Optional[Path] = LAB_OPT) -> None:
    """Put an item in service, out of service, or in quarantine."""
    from labauto.quality.records import StatusChange, check_status
    with user_errors():
        change = StatusChange(_date(date, "--date"), check_status(status), reason, by)
        item = open_store(register, lab).set_status(asset_id, change)
    console.print(f"{item.asset_id} is now {item.status}")


def parse_value(text: str) -> Any:
    """``"DCV 10 V; +3.2 uV; 1.1 uV[; 2]"`` -> CalibrationValue (point; value; U; k)."""
    from labauto.quality.records import CalibrationValue, RegisterError
    parts = [p.strip() for p in text.split(";")]
    if len(parts) not in (3, 4) or not all(parts):
        raise RegisterError(f"--value {text!r}: write 'POINT; VALUE; U[; k]', e.g. "
                            "'DCV 10 V; +3.2 uV; 1.1 uV; 2'")
    try:
        k = float(parts[3]) if len(parts) == 4 else 2.0
    except ValueError:
        raise RegisterError(f"--value {text!r}: k {parts[3]!r} is not a number") from None
    return CalibrationValue(parts[0], parts[1], parts[2], k)


@app.command("add-calibration")
def add_calibration(
        asset_id: str,
        certificate: str = typer.Option(..., help="the certificate's id"),
        date: str = typer.Option(..., help="calibration date (ISO)"),
        laboratory: str = typer.Option(..., help="the issuing laboratory"),
        due: Optional[str] = typer.Option(None, help="due date (default: date + interval)"),
        as_found: Optional[str] = typer.Option(None, help="in_tolerance | out_of_tolerance"),
        adjusted: bool = typer.Option(False, help="adjusted during the calibration"),
        value: list[str] = typer.Option([], help="'POINT; VALUE; U[; k]' (repeat)"),
        sha256: str = typer.Option("", help="SHA-256 of the certificate's DCC"),
        register: Optional[str] = REGISTER_OPT, lab: Optional[Path] = LAB_OPT) -> None:
    """Record a calibration certificate (values with U, as-found condition)."""
    from labauto.quality.records import Calibration
    with user_errors():
        cal = Calibration(certificate, _date(date, "--date"), laboratory,
                          None if due is None else _date(due, "--due"), as_found, adjusted,
                          tuple(parse_value(v) for v in value), sha256)
        item = open_store(register, lab).add_calibration(asset_id, cal)
    console.print(f"{item.asset_id}: certificate {certificate} recorded; due "
                  f"{item.due_date().isoformat() if item.due_date() else '?'}")


@app.command()
def chart(asset_id: str,
          out: Path = typer.Option(..., "--out", help="PNG file to write"),
          unit: Optional[str] = typer.Option(None, help="the chart's unit (default: of the last check)"),
          register: Optional[str] = REGISTER_OPT, lab: Optional[Path] = LAB_OPT) -> None:
    """Write an item's control chart (intermediate checks) as a PNG and print its limits."""
    from labauto.quality.checks import chart_limits, chart_png, chart_values
    from labauto.quality.records import RegisterError
    with user_errors():
        item = open_store(register, lab).get(asset_id)
        if not item.checks:
            raise RegisterError(f"{asset_id} has no intermediate checks recorded")
        unit = unit or item.checks[-1].unit
        history = chart_values(item, unit)
        if not history:
            raise RegisterError(f"{asset_id} has no checks in {unit!r}")
        limits, needed = chart_limits(item, history)
        chart_png(item, unit, out, limits)
    bad = sum(not h.in_control for h in history)
    where = (f"centre line {limits.center:.9g} {unit}, sigma {limits.sigma:.3g} {unit}"
             if limits else f"baseline: {needed} more checks needed")
    console.print(f"{asset_id}: {len(history)} checks, {bad} out of control; {where}; "
                  f"chart: {out}")


from labauto.quality import check_cli as _check_cli  # noqa: E402,F401  (`register check`)

"""``labauto temperature convert SENSOR VALUE``: the temperature scales from the command line.

    labauto temperature convert pt100 "138.5055 ohm"          -> 100.0000 °C (IEC 60751)
    labauto temperature convert pt100 100 degC                 -> 138.5055 Ω
    labauto temperature convert N "36.256 mV" --json           -> {"value": 1000.00..., "unit": "degC"}
    labauto temperature convert its90 "1.89279768 W_r"         -> 231.9280 °C
    labauto temperature convert pt100 "-200 degC"              (a leading minus is a value, not an option)
    labauto temperature convert pt100 "110.5 ohm" --coefficients my_prt.yaml

Exit status: 0 converted, 2 bad input (unknown sensor, value without unit, out of range,
invalid coefficients file).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from labauto.errors import LabautoError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Temperature scales: ITS-90, IEC 60751 (PRT), IEC 60584-1 (thermocouples).")


@app.callback()
def _group() -> None:
    """Temperature scales: ITS-90, IEC 60751 (PRT), IEC 60584-1 (thermocouples)."""


def _fail(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(2)


@app.command(context_settings={"ignore_unknown_options": True})
def convert(
    sensor: str = typer.Argument(..., help="pt100 (pt25, pt500, pt1000), its90, or a "
                                           "thermocouple type letter: B E J K N R S T"),
    value: list[str] = typer.Argument(..., help="a value with its unit: '138.5 ohm', '100 degC', "
                                                "'41.2 mV', '1.89 W_r'"),
    coefficients: Optional[Path] = typer.Option(
        None, "--coefficients", help="YAML file with the sensor's own coefficients "
                                     "(CVD R0 A B C; ITS-90 subrange R_tpw a b ...; "
                                     "thermocouple type + deviation)"),
    as_json: bool = typer.Option(False, "--json", help='print {"value": ..., "unit": ...}'),
) -> None:
    """Convert VALUE for SENSOR; the direction follows VALUE's unit."""
    from labauto.temperature.convert import convert as do_convert, load_coefficients

    text = " ".join(value)
    try:
        curve = load_coefficients(coefficients) if coefficients is not None else None
        result = do_convert(sensor, text, curve)
    except LabautoError as exc:
        _fail(str(exc))
        return
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
    else:
        typer.echo(f"{result.text()}   ({result.method})")

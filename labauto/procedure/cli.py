"""``labauto procedure validate FILE...`` and ``labauto procedure show FILE``: check a procedure file and print its test plan.

``validate`` exits 1 with one ``file:line: reason`` line per problem (editors and CI logs jump
to them); otherwise it prints the plan: every point with the DUT tolerance and the standard's
specification at that value.  ``show`` adds the header, settings, decision rule and
contributions (``--json`` for the machine-readable plan).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labauto.errors import SourceError
from labauto.procedure.loader import load_procedure
from labauto.procedure.model import Procedure
from labauto.tables import min_widths, print_whole

app = typer.Typer(help="Validate and inspect procedure files.", no_args_is_help=True,
                  add_completion=False)

FILE_ARG = typer.Argument(..., help="procedure YAML file", show_default=False)


def _setting(v) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return f"{v:~P}" if hasattr(v, "units") else f"{v:g}" if isinstance(v, float) else str(v)


def _fmt(q, compact: bool = True) -> str:
    """``0.0004 V`` -> ``400 µV``; ranges and set values stay in the unit they were given."""
    return f"{(q.to_compact() if compact else q):.7g~P}"


def print_error(console: Console, exc: Exception) -> None:
    """Every line of ``exc`` (one ``file:line: reason`` a problem) in red, unwrapped."""
    for line in str(exc).splitlines():
        console.print(f"[red]{escape(line)}[/red]", soft_wrap=True)


def _load(path: Path, console: Console, loader=load_procedure, code: int = 1):
    """``loader(path)``; a :class:`SourceError` printed and raised as exit ``code``."""
    try:
        return loader(path)
    except SourceError as exc:
        print_error(console, exc)
        raise typer.Exit(code) from None


def points_table(p: Procedure) -> Table:
    std = p.standard_model
    levels = {f"{c:.0%}" for f in p.functions if (c := std.function(f).confidence)}
    level = f", {'/'.join(sorted(levels))}" if levels else ""
    table = Table(title=f"{p.id} v{p.version}: {len(p.points)} test points")
    ac = any(pt.frequency is not None for pt in p.points)
    columns = ["#", "point", "range", "nominal"] + (["frequency"] if ac else []) + [
        "readings", "settle", "tolerance (±)", f"{std.model} range", f"{std.model} spec (±{level})",
        "tol / spec", "line"]
    for col in columns:
        table.add_column(col, justify="left" if col == "point" else "right")
    rows: list[list[str]] = []
    for pt in p.points:
        ratio = (pt.tolerance / pt.standard_spec).to("").magnitude
        freq = [_fmt(pt.frequency) if pt.frequency is not None else ""] if ac else []
        rows.append([str(pt.index + 1), pt.id, _fmt(pt.range, False), _fmt(pt.nominal, False),
                     *freq, str(pt.readings), _fmt(pt.settle_time), _fmt(pt.tolerance),
                     _fmt(pt.standard_range.range, False), _fmt(pt.standard_spec), f"{ratio:.1f}",
                     str(pt.line or "")])
    min_widths(table, rows)        # values are never cut; an operator step's text wraps
    point = table.columns[1]
    point.max_width = point.min_width       # within the width of the point ids
    for pt, row in zip(p.points, rows):
        for step in pt.steps:
            table.add_row("", f"[yellow]operator: {escape(step.text)}[/yellow]",
                          *[""] * (len(columns) - 3), str(step.line or ""))
        table.add_row(*map(escape, row))
    return table


@app.command()
def validate(files: list[Path] = typer.Argument(..., help="procedure YAML files",
                                                show_default=False)) -> None:
    """Check each FILE against the instrument models; print its points, or every error.

    Exit 1 when any file has an error; every file is checked (a shell glob such as
    ``procedures/*.yaml`` checks a lab's whole set)."""
    console = Console()
    failed = []
    for file in files:
        if _validate_temperature(file, console, failed):
            continue
        try:
            p = _load(file, console)
        except typer.Exit:
            failed.append(file)
            continue
        if len(files) == 1:
            print_whole(console, points_table(p))
        console.print(f"[green]OK[/green] {escape(str(file))}: {len(p.points)} points, "
                      f"decision rule {p.decision_rule.name}, sha256 {p.sha256[:16]}…",
                      soft_wrap=True)
    if len(files) > 1:
        console.print(f"{len(files) - len(failed)} of {len(files)} procedure files valid")
    if failed:
        raise typer.Exit(1)


def _show_temperature(file: Path, console: Console, as_json: bool) -> bool:
    """``show`` for a temperature comparison procedure; False for any other file."""
    from labauto.procedure.temperature import is_temperature_procedure, load_temperature_procedure

    if not is_temperature_procedure(file):
        return False
    p = _load(file, console, load_temperature_procedure)
    ref = p.reference
    plan = {"id": p.id, "title": p.title, "version": p.version, "method": p.method,
            "kind": p.kind, "path": str(p.path), "sha256": p.sha256,
            "reference": {**ref.to_dict(), "readout": p.readout_model.key,
                          "channel": p.reference_channel},
            "dut": {"sensor": p.dut.sensor, "read_by": p.dut.read_by, "type": p.dut.type,
                    "range": [float(p.dut.minimum.m), float(p.dut.maximum.m)]},
            "heat_sources": {n: {"model": h.model.key, "safe_setpoint": float(h.safe_setpoint.m)}
                             for n, h in p.heat_sources.items()},
            "stability": {"window_s": p.stability.window_s, "timeout_s": p.stability.timeout_s,
                          "max_slope_K_per_min": float(p.stability.max_slope.to("K/min").m),
                          "max_std_K": float(p.stability.max_std.to("K").m)},
            "readings": p.readings, "points": [pt.to_dict() for pt in p.points]}
    if as_json:
        typer.echo(json.dumps(plan, indent=2, ensure_ascii=False))
        return True
    console.print(f"[bold]{escape(p.title)}[/bold]  ({p.id} version {p.version})")
    console.print(f"Method: {escape(p.method)}", soft_wrap=True)
    console.print(escape(f"Reference: {ref.manufacturer} {ref.model} serial {ref.serial} "
                         f"({ref.kind}), certificate {ref.certificate_id} due {ref.due}, read by "
                         f"{p.readout_model.name} channel {p.reference_channel}"), soft_wrap=True)
    console.print(escape(f"DUT: {p.dut.sensor}{' type ' + p.dut.type if p.dut.type else ''}, "
                         f"read by {p.dut.read_by}"))
    console.print(escape(f"Stability: {p.stability.describe()}, a reading every "
                         f"{p.stability.sample_period:~P}, time-out {p.stability.timeout:~P}"))
    table = Table(title=f"{p.id}: {len(p.points)} setpoints")
    for col in ("#", "point", "setpoint", "heat source", "readings", "line"):
        table.add_column(col, justify="right")
    for pt in p.points:
        for step in pt.steps:
            table.add_row("", f"[italic]step: {escape(step.text)}[/italic]", "", "", "", str(step.line))
        table.add_row(str(pt.index + 1), pt.id, f"{pt.setpoint:~P}", pt.heat_source,
                      str(pt.readings), str(pt.line))
    console.print(table)
    return True


def _validate_temperature(file: Path, console: Console, failed: list[Path]) -> bool:
    """A temperature comparison procedure (labauto.procedure.temperature): check it and print
    its setpoints; False for any other file."""
    from labauto.procedure.temperature import is_temperature_procedure, load_temperature_procedure

    if not is_temperature_procedure(file):
        return False
    try:
        p = _load(file, console, load_temperature_procedure)
    except typer.Exit:
        failed.append(file)
        return True
    setpoints = ", ".join(f"{pt.setpoint.m:g} °C ({pt.heat_source})" for pt in p.points)
    console.print(f"[green]OK[/green] {escape(str(file))}: temperature comparison, "
                  f"{len(p.points)} setpoints {escape(setpoints)}; reference "
                  f"{escape(p.reference.manufacturer)} {escape(p.reference.model)} serial "
                  f"{escape(p.reference.serial)} due {p.reference.due.isoformat()}; sha256 "
                  f"{p.sha256[:16]}…", soft_wrap=True)
    return True


@app.command()
def show(file: Path = FILE_ARG,
         as_json: bool = typer.Option(False, "--json", help="print the plan as JSON")) -> None:
    """Print the procedure in FILE: header, settings, decision rule, contributions, points."""
    console = Console()
    if _show_temperature(file, console, as_json):
        return
    p = _load(file, console)
    if as_json:
        typer.echo(json.dumps(p.to_dict(), indent=2, ensure_ascii=False))
        return
    dut, std = p.dut_model, p.standard_model
    console.print(f"[bold]{escape(p.title)}[/bold]  ({p.id} version {p.version})")
    console.print(f"Method: {escape(p.method)}", soft_wrap=True)
    if p.description:
        console.print(escape(p.description), soft_wrap=True)
    console.print(escape(f"Item (DUT): {dut.manufacturer} {dut.model} [{dut.key}]   "
                         f"Standard: {std.manufacturer} {std.model} [{std.key}]   "
                         f"Functions: {', '.join(p.functions)}"))
    console.print(escape(f"Measurement model: {p.measurement_model} ({p.direction} under test)"))
    given = ", ".join(f"{'NPLC' if k == 'nplc' else k} {_setting(v)}" for k, v in p.settings.items())
    console.print(f"Settings: {escape(given) + ', ' if given else ''}{p.readings} readings, "
                  f"settle {_fmt(p.settle_time)} (defaults per point)")
    console.print(escape(f"Decision rule [{p.decision_rule.name}]: {p.decision_rule.statement}"),
                  soft_wrap=True)
    for c in p.contributions:
        scope = "/".join(c.functions) + (" on " + ", ".join(f"{r:~P}" for r in c.ranges)
                                         if c.ranges else "")
        console.print(f"Contribution {c.name} ({escape(scope)}): {escape(c.label)}, "
                      f"{c.distribution}, u = {_fmt(c.u)}")
    print_whole(console, points_table(p))
    console.print(f"File {escape(str(p.path))}, sha256 {p.sha256}")


@app.command()
def characterise(
        file: Path = FILE_ARG,
        out: Path = typer.Option(..., "--out", help="the characterisation file to write (YAML); "
                                 "name it in the procedure as readback_noise"),
        simulated: bool = typer.Option(False, "--simulated",
                                       help="on the simulated lab (in-process) instead of a bench"),
        seed: int = typer.Option(1, "--seed", help="with --simulated: the simulated unit's seed"),
        dut: Optional[str] = typer.Option(None, "--dut", help="VISA resource of the DUT (bench)"),
        standard: Optional[str] = typer.Option(None, "--standard",
                                               help="VISA resource of the standard (bench)"),
        levels: int = typer.Option(40, "--levels", min=2, help="output levels per function and channel"),
        readings: int = typer.Option(25, "--readings", min=2, help="readbacks per level")) -> None:
    """Characterise the readback noise of FILE's source under test: READINGS readbacks at
    LEVELS output levels per function and channel of its readback points, the noise ahead of
    the readback's rounding fitted from them (docs/sources.md).  Exit 2 for a bad file or
    option."""
    import shlex

    from labauto.engine import characterise as ch
    from labauto.errors import LabautoError

    console = Console()
    procedure = _load(file, console, code=2)
    if not ch.readback_groups(procedure):
        console.print(f"[red]{escape(str(file))}: no readback point to characterise[/red]")
        raise typer.Exit(2)
    if simulated == bool(dut or standard) or (not simulated and not (dut and standard)):
        console.print("[red]give --simulated, or --dut and --standard (a bench)[/red]")
        raise typer.Exit(2)
    where = f"--simulated --seed {seed}" if simulated else \
        f"--dut {shlex.quote(dut or '')} --standard {shlex.quote(standard or '')}"
    command = (f"labauto procedure characterise {shlex.quote(str(file))} {where} --levels "
               f"{levels} --readings {readings}")
    design = {"levels": levels, "readings": readings, "measured": command}

    def connect(steps: list[str]) -> None:
        for step in steps:
            if not typer.confirm(f"operator: {step} Done?"):
                raise typer.Exit(1)

    try:
        if simulated:
            noise = ch.characterise_simulated(procedure, seed, **design)
        else:
            noise = ch.characterise_on_bench(procedure, dut, standard, connect=connect, **design)
    except LabautoError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    out.write_text(noise.to_yaml(), encoding="utf-8")
    table = Table(title=f"readback noise of the {noise.manufacturer} {noise.model} "
                        f"s/n {noise.serial}")
    for col in ("function", "channel", "steps", "σ ahead of the rounding", "u(σ)", "ν",
                "pooled s (rounded)", "ν", "readbacks"):
        table.add_column(col, justify="right")
    for e in noise.entries:
        table.add_row(e.function, str(e.channel), f"{e.resolution:~P}", f"{e.sigma:.3g~P}",
                      f"{e.u_sigma:.2g~P}", f"{e.dof:.0f}", f"{e.pooled_s:.3g~P}",
                      str(e.pooled_dof), str(e.readings))
    console.print(table)
    console.print(f"written {escape(str(out))}")

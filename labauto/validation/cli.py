"""``labauto validate PROCEDURE --runs N [--seed S] [--json] [--report FILE]``: validate a
procedure by simulated calibrations (see docs/validation.md).

Exit status: 0 when every point's coverage is consistent with 95 %, 1 when a point's U
under-covers (its family-wise interval lies below 95 %) or over-covers (the interval of U as
evaluated, before rounding up, lies above 95 %) or a simulated run stopped, 2 for a bad
procedure file or option.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labauto.procedure.cli import print_error
from labauto.tables import min_widths, print_whole

app = typer.Typer(add_completion=False)


@app.command()
def validate(
    procedure: Path = typer.Argument(..., help="procedure YAML file", show_default=False),
    runs: int = typer.Option(200, "--runs", "-n", min=1, help="number of simulated calibrations"),
    seed: int = typer.Option(1, "--seed", help="seed of the first run (the same seed gives the same result)"),
    dut_spread: float = typer.Option(1.5, "--dut-spread", min=0.0,
                                     help="the DUT's true errors: uniform within this fraction of its specification "
                                          "(a temperature DUT: this many times its simulated "
                                          "deviations from its nominal curve)"),
    workers: int = typer.Option(0, "--workers", min=0,
                                help="processes sharing the runs (0: one per core, at most 4)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    report: Optional[Path] = typer.Option(None, "--report",
                                          help="write the HTML validation report to this file"),
    faults: bool = typer.Option(False, "--faults",
                                help="run the procedure through injected faults instead"),
    scenario: Optional[list[str]] = typer.Option(None, "--scenario",
                                                 help="with --faults: only these scenarios (repeatable)"),
    workdir: Optional[Path] = typer.Option(None, "--workdir",
                                           help="with --faults: keep runs, certificates and platform here"),
    platform: bool = typer.Option(True, "--platform/--no-platform",
                                  help="with --faults: publish to a reference platform (needs the PTB DCC schemas)"),
) -> None:
    """Validate PROCEDURE by simulation: coverage of U per point, the decision rule's risks,
    normalized errors against N(0, 1)."""
    from labauto.errors import LabautoError
    from labauto.validation.validate import default_workers, validate_procedure

    console = Console(stderr=as_json)
    if faults:
        _faults(console, procedure, scenario or [], workdir, seed, as_json, platform)
        return
    try:
        result = validate_procedure(procedure, runs=runs, seed=seed, dut_spread=dut_spread,
                                    workers=workers or default_workers())
    except LabautoError as exc:
        print_error(console, exc)
        raise typer.Exit(2) from None
    if report is not None:
        from labauto.validation.report import write_report
        from labauto.validation.validate import load_any
        write_report(result, report, load_any(procedure))
        console.print(f"validation report: {report}")
    if as_json:
        print(json.dumps(_finite(result.to_dict()), indent=2, allow_nan=False))
    else:
        _print(console, result)
    raise typer.Exit(0 if result.ok else 1)


def _faults(console: Console, procedure: Path, scenarios: list[str], workdir: Optional[Path],
            seed: int, as_json: bool, platform: bool) -> None:
    import tempfile

    from labauto.errors import LabautoError
    from labauto.validation.faults import run_faults, scenarios_of

    if not procedure.is_file():
        console.print(f"[red]{escape(str(procedure))}: no such procedure file[/red]")
        raise typer.Exit(2)
    known = scenarios_of(procedure)       # an electrical procedure's, or a temperature one's
    unknown = [s for s in scenarios if s not in known]
    if unknown:
        console.print(f"[red]unknown scenario {unknown[0]!r}; known: {', '.join(known)}[/red]")
        raise typer.Exit(2)
    with tempfile.TemporaryDirectory(prefix="labauto-faults-") as tmp:
        try:
            outcomes = run_faults(procedure, workdir or tmp, tuple(scenarios) or known, seed=seed,
                                  platform=platform)
        except LabautoError as exc:
            print_error(console, exc)
            raise typer.Exit(2) from None
    if as_json:
        print(json.dumps({"procedure": str(procedure), "faults": [o.to_dict() for o in outcomes],
                          "ok": all(o.ok for o in outcomes)}, indent=2))
    else:
        table = Table(title=f"{procedure}: fault scenarios")
        for col in ("scenario", "injected", "first session", "completed", "readings lost",
                    "measured twice", "standby at stop / end", "published", "ok"):
            table.add_column(col)
        for o in outcomes:
            table.add_row(o.scenario, escape(o.injected), escape(o.first_session[:120]),
                          "yes" if o.completed else "NO", str(o.readings_lost),
                          str(o.points_measured_twice),
                          f"{'yes' if o.standby_when_stopped else 'NO'} / "
                          f"{'yes' if o.standby_at_end else 'NO'}",
                          "-" if o.published is None else str(o.published),
                          "[green]ok[/green]" if o.ok else f"[red]FAILED {escape(o.error)}[/red]")
        print_whole(console, table)
    raise typer.Exit(0 if all(o.ok for o in outcomes) else 1)


def _finite(x: object) -> object:
    """JSON has no NaN: a statistic that does not exist (no completed run) is null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _print(console: Console, result) -> None:
    rate = f", {result.runs / result.elapsed_s:.2f} runs/s" if result.elapsed_s > 0 else ""
    table = Table(title=f"{result.procedure_id}: {result.runs} simulated calibrations "
                        f"(seed {result.seed}, {result.elapsed_s:.1f} s{rate})")
    for col in ("point", "coverage", "95 % interval", "unrounded", "verdict", "mean U", "z mean", "z sd",
                "KS p", "false acc. obs/pred", "false rej. obs/pred"):
        table.add_column(col, justify="left" if col in ("point", "verdict") else "right")
    rows, colours = [], []
    for p in result.points:
        z = p.to_dict()["normalized_errors"]
        lo, hi = p.coverage_interval
        colours.append({"consistent": "green"}.get(p.verdict, "red"))
        rows.append([p.point_id, f"{p.coverage:.3f}", f"[{lo:.3f}, {hi:.3f}]",
                     f"{p.coverage_evaluated:.3f}", p.verdict, f"{p.mean_expanded:.3g} {p.unit}",
                     _f(z["mean"], "+.2f"), _f(z["std"], ".2f"), _f(z["ks_pvalue"], ".3f"),
                     p.decisions.shown("accept"), p.decisions.shown("reject")])
    min_widths(table, rows)
    for row, colour in zip(rows, colours):
        table.add_row(*map(escape, row[:4]), f"[{colour}]{escape(row[4])}[/{colour}]",
                      *map(escape, row[5:]))
    print_whole(console, table)
    for r in result.failed_runs:
        console.print(f"[red]run seed {r.seed} stopped: {escape(r.error)}[/red]", soft_wrap=True)


def _f(x: float | None, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)

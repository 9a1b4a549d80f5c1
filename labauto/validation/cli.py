"""``labauto validate PROCEDURE --runs N [--seed S] [--json] [--report FILE]``: validate a
procedure by simulated calibrations (see docs/validation.md).

Exit status: 0 when every point's coverage is consistent with 95 % or above it, 1 when a
point's U under-covers (its interval lies below 95 %) or a simulated run stopped, 2 for a bad
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

app = typer.Typer(add_completion=False)


@app.command()
def validate(
    procedure: Path = typer.Argument(..., help="procedure YAML file", show_default=False),
    runs: int = typer.Option(200, "--runs", "-n", min=1, help="number of simulated calibrations"),
    seed: int = typer.Option(1, "--seed", help="seed of the first run (the same seed gives the same result)"),
    dut_spread: float = typer.Option(1.5, "--dut-spread", min=0.0,
                                     help="the DUT's true errors: uniform within this fraction of its specification"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    report: Optional[Path] = typer.Option(None, "--report",
                                          help="write the HTML validation report to this file"),
) -> None:
    """Validate PROCEDURE by simulation: coverage of U per point, the decision rule's risks,
    normalized errors against N(0, 1)."""
    from labauto.errors import LabautoError
    from labauto.validation.validate import validate_procedure

    console = Console(stderr=as_json)
    try:
        result = validate_procedure(procedure, runs=runs, seed=seed, dut_spread=dut_spread)
    except LabautoError as exc:
        for line in str(exc).splitlines():
            console.print(f"[red]{escape(line)}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    if report is not None:
        from labauto.procedure import load_procedure
        from labauto.validation.report import write_report
        write_report(result, report, load_procedure(procedure))
        console.print(f"validation report: {report}")
    if as_json:
        print(json.dumps(_finite(result.to_dict()), indent=2, allow_nan=False))
    else:
        _print(console, result)
    raise typer.Exit(0 if result.ok else 1)


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
    table = Table(title=f"{result.procedure_id}: {result.runs} simulated calibrations "
                        f"(seed {result.seed}, {result.elapsed_s:.1f} s)")
    for col in ("point", "coverage", "95 % interval", "verdict", "mean U", "z mean", "z sd",
                "KS p", "false acc. obs/pred", "false rej. obs/pred"):
        table.add_column(col, justify="left" if col in ("point", "verdict") else "right")
    for p in result.points:
        d = p.to_dict()
        z = d["normalized_errors"]
        dec = d["decisions"]
        lo, hi = p.coverage_interval
        colour = {"consistent": "green", "over-covers": "yellow"}.get(p.verdict, "red")
        table.add_row(p.point_id, f"{p.coverage:.3f}", f"[{lo:.3f}, {hi:.3f}]",
                      f"[{colour}]{p.verdict}[/{colour}]", f"{p.mean_expanded:.3g} {p.unit}",
                      _f(z["mean"], "+.2f"), _f(z["std"], ".2f"), _f(z["ks_pvalue"], ".3f"),
                      f"{dec['false_accept']}/{_f(p.decisions.predicted_false_accept, '.1f')}",
                      f"{dec['false_reject']}/{_f(p.decisions.predicted_false_reject, '.1f')}")
    console.print(table)
    for r in result.failed_runs:
        console.print(f"[red]run seed {r.seed} stopped: {escape(r.error)}[/red]", soft_wrap=True)


def _f(x: float | None, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)

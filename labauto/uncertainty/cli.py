"""``labauto uncertainty ...``: evaluate model files from the command line.

    labauto uncertainty evaluate MODEL.yaml                 GUM budget per output
    labauto uncertainty evaluate MODEL.yaml --mc 1000000    + Monte Carlo (JCGM 101), validation
    labauto uncertainty evaluate MODEL.yaml --adaptive      + adaptive Monte Carlo (JCGM 101 7.9)
    labauto uncertainty evaluate MODEL.yaml --json          stable machine-readable result
    labauto uncertainty examples                            list the bundled example models

Monte Carlo also runs when the model file has a ``monte_carlo`` section (``--no-mc`` skips it).
Exit status: 0 success, 2 invalid model file or options, 1 evaluation error.
"""
from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from labauto.errors import LabautoError
from labauto.uncertainty.errors import ModelError
from labauto.uncertainty.gum import gum
from labauto.uncertainty.modelfile import load_model
from labauto.uncertainty.montecarlo import monte_carlo
from labauto.uncertainty.render import markdown, rich_table
from labauto.uncertainty.report import result_dict

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Evaluate measurement models: GUM law of propagation and JCGM 101 Monte Carlo.")

EXAMPLES = Path(__file__).with_name("examples")


def _fail(message: str, code: int) -> None:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@app.command()
def evaluate(
    model_file: Path = typer.Argument(..., help="model file (YAML)"),
    mc: Optional[int] = typer.Option(None, "--mc", help="Monte Carlo with this many trials"),
    adaptive: bool = typer.Option(False, "--adaptive", help="adaptive Monte Carlo (JCGM 101 7.9)"),
    no_mc: bool = typer.Option(False, "--no-mc", help="skip Monte Carlo even if the file asks for it"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (default: the file's, else random)"),
    tolerance_digits: Optional[int] = typer.Option(None, "--tolerance-digits",
                                                   help="significant digits of u(y) for --adaptive and validation"),
    second_order: bool = typer.Option(False, "--second-order", help="add the GUM 5.1.2 second-order terms"),
    k: Optional[float] = typer.Option(None, "--k", help="state the coverage factor instead of t(ν_eff)"),
    p: Optional[float] = typer.Option(None, "--p", help="coverage probability (default: the file's, else 0.95)"),
    as_json: bool = typer.Option(False, "--json", help="print the machine-readable result"),
    as_markdown: bool = typer.Option(False, "--markdown", help="print the budgets as Markdown"),
) -> None:
    """Evaluate MODEL_FILE: budget, u_c, ν_eff, k and U per output; optionally Monte Carlo."""
    if mc is not None and adaptive:
        _fail("give either --mc N or --adaptive, not both", 2)
    if mc is not None and mc < 100:
        _fail("--mc needs at least 100 trials (10^6 is usual)", 2)
    try:
        mf = load_model(model_file)
    except LabautoError as exc:
        _fail(str(exc), 2)
    cov = p if p is not None else mf.coverage_probability
    if not 0 < cov < 1:
        _fail(f"--p must be between 0 and 1, got {cov}", 2)
    file_mc = mf.monte_carlo
    ndig = tolerance_digits or int(file_mc.get("tolerance_digits", 2))
    run_adaptive = adaptive or (mc is None and bool(file_mc.get("adaptive", False)))
    trials = mc if mc is not None else file_mc.get("trials")
    run_mc = not no_mc and (run_adaptive or trials is not None)
    use_seed = seed if seed is not None else file_mc.get("seed")
    if run_mc and use_seed is None:
        use_seed = secrets.randbits(32)   # reported, so the run can be repeated
    try:
        res = gum(mf.model, second_order=second_order)
        mcr = None
        if run_mc:
            mcr = (monte_carlo(mf.model, adaptive=True, tolerance_digits=ndig, seed=use_seed, coverage_probability=cov)
                   if run_adaptive else monte_carlo(mf.model, int(trials), seed=use_seed, coverage_probability=cov))
        data = result_dict(res, mcr, coverage_probability=cov, k=k, ndig=ndig,
                           model_info={"path": str(model_file), "title": mf.title, "reference": mf.reference,
                                       "sha256": mf.sha256})
    except (ModelError, LabautoError, ValueError) as exc:
        _fail(str(exc), 1)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    _print_human(mf, res, mcr, data, cov, k, as_markdown)


def _print_human(mf, res, mcr, data, cov, k, as_markdown: bool) -> None:  # type: ignore[no-untyped-def]
    console = Console()
    if mf.title and not as_markdown:
        console.print(f"[bold]{mf.title}[/bold]")
    for entry in data["outputs"]:
        y = entry["name"]
        budget = None
        if entry["coverage_factor"] is not None:
            budget = res.budget(y, coverage_probability=cov, k=k)
        if budget is not None:
            if as_markdown:
                sys.stdout.write(markdown(budget) + "\n")
            else:
                console.print(rich_table(budget))
                unit = entry["unit"]
                console.print(f"{y} = {entry['estimate']:.10g} {unit}, u_c = {entry['standard_uncertainty']:.4g} {unit}, "
                              f"ν_eff = {'∞' if entry['dof_eff'] is None else format(entry['dof_eff'], '.3g')}, "
                              f"k = {entry['coverage_factor']:.3f}, U = {entry['expanded_uncertainty']:.3g} {unit} "
                              f"(p = {cov:.0%})", highlight=False)
        else:
            b1 = res.budget(y, coverage_probability=cov, k=1.0)
            (sys.stdout.write(markdown(b1)) if as_markdown else console.print(rich_table(b1)))
            console.print(f"{y} = {entry['estimate']:.10g} {entry['unit']}, u_c = {entry['standard_uncertainty']:.4g} "
                          f"{entry['unit']}; no ν_eff/U: {entry['welch_satterthwaite']}", highlight=False)
        m = entry["monte_carlo"]
        if m:
            v = m["validation"]
            console.print(
                f"  Monte Carlo ({mcr.trials} trials, seed {mcr.seed}{'' if mcr.converged else ', NOT stabilised'}): "
                f"{y} = {m['estimate']:.10g}, u = {m['standard_uncertainty']:.4g}, {cov:.0%} interval "
                f"[{m['interval']['low']:.8g}, {m['interval']['high']:.8g}] {entry['unit']}"
                + ("" if v is None else f"; GUM {'validated' if v['validated'] else 'NOT validated'} "
                   f"(d_low = {v['d_low']:.2g}, d_high = {v['d_high']:.2g}, δ = {v['delta']:.2g})"),
                highlight=False)
    if "correlation" in data:
        names = data["correlation"]["outputs"]
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
        console.print("Correlation of the outputs (GUM): " + ", ".join(
            f"r({a},{b}) = {res.corr(a, b):.3f}" for a, b in pairs), highlight=False)


@app.command()
def examples() -> None:
    """List the example model files shipped with labauto."""
    console = Console()
    for f in sorted(EXAMPLES.glob("*.yaml")):
        try:
            title = load_model(f).title
        except LabautoError as exc:  # pragma: no cover - shipped files are tested
            title = f"(invalid: {exc})"
        console.print(f"{f}  {title}", highlight=False)

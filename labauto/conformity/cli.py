"""``labauto risk ...``: decision risks and guard bands from the command line.

    labauto risk global --tolerance -2,2 --u 0.25 --prior normal:0,1        R_C, R_P (JCGM 106 9.5)
    labauto risk global --upper 2 --u 0.25 --prior gamma:1,0.5 --target 0.001   guard band for R_C
    labauto risk guardband --rule dobbert --tur 4                            w, AL for a rule
    labauto risk specific --value 0.9 --u 0.05 --tolerance -1,1              p_c of one result

All values are plain numbers in one unit of your choice.  ``--json`` prints the result as JSON.
Exit status: 0 success, 2 invalid options (one line: ``error: ...``).
"""
from __future__ import annotations

import json
import math
from typing import Any, Optional

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Decision risks (JCGM 106): global R_C/R_P, guard bands, specific risk.")


def _fail(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {message}", highlight=False,
                                               markup=True)
    raise typer.Exit(2)


def _interval(tolerance: Optional[str], lower: Optional[float], upper: Optional[float]
              ) -> tuple[Optional[float], Optional[float]]:
    if tolerance is not None:
        if lower is not None or upper is not None:
            _fail("give --tolerance LOWER,UPPER (or ±T as one number), or --lower/--upper, not both")
        parts = [p.strip() for p in tolerance.split(",")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            _fail(f"--tolerance {tolerance!r}: give LOWER,UPPER or a half-width T (numbers)")
        if len(values) == 1:
            if not values[0] > 0:
                _fail(f"--tolerance {tolerance!r}: a half-width must be > 0")
            return -values[0], values[0]
        if len(values) != 2 or not values[0] < values[1]:
            _fail(f"--tolerance {tolerance!r}: give LOWER,UPPER with LOWER < UPPER")
        return values[0], values[1]
    if lower is None and upper is None:
        _fail("give the tolerance: --tolerance LOWER,UPPER, or --lower / --upper for one side")
    if lower is not None and upper is not None and not lower < upper:
        _fail(f"--lower {lower:g} must be below --upper {upper:g}")
    return lower, upper


def _print(data: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


def _pct(x: float) -> str:
    return f"{100 * x:.4g} %"


def _lim(x: Optional[float]) -> str:
    return "−∞" if x is None or x == -math.inf else ("+∞" if x == math.inf else f"{x:.6g}")


@app.command("global")
def global_cmd(
    u: float = typer.Option(..., "--u", help="standard uncertainty of the measurement"),
    prior: Optional[str] = typer.Option(None, "--prior",
                                        help="population: normal:MEAN,SD | gamma:MEAN,SD | "
                                             "rectangular:LO,HI | triangular:MEAN,A | t:MEAN,SCALE,DOF"),
    itp: Optional[float] = typer.Option(None, "--itp", help="instead of --prior: normal population "
                                        "centred in a two-sided tolerance, in tolerance with this probability"),
    tolerance: Optional[str] = typer.Option(None, "--tolerance", help="LOWER,UPPER or a half-width T"),
    lower: Optional[float] = typer.Option(None, "--lower", help="lower tolerance limit (one-sided)"),
    upper: Optional[float] = typer.Option(None, "--upper", help="upper tolerance limit (one-sided)"),
    guard_band: Optional[float] = typer.Option(None, "--guard-band", help="w: accept within T - w"),
    target: Optional[float] = typer.Option(None, "--target", help="solve w for this global R_C"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Global consumer's risk R_C and producer's risk R_P of a population (JCGM 106:2012 9.5)."""
    from labauto.conformity.global_risk import RiskError, global_risk
    from labauto.conformity.guardbands import guard_band_for_global_risk
    from labauto.conformity.priors import parse_prior

    lo, hi = _interval(tolerance, lower, upper)
    if (prior is None) == (itp is None):
        _fail("give the population as --prior NAME:PARAMS or --itp P (normal, centred), one of them")
    if guard_band is not None and target is not None:
        _fail("give --guard-band W or --target R_C, not both")
    if not (u > 0 and math.isfinite(u)):
        _fail(f"--u must be a finite number > 0, not {u:g}")
    try:
        if prior is not None:
            dist = parse_prior(prior)
            prior_text = prior
        else:
            from scipy.stats import norm
            if lo is None or hi is None or not 0 < itp < 1:     # type: ignore[operator]
                _fail("--itp needs a two-sided tolerance and a probability between 0 and 1")
            sd = 0.5 * (hi - lo) / float(norm.ppf(0.5 * (1 + itp)))     # type: ignore[operator]
            dist = norm(0.5 * (lo + hi), sd)
            prior_text = f"normal:{0.5 * (lo + hi):g},{sd:.6g} (in tolerance with p = {itp:g})"
        if target is not None:
            w, risk = guard_band_for_global_risk(dist, u, target, lower=lo, upper=hi)
        else:
            w = guard_band or 0.0
            acc = (None if lo is None else lo + w, None if hi is None else hi - w)
            risk = global_risk(dist, u, tolerance=(lo, hi), acceptance=acc)
    except (RiskError, ValueError) as exc:
        _fail(str(exc))
    data = {"prior": prior_text, "guard_band": w, **risk.to_dict(),
            "reference": "JCGM 106:2012 9.5"}
    _print(data, as_json, [
        f"population {prior_text}: conforming with p0 = {_pct(risk.conformance_probability)}",
        f"tolerance [{_lim(risk.tolerance[0])}, {_lim(risk.tolerance[1])}], u = {u:g}, "
        f"guard band w = {w:.6g}, acceptance [{_lim(risk.acceptance[0])}, {_lim(risk.acceptance[1])}]",
        f"consumer's risk R_C = {_pct(risk.consumer_risk)} (non-conforming and accepted)",
        f"producer's risk R_P = {_pct(risk.producer_risk)} (conforming and rejected)",
        f"accepted items non-conforming: {_pct(risk.conditional_consumer_risk)}"])


@app.command("guardband")
def guardband_cmd(
    rule: str = typer.Option(..., "--rule", help="U | rss | rp10 | dobbert | specific | global"),
    tur: Optional[float] = typer.Option(None, "--tur", help="test uncertainty ratio T/U (T = 1)"),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="half-width T (with --U)"),
    U: Optional[float] = typer.Option(None, "--U", help="expanded uncertainty U (with --tolerance)"),
    k: float = typer.Option(2.0, "--k", help="coverage factor of U (u = U/k)"),
    p: Optional[float] = typer.Option(None, "--p", help="specific: conformance probability at AL"),
    target: Optional[float] = typer.Option(None, "--target", help="global: R_C to reach"),
    itp: Optional[float] = typer.Option(None, "--itp", help="global: in-tolerance probability"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Guard band w and acceptance limit AL = T − w of a rule, for a TUR or for T and U."""
    from labauto.conformity.guarded import RiskBasedRule
    from labauto.conformity.guardbands import dobbert_multiplier

    if tur is not None and (tolerance is not None or U is not None):
        _fail("give --tur, or --tolerance and --U, not both")
    if tur is not None:
        if not (tur > 0 and math.isfinite(tur)):
            _fail(f"--tur must be a finite number > 0, not {tur:g}")
        T, Uv = 1.0, 1.0 / tur
    elif tolerance is not None and U is not None:
        if not (tolerance > 0 and U > 0):
            _fail("--tolerance and --U must be > 0")
        T, Uv = tolerance, U
    else:
        _fail("give --tur, or --tolerance T and --U U")
    names = {"U": "factor", "rss": "rss", "rp10": "rp10", "dobbert": "dobbert", "specific": "specific",
             "global": "global"}
    if rule not in names:
        _fail(f"unknown --rule {rule!r}; use one of {', '.join(names)}")
    if (rule == "specific") != (p is not None):
        _fail("--p belongs with --rule specific (and it needs it)")
    if (rule == "global") != (target is not None) or (rule == "global") != (itp is not None):
        _fail("--target and --itp belong with --rule global (and it needs both)")
    if not k > 0:
        _fail(f"--k must be > 0, not {k:g}")
    try:
        r = RiskBasedRule(mode="acceptance", method=names[rule], conformance_probability=p,
                          false_accept_risk=target, in_tolerance_probability=itp)
        w = r.guard_band(T, Uv, k)
    except ValueError as exc:
        _fail(str(exc))
    data: dict[str, Any] = {"rule": rule, "name": r.name, "tolerance": T, "U": Uv, "k": k,
                            "tur": T / Uv, "guard_band": w, "guard_band_over_U": w / Uv,
                            "acceptance_limit": max(T - w, 0.0), "acceptance_limit_over_T": max(T - w, 0.0) / T}
    if rule == "dobbert":
        data["dobbert_M"] = dobbert_multiplier(T / Uv)
    lines = [f"{r.name}: TUR = {T / Uv:.4g}, w = {w:.6g} ({w / Uv:.4g} U), "
             f"AL = {max(T - w, 0.0):.6g} ({100 * max(T - w, 0.0) / T:.4g} % of T)",
             r.guard_band_text]
    _print(data, as_json, lines)


@app.command("specific")
def specific_cmd(
    value: float = typer.Option(..., "--value", help="measured value (or error of indication)"),
    u: Optional[float] = typer.Option(None, "--u", help="standard uncertainty"),
    U: Optional[float] = typer.Option(None, "--U", help="expanded uncertainty (with --k)"),
    k: float = typer.Option(2.0, "--k", help="coverage factor of --U"),
    tolerance: Optional[str] = typer.Option(None, "--tolerance", help="LOWER,UPPER or a half-width T"),
    lower: Optional[float] = typer.Option(None, "--lower", help="lower tolerance limit (one-sided)"),
    upper: Optional[float] = typer.Option(None, "--upper", help="upper tolerance limit (one-sided)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Conformance probability p_c of one result and the specific risk of accepting or rejecting
    it (JCGM 106:2012 7.4, 9.3; normal measurement model)."""
    from labauto.conformity.guardbands import conformance_probability_at

    lo, hi = _interval(tolerance, lower, upper)
    if (u is None) == (U is None):
        _fail("give the uncertainty as --u (standard) or --U (expanded, with --k), one of them")
    s = u if u is not None else U / k       # type: ignore[operator]
    if not (s > 0 and math.isfinite(s) and k > 0):
        _fail("the uncertainty and --k must be finite numbers > 0")
    p_c = conformance_probability_at(value, s, lo, hi)
    data = {"value": value, "u": s, "tolerance": {"lower": lo, "upper": hi},
            "conformance_probability": p_c, "risk_if_accepted": 1 - p_c, "risk_if_rejected": p_c,
            "reference": "JCGM 106:2012 7.4"}
    _print(data, as_json, [
        f"value {value:g}, u = {s:g}, tolerance [{_lim(lo)}, {_lim(hi)}]",
        f"conformance probability p_c = {_pct(p_c)}",
        f"specific risk: {_pct(1 - p_c)} if accepted (false accept), {_pct(p_c)} if rejected"])

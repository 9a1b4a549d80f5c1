"""``labauto interval show ASSET``: the recommended calibration interval and its evidence.

Reads the item's as-found history from the equipment register (``--register`` or the lab
file's ``register:``), with ``--pool`` the history of every item of the same manufacturer and
model, and prints the observations, NCSLI RP-1 method A3 (interval test) and method S2
(binomial method, exponential and Weibull reliability models), and the recommendation: S2's
interval when a model is accepted, else A3's.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from labauto.quality.cli import (LAB_OPT, REGISTER_OPT, console, open_store, print_table,
                                  user_errors)

app = typer.Typer(help="Calibration intervals from as-found history (NCSLI RP-1 A3, S2).",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def main() -> None:
    """Calibration intervals from as-found history (NCSLI RP-1 A3, S2)."""


def analyse(items: list[Any], item: Any, *, confidence: float, window: float,
            max_change: float) -> dict[str, Any]:
    from labauto.quality.intervals import method_a3, method_s2, observations

    obs, notes = observations(items)
    a3 = method_a3(obs, item.interval_days, item.reliability_target, confidence=confidence,
                   window=window, max_change=max_change)
    s2 = method_s2(obs, item.reliability_target, confidence=confidence)
    if s2.recommended is not None:
        method, days = f"S2 ({s2.chosen} model)", s2.recommended
    else:
        method, days = "A3", a3.recommended
    return {"item": item.asset_id, "pooled": [i.asset_id for i in items],
            "current_days": item.interval_days, "reliability_target": item.reliability_target,
            "observations": [{"asset_id": o.asset_id, "from": o.start.isoformat(),
                              "to": o.end.isoformat(), "days": o.days,
                              "in_tolerance": o.in_tolerance, "certificate": o.certificate_id}
                             for o in obs],
            "notes": notes, "a3": a3.to_dict(), "s2": s2.to_dict(),
            "recommended": {"method": method, "days": round(days, 1)}}


def _days(days: float) -> str:
    from labauto.quality.records import format_interval
    text = format_interval(days)
    return f"{days:g} d" + (f" ({text})" if text.endswith("months") else "")


def _print(r: dict[str, Any]) -> None:
    pooled = f" (pooled: {', '.join(r['pooled'])})" if len(r["pooled"]) > 1 else ""
    console.print(f"[bold]{r['item']}[/bold]{pooled}: current interval "
                  f"{_days(r['current_days'])}, reliability "
                  f"target {r['reliability_target']:g}")
    table = Table(title=f"as-found history: {len(r['observations'])} observations")
    for col in ("asset", "from", "to", "days", "as found", "certificate"):
        # nothing cut: the certificate folds in a narrow terminal, the rest stays whole
        table.add_column(col, justify="right" if col == "days" else "left",
                         no_wrap=col != "certificate", overflow="fold")
    for o in r["observations"]:
        table.add_row(o["asset_id"], o["from"], o["to"], f"{o['days']:g}",
                      "in" if o["in_tolerance"] else "OUT", o["certificate"],
                      style=None if o["in_tolerance"] else "red")
    if not print_table(table):          # a narrow terminal: one line per observation
        console.print(f"as-found history: {len(r['observations'])} observations")
        for o in r["observations"]:
            console.print(f"  {o['asset_id']} {o['from']} to {o['to']} ({o['days']:g} d): "
                          f"{'in' if o['in_tolerance'] else 'OUT'} {o['certificate']}",
                          style=None if o["in_tolerance"] else "red", markup=False)
    for note in r["notes"]:
        console.print(f"  note: {note}")
    a3 = r["a3"]
    console.print(f"[bold]A3 interval test[/bold] (confidence {a3['confidence']:g}, "
                  f"resubmission times {a3['window_days'][0]:.0f}-{a3['window_days'][1]:.0f} d):")
    if a3["n"]:
        lo, hi = a3["limits"]
        console.print(f"  {a3['in_tolerance']} of {a3['n']} in tolerance: R = "
                      f"{a3['observed_reliability']:.3f}, limits {lo:.3f} to {hi:.3f}; target "
                      f"{a3['target']:g} rejected with confidence "
                      f"{a3['rejection_confidence']:.4f} -> {a3['verdict']}: "
                      f"{a3['recommended_days']:.1f} d")
    else:
        console.print("  no observation near the current interval: keep it")
    s2 = r["s2"]
    console.print(f"[bold]S2 binomial method[/bold] ({s2['n']} observations):")
    for b in s2["bins"]:
        console.print(f"  bin {b['from_days']:g}-{b['to_days']:g} d (mean {b['mean_days']:.0f} d):"
                      f" {b['in_tolerance']}/{b['n']} in tolerance, R = {b['reliability']:.3f}")
    for m in s2["models"]:
        params = ", ".join(f"{k} {v:.4g}" for k, v in m["parameters"].items())
        console.print(f"  {m['name']}: {params}; AIC {m['aic']:.2f}; fit p = {m['p_value']:.3f} "
                      f"({'accepted' if m['accepted'] else 'rejected'}); interval "
                      f"{m['interval']:.1f} d")
    for note in s2["notes"]:
        console.print(f"  note: {note}")
    rec = r["recommended"]
    console.print(f"[bold]recommended interval: {_days(rec['days'])} by method "
                  f"{rec['method']}[/bold]")


@app.command()
def show(asset_id: str,
         pool: bool = typer.Option(False, help="pool every item of the same make and model"),
         confidence: float = typer.Option(0.90, help="confidence of the tests"),
         window: float = typer.Option(0.25, help="A3: resubmission times within ±window×interval"),
         max_change: float = typer.Option(2.0, help="A3: at most this factor of change"),
         as_json: bool = typer.Option(False, "--json", help="machine-readable"),
         register: Optional[str] = REGISTER_OPT, lab: Optional[Path] = LAB_OPT) -> None:
    """The recommended interval of ASSET and the evidence (A3 and S2)."""
    from labauto.quality.intervals import IntervalError
    with user_errors():
        store = open_store(register, lab)
        item = store.get(asset_id)
        items = [i for i in store.items() if i.manufacturer.casefold() == item.manufacturer.casefold()
                 and i.model == item.model] if pool else [item]
        if not 0.5 <= confidence < 1:
            raise IntervalError(f"--confidence {confidence}: use a value from 0.5 to 0.999")
        result = analyse(items, item, confidence=confidence, window=window,
                         max_change=max_change)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)

"""``labauto register check ITEM``: an intermediate check from the command line.

The item (a meter) reads a check standard; the value is judged on the item's control chart and
recorded in the register; out of control, the item is quarantined and the certificates issued
with it since its last good check are listed.  By default this runs the Prefect flow
``check-standard`` (flows/check_standard.py: instrument slots, report and chart as artifacts);
``--no-prefect`` runs the same steps here.  Exit status: 0 in control (or a baseline check),
3 out of control (the item is now quarantined), 1 a check that could not be made.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from labauto.quality.cli import LAB_OPT, REGISTER_OPT, app, console, resolve_location, user_errors

OUT_OF_CONTROL_EXIT = 3


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``["nplc=10", "autozero=ON"]`` -> ``{"nplc": 10, "autozero": "ON"}``."""
    from labauto.quality.records import RegisterError

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = (p.strip() for p in pair.partition("="))
        if not sep or not key or not text:
            raise RegisterError(f"--setting {pair!r}: write KEY=VALUE, e.g. nplc=10")
        value: Any = text
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
        out[key] = value
    return out


def run_here(location: str, item: str, check_standard: str, resource: str, *, model: str,
             function: str, range_: str, readings: int, settings: dict[str, Any],
             certificates: list[Path], platform_url: Optional[str], report_dir: Path,
             timeout_ms: int) -> dict[str, Any]:
    """The flow's steps without Prefect: measure, judge and record, report."""
    from labauto.quality import checks
    from labauto.quality.register import open_register

    store = open_register(location)
    checks.usable_check_standard(store, check_standard)
    value, unit = checks.measure_check(resource, model, store.get(item), function, range_,
                                       readings, timeout_ms=timeout_ms, **settings)
    outcome = checks.judge_and_record(store, item, value, unit, check_standard=check_standard,
                                      certificates=certificates, platform_url=platform_url,
                                      by="labauto register check")
    png, report = checks.write_report(outcome, report_dir)
    return {**outcome.to_dict(), "png": str(png), "report": str(report),
            "verdict": outcome.verdict}


def run_flow(location: str, item: str, check_standard: str, resource: str, *, model: str,
             function: str, range_: str, readings: int, settings: dict[str, Any],
             certificates: list[Path], platform_url: Optional[str], report_dir: Path,
             timeout_ms: int) -> dict[str, Any]:
    """The Prefect flow ``check-standard`` (PREFECT_API_URL, else Prefect's embedded server)."""
    from labauto.cli import _quiet_prefect

    _quiet_prefect()
    from flows.check_standard import check_standard as flow
    from flows.instrument_slots import unreachable
    from labauto.errors import LabautoError

    try:
        return flow(item=item, check_standard=check_standard, resource=resource,
                    equipment_register=location, model=model, function=function, range_=range_,
                    readings=readings, settings=settings,
                    certificates=[str(c) for c in certificates], platform_url=platform_url,
                    report_dir=str(report_dir), timeout_ms=timeout_ms)
    except Exception as exc:  # noqa: BLE001 - a server that does not answer is one line
        if unreachable(exc) is None:
            raise
        raise LabautoError(unreachable(exc) + "; or check here with --no-prefect") from None


def say(result: dict[str, Any]) -> None:
    """The result for the technician: value, verdict, limits, rules, status, recall, files."""
    c, lim = result["check"], result["limits"]
    lines = [f"{result['item']} read {c.get('check_standard', '?')}: {c['value']:.9g} {c['unit']}",
             f"verdict: {result['verdict']}"]
    if lim is None:
        from labauto.quality.checks import baseline_text
        lines.append(f"  {baseline_text(result['baseline_needed'])}")
    else:
        lines.append(f"  centre line {lim['center']:.9g} {c['unit']}, sigma {lim['sigma']:.3g} "
                     f"{c['unit']}, limits {lim['lcl']:.9g} to {lim['ucl']:.9g} {c['unit']}")
    lines += [f"  {v['rule']}: {v['description']}" for v in result["violations"]]
    lines.append(f"item status: {result['status']}")
    if result["verdict"] == "OUT OF CONTROL":
        since = result["last_good"][:10] if result["last_good"] else "its last calibration"
        lines.append(f"recall impact: certificates issued with {result['item']} since {since}:")
        lines += [f"  {r['certificate_id']}  {r['calibration_date']}  via {r['via']}  "
                  f"({r['source']})" for r in result["recall"]] or ["  none found"]
        if result["recall_note"]:
            lines.append(f"  INCOMPLETE: {result['recall_note']}")
    lines.append(f"chart: {result['png']}")
    lines.append(f"report: {result['report']}")
    for line in lines:
        console.print(escape(line))


@app.command("check")
def check(
        asset_id: str = typer.Argument(..., metavar="ITEM",
                                       help="the item checked (a meter in the register)"),
        check_standard: str = typer.Option(..., "--check-standard", help="the check standard's "
                                           "asset id (role check_standard, in service)"),
        resource: str = typer.Option(..., "--resource", help="VISA resource of the item"),
        model: str = typer.Option("keysight_34465a", help="the item's driver model"),
        function: str = typer.Option("DCV", help="measurement function (DCV, RES4W ...)"),
        range_: str = typer.Option("10 V", "--range", help="measurement range"),
        readings: int = typer.Option(10, help="readings averaged into the chart's value"),
        setting: list[str] = typer.Option([], "--setting", help="instrument setting KEY=VALUE, "
                                          "e.g. nplc=10 (repeat)"),
        certificates: list[Path] = typer.Option(
            [], "--certificates", help="the lab's certificate folder(s) searched for the recall "
            "impact (<folder>/<id>/certificate.json; repeat)"),
        platform_url: Optional[str] = typer.Option(
            None, "--platform-url", envvar="LABAUTO_PLATFORM_URL",
            help="the NQI platform, asked for the dependents of the item's certificates"),
        report_dir: Path = typer.Option(Path("checks"), "--report-dir",
                                        help="folder of the chart PNG and the report"),
        timeout_ms: int = typer.Option(10000, help="VISA timeout per command"),
        prefect: bool = typer.Option(True, "--prefect/--no-prefect",
                                     help="run the Prefect flow check-standard (artifacts, "
                                          "instrument slots) or the same steps here"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable result"),
        register: Optional[str] = REGISTER_OPT, lab: Optional[Path] = LAB_OPT) -> None:
    """Intermediate check: ITEM reads the check standard; the value is judged on ITEM's control
    chart and recorded; out of control, ITEM is quarantined and the certificates issued with it
    since its last good check are listed (exit status 3)."""
    with user_errors():
        location = resolve_location(register, lab)
        kw = dict(model=model, function=function, range_=range_, readings=readings,
                  settings=parse_settings(setting), certificates=list(certificates),
                  platform_url=platform_url, report_dir=report_dir, timeout_ms=timeout_ms)
        result = (run_flow if prefect else run_here)(location, asset_id, check_standard,
                                                     resource, **kw)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        say(result)
    if result["verdict"] == "OUT OF CONTROL":
        raise typer.Exit(OUT_OF_CONTROL_EXIT)

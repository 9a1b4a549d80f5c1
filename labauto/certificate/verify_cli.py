"""``labauto dcc verify FILE``: verify any DCC — schema and PTB's rules for the version it
declares, its XML signature, the signer's chain to a trust anchor at the signing time — offline,
stage by stage (the same :class:`~labauto.platform.server.verification.Verifier` as
``POST /api/v1/verify``).

    labauto dcc verify DCC.xml [--trust-anchor PEM ...] [--intermediate PEM ...]
                               [--crl DER ...] [--platform URL] [--schema-dir DIR] [--json]

A XAdES-T time-stamp is trusted when its TSA chains to a ``--trust-anchor`` (give the
platform's CA, ``GET /api/v1/ca``); its time is then the time the chain is judged at.  The
revocation stage checks the signer against the ``--crl`` of its issuer (with ``--platform``, the
platform CA's CRL is fetched too).

Exit status: 0 valid (every stage passed or only warned), 1 not valid (a stage failed, or could
not be checked: e.g. no trust anchor given), 2 usage error (file not found, unreadable PEM, no
schema folder).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape as esc

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

app = typer.Typer(no_args_is_help=True, help="Check Digital Calibration Certificates (DCC XML).")
_MARK = {"pass": "[green]pass[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]",
         "skip": "[dim]skip[/dim]"}


@app.callback()
def main() -> None:
    """Check Digital Calibration Certificates (DCC XML)."""


def _usage(console: Console, msg: str) -> None:
    console.print(f"[red]error:[/red] {esc(msg)}")
    raise typer.Exit(EXIT_USAGE)


def _platform_lookup(url: str):
    import httpx

    def lookup(sha256: str):
        r = httpx.get(f"{url.rstrip('/')}/api/v1/verify", params={"sha256": sha256}, timeout=15)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()
    return lookup


def _platform_crl(url: str) -> list[bytes]:
    """The platform CA's CRL, if the platform runs a CA and answers (else none: the revocation
    stage then says no CRL is known)."""
    import httpx

    try:
        r = httpx.get(f"{url.rstrip('/')}/api/v1/crl", timeout=15)
    except httpx.HTTPError:
        return []
    return [r.content] if r.status_code == 200 else []


@app.command()
def verify(file: Path = typer.Argument(..., help="the DCC XML file"),
           trust_anchor: Optional[List[Path]] = typer.Option(
               None, "--trust-anchor", help="PEM file of trusted root (or other CA) certificates; repeatable"),
           intermediate: Optional[List[Path]] = typer.Option(
               None, "--intermediate", help="PEM file of intermediate CA certificates; repeatable"),
           platform: Optional[str] = typer.Option(
               None, "--platform", envvar="LABAUTO_PLATFORM_URL",
               help="platform base URL: also say whether it holds this document"),
           crl: Optional[List[Path]] = typer.Option(
               None, "--crl", help="DER CRL file of a CA of the chain (revocation stage); repeatable. "
               "With --platform its CRL (GET /api/v1/crl) is fetched too"),
           schema_dir: Optional[Path] = typer.Option(
               None, "--schema-dir", help="PTB's DCC schema folder (default: LABAUTO_DCC_DIR/schema, ../shared/dcc/schema)"),
           as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Verify a DCC file; exit 0 if valid, 1 if not, 2 on a usage error."""
    from labauto.certificate import pki
    from labauto.config import dcc_schema_dir as default_schema_dir
    from labauto.platform.server.dcc import SchemaRegistry
    from labauto.platform.server.verification import Verifier

    console = Console(stderr=as_json, soft_wrap=True)     # long lines stay whole in a pipe
    if not file.is_file():
        _usage(console, f"{file}: no such file")
    anchors, intermediates = [], []
    for paths, out in ((trust_anchor or [], anchors), (intermediate or [], intermediates)):
        for p in paths:
            try:
                out.extend(pki.load_certificates(p.read_bytes()))
            except (OSError, pki.PKIError) as exc:
                _usage(console, f"{p}: {exc}")
    folder = schema_dir or default_schema_dir()
    if folder is None or not Path(folder).is_dir():
        _usage(console, "PTB's DCC schema folder was not found: pass --schema-dir or set LABAUTO_DCC_DIR")
    try:
        xml = file.read_bytes()
    except OSError as exc:
        _usage(console, f"{file}: {exc.strerror}")
    crls = []
    for p in crl or []:
        try:
            crls.append(p.read_bytes())
        except OSError as exc:
            _usage(console, f"{p}: {exc.strerror}")
    if platform:
        crls += _platform_crl(platform)
    from labauto.platform.server.trust_stages import crl_from, crl_revocation_check, timestamp_time_check
    try:
        crl_source = crl_from(crls)
    except pki.PKIError as exc:
        _usage(console, f"--crl: {exc}")
    # one document: the rules run in this process (a worker process would only add its start)
    verifier = Verifier(SchemaRegistry(folder, any_version=True, rule_processes=0), anchors,
                        platform=_platform_lookup(platform) if platform else None,
                        time_check=timestamp_time_check(), revocation_check=crl_revocation_check(crl_source))
    report = verifier.verify(xml, intermediates=intermediates)
    if as_json:
        print(json.dumps(report.json(), indent=2))
    else:
        _print(console, file, report)
    raise typer.Exit(EXIT_VALID if report.valid else EXIT_INVALID)


def _print(console: Console, file: Path, report) -> None:
    console.print(f"[bold]{esc(str(file))}[/bold]  sha256 {report.sha256}")
    if report.certificate_id:
        console.print(f"certificate {esc(report.certificate_id)}, DCC {report.schema_version or '?'}")
    for s in report.stages:
        console.print(f"  {_MARK.get(s.status, s.status):>4}  {s.name:<11} {esc(s.detail)}")
        for kind in ("errors", "warnings"):
            more = s.data.get(kind, [])[3:]
            for f in more[:7]:
                console.print(f"{'':19}{kind[:-1]}: line {f['line']}: {esc(f['message'])}")
            if len(more) > 7:
                console.print(f"{'':19}... {len(more) - 7} more {kind} (--json lists them all)")
    console.print("[green]VALID[/green]" if report.valid else "[red]NOT VALID[/red]")

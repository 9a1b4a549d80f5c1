"""``labauto publish``: the lab's side of the NQI platform — the durable outbox and its delivery.

    labauto publish send DCC.xml [--pdf F] [--json F]   queue durably, then deliver the outbox
    labauto publish add DCC.xml [--pdf F] [--json F]    queue only (deliver later with drain)
    labauto publish drain [--deadline S] [--now]        deliver what is due, retrying until S
    labauto publish status [--state S]                  the outbox, entry by entry
    labauto publish verify CERT_ID                      check a published certificate
    labauto publish retry CERT_ID                       queue a rejected entry again, unchanged

Platform: ``--url``/LABAUTO_PLATFORM_URL and ``--token``/LABAUTO_PLATFORM_TOKEN; outbox file:
``--outbox``, else LABAUTO_OUTBOX, else ``outbox.sqlite3`` in the lab home (``--lab-home``,
LABAUTO_HOME, ``home:`` of the lab file, ``~/.labauto``; see ``labauto.labhome``), which every
command prints.
Exit status: 0 done, 1 rejected / refused / not verified, 2 usage or configuration error,
3 still queued (the outbox keeps it; run ``labauto publish drain`` later).
"""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape as esc
from rich.table import Table

from labauto.errors import LabautoError
from labauto.platform.client import PlatformClient, PlatformError, PlatformUnavailable
from labauto.platform.outbox import STATES, Outbox, OutboxConflict, OutboxEntry
from labauto.platform.publisher import DrainReport, drain as drain_outbox

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG, EXIT_QUEUED = 0, 1, 2, 3

app = typer.Typer(no_args_is_help=True, help="Publish certificates to the NQI platform through the "
                  "durable outbox.")
console = Console()

URL = typer.Option(None, "--url", envvar="LABAUTO_PLATFORM_URL", help="platform base URL")
TOKEN = typer.Option(None, "--token", envvar="LABAUTO_PLATFORM_TOKEN", help="the lab's API token",
                     show_default=False)
OUTBOX = typer.Option(None, "--outbox", help="outbox file (default: LABAUTO_OUTBOX or "
                      "outbox.sqlite3 in the lab home)")
LAB_HOME = typer.Option(None, "--lab-home", help="lab home (default: LABAUTO_HOME, else home: in "
                        "the lab file LABAUTO_LAB, else ~/.labauto)")
TIMEOUT = typer.Option(30.0, "--timeout", min=0.1, help="seconds per HTTP request")
DEADLINE = typer.Option(30.0, "--deadline", min=0.0, help="seconds to keep retrying")
PDF = typer.Option(None, "--pdf", exists=True, dir_okay=False, help="the PDF certificate")
JSON = typer.Option(None, "--json", exists=True, dir_okay=False, help="the JSON form")
DCC = typer.Argument(..., exists=True, dir_okay=False, help="the signed DCC XML")


def _fail(msg: str, code: int = EXIT_REFUSED) -> None:
    console.print(f"[red]error:[/red] {esc(msg)}")
    raise typer.Exit(code)


def _outbox(path: Optional[Path], lab_home: Optional[Path] = None) -> Outbox:
    from labauto.config import outbox_path
    from labauto.labhome import select_lab_home
    try:
        console.print(esc(f"Lab home: {select_lab_home(lab_home).describe()}"))
        return Outbox(path or outbox_path())
    except LabautoError as exc:
        _fail(str(exc), EXIT_CONFIG)


def _client(url: Optional[str], token: Optional[str], timeout: float, *, need_token: bool) -> PlatformClient:
    if not url:
        _fail("no platform configured: give --url or set LABAUTO_PLATFORM_URL", EXIT_CONFIG)
    if need_token and not token:
        _fail("no API token: give --token or set LABAUTO_PLATFORM_TOKEN (the platform admin issues "
              "one per lab)", EXIT_CONFIG)
    try:
        return PlatformClient(url, token, timeout=timeout)
    except PlatformError as exc:
        _fail(str(exc), EXIT_CONFIG)


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return dt.datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _detail(e: OutboxEntry, now: float) -> str:
    if e.state == "acknowledged":
        how = "stored" if e.platform_created else "already present"
        return f"platform: {e.platform_status or '?'} v{e.platform_version or '?'} ({how}) {_when(e.acknowledged_at)}"
    if e.state == "rejected":
        stage = f" at {e.rejected_stage}" if e.rejected_stage else ""
        return f"HTTP {e.http_status or '?'}{stage}: {e.last_error}"
    due = "due now" if e.next_attempt_at is None or e.next_attempt_at <= now else \
        f"next try in {e.next_attempt_at - now:.0f} s"
    return due + (f"; last error: {e.last_error}" if e.last_error else "")


def _enqueue(box: Outbox, dcc: Path, pdf: Optional[Path], json: Optional[Path]) -> OutboxEntry:
    try:
        entry = box.enqueue(dcc.read_bytes(), pdf=pdf.read_bytes() if pdf else None,
                            json=json.read_bytes() if json else None)
    except OutboxConflict as exc:
        _fail(str(exc))
    except LabautoError as exc:
        _fail(f"{dcc}: {exc}")
    amend = f", amends {entry.replaces}" if entry.replaces else ""
    console.print(esc(f"queued {entry.certificate_id}{amend} (sha256 {entry.sha256}) in {box.path}: "
                      f"{entry.state}"))
    return entry


def _run_drain(box: Outbox, client: PlatformClient, deadline: float) -> DrainReport:
    with client:
        report = drain_outbox(box, client, deadline_s=deadline)
    colour = "green" if report.ok else ("red" if report.rejected or report.stopped else "yellow")
    console.print(f"[{colour}]drain:[/{colour}] {esc(str(report))}")
    for cid, reason in report.rejections:
        console.print(f"  [red]rejected[/red] {esc(cid)}: {esc(reason)}")
    return report


@app.command()
def add(dcc: Path = DCC, pdf: Optional[Path] = PDF, json: Optional[Path] = JSON,
        outbox: Optional[Path] = OUTBOX, lab_home: Optional[Path] = LAB_HOME) -> None:
    """Queue a signed DCC durably, without contacting the platform."""
    _enqueue(_outbox(outbox, lab_home), dcc, pdf, json)


@app.command()
def send(dcc: Path = DCC, pdf: Optional[Path] = PDF, json: Optional[Path] = JSON,
         url: Optional[str] = URL, token: Optional[str] = TOKEN, outbox: Optional[Path] = OUTBOX,
         lab_home: Optional[Path] = LAB_HOME,
         deadline: float = DEADLINE, timeout: float = TIMEOUT) -> None:
    """Queue a signed DCC durably, then deliver the outbox (this document included)."""
    box = _outbox(outbox, lab_home)
    entry = _enqueue(box, dcc, pdf, json)
    if entry.state == "pending":
        if not url or not token:
            console.print("[yellow]not sent:[/yellow] no platform configured (--url/--token or "
                          "LABAUTO_PLATFORM_URL/LABAUTO_PLATFORM_TOKEN); it stays queued for "
                          "`labauto publish drain`")
            raise typer.Exit(EXIT_QUEUED)
        _run_drain(box, _client(url, token, timeout, need_token=True), deadline)
        entry = box.entry(entry.seq)
    console.print(esc(f"{entry.certificate_id}: {entry.state} — {_detail(entry, time.time())}"))
    raise typer.Exit({"acknowledged": EXIT_OK, "rejected": EXIT_REFUSED}.get(entry.state, EXIT_QUEUED))


@app.command()
def drain(url: Optional[str] = URL, token: Optional[str] = TOKEN, outbox: Optional[Path] = OUTBOX,
         lab_home: Optional[Path] = LAB_HOME,
          deadline: float = DEADLINE, timeout: float = TIMEOUT,
          now: bool = typer.Option(False, "--now", help="ignore the backoff schedule: try every "
                                   "pending entry now")) -> None:
    """Deliver the due entries of the outbox, retrying transient failures until the deadline."""
    box = _outbox(outbox, lab_home)
    client = _client(url, token, timeout, need_token=True)
    if now:
        box.retry_now()
    report = _run_drain(box, client, deadline)
    if report.configuration_error:
        raise typer.Exit(EXIT_CONFIG)
    if report.rejected:
        raise typer.Exit(EXIT_REFUSED)
    if report.remaining:
        raise typer.Exit(EXIT_QUEUED)


@app.command()
def status(outbox: Optional[Path] = OUTBOX, lab_home: Optional[Path] = LAB_HOME,
           state: Optional[str] = typer.Option(None, "--state", help="only entries in this state: "
                                               + ", ".join(STATES))) -> None:
    """Show the outbox: every entry, its state and the platform's last answer."""
    box = _outbox(outbox, lab_home)
    try:
        entries = box.entries(state)
    except LabautoError as exc:
        _fail(str(exc), EXIT_CONFIG)
    counts = box.counts()
    now = time.time()
    table = Table(title=f"outbox {box.path}", show_lines=False)
    for col in ("#", "certificate", "state", "sha256", "queued", "tries", "detail"):
        table.add_column(col, overflow="fold")
    colour = {"acknowledged": "green", "pending": "yellow", "rejected": "red"}
    for e in entries:
        cid = e.certificate_id + (f" (amends {e.replaces})" if e.replaces else "")
        table.add_row(str(e.seq), esc(cid), f"[{colour[e.state]}]{e.state}[/]", e.sha256[:12],
                      _when(e.enqueued_at), str(e.attempts), esc(_detail(e, now)))
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))


@app.command()
def verify(certificate_id: str = typer.Argument(..., help="the certificate id"),
           url: Optional[str] = URL, token: Optional[str] = TOKEN, outbox: Optional[Path] = OUTBOX,
           lab_home: Optional[Path] = LAB_HOME,
           timeout: float = TIMEOUT) -> None:
    """Check a published certificate: record, stored document hash, XML signature, signer,
    status, and that it is the document this lab queued."""
    box = _outbox(outbox, lab_home)
    with _client(url, token, timeout, need_token=False) as client:
        try:
            v = client.verify(certificate_id)
        except PlatformError as exc:
            _fail(str(exc), EXIT_QUEUED if isinstance(exc, PlatformUnavailable) else EXIT_REFUSED)
    local = box.get(certificate_id)
    rec = v.record
    ok = "[green]yes[/green]"
    no = "[red]NO[/red]"
    table = Table(title=esc(f"certificate {certificate_id} on {client.base_url}"), show_header=False)
    table.add_column("check")
    table.add_column("result", overflow="fold")
    table.add_row("status", esc(f"{v.status} (version {rec.get('version')}, lab {rec.get('lab')}, "
                                f"{rec.get('accreditation_id')})"))
    if rec.get("revocation_reason"):
        table.add_row("revocation reason", esc(str(rec["revocation_reason"])))
    if rec.get("superseded_by"):
        table.add_row("superseded by", esc(str(rec["superseded_by"])))
    table.add_row("sha256", v.document_sha256)
    table.add_row("stored document hashes to it", ok if v.hash_ok else no)
    table.add_row("XML signature verifies", ok if v.signature_ok else f"{no} {esc(v.signature_error or '')}")
    table.add_row("signed by the recorded signer", ok if v.signer_ok else no)
    local_ok = True
    if local is None:
        table.add_row("in this lab's outbox", "no entry")
    elif local.sha256 == v.document_sha256:
        table.add_row("in this lab's outbox", f"{ok} same sha256 ({local.state})")
    elif local.state == "pending":
        table.add_row("in this lab's outbox", f"a newer version is still pending (sha256 {local.sha256[:12]}…)")
    else:
        local_ok = False
        table.add_row("in this lab's outbox", f"{no} the outbox holds sha256 {local.sha256} ({local.state})")
    console.print(table)
    if not (v.valid and local_ok):
        raise typer.Exit(EXIT_REFUSED)


@app.command()
def retry(certificate_id: str = typer.Argument(..., help="the certificate id"),
          outbox: Optional[Path] = OUTBOX, lab_home: Optional[Path] = LAB_HOME) -> None:
    """Queue a rejected entry again, unchanged (after fixing what the platform objected to
    outside the document, e.g. registering the lab's signing certificate)."""
    box = _outbox(outbox, lab_home)
    entry = box.get(certificate_id)
    if entry is None:
        _fail(f"no entry for {certificate_id} in the outbox {box.path}")
    if entry.state != "rejected":
        _fail(f"{certificate_id} is {entry.state}, not rejected; nothing to retry")
    entry = box.requeue(entry.seq)
    console.print(esc(f"{certificate_id} queued again (sha256 {entry.sha256}); run `labauto publish drain`"))

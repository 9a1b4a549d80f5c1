"""``labauto platform`` commands of accreditation (on the database directly, like register-lab):

    labauto platform register-body --name DAkkS [--country DE]      (prints the body id and a token)
    labauto platform issue-body-token --body-id ID
    labauto platform import-scope FILE --lab-id ID --body-id ID --valid-from DATE [--valid-until DATE]
    labauto platform suspend --lab-id ID --body-id ID --reason TEXT [--from DATE]
    labauto platform reinstate --lab-id ID --body-id ID [--on DATE]
    labauto platform withdraw --lab-id ID --body-id ID --reason TEXT [--from DATE]
    labauto platform show-scope --lab-id ID [--date DATE]
    labauto platform search --quantity "DC voltage" [--value "10 V"] [--max-cmc "5 µV/V"] [--frequency F]

A running server offers the same over HTTP (docs/accreditation.md): bodies use their own tokens.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Optional

import typer


def _date(text: Optional[str], what: str) -> Optional[dt.date]:
    from labauto.platform.cli import _fail
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        _fail(f"{what} {text!r} is not a date (write YYYY-MM-DD)")


def register(app: typer.Typer) -> None:
    """Add the accreditation commands to the ``labauto platform`` app."""
    from labauto.platform.cli import DB_OPT, _fail, _session, console

    @app.command("register-body")
    def register_body(name: str = typer.Option(..., help="accreditation body name"),
                      country: Optional[str] = typer.Option(None, help="country code"),
                      db: Optional[str] = DB_OPT) -> None:
        """Register an accreditation body and print its id and a new API token (shown once)."""
        from labauto.platform.server import scope
        with _session(db, migrate=True) as session:
            body = scope.register_body(session, name, country, actor="cli")
            token = scope.issue_body_token(session, body.id, actor="cli").token
            body_id = body.id
        typer.echo(f"body {body_id}: {name}", err=True)
        typer.echo(f"token: {token}")

    @app.command("issue-body-token")
    def issue_body_token(body_id: int = typer.Option(..., help="body id (from register-body)"),
                         db: Optional[str] = DB_OPT) -> None:
        """Issue another API token for an accreditation body (shown once)."""
        from labauto.platform.server import scope
        with _session(db) as session:
            issued = scope.issue_body_token(session, body_id, actor="cli")
        typer.echo(f"token id {issued.id} for body {body_id}", err=True)
        typer.echo(f"token: {issued.token}")

    @app.command("import-scope")
    def import_scope(file: Path = typer.Argument(..., help="the scope: CSV or JSON (docs/accreditation.md)"),
                     lab_id: int = typer.Option(..., help="lab id"),
                     body_id: int = typer.Option(..., help="the accreditation body registering it"),
                     valid_from: Optional[str] = typer.Option(None, help="first day valid (YYYY-MM-DD; "
                                                              "or valid_from in the JSON file)"),
                     valid_until: Optional[str] = typer.Option(None, help="last day valid (open if unset)"),
                     db: Optional[str] = DB_OPT) -> None:
        """Import a new version of a lab's accredited scope (all rows or none)."""
        from labauto.platform.server import scope
        from labauto.platform.server.scope_file import ScopeFileError, parse
        try:
            data = file.read_bytes()
        except OSError as exc:
            _fail(f"cannot read {file}: {exc.strerror}")
        try:
            doc = parse(data, str(file))
        except ScopeFileError as exc:      # one problem per line, unwrapped (file:line for editors)
            typer.echo(f"error: the scope file is refused; nothing was stored:\n{exc}", err=True)
            raise typer.Exit(2)
        with _session(db) as session:
            s = scope.import_scope(session, scope.body_by_id(session, body_id), lab_id, doc, source_name=file.name,
                                   source_sha256=hashlib.sha256(data).hexdigest(),
                                   valid_from=_date(valid_from, "--valid-from"),
                                   valid_until=_date(valid_until, "--valid-until"), actor="cli")
            version, start, end = s.version, s.valid_from, s.valid_until
        console.print(f"lab {lab_id}: scope version {version} with {len(doc.rows)} rows, valid from {start}"
                      + (f" to {end}" if end else ""))

    def _status(kind: str, lab_id: int, body_id: int, db: Optional[str], **kw) -> None:
        from labauto.platform.server import scope
        with _session(db) as session:
            s = getattr(scope, kind)(session, scope.body_by_id(session, body_id), lab_id, actor="cli", **kw)
            line = (f"lab {lab_id}: scope version {s.version} suspended from {s.suspended_from}"
                    + (f" to {s.suspended_until}" if s.suspended_until else "")
                    + (f", withdrawn from {s.withdrawn_from}" if s.withdrawn_from else ""))
        console.print(line)

    @app.command()
    def suspend(lab_id: int = typer.Option(...), body_id: int = typer.Option(...),
                reason: str = typer.Option(..., help="why (shown on verification)"),
                from_: Optional[str] = typer.Option(None, "--from", help="first day suspended (default today)"),
                db: Optional[str] = DB_OPT) -> None:
        """Suspend a lab's accreditation."""
        _status("suspend", lab_id, body_id, db, reason=reason, from_date=_date(from_, "--from"))

    @app.command()
    def reinstate(lab_id: int = typer.Option(...), body_id: int = typer.Option(...),
                  on: Optional[str] = typer.Option(None, help="first day in force again (default today)"),
                  db: Optional[str] = DB_OPT) -> None:
        """End a suspension."""
        _status("reinstate", lab_id, body_id, db, on=_date(on, "--on"))

    @app.command()
    def withdraw(lab_id: int = typer.Option(...), body_id: int = typer.Option(...),
                 reason: str = typer.Option(...),
                 from_: Optional[str] = typer.Option(None, "--from", help="first day withdrawn (default today)"),
                 db: Optional[str] = DB_OPT) -> None:
        """Withdraw a lab's accreditation."""
        _status("withdraw", lab_id, body_id, db, reason=reason, from_date=_date(from_, "--from"))

    @app.command("show-scope")
    def show_scope(lab_id: int = typer.Option(...),
                   date: Optional[str] = typer.Option(None, help="the version valid on this day (default: all)"),
                   db: Optional[str] = DB_OPT) -> None:
        """A lab's scope versions and their CMC rows."""
        from rich.table import Table

        from labauto.tables import print_whole

        from labauto.platform.server import scope
        with _session(db, write=False) as session:
            versions = scope.lab_scopes(session, lab_id, on=_date(date, "--date"))
        if not versions:
            console.print(f"lab {lab_id} has no accredited scope" + (f" valid on {date}" if date else ""))
        for v in versions:
            state = v["status_today"] + (f" ({v['status_reason']})" if v["status_reason"] else "")
            table = Table(title=f"lab {lab_id}, scope version {v['version']} of {v['body']}: valid from "
                          f"{v['valid_from']}" + (f" to {v['valid_until']}" if v["valid_until"] else "")
                          + f"; today {state}", title_justify="left")
            for col in ("line", "quantity", "range", "frequency", "CMC", "k", "conditions"):
                table.add_column(col, no_wrap=col in ("line", "quantity", "range", "CMC", "k"))
            for r in v["rows"]:
                table.add_row(str(r["line"]), r["quantity"], r["range"], r["frequency"] or "", r["cmc"],
                              f"{r['k']:g}", r["conditions"] or "")
            print_whole(console, table)

    @app.command()
    def search(quantity: str = typer.Option(..., help='e.g. "DC voltage", "AC current", resistance'),
               value: Optional[str] = typer.Option(None, help='e.g. "10 V"'),
               max_cmc: Optional[str] = typer.Option(None, help='e.g. "5 µV/V" or "50 µV"'),
               frequency: Optional[str] = typer.Option(None, help='e.g. "1 kHz" (AC quantities)'),
               date: Optional[str] = typer.Option(None, help="accredited on this day (default today)"),
               db: Optional[str] = DB_OPT) -> None:
        """Labs accredited for a quantity at a value with a CMC at most --max-cmc."""
        from rich.table import Table

        from labauto.tables import print_whole

        from labauto.platform.server import scope
        with _session(db, write=False) as session:
            found = scope.capabilities(session, quantity, value, max_cmc, frequency, _date(date, "--date"))
        table = Table(title=f"{found['count']} lab(s) accredited for {found['quantity']}"
                      + (f" at {value}" if value else "") + (f" with a CMC <= {max_cmc}" if max_cmc else "")
                      + f" on {found['date']}", title_justify="left")
        for col in ("lab", "accreditation", "range", "CMC", "CMC at value", "conditions"):
            table.add_column(col, no_wrap=col in ("lab", "accreditation", "CMC at value"))
        for i in found["items"]:
            table.add_row(i["lab"], i["accreditation_id"],
                          i["row"]["range"] + (f" at {i['row']['frequency']}" if i["row"]["frequency"] else ""),
                          f"{i['row']['cmc']} (k = {i['row']['k']:g})", i["cmc_at_value_text"] or "",
                          i["row"]["conditions"] or "")
        print_whole(console, table)

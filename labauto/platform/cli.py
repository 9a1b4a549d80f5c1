"""``labauto platform``: run the reference NQI platform and administer it.

    labauto platform serve --db URL --schema-dir DIR [--port N] [--workers N]   (admin token: env/option)
    labauto platform migrate --db URL
    labauto platform register-lab --db URL --name N --accreditation-id A --cert lab.cert.pem
    labauto platform issue-token --db URL --lab-id ID
    labauto platform list-tokens --db URL --lab-id ID
    labauto platform revoke-token --db URL --lab-id ID --token-id T
    labauto platform init-ca --out DIR            (self-managed CA: ca.key.pem, ca.cert.pem)
    labauto platform issue-cert --ca DIR --cn NAME --out DIR   (lab.key.pem, lab.cert.pem)

Lab registration and tokens work directly on the database (no server needed); a running
server offers the same through its admin API.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console

from labauto.files import write_durably

app = typer.Typer(no_args_is_help=True, help="The NQI sharing platform reference server.")
console = Console()

DB_OPT = typer.Option(None, "--db", envvar="LABAUTO_PLATFORM_DB",
                      help="database URL: sqlite:///file.sqlite3 or postgresql://user@host/db")


def _db(url: Optional[str]) -> str:
    from labauto.platform.server.settings import DEFAULT_DB
    return url or DEFAULT_DB


def _fail(msg: str) -> None:
    console.print(f"[red]error:[/red] {msg}")
    raise typer.Exit(2)


@contextlib.contextmanager
def _session(db: Optional[str], *, write: bool = True, migrate: bool = False) -> Iterator[Any]:
    """A database session of the platform's service layer for one CLI command; a service
    error (unknown lab, duplicate ...) ends the command with its message and exit code 2."""
    from labauto.platform.server import service
    from labauto.platform.server.db import Database, migrate as run_migrate
    database = Database(_db(db))
    try:
        if migrate:
            run_migrate(database.engine)
        with (database.write() if write else database.read()) as session:
            yield session
    except service.ServiceError as exc:
        _fail(exc.detail)
    finally:
        database.dispose()


@app.command()
def serve(db: Optional[str] = DB_OPT,
          schema_dir: Optional[Path] = typer.Option(None, "--schema-dir", envvar="LABAUTO_PLATFORM_SCHEMA_DIR",
                                                    help="DCC schemas (vX.Y.Z/dcc.xsd inside)"),
          host: str = typer.Option("127.0.0.1", help="interface to listen on"),
          port: int = typer.Option(8080, help="TCP port"),
          admin_token: Optional[str] = typer.Option(None, envvar="LABAUTO_PLATFORM_ADMIN_TOKEN",
                                                    help="token of the admin API (unset: admin API off)"),
          trusted_ca: Optional[Path] = typer.Option(None, "--trusted-ca", envvar="LABAUTO_PLATFORM_TRUSTED_CA",
                                                    help="CA that must have issued lab certificates"),
          log_level: str = typer.Option("info"),
          workers: int = typer.Option(1, min=1, help="server processes (one core each)")) -> None:
    """Run the platform (migrates the database first)."""
    from labauto.platform.server.runner import serve as run
    from labauto.platform.server.settings import PlatformSettings
    try:
        settings = PlatformSettings.from_env(database_url=db, schema_dir=schema_dir, admin_token=admin_token,
                                             trusted_ca_pem=trusted_ca.read_bytes() if trusted_ca else None)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    console.print(f"labauto platform on http://{host}:{port} (database {settings.database_url}, "
                  f"schemas {settings.schema_dir}, admin API {'on' if settings.admin_token else 'off'}, "
                  f"{workers} worker{'s' if workers > 1 else ''})")
    run(settings, host=host, port=port, log_level=log_level, workers=workers)


@app.command()
def migrate(db: Optional[str] = DB_OPT) -> None:
    """Create or upgrade the platform database schema (Alembic)."""
    from labauto.platform.server.db import migrate as run
    run(_db(db))
    console.print(f"database {_db(db)} is at the newest schema revision")


@app.command("register-lab")
def register_lab(name: str = typer.Option(..., help="lab name"),
                 accreditation_id: str = typer.Option(..., help="accreditation number"),
                 cert: Path = typer.Option(..., exists=True, dir_okay=False, help="lab signing certificate (PEM)"),
                 db: Optional[str] = DB_OPT,
                 trusted_ca: Optional[Path] = typer.Option(None, "--trusted-ca", exists=True,
                                                           help="require the certificate to be issued by this CA")) -> None:
    """Register a lab and print its id and a new API token (shown once)."""
    from labauto.platform.server import service
    with _session(db, migrate=True) as session:
        lab = service.register_lab(session, name, accreditation_id, cert.read_text(),
                                   trusted_ca_pem=trusted_ca.read_bytes() if trusted_ca else None,
                                   actor="cli")
        token = service.issue_token(session, lab.id, actor="cli").token
        lab_id = lab.id
    console.print(f"lab {lab_id}: {name} ({accreditation_id})")
    typer.echo(f"token: {token}")


@app.command("issue-token")
def issue_token(lab_id: int = typer.Option(..., help="lab id (from register-lab)"),
                db: Optional[str] = DB_OPT) -> None:
    """Issue another API token for a lab (shown once; only its hash is stored)."""
    from labauto.platform.server import service
    with _session(db) as session:
        issued = service.issue_token(session, lab_id, actor="cli")
    typer.echo(f"token id {issued.id} for lab {lab_id}", err=True)   # stdout: the token line only
    typer.echo(f"token: {issued.token}")


@app.command("revoke-token")
def revoke_token(lab_id: int = typer.Option(..., help="lab id"),
                 token_id: int = typer.Option(..., help="token id (from issue-token or list-tokens)"),
                 db: Optional[str] = DB_OPT) -> None:
    """Revoke a lab's API token (lost or leaked); the lab's other tokens keep working."""
    from labauto.platform.server import service
    with _session(db) as session:
        row = service.token_json(service.revoke_token(session, lab_id, token_id, actor="cli"))
    console.print(f"token {token_id} of lab {lab_id} revoked at {row['revoked_at']}")


@app.command("list-tokens")
def list_tokens(lab_id: int = typer.Option(..., help="lab id"), db: Optional[str] = DB_OPT) -> None:
    """A lab's API tokens: id, issued, revoked (the tokens themselves are not stored)."""
    from labauto.platform.server import service
    with _session(db, write=False) as session:
        rows = [service.token_json(t) for t in service.lab_tokens(session, lab_id)]
    for row in rows:
        typer.echo(f"{row['id']}\tissued {row['created_at']}\t"
                   + (f"revoked {row['revoked_at']}" if row["revoked_at"] else "in use"))


@app.command("init-ca")
def init_ca(out: Path = typer.Option(..., help="folder for ca.key.pem and ca.cert.pem"),
            name: str = typer.Option("labauto platform CA", help="CA common name")) -> None:
    """Create a self-managed CA for lab signing certificates."""
    from labauto.certificate.pki import CertificateAuthority
    out.mkdir(parents=True, exist_ok=True)
    if (out / "ca.key.pem").exists():
        _fail(f"{out / 'ca.key.pem'} exists; refusing to overwrite a CA key")
    ca = CertificateAuthority.create(name)
    write_durably(out / "ca.key.pem", ca.key_pem, private=True)
    write_durably(out / "ca.cert.pem", ca.cert_pem)
    console.print(f"CA {name!r} written to {out}")


@app.command("issue-cert")
def issue_cert(ca: Path = typer.Option(..., help="folder with ca.key.pem and ca.cert.pem"),
               cn: str = typer.Option(..., help="common name of the lab's signing certificate"),
               out: Path = typer.Option(..., help="folder for lab.key.pem and lab.cert.pem"),
               days: int = typer.Option(825, help="validity in days")) -> None:
    """Issue a lab signing key and certificate from the self-managed CA."""
    from labauto.certificate.pki import CertificateAuthority, PKIError
    try:
        authority = CertificateAuthority((ca / "ca.key.pem").read_bytes(), (ca / "ca.cert.pem").read_bytes())
    except (OSError, PKIError) as exc:
        _fail(f"cannot load the CA from {ca}: {exc}")
    pair = authority.issue(cn, days=days)
    out.mkdir(parents=True, exist_ok=True)
    write_durably(out / "lab.key.pem", pair.key_pem, private=True)
    write_durably(out / "lab.cert.pem", pair.cert_pem)
    console.print(f"signing certificate for {cn!r} written to {out}")


# accreditation bodies, scopes and capability search (labauto/platform/scope_cli.py)
from labauto.platform import scope_cli  # noqa: E402

scope_cli.register(app)

"""The demo's reference NQI platform: run on the demo's own SQLite database, with the demo lab
registered once and its API token kept in the demo's working folder.

The platform's database outlives a demo run (``<workdir>/platform.sqlite3``), so the next run
finds the lab already registered.  :func:`demo_lab_token` makes registration idempotent:

* the lab is looked up by accreditation id or name and registered only when absent;
* the lab's signing certificate is added when the platform does not know it yet (the demo's
  keys were deleted and made anew: a key rollover);
* the API token is kept in ``<workdir>/platform-lab.json`` (mode 0600) and reused while the
  platform lists it as active; otherwise a new one is issued and kept.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx

from labauto.errors import LabautoError
from labauto.files import write_durably
from labauto.lab import LabConfig

TOKEN_FILE = "platform-lab.json"


class DemoPlatformError(LabautoError):
    """The demo's platform refused to register the demo lab or to issue its token."""


def start_demo_platform(console: Any, workdir: Path, stack: Any, lab: LabConfig,
                        identity: Any) -> str | None:
    """Start the platform on ``workdir/platform.sqlite3`` (in ``stack``), make sure the demo
    lab can publish to it, and point publishing at it; the base URL (None without schemas)."""
    import os

    from labauto.config import dcc_schema_dir

    schema_dir = dcc_schema_dir()
    if schema_dir is None:
        console.print("[yellow]PTB DCC schemas not found (set LABAUTO_DCC_DIR): the platform is not "
                      "started; the certificate stays queued in the outbox.[/yellow]")
        return None
    from labauto.platform.server.testing import running_server

    admin = secrets.token_urlsafe(24)
    db = workdir / "platform.sqlite3"
    base_url = stack.enter_context(running_server(f"sqlite:///{db}", schema_dir, admin_token=admin,
                                                  trusted_ca_pem=identity.ca_cert_pem,
                                                  ca=_demo_ca(identity)))
    token = demo_lab_token(base_url, admin, lab, identity.cert_pem, workdir / TOKEN_FILE)
    os.environ["LABAUTO_PLATFORM_URL"] = base_url
    os.environ["LABAUTO_PLATFORM_TOKEN"] = token
    console.print(f"reference NQI platform: {base_url} (SQLite {db}, schemas {schema_dir})")
    return base_url


def _demo_ca(identity: Any):
    """The demo CA (simulation only) doubles as the platform's own CA, so the demo platform runs
    its time-stamping authority and CRL; with a real identity (LABAUTO_SIGNING_KEY) there is no
    CA key here and the platform runs without them (certificates are then not time-stamped)."""
    from labauto.certificate.pki import CertificateAuthority
    from labauto.config import labauto_home

    key = labauto_home() / "pki" / "demo-ca.key.pem"
    if identity.ca_cert_pem is None or not key.exists():
        return None
    return CertificateAuthority(key.read_bytes(), identity.ca_cert_pem)


def demo_lab_token(base_url: str, admin_token: str, lab: LabConfig, cert_pem: bytes,
                   token_file: Path) -> str:
    """An API token with which ``lab`` (signing with ``cert_pem``) publishes to the platform at
    ``base_url``, registering the lab and its certificate only where the platform lacks them."""
    from labauto.certificate.pki import fingerprint_sha256

    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        labs = _ok(client.get("/api/v1/labs"), "listing the registered labs")
        found = [entry for entry in labs if entry["accreditation_id"] == lab.laboratory.identifier
                 or entry["name"] == lab.laboratory.name]
        pem = cert_pem.decode()
        if not found:
            entry = _ok(client.post("/api/v1/labs", json={
                "name": lab.laboratory.name, "accreditation_id": lab.laboratory.identifier or "",
                "certificate_pem": pem}), f"registering the lab {lab.laboratory.name!r}")
        else:
            entry = found[0]
            known = {c["fingerprint_sha256"] for c in entry["certificates"]}
            if fingerprint_sha256(cert_pem) not in known:
                entry = _ok(client.post(f"/api/v1/labs/{entry['id']}/certificates",
                                        json={"certificate_pem": pem}),
                            f"registering the new signing certificate of {lab.laboratory.name!r}")
        lab_id = entry["id"]
        kept = _read_token_file(token_file)
        if kept.get("lab_id") == lab_id:
            active = {t["id"] for t in _ok(client.get(f"/api/v1/labs/{lab_id}/tokens"),
                                           "listing the lab's API tokens") if not t["revoked_at"]}
            if kept.get("token_id") in active:
                return str(kept["token"])
        issued = _ok(client.post(f"/api/v1/labs/{lab_id}/tokens"), "issuing an API token")
    write_durably(token_file, json.dumps({"lab_id": lab_id, "token_id": issued["token_id"],
                                          "token": issued["token"]}).encode(), private=True)
    return str(issued["token"])


def _read_token_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):     # absent or damaged: a new token is issued and kept
        return {}
    return data if isinstance(data, dict) else {}


def _ok(response: httpx.Response, what: str) -> Any:
    if response.status_code not in (200, 201):
        raise DemoPlatformError(f"the demo's platform at {response.request.url.host}:"
                                f"{response.request.url.port} refused {what}: HTTP "
                                f"{response.status_code} {response.text}")
    return response.json()

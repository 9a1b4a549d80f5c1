"""The platform as a separate process: killed (SIGKILL) and restarted, nothing acknowledged is lost."""
from __future__ import annotations

import secrets

import httpx

from labauto.platform.server.testing import ServerProcess, register_lab


def test_kill_and_restart_keeps_published_certificates(platform_db_url, dcc_schema_dir, lab_keys,
                                                       make_dcc, sign):
    admin = secrets.token_urlsafe(16)
    server = ServerProcess(platform_db_url, dcc_schema_dir, admin_token=admin)
    with server:
        token = register_lab(server.base_url, admin, "Lab A", "D-K-1", lab_keys.cert_pem)
        r = httpx.post(f"{server.base_url}/api/v1/certificates", headers={"Authorization": f"Bearer {token}"},
                       files={"dcc": ("d.xml", sign(make_dcc("PROC-1"), lab_keys))})
        assert r.status_code == 201
        server.kill()
        assert server.proc.returncode == -9
        try:
            httpx.get(f"{server.base_url}/api/v1/health", timeout=1)
            raise AssertionError("the killed server still answers")
        except httpx.TransportError:
            pass
        assert server.start() == server.base_url               # same database, same URL
        rec = httpx.get(f"{server.base_url}/api/v1/certificates/PROC-1").json()
        assert (rec["status"], rec["sha256"]) == ("valid", r.json()["sha256"])
    assert server.proc.returncode is not None                   # stopped cleanly on exit

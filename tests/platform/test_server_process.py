"""The platform as a separate process: killed (SIGKILL) and restarted, nothing acknowledged is
lost, and its admission worker processes (the default layout) end with it either way."""
from __future__ import annotations

import secrets
import signal
from pathlib import Path

import httpx
from test_schematron_workers import wait_ended

from labauto.platform.server.schematron import PROCESSES_ENV, default_processes
from labauto.platform.server.testing import ServerProcess, register_lab


def rule_workers(pid: int) -> list[int]:
    """The admission worker processes the server process ``pid`` started (Linux /proc)."""
    children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()]
    return [c for c in children
            if b"schematron_workers" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_kill_and_restart_keeps_published_certificates(platform_db_url, dcc_schema_dir, lab_keys,
                                                       make_dcc, sign, monkeypatch):
    monkeypatch.delenv(PROCESSES_ENV, raising=False)          # the default layout
    admin = secrets.token_urlsafe(16)
    server = ServerProcess(platform_db_url, dcc_schema_dir, admin_token=admin)
    with server:
        workers = rule_workers(server.proc.pid)
        assert len(workers) == default_processes()              # 2 on >= 2 cores
        token = register_lab(server.base_url, admin, "Lab A", "D-K-1", lab_keys.cert_pem)
        r = httpx.post(f"{server.base_url}/api/v1/certificates", headers={"Authorization": f"Bearer {token}"},
                       files={"dcc": ("d.xml", sign(make_dcc("PROC-1"), lab_keys))})
        assert r.status_code == 201
        server.kill()
        assert server.proc.returncode == -9
        assert all(wait_ended(w) for w in workers), "a Schematron worker outlived its killed server"
        try:
            httpx.get(f"{server.base_url}/api/v1/health", timeout=1)
            raise AssertionError("the killed server still answers")
        except httpx.TransportError:
            pass
        assert server.start() == server.base_url               # same database, same URL
        rec = httpx.get(f"{server.base_url}/api/v1/certificates/PROC-1").json()
        assert (rec["status"], rec["sha256"]) == ("valid", r.json()["sha256"])
        workers = rule_workers(server.proc.pid)
        assert len(workers) == default_processes()
    # stopped (SIGTERM) on exit: uvicorn shuts down, then raises the signal again to end the process
    assert server.proc.returncode in (0, -signal.SIGTERM)
    assert all(wait_ended(w) for w in workers), "a Schematron worker outlived its stopped server"

"""``labauto publish`` against a real platform on loopback: send/add/drain/status/verify/retry,
exit codes, and what the technician reads."""
from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from labauto.platform.client import PlatformClient
from labauto.platform.outbox import Outbox
from labauto.platform import publish_cli
from labauto.platform.publish_cli import app
from labauto.platform.server.testing import free_port, register_lab, running_server

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Rich tables at 80 columns fold cells; read them as a wide terminal would show them."""
    from rich.console import Console
    monkeypatch.setattr(publish_cli, "console", Console(width=300))


@pytest.fixture(scope="module")
def platform_url(tmp_path_factory, dcc_schema_dir, lab_keys) -> Iterator[tuple[str, str]]:
    db = f"sqlite:///{tmp_path_factory.mktemp('platform') / 'p.sqlite3'}"
    admin = secrets.token_urlsafe(12)
    with running_server(db, dcc_schema_dir, admin_token=admin) as url:
        yield url, register_lab(url, admin, "Lab A", "D-K-12345-01-00", lab_keys.cert_pem)


@pytest.fixture
def env(platform_url, tmp_path) -> dict[str, str | None]:
    url, token = platform_url
    return {"LABAUTO_PLATFORM_URL": url, "LABAUTO_PLATFORM_TOKEN": token,
            "LABAUTO_OUTBOX": str(tmp_path / "outbox.sqlite3"), "LABAUTO_HOME": str(tmp_path / "home")}


@pytest.fixture
def write(tmp_path, make_dcc, sign, lab_keys):
    def _write(cid: str, *, signed: bool = True, **kw) -> Path:
        xml = make_dcc(cid, **kw)
        f = tmp_path / f"{cid}-{hashlib.sha256(xml).hexdigest()[:8]}.xml"
        f.write_bytes(sign(xml, lab_keys) if signed else xml)
        return f
    return _write


def run(env, *args):
    r = runner.invoke(app, [str(a) for a in args], env=env)
    return r.exit_code, " ".join(r.output.split())       # unwrap rich's line breaks


def test_send_without_a_platform_queues_and_drain_delivers(env, write):
    dcc = write("CLI-A-1")
    offline = {**env, "LABAUTO_PLATFORM_URL": None, "LABAUTO_PLATFORM_TOKEN": None}
    code, out = run(offline, "send", dcc)
    assert code == 3 and "not sent" in out and "CLI-A-1" in out
    box = Outbox(env["LABAUTO_OUTBOX"])
    assert box.get("CLI-A-1").state == "pending"

    code, out = run(env, "status")
    assert code == 0 and "CLI-A-1" in out and "due now" in out and "1 pending, 0 acknowledged, 0 rejected" in out

    code, out = run(env, "drain")
    assert code == 0 and "1 acknowledged, 0 already present, 0 rejected, 0 remaining" in out
    e = box.get("CLI-A-1")
    assert (e.state, e.platform_created, e.platform_status) == ("acknowledged", True, "valid")

    code, out = run(env, "status", "--state", "acknowledged")
    assert code == 0 and "platform: valid v1 (stored)" in out and "0 pending, 1 acknowledged" in out
    code, out = run(env, "verify", "CLI-A-1")
    assert code == 0 and "valid (version 1, lab Lab A" in out and "NO" not in out
    assert out.count("yes") == 4 and e.sha256 in out


def test_send_delivers_attachments_refuses_conflicts_and_takes_amendments(env, write, tmp_path, platform_url):
    pdf, js = tmp_path / "c.pdf", tmp_path / "c.json"
    pdf.write_bytes(b"%PDF-1.7 certificate")
    js.write_bytes(b'{"certificate_id": "CLI-B-1"}')
    code, out = run(env, "send", write("CLI-B-1"), "--pdf", pdf, "--json", js)
    assert code == 0 and "CLI-B-1: acknowledged" in out
    with PlatformClient(platform_url[0]) as c:
        rec = c.get_certificate("CLI-B-1")
        assert (rec["has_pdf"], rec["has_json"]) == (True, True)
        assert c.document("CLI-B-1", kind="pdf") == pdf.read_bytes()

    code, out = run(env, "send", write("CLI-B-1", serial="OTHER"))
    assert code == 1 and "already in the outbox" in out and "amendment" in out

    code, out = run(env, "send", write("CLI-B-1", serial="OTHER", amends="CLI-B-1"))
    assert code == 0 and "amends CLI-B-1" in out and "CLI-B-1: acknowledged" in out
    with PlatformClient(platform_url[0]) as c:
        assert c.get_certificate("CLI-B-1")["version"] == 2
    code, out = run(env, "add", write("CLI-B-2"))              # queue only
    assert code == 0 and "CLI-B-2 (sha256" in out and out.endswith(": pending")


def test_a_rejection_is_shown_with_the_reason_and_can_be_retried(env, write):
    code, out = run(env, "send", write("CLI-C-1", signed=False))
    assert code == 1 and "rejected CLI-C-1" in out and "not signed" in out
    code, out = run(env, "status")
    assert "rejected" in out and "HTTP 422 at signature" in out and "0 pending, 0 acknowledged, 1 rejected" in out
    code, out = run(env, "retry", "CLI-C-1")
    assert code == 0 and Outbox(env["LABAUTO_OUTBOX"]).get("CLI-C-1").state == "pending"
    code, out = run(env, "drain")
    assert code == 1 and "1 rejected" in out                    # the same document: refused again
    assert run(env, "retry", "NOPE")[0] == 1
    code, out = run(env, "verify", "CLI-C-1")
    assert code == 1 and "no certificate 'CLI-C-1'" in out


def test_configuration_problems_and_an_unreachable_platform(env, write):
    run({**env, "LABAUTO_PLATFORM_URL": None}, "add", write("CLI-D-1"))
    code, out = run({**env, "LABAUTO_PLATFORM_TOKEN": None}, "drain")
    assert code == 2 and "no API token" in out
    code, out = run({**env, "LABAUTO_PLATFORM_URL": None}, "drain")
    assert code == 2 and "no platform configured" in out
    code, out = run({**env, "LABAUTO_PLATFORM_TOKEN": "lat_wrong"}, "drain")
    assert code == 2 and "refused the API token" in out
    code, out = run({**env, "LABAUTO_PLATFORM_URL": f"http://127.0.0.1:{free_port()}"}, "drain",
                    "--deadline", "0.2")
    assert code == 3 and "1 remaining" in out and "Connection refused" in out
    e = Outbox(env["LABAUTO_OUTBOX"]).get("CLI-D-1")
    assert (e.state, e.attempts) == ("pending", 1) and e.next_attempt_at is not None
    code, out = run(env, "drain", "--now")                     # ignore the backoff: deliver now
    assert code == 0 and "1 acknowledged" in out
    code, out = run(env, "status", "--state", "lost")
    assert code == 2 and "unknown outbox state" in out


def test_verify_flags_a_platform_document_that_is_not_ours(env, write, platform_url):
    ours, theirs = write("CLI-E-1", serial="LOCAL"), write("CLI-E-1", serial="ELSEWHERE")
    with PlatformClient(*platform_url) as c:
        c.publish(theirs.read_bytes())                       # reached the platform by another route
    code, out = run(env, "send", ours)
    assert code == 1 and "HTTP 409" in out
    code, out = run(env, "verify", "CLI-E-1")
    assert code == 1 and "NO the outbox holds sha256" in out
    assert hashlib.sha256(theirs.read_bytes()).hexdigest() in out

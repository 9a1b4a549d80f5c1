"""The platform client over real HTTP on loopback: results and error mapping, and the publisher's
drain (order, rejection kept with the server's reason, backoff, configuration errors)."""
from __future__ import annotations

import hashlib
import json
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import pytest

from labauto.platform.client import (PlatformClient, PlatformConfigurationError, PlatformError,
                                     PlatformMismatch, PlatformNotFound, PlatformRejected,
                                     PlatformUnavailable)
from labauto.platform.outbox import Backoff, Outbox
from labauto.platform.publisher import drain
from labauto.platform.server.testing import free_port, register_lab, running_server


class Srv:
    def __init__(self, url: str, admin: str, token_a: str, token_b: str) -> None:
        self.url, self.admin, self.token_a, self.token_b = url, admin, token_a, token_b

    def client(self, **kw) -> PlatformClient:
        return PlatformClient(self.url, self.token_a, **kw)


@pytest.fixture(scope="module")
def srv(tmp_path_factory, dcc_schema_dir, lab_keys, other_lab_keys) -> Iterator[Srv]:
    """One SQLite-backed platform for the module, with Lab A and Lab B registered."""
    db = f"sqlite:///{tmp_path_factory.mktemp('platform') / 'p.sqlite3'}"
    admin = "admin-" + secrets.token_urlsafe(12)
    with running_server(db, dcc_schema_dir, admin_token=admin) as url:
        a = register_lab(url, admin, "Lab A", "D-K-12345-01-00", lab_keys.cert_pem)
        b = register_lab(url, admin, "Lab B", "D-K-67890-01-00", other_lab_keys.cert_pem)
        yield Srv(url, admin, a, b)


@pytest.fixture
def signed(make_dcc, sign, lab_keys) -> Callable[..., bytes]:
    return lambda cid, **kw: sign(make_dcc(cid, **kw), lab_keys)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(round(s, 6))
        self.t += s


# ---------------------------------------------------------------- a scripted HTTP server

class Scripted:
    """A real HTTP server on loopback answering from a script: path -> (status, headers, body)."""

    def __init__(self, routes: dict[str, tuple[int, dict, bytes]] | Callable) -> None:
        self.routes, self.requests = routes, []
        outer = self

        class H(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n) if n else b""
                path, _, query = self.path.partition("?")
                outer.requests.append((self.command, path))
                if callable(outer.routes):
                    status, headers, body = outer.routes(self.command, path, query, data)
                else:
                    status, headers, body = outer.routes.get(path, (404, {}, b'{"detail": "Not Found"}'))
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *a) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[[dict], Scripted]]:
    made: list[Scripted] = []

    def make(routes) -> Scripted:
        made.append(Scripted(routes))
        return made[-1]
    yield make
    for s in made:
        s.close()


# ---------------------------------------------------------------- client

def test_publish_created_then_already_present(srv, signed):
    dcc = signed("CLI-0001")
    with srv.client() as c:
        first = c.publish(dcc, pdf=b"%PDF-1.7\n...", json=b'{"certificate": "CLI-0001"}')
        assert (first["certificate_id"], first["sha256"], first["status"]) == ("CLI-0001", sha(dcc), "valid")
        assert (first["created"], first["version"], first["has_pdf"], first["has_json"]) == (True, 1, True, True)
        assert first["lab"] == "Lab A" and first["verification_url"] == "/verify/CLI-0001"
        again = c.publish(dcc)
        assert (again["created"], again["sha256"], again["version"]) == (False, sha(dcc), 1)
        assert c.get_certificate("CLI-0001")["sha256"] == sha(dcc)
        assert c.verify_hash(sha(dcc).upper())["certificate_id"] == "CLI-0001"
        assert c.health() is True


def test_rejections_are_permanent_with_the_servers_reason(srv, make_dcc, sign, other_lab_keys, signed):
    with srv.client() as c:
        with pytest.raises(PlatformRejected) as e:
            c.publish(make_dcc("CLI-0002"))                       # not signed
        assert (e.value.status_code, e.value.stage) == (422, "signature")
        assert "not signed" in e.value.reason and "HTTP 422" in str(e.value)
        assert not isinstance(e.value, PlatformConfigurationError)

        with pytest.raises(PlatformRejected) as e:                 # signed with Lab B's key
            c.publish(sign(make_dcc("CLI-0003"), other_lab_keys))
        assert (e.value.status_code, e.value.stage) == (422, "signer")
        assert "Lab B" in e.value.reason

        with pytest.raises(PlatformRejected) as e:
            c.publish(signed("CLI-0004"), pdf=b"not a pdf")
        assert (e.value.status_code, e.value.stage) == (422, "attachment")

        c.publish(signed("CLI-0005", serial="A"))
        with pytest.raises(PlatformRejected) as e:                 # another document, same id
            c.publish(signed("CLI-0005", serial="B"))
        assert e.value.status_code == 409 and "reportAmendedSubstituted" in e.value.reason

    with PlatformClient(srv.url, srv.token_b) as b, pytest.raises(PlatformRejected) as e:
        b.publish(sign(make_dcc("CLI-0005", serial="C", amends="CLI-0005"), other_lab_keys))
    assert e.value.status_code == 403 and "another lab" in e.value.reason


def test_bad_token_and_wrong_url_are_configuration_errors(srv, signed):
    dcc = signed("CLI-0006")
    with PlatformClient(srv.url, "lat_wrong") as c, pytest.raises(PlatformConfigurationError) as e:
        c.publish(dcc)
    assert e.value.status_code == 401 and "LABAUTO_PLATFORM_TOKEN" in str(e.value)
    with PlatformClient(srv.url + "/platform", srv.token_a) as c, pytest.raises(PlatformConfigurationError) as e:
        c.publish(dcc)
    assert e.value.status_code == 404 and "base URL" in str(e.value)
    with pytest.raises(PlatformConfigurationError, match="not an http"):
        PlatformClient("platform.example.org", "t")


def test_unreachable_and_silent_platforms_are_transient():
    with PlatformClient(f"http://127.0.0.1:{free_port()}", "t", timeout=2) as c:
        with pytest.raises(PlatformUnavailable, match="cannot reach") as e:
            c.publish(b"<x/>")
        assert e.value.status_code is None
        assert c.health() is False
    # a server that accepts the connection and never answers
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        with PlatformClient(f"http://127.0.0.1:{s.getsockname()[1]}", "t", timeout=0.3) as c:
            with pytest.raises(PlatformUnavailable, match="did not answer in time"):
                c.get_certificate("X")


@pytest.mark.parametrize("status, headers, retry_after", [
    (500, {}, None), (502, {}, None), (503, {"Retry-After": "7"}, 7.0), (429, {"Retry-After": "2"}, 2.0),
    (408, {}, None)])
def test_server_errors_are_transient(scripted, status, headers, retry_after):
    s = scripted({"/api/v1/certificates": (status, headers, b'{"detail": "database is restarting"}')})
    with PlatformClient(s.url, "t") as c, pytest.raises(PlatformUnavailable) as e:
        c.publish(b"<dcc/>")
    assert (e.value.status_code, e.value.retry_after_s) == (status, retry_after)
    assert "database is restarting" in str(e.value)


def test_a_non_json_answer_is_transient_and_an_odd_4xx_is_rejected(scripted):
    s = scripted({"/api/v1/certificates": (200, {"Content-Type": "text/html"}, b"<html>proxy</html>"),
                  "/api/v1/certificates/X": (400, {"Content-Type": "text/plain"}, b"bad   request")})
    with PlatformClient(s.url, "t") as c:
        with pytest.raises(PlatformUnavailable, match="not JSON"):
            c.publish(b"<dcc/>")
        with pytest.raises(PlatformRejected) as e:
            c.get_certificate("X")
        assert (e.value.status_code, e.value.reason) == (400, "bad request")


def test_an_acknowledgement_with_another_hash_is_a_mismatch(scripted):
    dcc = b"<dcc>the document</dcc>"
    wrong = json.dumps({"certificate_id": "M-1", "sha256": "0" * 64, "status": "valid",
                        "created": True, "version": 1}).encode()
    s = scripted({"/api/v1/certificates": (201, {}, wrong)})
    with PlatformClient(s.url, "t") as c, pytest.raises(PlatformMismatch, match="0000"):
        c.publish(dcc)
    # the acknowledgement is right, but the record read back by hash names another certificate
    ok = json.dumps({"certificate_id": "M-1", "sha256": sha(dcc), "status": "valid", "created": True,
                     "version": 1}).encode()
    other = json.dumps({"certificate_id": "M-2", "sha256": sha(dcc), "status": "valid"}).encode()
    s2 = scripted({"/api/v1/certificates": (201, {}, ok), "/api/v1/verify": (200, {}, other)})
    with PlatformClient(s2.url, "t") as c:
        with pytest.raises(PlatformMismatch, match="M-2"):
            c.publish(dcc)
        assert c.publish(dcc, confirm=False)["created"] is True
    assert ("GET", "/api/v1/verify") in s2.requests
    # the acknowledgement is right but the read-back finds nothing yet (a lagging replica, a
    # proxy): not a rejection - the entry must stay queued and be checked again
    missing = json.dumps({"detail": f"no document with sha256 {sha(dcc)}"}).encode()
    s3 = scripted({"/api/v1/certificates": (201, {}, ok), "/api/v1/verify": (404, {}, missing)})
    with PlatformClient(s3.url, "t") as c, pytest.raises(PlatformUnavailable, match="reading it back"):
        c.publish(dcc)


def test_verify_checks_document_signature_and_status(srv, signed):
    dcc = signed("CLI-0007")
    with srv.client() as c:
        c.publish(dcc)
        v = c.verify("CLI-0007")
        assert (v.valid, v.hash_ok, v.signature_ok, v.signer_ok, v.status) == (True, True, True, True, "valid")
        assert v.document_sha256 == sha(dcc) and c.document("CLI-0007") == dcc
        r = c._http.post("/api/v1/certificates/CLI-0007/revoke", json={"reason": "wrong reference value"})
        assert r.status_code == 200
        v = c.verify("CLI-0007")
        assert (v.valid, v.status, v.record["revocation_reason"]) == (False, "revoked", "wrong reference value")
        with pytest.raises(PlatformNotFound, match="NOPE"):
            c.get_certificate("NOPE")
        with pytest.raises(PlatformNotFound):
            c.verify_hash("ab" * 32)
        assert isinstance(PlatformNotFound("x"), PlatformError)


# ---------------------------------------------------------------- drain

def test_drain_delivers_in_order_and_keeps_rejections(srv, tmp_path, make_dcc, signed):
    box = Outbox(tmp_path / "o.sqlite3")
    good1 = box.enqueue(signed("DR-0001"))
    bad = box.enqueue(make_dcc("DR-0002"))                       # unsigned: refused
    good2 = box.enqueue(signed("DR-0003"))
    amended = box.enqueue(signed("DR-0001", serial="SN-2", amends="DR-0001"))
    seen = []
    with srv.client() as c:
        report = drain(box, c, deadline_s=10, on_result=lambda outcome, e: seen.append((outcome, e.certificate_id)))
        assert (report.acknowledged, report.already_present, report.rejected, report.remaining) == (3, 0, 1, 0)
        assert seen == [("acknowledged", "DR-0001"), ("rejected", "DR-0002"), ("acknowledged", "DR-0003"),
                        ("acknowledged", "DR-0001")]
        assert report.rejections[0][0] == "DR-0002" and "not signed" in report.rejections[0][1]
        assert str(report).startswith("3 acknowledged, 0 already present, 1 rejected, 0 remaining")
        assert not report.ok and report.stopped is None
        r = box.entry(bad.seq)
        assert (r.state, r.http_status, r.rejected_stage) == ("rejected", 422, "signature")
        assert "not signed" in r.last_error
        a = box.entry(amended.seq)
        assert (a.state, a.platform_created, a.platform_version, a.platform_status) == (
            "acknowledged", True, 2, "valid")
        assert box.entry(good1.seq).platform_status == "valid"     # status at its acknowledgement
        rec = c.get_certificate("DR-0001")
        assert (rec["version"], rec["sha256"]) == (2, amended.sha256)
        assert c.verify_hash(good1.sha256)["status"] == "superseded"
        assert box.entry(good2.seq).state == "acknowledged"
        # nothing left: a second drain is a no-op
        again = drain(box, c, deadline_s=1)
        assert (again.delivered, again.rejected, again.remaining, again.ok) == (0, 0, 0, True)


def test_drain_after_a_lost_acknowledgement_counts_already_present(srv, tmp_path, signed):
    """The platform stored the document but the lab never recorded it (the response was lost,
    or the lab crashed): the resend is answered 200 and the entry acknowledged, not duplicated."""
    dcc = signed("DR-0010")
    box = Outbox(tmp_path / "o.sqlite3")
    entry = box.enqueue(dcc)
    with srv.client() as c:
        assert c.publish(dcc)["created"] is True                 # delivered, outcome "lost"
        report = drain(box, c, deadline_s=5)
        assert (report.acknowledged, report.already_present, report.remaining) == (0, 1, 0)
        e = box.entry(entry.seq)
        assert (e.state, e.platform_created) == ("acknowledged", False)
        assert c.get_certificate("DR-0010")["version"] == 1


def test_drain_backs_off_while_the_platform_is_down(tmp_path, signed):
    clock = FakeClock()
    box = Outbox(tmp_path / "o.sqlite3", clock=clock,
                 backoff=Backoff(base_s=1, factor=2, cap_s=4, jitter=0))
    entry = box.enqueue(signed("DR-0020"))
    box.enqueue(signed("DR-0021"))
    with PlatformClient(f"http://127.0.0.1:{free_port()}", "t", timeout=2) as c:
        report = drain(box, c, deadline_s=20, sleep=clock.sleep)
    # one probe per pause, pauses 1, 2, 4, 4 ... s: attempts at t = 0, 1, 3, 7, 11, 15, 19, taking
    # turns between the entries (each goes when it has been due longest); t = 23 is too late
    assert clock.sleeps == [1, 2, 4, 4, 4, 4]
    assert (report.retries, report.remaining, report.delivered) == (7, 2, 0)
    assert report.stopped.startswith("deadline reached") and "cannot reach" in report.last_error
    e = box.entry(entry.seq)
    # DR-0020 tried at t = 0, 3, 11, 19: its own backoff 1, 2, 4, 4 -> next at 19 + 4
    assert (e.state, e.attempts, e.next_attempt_at) == ("pending", 4, clock.t + 4)
    assert "cannot reach the platform" in e.last_error
    assert box.get("DR-0021").attempts == 3                   # t = 1, 7, 15
    assert "2 remaining" in str(report) and "7 transient failure(s)" in str(report)


def test_a_document_the_platform_keeps_failing_on_does_not_hold_up_the_others(tmp_path, scripted, signed):
    docs = {cid: signed(cid) for cid in ("DR-0060", "DR-0061", "DR-0062")}

    def platform(method, path, query, body):
        if method == "GET":                                  # the read-back: echo the hash asked for
            h = query.split("sha256=")[1]
            cid = next(c for c, d in docs.items() if sha(d) == h)
            return 200, {}, json.dumps({"certificate_id": cid, "sha256": h, "status": "valid"}).encode()
        cid, doc = next((c, d) for c, d in docs.items() if d in body)
        if cid == "DR-0060":
            return 500, {}, b'{"detail": "internal error while indexing"}'
        return 201, {}, json.dumps({"certificate_id": cid, "sha256": sha(doc), "status": "valid",
                                    "created": True, "version": 1}).encode()

    s = scripted(platform)
    clock = FakeClock()
    box = Outbox(tmp_path / "o.sqlite3", clock=clock, backoff=Backoff(base_s=1, cap_s=2, jitter=0))
    for d in docs.values():
        box.enqueue(d)
    with PlatformClient(s.url, "t") as c:
        report = drain(box, c, deadline_s=10, sleep=clock.sleep)
    assert (report.acknowledged, report.remaining) == (2, 1)
    assert [e.state for e in box.entries()] == ["pending", "acknowledged", "acknowledged"]
    # DR-0060 at t = 0, 1, 3, 5, 7, 9 (own backoff 1, 2, 2 ...); the others right after the first pause
    assert box.get("DR-0060").attempts == 6 and "indexing" in box.get("DR-0060").last_error
    assert box.get("DR-0061").acknowledged_at == box.get("DR-0062").acknowledged_at == 1_000_001.0


def test_drain_respects_retry_after(tmp_path, scripted, signed):
    clock = FakeClock()
    s = scripted({"/api/v1/certificates": (503, {"Retry-After": "30"}, b'{"detail": "maintenance"}')})
    box = Outbox(tmp_path / "o.sqlite3", clock=clock, backoff=Backoff(base_s=1, jitter=0))
    box.enqueue(signed("DR-0030"))
    with PlatformClient(s.url, "t") as c:
        report = drain(box, c, deadline_s=65, sleep=clock.sleep)
    assert clock.sleeps == [30, 30] and report.retries == 3 and "maintenance" in report.last_error


def test_drain_stops_on_a_configuration_error_without_rejecting(srv, tmp_path, signed):
    box = Outbox(tmp_path / "o.sqlite3")
    box.enqueue(signed("DR-0040"))
    box.enqueue(signed("DR-0041"))
    with PlatformClient(srv.url, "lat_revoked_or_wrong") as c:
        report = drain(box, c, deadline_s=5)
    assert (report.configuration_error, report.rejected, report.remaining, report.retries) == (True, 0, 2, 0)
    assert "API token" in report.stopped
    e = box.get("DR-0040")
    assert (e.state, e.attempts, e.next_attempt_at) == ("pending", 0, None)
    assert "HTTP 401" in e.last_error
    with srv.client() as c:                                  # with the right token it goes through
        assert drain(box, c, deadline_s=5).acknowledged == 2


def test_only_one_drain_at_a_time(srv, tmp_path, signed):
    box = Outbox(tmp_path / "o.sqlite3")
    box.enqueue(signed("DR-0050"))
    with Outbox(tmp_path / "o.sqlite3").drain_lock() as held, srv.client() as c:
        assert held
        report = drain(box, c, deadline_s=0.2)
    assert report.delivered == 0 and report.remaining == 1 and "another publisher" in report.stopped


def test_a_garbled_answer_is_transient():
    import httpx

    def handler(request):
        raise httpx.DecodingError("bad gzip stream", request=request)

    with PlatformClient("http://platform.test", "t", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(PlatformUnavailable, match="something unusable: DecodingError"):
            c.publish(b"<dcc>the document</dcc>")

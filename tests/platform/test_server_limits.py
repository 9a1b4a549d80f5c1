"""Defects of issue 15, each with a test that failed before the fix: request bodies are capped and
an unauthenticated upload is refused before its body is read; a NUL byte in a search text; an id
containing '/'; a replay of a stored DCC carrying another PDF."""
from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import pytest
from platform_support import sha256

from labauto.platform.server.runner import ThreadedServer
from labauto.platform.server.settings import PlatformSettings


def raw_request(base_url: str, head: str, body: bytes = b"", timeout: float = 5.0) -> tuple[int, float]:
    """Send the request head (and ``body``) on a raw socket, never the rest of a declared body;
    return the status of the answer and the seconds it took."""
    u = urlparse(base_url)
    t0 = time.monotonic()
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ")[1]), time.monotonic() - t0


def test_an_unauthenticated_upload_is_refused_before_its_body(platform):
    # 1 GiB declared, nothing sent: the answer comes from the headers alone
    head = ("POST /api/v1/certificates HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            "boundary=b\r\nContent-Length: 1073741824\r\n")
    status, took = raw_request(platform.base_url, head)
    assert status == 413 and took < 2
    head = ("POST /api/v1/certificates HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            "boundary=b\r\nContent-Length: 1000000\r\n")
    status, took = raw_request(platform.base_url, head)                     # no token
    assert status == 401 and took < 2
    status, _ = raw_request(platform.base_url, head.replace("Host: x\r\n", "Host: x\r\nAuthorization: Bearer lat_nope\r\n"))
    assert status == 401
    status, _ = raw_request(platform.base_url, head.replace("/api/v1/certificates", "/api/v1/labs")
                            .replace("Host: x\r\n", "Host: x\r\nAuthorization: Bearer wrong\r\n"))
    assert status == 401


def test_a_streamed_body_is_cut_off_at_the_cap(tmp_path, dcc_schema_dir):
    import httpx

    settings = PlatformSettings(database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}", schema_dir=dcc_schema_dir,
                                max_upload_bytes=1000)
    server = ThreadedServer(settings)
    url = server.start()
    sent = 0

    def chunks():                       # no Content-Length: chunked transfer, 10 MB offered
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="dcc"; filename="d.xml"\r\n\r\n'
        for _ in range(1000):
            sent += 10_000
            yield b"x" * 10_000
    try:
        try:
            r = httpx.post(f"{url}/api/v1/verify", content=chunks(),
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
            assert r.status_code == 413
        except httpx.HTTPError:
            pass                        # the server closed the connection while we were sending
        assert sent < 10_000_000        # the server closed the connection before taking it all
        head = b'--b\r\nContent-Disposition: form-data; name="dcc"; filename="d.xml"\r\n\r\n'
        r = httpx.post(f"{url}/api/v1/verify", content=head + b"x" * 70_000,
                       headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413 and "exceeds the platform's limit of 68536 bytes" in r.text
    finally:
        server.stop()


def test_a_nul_byte_in_a_search_text_is_refused(platform, lab, make_dcc, sign):
    assert lab.publish(sign(make_dcc("NUL-1", manufacturer="Fluke"), lab.keys)).status_code == 201
    with platform.public() as c:
        for field in ("manufacturer", "model", "measurand", "serial", "lab"):
            r = c.get("/api/v1/certificates", params={field: "\x00"})
            assert r.status_code == 422, (field, r.text)
        assert c.get("/api/v1/certificates", params={"manufacturer": "keysight"}).json()["total"] == 0
        assert c.get("/api/v1/verify", params={"certificate_id": "\x00"}).status_code == 422


def test_an_id_with_a_slash_is_refused_at_publishing(platform, lab, make_dcc, sign):
    r = lab.publish(sign(make_dcc("2026/0042"), lab.keys))
    assert r.status_code == 422 and r.json()["stage"] == "identifier"
    assert "'2026/0042' contains '/'" in r.json()["detail"]
    with platform.public() as c:
        assert c.get("/api/v1/certificates").json()["total"] == 0       # nothing stored


def test_a_replay_with_another_pdf_is_a_conflict(platform, lab, make_dcc, sign):
    doc = sign(make_dcc("PDF-1"), lab.keys)
    pdf = b"%PDF-1.7\n% first\n%%EOF\n"
    assert lab.publish(doc, pdf=pdf).status_code == 201
    assert lab.publish(doc, pdf=pdf).status_code == 200          # a retry with the same files
    assert lab.publish(doc).status_code == 200                   # or without them
    r = lab.publish(doc, pdf=b"%PDF-1.7\n% second\n%%EOF\n")
    assert r.status_code == 409 and "with a different pdf" in r.json()["detail"]
    r = lab.publish(doc, json=b'{"a": 1}')
    assert r.status_code == 409 and "without a json" in r.json()["detail"]
    with platform.public() as c:
        stored = c.get("/api/v1/certificates/PDF-1/document", params={"kind": "pdf"})
    assert stored.content == pdf and stored.headers["X-Content-SHA256"] == sha256(doc)

"""Concurrent publications (SQLite and PostgreSQL): the same document from many clients is
stored once; several server processes share one SQLite file without losing or doubling rows."""
from __future__ import annotations

import concurrent.futures as cf
import secrets
from pathlib import Path

import httpx
from platform_support import sha256

from labauto.platform.server.testing import ServerProcess, register_lab


def test_the_same_document_published_concurrently_is_stored_once(platform, lab, make_dcc, sign):
    doc = sign(make_dcc("CONC-1"), lab.keys)
    with cf.ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: lab.publish(doc), range(6)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [201], [r.text for r in responses]
    assert {r.json()["sha256"] for r in responses} == {sha256(doc)}
    with platform.admin() as c:
        events = c.get("/api/v1/audit", params={"certificate_id": "CONC-1"}).json()
    assert [e["action"] for e in events] == ["certificate.publish"]


def test_two_versions_racing_for_one_id_give_one_winner(platform, lab, make_dcc, sign):
    docs = [sign(make_dcc("CONC-2", serial=f"S{i}"), lab.keys) for i in range(4)]
    with cf.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lab.publish, docs))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()["sha256"]
    with platform.public() as c:
        assert c.get("/api/v1/certificates/CONC-2").json()["sha256"] == winner


def test_two_substitutions_racing_for_one_certificate_give_one_winner(platform, lab, make_dcc, sign):
    assert lab.publish(sign(make_dcc("CONC-3"), lab.keys)).status_code == 201
    docs = [sign(make_dcc(f"CONC-3-R{i}", amends="CONC-3", type_of_change="substituted"), lab.keys)
            for i in range(4)]
    with cf.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lab.publish, docs))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()["certificate_id"]
    with platform.public() as c:
        assert c.get("/api/v1/certificates/CONC-3").json()["superseded_by"] == winner
        assert c.get("/api/v1/certificates", params={"status": "valid"}).json()["total"] == 1


def test_several_server_processes_share_one_sqlite_file(tmp_path, dcc_schema_dir, lab_keys, make_dcc, sign):
    """``--workers 2``: writes from both processes queue on SQLite's lock (BEGIN IMMEDIATE)."""
    admin = secrets.token_urlsafe(16)
    docs = [sign(make_dcc(f"MW-{i}"), lab_keys) for i in range(24)]
    server = ServerProcess(f"sqlite:///{tmp_path / 'p.sqlite3'}", dcc_schema_dir, admin_token=admin, workers=2)
    with server:
        token = register_lab(server.base_url, admin, "Lab A", "D-K-1", lab_keys.cert_pem)

        def publish(doc: bytes) -> int:
            return httpx.post(f"{server.base_url}/api/v1/certificates", timeout=30,
                              headers={"Authorization": f"Bearer {token}"},
                              files={"dcc": ("d.xml", doc, "application/xml")}).status_code

        with cf.ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(publish, docs + docs[:6]))     # six replays among them
        assert sorted(codes) == [200] * 6 + [201] * 24, codes
        children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
        if children.exists():                                   # Linux: the supervisor's workers
            assert len(children.read_text().split()) >= 2
        found = httpx.get(f"{server.base_url}/api/v1/certificates", params={"limit": 100}).json()
    assert found["total"] == 24
    assert sorted(x["certificate_id"] for x in found["items"]) == sorted(f"MW-{i}" for i in range(24))

"""Verification by id and hash, the public page, revocation and search (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import httpx
from platform_support import make_lab, sha256


def test_verify_by_hash_and_unknowns(platform, lab, make_dcc, sign):
    doc = sign(make_dcc("VER-1", serial="SN-V1", manufacturer="Fluke", model="8508A",
                        end_date="2026-03-02"), lab.keys)
    assert lab.publish(doc).status_code == 201
    with platform.public() as c:
        by_id = c.get("/api/v1/certificates/VER-1").json()
        by_hash = c.get("/api/v1/verify", params={"sha256": sha256(doc).upper()}).json()
        assert c.get("/api/v1/verify", params={"certificate_id": "VER-1"}).json() == by_id
        assert c.get("/api/v1/certificates/NOPE").status_code == 404
        assert c.get("/api/v1/verify", params={"sha256": "0" * 64}).status_code == 404
        assert c.get("/api/v1/verify", params={"sha256": "xyz"}).status_code == 400
        assert c.get("/api/v1/certificates/NOPE/document").status_code == 404
        assert c.get("/api/v1/certificates/VER-1/document", params={"kind": "pdf"}).status_code == 404
    assert by_hash == by_id
    assert by_id["sha256"] == sha256(doc)
    assert by_id["item"] | {"identifications": None} == {
        "name": "String", "manufacturer": "Fluke", "model": "8508A", "serial": "SN-V1", "identifications": None}
    assert by_id["dates"] == {"receipt": "1957-08-13", "begin_performance": "2026-03-02",
                              "end_performance": "2026-03-02", "issue": None}
    assert by_id["signer"]["subject"] == "C=DE,O=Lab A,CN=Lab A signing"
    signed_at = dt.datetime.fromisoformat(by_id["signer"]["signing_time"])     # the XAdES SigningTime
    assert abs(signed_at - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    assert by_id["published_at"].endswith("+00:00")


def test_revocation_by_the_issuing_lab_only(platform, lab, other_lab_keys, make_dcc, sign):
    lab_b = make_lab(platform, "Lab B", "D-K-99999-01-00", other_lab_keys)
    assert lab.publish(sign(make_dcc("REV-1"), lab.keys)).status_code == 201
    with lab_b.client() as c:
        r = c.post("/api/v1/certificates/REV-1/revoke", json={"reason": "hostile"})
        assert r.status_code == 403
    with lab.client() as c:
        assert c.post("/api/v1/certificates/REV-1/revoke", json={"reason": ""}).status_code == 422
        assert c.post("/api/v1/certificates/NOPE/revoke", json={"reason": "x"}).status_code == 404
        r = c.post("/api/v1/certificates/REV-1/revoke", json={"reason": "reference standard drifted"})
        assert r.status_code == 200
        assert (r.json()["status"], r.json()["revocation_reason"]) == ("revoked", "reference standard drifted")
        again = c.post("/api/v1/certificates/REV-1/revoke", json={"reason": "other"}).json()
        assert again["revocation_reason"] == "reference standard drifted"     # first reason stands
    assert httpx.post(f"{platform.base_url}/api/v1/certificates/REV-1/revoke",
                      json={"reason": "x"}).status_code == 401
    with platform.public() as c:
        rec = c.get("/api/v1/certificates/REV-1").json()
        page = c.get("/verify/REV-1")
    assert rec["status"] == "revoked" and rec["revoked_at"]
    assert page.status_code == 200 and "REVOKED" in page.text and "reference standard drifted" in page.text
    with platform.admin() as c:
        actions = [e["action"] for e in c.get("/api/v1/audit", params={"certificate_id": "REV-1"}).json()]
    assert actions == ["certificate.publish", "certificate.revoke"]


def test_public_verification_page(platform, lab, make_dcc, sign):
    doc = sign(make_dcc("PAGE-1", serial="SN<script>", manufacturer="Keysight", model="34465A"), lab.keys)
    assert lab.publish(doc).status_code == 201
    with platform.public() as c:
        page = c.get("/verify/PAGE-1")
        missing = c.get("/verify/NOT-THERE")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for text in ("VALID", "PAGE-1", "Lab A", "D-K-12345-01-00", "Keysight 34465A", sha256(doc),
                 "SN&lt;script&gt;"):
        assert text in page.text, text
    assert "<script>" not in page.text
    assert "C=DE,O=Lab A,CN=Lab A signing on 20" in page.text          # signer and XAdES signing time
    assert missing.status_code == 404 and "NOT FOUND" in missing.text


def test_search(platform, lab, other_lab_keys, make_dcc, sign):
    lab_b = make_lab(platform, "Lab B", "D-K-99999-01-00", other_lab_keys)
    specs = [("S-1", lab, dict(serial="A1", manufacturer="Keysight", model="34465A", end_date="2026-01-10",
                               measurand="DC voltage")),
             ("S-2", lab, dict(serial="A2", manufacturer="Keysight", model="34470A", end_date="2026-02-10",
                               measurand="DC voltage")),
             ("S-3", lab_b, dict(serial="A1", manufacturer="Fluke", model="8846A", end_date="2026-03-10",
                                 measurand="Resistance"))]
    for cid, who, kw in specs:
        assert who.publish(sign(make_dcc(cid, **kw), who.keys)).status_code == 201

    def ids(**params):
        with platform.public() as c:
            r = c.get("/api/v1/certificates", params=params)
        assert r.status_code == 200, r.text
        return sorted(x["certificate_id"] for x in r.json()["items"])

    assert ids(serial="A1") == ["S-1", "S-3"]
    assert ids(serial="A") == []                          # serial matches exactly
    assert ids(manufacturer="keysight") == ["S-1", "S-2"]
    assert ids(model="3447") == ["S-2"]
    assert ids(lab="Lab B") == ["S-3"] and ids(lab="D-K-12345-01-00") == ["S-1", "S-2"]
    assert ids(date_from="2026-02-01") == ["S-2", "S-3"]
    assert ids(date_from="2026-01-10", date_to="2026-02-10") == ["S-1", "S-2"]
    assert ids(measurand="voltage") == ["S-1", "S-2"] and ids(measurand="resist") == ["S-3"]
    assert ids(serial="A1", lab="Lab A") == ["S-1"]
    assert ids(manufacturer="%") == []                    # LIKE wildcards are literal
    with platform.public() as c:
        page = c.get("/api/v1/certificates", params={"limit": 1, "offset": 1}).json()
        assert c.get("/api/v1/certificates", params={"date_from": "not-a-date"}).status_code == 422
    assert (page["total"], len(page["items"]), page["items"][0]["certificate_id"]) == (3, 1, "S-2")
    with lab.client() as c:
        c.post("/api/v1/certificates/S-1/revoke", json={"reason": "dropped"})
    assert ids(status="revoked") == ["S-1"] and ids(status="valid") == ["S-2", "S-3"]

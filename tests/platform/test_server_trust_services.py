"""The platform's trust services over HTTP: its TSA, its CA certificate and the CRL of revoked
lab signing certificates."""
from __future__ import annotations

import datetime as dt
import hashlib

import httpx
import pytest
from asn1crypto import tsp
from cryptography import x509
from platform_support import make_lab

from labauto.certificate import pki
from labauto.certificate.signer_crl import check_signer_revocation
from labauto.certificate.xades_t import add_signature_timestamp, check_signature_timestamp
from labauto.platform.tsa_client import TimestampUnavailable, http_send, stamp_via


def _request(digest: bytes = b"\7" * 32) -> bytes:
    return tsp.TimeStampReq({"version": 1, "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest}, "cert_req": True}).dump()


def test_a_lab_time_stamps_a_dcc_through_the_platform(platform, lab, make_dcc, sign, platform_ca):
    stamp = stamp_via(http_send(f"{platform.base_url}/api/v1/tsa", lab.token))
    signed = add_signature_timestamp(sign(make_dcc("TSA-HTTP-1"), lab.keys), stamp)
    verdict = check_signature_timestamp(signed, [platform_ca.cert_pem])
    assert verdict.ok, verdict.reason
    assert abs(verdict.time - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=1)
    # the anchor a verifier needs is published
    with platform.public() as c:
        assert c.get("/api/v1/ca").content == platform_ca.cert_pem


def test_the_tsa_wants_a_lab_token_before_anything(platform, lab):
    url = f"{platform.base_url}/api/v1/tsa"
    r = httpx.post(url, timeout=30, content=_request(), headers={"Content-Type": "application/timestamp-query"})
    assert r.status_code == 401
    r = httpx.post(url, timeout=30, content=_request(), headers={"Content-Type": "application/timestamp-query",
                                                       "Authorization": "Bearer lat_nope"})
    assert r.status_code == 401 and "unknown or revoked" in r.text
    with pytest.raises(TimestampUnavailable, match="HTTP 401"):
        stamp_via(http_send(url, "lat_nope"))(b"\1" * 32, "sha256")


def test_the_tsa_checks_media_type_and_size(platform, lab):
    url, auth = f"{platform.base_url}/api/v1/tsa", {"Authorization": f"Bearer {lab.token}"}
    r = httpx.post(url, timeout=30, content=_request(), headers={**auth, "Content-Type": "application/octet-stream"})
    assert r.status_code == 415
    r = httpx.post(url, timeout=30, content=b"\0" * 20_000, headers={**auth, "Content-Type": "application/timestamp-query"})
    assert r.status_code == 413
    r = httpx.post(url, timeout=30, content=b"\x30\x00", headers={**auth, "Content-Type": "application/timestamp-query"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/timestamp-reply"
    with pytest.raises(ValueError):               # a rejection: no token in it
        tsp.TimeStampResp.load(r.content)["time_stamp_token"]


def test_an_unreachable_tsa_is_reported(lab):
    from labauto.platform.server.testing import free_port
    with pytest.raises(TimestampUnavailable, match="unreachable"):
        stamp_via(http_send(f"http://127.0.0.1:{free_port()}/api/v1/tsa", lab.token, timeout_s=2))(
            hashlib.sha256(b"x").digest(), "sha256")


def test_revoking_a_signing_certificate_lists_it_in_the_crl(platform, platform_ca, make_dcc):
    keys = platform_ca.issue("Lab C signing", organization="Lab C")
    make_lab(platform, "Lab C", "D-K-99999-01-00", keys)
    cert, ca = pki.load_certificate(keys.cert_pem), pki.load_certificate(platform_ca.cert_pem)
    fp = pki.fingerprint_sha256(cert)
    with platform.admin() as admin:
        lab_id = next(x["id"] for x in admin.get("/api/v1/labs").json() if x["name"] == "Lab C")
        before = admin.get("/api/v1/crl")
        assert before.status_code == 200 and before.headers["content-type"] == "application/pkix-crl"
        assert check_signer_revocation(cert, before.content, ca).status == "good"
        r = admin.post(f"/api/v1/labs/{lab_id}/certificates/{fp}/revoke", json={"reason": "key_compromise"})
        assert r.status_code == 200, r.text
        assert r.json()["listed_in_crl"] is True and r.json()["reason"] == "key_compromise"
        assert admin.post(f"/api/v1/labs/{lab_id}/certificates/{fp}/revoke",
                          json={"reason": "made up"}).status_code == 422
        assert admin.post(f"/api/v1/labs/{lab_id + 1000}/certificates/{fp}/revoke",
                          json={}).status_code == 404
        audit = admin.get("/api/v1/audit", params={"lab_id": lab_id}).json()
        assert [e["action"] for e in audit][-1] == "lab.certificate.revoke"
    with platform.public() as c:
        crl = c.get("/api/v1/crl").content
        assert c.post(f"/api/v1/labs/{lab_id}/certificates/{fp}/revoke", json={}).status_code == 401
    parsed = x509.load_der_x509_crl(crl)
    assert parsed.is_signature_valid(ca.public_key())
    assert parsed.next_update_utc - parsed.last_update_utc == dt.timedelta(days=1)
    verdict = check_signer_revocation(cert, crl, ca)
    assert verdict.status == "revoked" and "key_compromise" in verdict.reason


def test_every_trusted_ca_of_the_bundle_is_a_time_stamp_anchor(tmp_path, dcc_schema_dir):
    """--trusted-ca holds one or more anchors; as time-stamp anchors only the bundle's first
    certificate counted (a TSA under the second was refused: 'does not chain to a trusted
    anchor')."""
    from labauto.platform.server.settings import PlatformSettings
    from labauto.platform.server.trust_services import TrustServices

    first, second = pki.CertificateAuthority.create("first"), pki.CertificateAuthority.create("second")
    settings = PlatformSettings(database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}", schema_dir=dcc_schema_dir,
                                trusted_ca_pem=first.cert_pem + second.cert_pem)
    anchors = TrustServices.from_settings(settings).time_anchors
    assert [pki.load_certificate(a).subject for a in anchors] == [
        pki.load_certificate(first.cert_pem).subject, pki.load_certificate(second.cert_pem).subject]

"""The time and revocation stages of the verification report from the signature time-stamp
(XAdES-T) and the CA's CRL: in the Verifier, ``POST /api/v1/verify`` and ``labauto dcc verify``."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from chain_support import UTC, build_chain
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from labauto.certificate import pki
from labauto.certificate.signer_crl import RevokedSigner, build_crl
from labauto.certificate.signing import sign_dcc
from labauto.certificate.tsa import TimeStampingAuthority, issue_tsa_certificate
from labauto.certificate.verify_cli import app as dcc_app
from labauto.certificate.xades_t import add_signature_timestamp
from labauto.platform.server.dcc import SchemaRegistry
from labauto.platform.server.trust_stages import crl_from, crl_revocation_check, timestamp_time_check
from labauto.platform.server.verification import Verifier
from labauto.platform.tsa_client import http_send, stamp_via


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def tsa_ca() -> pki.CertificateAuthority:
    return pki.CertificateAuthority.create("TSA root CA")


def _tsa(ca: pki.CertificateAuthority, at: dt.datetime | None = None) -> TimeStampingAuthority:
    pair = issue_tsa_certificate(ca)
    return TimeStampingAuthority(pair.key_pem, pair.cert_pem, [ca.cert_pem],
                                 clock=(lambda: at) if at else None)


def _stamped(chain, xml: bytes, tsa: TimeStampingAuthority, **kw) -> bytes:
    signed = sign_dcc(xml, chain.signer_key_pem, chain.signer_pem, **kw)
    return add_signature_timestamp(signed, stamp_via(lambda req: tsa.respond(req).response_der))


def _verifier(dcc_schema_dir, tsa_ca, crls=()) -> Verifier:
    return Verifier(SchemaRegistry(dcc_schema_dir, any_version=True), [],
                    time_check=timestamp_time_check([tsa_ca.cert_pem]),
                    revocation_check=crl_revocation_check(crl_from(list(crls))))


def test_the_chain_is_judged_at_the_time_stamp_not_the_claimed_time(dcc_schema_dir, tsa_ca, make_dcc):
    now = dt.datetime.now(UTC).replace(microsecond=0)
    chain = build_chain("TS", signer_start=now - dt.timedelta(minutes=1))
    verifier = _verifier(dcc_schema_dir, tsa_ca)
    good = _stamped(chain, make_dcc("TS-1"), _tsa(tsa_ca))
    report = verifier.verify(good, anchors=[chain.root], intermediates=[chain.intermediate])
    assert report.valid, report.json()
    time = report.stage("time")
    assert time.status == "pass" and time.data["source"].startswith("signature time-stamp")
    assert report.stage("chain").data["at"] == time.data["time"]
    # the signer claims "now" (inside its validity), but the TSA dated the signature 3 minutes
    # ago, before the signer's certificate began: the chain fails at the trusted time
    early = _stamped(chain, make_dcc("TS-2"), _tsa(tsa_ca, now - dt.timedelta(minutes=3)), signing_time=now)
    report = verifier.verify(early, anchors=[chain.root], intermediates=[chain.intermediate])
    assert report.stage("time").status == "pass"
    assert report.stage("chain").status == "fail" and not report.valid
    assert "not valid at validation time" in report.stage("chain").detail


def test_a_token_from_an_unknown_tsa_fails_the_time_stage(dcc_schema_dir, tsa_ca, make_dcc):
    chain = build_chain("TU")
    rogue = pki.CertificateAuthority.create("rogue TSA CA")
    dcc = _stamped(chain, make_dcc("TU-1"), _tsa(rogue))
    report = _verifier(dcc_schema_dir, tsa_ca).verify(dcc, anchors=[chain.root], intermediates=[chain.intermediate])
    assert report.stage("time").status == "fail" and not report.valid
    assert "does not chain to a trusted anchor" in report.stage("time").detail
    # the same token is fine for a verifier that trusts that TSA's root
    assert _verifier(dcc_schema_dir, rogue).verify(dcc, anchors=[chain.root],
                                                   intermediates=[chain.intermediate]).valid


def test_a_revoked_signer_is_flagged_against_the_time_stamp_time(dcc_schema_dir, tsa_ca, make_dcc):
    """The CRL here is the intermediate's (build_crl needs the issuer's key: a CA of pki)."""
    now = dt.datetime.now(UTC).replace(microsecond=0)
    issuing = pki.CertificateAuthority.create("Issuing CA R")
    signer = issuing.issue("Lab R signing", organization="Lab R")
    root = pki.load_certificate(issuing.cert_pem)
    serial = pki.load_certificate(signer.cert_pem).serial_number
    crl = build_crl(issuing, [RevokedSigner(serial, now - dt.timedelta(seconds=30), "key_compromise")])

    class Keys:
        signer_key_pem, signer_pem = signer.key_pem, signer.cert_pem

    verifier = _verifier(dcc_schema_dir, tsa_ca, [crl])
    stamped_before = _stamped(Keys, make_dcc("TR-1"), _tsa(tsa_ca, now - dt.timedelta(minutes=2)),
                              signing_time=now - dt.timedelta(minutes=2))
    report = verifier.verify(stamped_before, anchors=[root])
    assert report.stage("revocation").status == "warn" and report.valid, report.json()
    assert "stays valid" in report.stage("revocation").detail
    unstamped = sign_dcc(make_dcc("TR-2"), signer.key_pem, signer.cert_pem,
                         signing_time=now - dt.timedelta(minutes=2))     # a claim proves nothing
    report = verifier.verify(unstamped, anchors=[root])
    assert report.stage("revocation").status == "fail" and not report.valid
    assert report.stage("revocation").data["reason"] == "key_compromise"
    stamped_after = _stamped(Keys, make_dcc("TR-3"), _tsa(tsa_ca))
    assert verifier.verify(stamped_after, anchors=[root]).stage("revocation").status == "fail"
    # a signer the CRL's CA did not issue: nothing known, skipped
    other = build_chain("TR other")
    report = verifier.verify(sign_dcc(make_dcc("TR-4"), other.signer_key_pem, other.signer_pem),
                             anchors=[other.root], intermediates=[other.intermediate])
    assert report.stage("revocation").status == "skip"


def test_api_verify_uses_the_platform_tsa_and_crl(platform, lab, make_dcc, sign, platform_ca):
    stamp = stamp_via(http_send(f"{platform.base_url}/api/v1/tsa", lab.token))
    dcc = add_signature_timestamp(sign(make_dcc("TA-1"), lab.keys), stamp)
    with platform.public() as c:
        report = c.post("/api/v1/verify", files={"dcc": ("d.xml", dcc, "application/xml")}).json()
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["time"]["status"] == "pass" and "time-stamped" in stages["time"]["detail"]
    assert stages["chain"]["status"] == "pass", stages["chain"]
    assert stages["revocation"]["status"] == "pass" and stages["revocation"]["crl_status"] == "good"
    fp = pki.fingerprint_sha256(lab.keys.cert_pem)
    with platform.admin() as admin:
        lab_id = next(x["id"] for x in admin.get("/api/v1/labs").json() if x["name"] == lab.name)
        assert admin.post(f"/api/v1/labs/{lab_id}/certificates/{fp}/revoke",
                          json={"reason": "key_compromise"}).status_code == 200
    unstamped = sign(make_dcc("TA-2"), lab.keys)
    with platform.public() as c:
        report = c.post("/api/v1/verify", files={"dcc": ("d.xml", unstamped, "application/xml")}).json()
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["revocation"]["status"] == "fail" and not report["valid"]


def test_cli_reports_time_and_revocation(tmp_path, dcc_schema_dir, tsa_ca, make_dcc):
    issuing = pki.CertificateAuthority.create("Issuing CA C")
    signer = issuing.issue("Lab C signing")

    class Keys:
        signer_key_pem, signer_pem = signer.key_pem, signer.cert_pem

    dcc = tmp_path / "dcc.xml"
    dcc.write_bytes(_stamped(Keys, make_dcc("TC-1"), _tsa(tsa_ca)))
    (tmp_path / "ca.pem").write_bytes(issuing.cert_pem + tsa_ca.cert_pem)
    (tmp_path / "ca.crl").write_bytes(build_crl(issuing, []))
    r = CliRunner().invoke(dcc_app, ["verify", str(dcc), "--schema-dir", str(dcc_schema_dir), "--trust-anchor",
                                     str(tmp_path / "ca.pem"), "--crl", str(tmp_path / "ca.crl"), "--json"])
    assert r.exit_code == 0, r.output
    stages = {s["stage"]: s for s in json.loads(r.stdout)["stages"]}
    assert stages["time"]["status"] == "pass" and stages["revocation"]["status"] == "pass"
    (tmp_path / "bad.crl").write_bytes(b"not a crl")
    r = CliRunner().invoke(dcc_app, ["verify", str(dcc), "--schema-dir", str(dcc_schema_dir), "--crl",
                                     str(tmp_path / "bad.crl")])
    assert r.exit_code == 2 and "not a DER X.509 CRL" in r.output


def test_an_expired_signer_is_valid_when_a_time_stamp_dates_the_signature_in_its_time(dcc_schema_dir, make_dcc):
    """The other side of test_an_expired_signer_is_not_valid_on_its_own_claimed_signing_time:
    a TSA dates the signature within the expired certificate's validity; one dated after the
    expiry does not help."""
    from chain_support import build_tsa

    old = build_chain("Old T", signer_start=dt.datetime(2020, 1, 1, tzinfo=UTC), signer_days=30)
    in_time = dt.datetime(2020, 1, 15, 12, tzinfo=UTC)
    tsa_root, tsa = build_tsa(in_time)
    verifier = Verifier(SchemaRegistry(dcc_schema_dir, any_version=True), [],
                        time_check=timestamp_time_check([tsa_root]))
    doc = _stamped(old, make_dcc("TS-OLD-1"), tsa, signing_time=in_time)
    report = verifier.verify(doc, anchors=[old.root], intermediates=[old.intermediate])
    assert report.valid, report.json()
    assert report.stage("time").data["time"] == "2020-01-15T12:00:00+00:00"
    assert report.stage("chain").data["at"] == "2020-01-15T12:00:00+00:00"
    late_root, late_tsa = build_tsa(dt.datetime(2020, 2, 15, tzinfo=UTC))
    late = _stamped(old, make_dcc("TS-OLD-2"), late_tsa, signing_time=in_time)
    report = Verifier(SchemaRegistry(dcc_schema_dir, any_version=True), [],
                      time_check=timestamp_time_check([late_root])).verify(
        late, anchors=[old.root], intermediates=[old.intermediate])
    assert report.stage("time").status == "pass" and report.stage("chain").status == "fail"
    assert not report.valid

"""The platform CA's CRL of revoked *signing certificates* and the signer-revocation check."""
from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from labauto.certificate import pki
from labauto.certificate.signer_crl import RevokedSigner, build_crl, check_signer_revocation

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
REVOKED_AT = NOW - dt.timedelta(hours=2)


@pytest.fixture(scope="module")
def revoked_lab(platform_ca) -> pki.KeyPair:
    return platform_ca.issue("Lab R signing", organization="Lab R")


@pytest.fixture(scope="module")
def crl(platform_ca, revoked_lab) -> bytes:
    serial = pki.load_certificate(revoked_lab.cert_pem).serial_number
    return build_crl(platform_ca, [RevokedSigner(serial, REVOKED_AT, "key_compromise")], this_update=NOW)


def _cert(pem: bytes) -> x509.Certificate:
    return pki.load_certificate(pem)


def test_the_crl_is_signed_by_the_ca_and_lists_the_revoked_serial(crl, platform_ca, revoked_lab):
    parsed = x509.load_der_x509_crl(crl)
    ca = _cert(platform_ca.cert_pem)
    assert parsed.issuer == ca.subject and parsed.is_signature_valid(ca.public_key())
    assert parsed.last_update_utc == NOW and parsed.next_update_utc == NOW + dt.timedelta(days=1)
    assert parsed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == int(NOW.timestamp())
    entry = parsed.get_revoked_certificate_by_serial_number(_cert(revoked_lab.cert_pem).serial_number)
    assert entry.revocation_date_utc == REVOKED_AT
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert len(parsed) == 1


def test_a_signer_not_listed_is_good(crl, platform_ca, lab_keys):
    v = check_signer_revocation(_cert(lab_keys.cert_pem), crl, _cert(platform_ca.cert_pem))
    assert v.ok and v.status == "good"


def test_a_revoked_signer_without_trusted_time_is_refused(crl, platform_ca, revoked_lab):
    v = check_signer_revocation(_cert(revoked_lab.cert_pem), crl, _cert(platform_ca.cert_pem))
    assert not v.ok and v.status == "revoked" and v.revoked_at == REVOKED_AT
    assert "key_compromise" in v.reason and "no trusted time-stamp" in v.reason


def test_revocation_date_is_compared_with_the_time_stamp(crl, platform_ca, revoked_lab):
    signer, ca = _cert(revoked_lab.cert_pem), _cert(platform_ca.cert_pem)
    before = check_signer_revocation(signer, crl, ca, trusted_time=REVOKED_AT - dt.timedelta(minutes=1))
    assert before.ok and before.status == "revoked_after_signing"
    after = check_signer_revocation(signer, crl, ca, trusted_time=REVOKED_AT + dt.timedelta(minutes=1))
    assert not after.ok and after.status == "revoked" and "before the time-stamped signing time" in after.reason


def test_the_invalidity_date_moves_the_cutoff(platform_ca, revoked_lab):
    serial = _cert(revoked_lab.cert_pem).serial_number
    crl = build_crl(platform_ca, [RevokedSigner(serial, REVOKED_AT, "key_compromise",
                                                invalid_since=REVOKED_AT - dt.timedelta(days=3))])
    v = check_signer_revocation(_cert(revoked_lab.cert_pem), crl, _cert(platform_ca.cert_pem),
                                trusted_time=REVOKED_AT - dt.timedelta(days=1))
    assert not v.ok and "key unsafe since" in v.reason


def test_a_crl_from_another_ca_or_expired_or_forged_is_unknown(crl, platform_ca, lab_keys):
    other = pki.CertificateAuthority.create("other CA")
    signer, ca = _cert(lab_keys.cert_pem), _cert(platform_ca.cert_pem)
    assert check_signer_revocation(signer, build_crl(other, []), ca).status == "unknown"
    stale = build_crl(platform_ca, [], this_update=NOW - dt.timedelta(days=3))
    v = check_signer_revocation(signer, stale, ca)
    assert v.status == "unknown" and "expired" in v.reason and not v.ok
    forged = bytearray(crl)
    forged[-5] ^= 1                                     # inside the signature value
    assert check_signer_revocation(signer, bytes(forged), ca).status == "unknown"
    assert check_signer_revocation(signer, b"not a crl", ca).status == "unknown"


def test_unknown_reason_is_refused(platform_ca):
    with pytest.raises(ValueError, match="unknown revocation reason"):
        build_crl(platform_ca, [RevokedSigner(1, NOW, "lost it")])

"""The self-managed CA: issued certificates chain to it, fingerprints, validity checks."""
from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from labauto.certificate import pki


def test_issued_certificate_chains_to_the_ca_and_not_to_another(platform_ca, lab_keys):
    signer, now = pki.load_certificate(lab_keys.cert_pem), dt.datetime.now(dt.timezone.utc)
    chain = pki.validate_chain(signer, pki.load_certificates(platform_ca.cert_pem), now)
    assert [c.subject.rfc4514_string() for c in chain] == ["C=DE,O=Lab A,CN=Lab A signing",
                                                           "O=labauto,CN=labauto test CA"]
    stranger = pki.CertificateAuthority.create("another CA")
    with pytest.raises(pki.PKIError, match="no valid chain from C=DE,O=Lab A,CN=Lab A signing to a "
                       "trust anchor \\(O=labauto,CN=another CA\\)"):
        pki.validate_chain(signer, pki.load_certificates(stranger.cert_pem), now)
    impostor = pki.CertificateAuthority.create("labauto test CA")   # same name, other key
    with pytest.raises(pki.PKIError, match="no valid chain"):
        pki.validate_chain(signer, pki.load_certificates(impostor.cert_pem), now)


def test_certificate_fields_and_fingerprint(lab_keys):
    cert = pki.load_certificate(lab_keys.cert_pem)
    assert pki.subject_text(cert) == "C=DE,O=Lab A,CN=Lab A signing"
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert pki.fingerprint_sha256(lab_keys.cert_pem) == cert.fingerprint(hashes.SHA256()).hex()
    assert len(pki.fingerprint_sha256(lab_keys.cert_pem)) == 64
    pki.load_private_key(lab_keys.key_pem)   # the key parses


def test_validity_window(platform_ca):
    old = platform_ca.issue("expired lab", days=30,
                            not_before=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    with pytest.raises(pki.PKIError, match="valid from 2020-01-01 to 2020-01-31"):
        pki.check_valid_now(old.cert_pem)
    pki.check_valid_now(old.cert_pem, at=dt.datetime(2020, 1, 15, tzinfo=dt.timezone.utc))


def test_garbage_is_not_a_certificate():
    with pytest.raises(pki.PKIError, match="not a PEM X.509 certificate"):
        pki.load_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(pki.PKIError, match="not an unencrypted PEM private key"):
        pki.load_private_key("nonsense")

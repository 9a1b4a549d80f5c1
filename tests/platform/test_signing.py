"""Enveloped XML signatures on DCCs: shape, schema validity after signing, verification."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from labauto.certificate.signing import DS_NS, SignatureError, sign_dcc, verify_dcc
from labauto.platform import pki


@pytest.fixture(scope="module")
def schema_330(dcc_schema_dir: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(dcc_schema_dir / "v3.3.0" / "dcc.xsd")))


def test_signed_dcc_has_the_expected_shape_and_stays_schema_valid(make_dcc, lab_keys, schema_330):
    signed = sign_dcc(make_dcc("SIG-1"), lab_keys.key_pem, lab_keys.cert_pem)
    root = etree.fromstring(signed)
    assert schema_330.validate(root), schema_330.error_log
    sig = root[-1]
    assert sig.tag == f"{{{DS_NS}}}Signature"          # the last child of the DCC root
    ns = {"ds": DS_NS}
    assert sig.find("ds:SignedInfo/ds:SignatureMethod", ns).get("Algorithm") == \
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert sig.find("ds:SignedInfo/ds:CanonicalizationMethod", ns).get("Algorithm") == \
        "http://www.w3.org/2006/12/xml-c14n11"
    assert sig.find("ds:SignedInfo/ds:Reference", ns).get("URI") == ""
    transforms = [t.get("Algorithm") for t in sig.findall(".//ds:Transform", ns)]
    assert "http://www.w3.org/2000/09/xmldsig#enveloped-signature" in transforms
    assert sig.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", ns) is not None


def test_verify_returns_the_signer(make_dcc, lab_keys):
    signed = sign_dcc(make_dcc("SIG-2"), lab_keys.key_pem, lab_keys.cert_pem)
    v = verify_dcc(signed)
    assert v.signer_subject == "C=DE,O=Lab A,CN=Lab A signing"
    assert v.signer_fingerprint_sha256 == pki.fingerprint_sha256(lab_keys.cert_pem)
    assert verify_dcc(signed, trusted_cert_pem=lab_keys.cert_pem).signer_fingerprint_sha256 == \
        v.signer_fingerprint_sha256
    assert v.signed_root.findtext(".//{https://ptb.de/dcc}uniqueIdentifier") == "SIG-2"


def test_tampering_is_detected(make_dcc, lab_keys):
    signed = sign_dcc(make_dcc("SIG-3"), lab_keys.key_pem, lab_keys.cert_pem)
    tampered = signed.replace(b"<dcc:value>SN-0001</dcc:value>", b"<dcc:value>SN-0002</dcc:value>")
    assert tampered != signed
    with pytest.raises(SignatureError, match="does not verify: Digest mismatch"):
        verify_dcc(tampered)


def test_wrong_trusted_certificate_is_refused(make_dcc, lab_keys, other_lab_keys):
    signed = sign_dcc(make_dcc("SIG-4"), lab_keys.key_pem, lab_keys.cert_pem)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_dcc(signed, trusted_cert_pem=other_lab_keys.cert_pem)


def test_unsigned_and_double_signing_and_non_dcc(make_dcc, lab_keys):
    unsigned = make_dcc("SIG-5")
    with pytest.raises(SignatureError, match="not signed"):
        verify_dcc(unsigned)
    signed = sign_dcc(unsigned, lab_keys.key_pem, lab_keys.cert_pem)
    with pytest.raises(SignatureError, match="already signed"):
        sign_dcc(signed, lab_keys.key_pem, lab_keys.cert_pem)
    with pytest.raises(SignatureError, match="not dcc:digitalCalibrationCertificate"):
        sign_dcc(b"<a/>", lab_keys.key_pem, lab_keys.cert_pem)
    with pytest.raises(SignatureError, match="not well-formed"):
        verify_dcc(b"<a>")


def test_entities_and_dtds_are_refused(lab_keys):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b'<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc">&lol2;'
            b'</dcc:digitalCalibrationCertificate>')
    with pytest.raises(SignatureError, match="DOCTYPE"):
        sign_dcc(bomb, lab_keys.key_pem, lab_keys.cert_pem)


def test_ptb_examples(dcc_dir: Path):
    """valid_signature.xml verifies against the certificate it embeds (PTB's test "cert");
    invalid_signature.xml (same signature, uniqueIdentifier changed) does not."""
    v = verify_dcc((dcc_dir / "examples" / "valid_signature.xml").read_bytes())
    assert "CN=cert" in v.signer_subject and "O=PTB" in v.signer_subject
    with pytest.raises(SignatureError, match="Digest mismatch"):
        verify_dcc((dcc_dir / "examples" / "invalid_signature.xml").read_bytes())

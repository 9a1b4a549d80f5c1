"""Enveloped XML signatures on DCCs: shape, schema validity after signing, verification."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from labauto.certificate.signing import DS_NS, SignatureError, sign_dcc, verify_dcc
from labauto.certificate import pki


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


XADES = {"ds": DS_NS, "xades": "http://uri.etsi.org/01903/v1.3.2#"}


def _within_validity(keys):
    """A whole-second time one minute into the certificate's validity (a past time)."""
    import datetime as dt
    return pki.load_certificate(keys.cert_pem).not_valid_before_utc + dt.timedelta(minutes=1)


def test_xades_signed_properties_bind_time_and_certificate(make_dcc, lab_keys, schema_330):
    """Default signatures are XAdES: SigningTime and the SHA-256 of the signing certificate are
    signed properties (ETSI EN 319 132-1 §5.2.1, §5.2.2), referenced from SignedInfo."""
    import base64
    when = _within_validity(lab_keys)
    signed = sign_dcc(make_dcc("XA-1"), lab_keys.key_pem, lab_keys.cert_pem, signing_time=when)
    root = etree.fromstring(signed)
    assert schema_330.validate(root), schema_330.error_log       # XAdES sits in ds:Object (lax)
    props = root.find("ds:Signature/ds:Object/xades:QualifyingProperties/xades:SignedProperties/"
                      "xades:SignedSignatureProperties", XADES)
    assert props.findtext("xades:SigningTime", namespaces=XADES) == when.isoformat()
    digest = props.findtext("xades:SigningCertificateV2/xades:Cert/xades:CertDigest/ds:DigestValue",
                            namespaces=XADES)
    assert base64.b64decode(digest).hex() == pki.fingerprint_sha256(lab_keys.cert_pem)
    refs = root.findall("ds:Signature/ds:SignedInfo/ds:Reference", XADES)
    assert [r.get("URI") for r in refs][0] == "" and len(refs) == 3
    assert refs[1].get("Type") == "http://uri.etsi.org/01903#SignedProperties"
    v = verify_dcc(signed)
    assert (v.xades, v.signing_time) == (True, when)


def test_plain_xmldsig_still_verifies(make_dcc, lab_keys):
    signed = sign_dcc(make_dcc("XA-2"), lab_keys.key_pem, lab_keys.cert_pem, xades=False)
    assert b"QualifyingProperties" not in signed
    v = verify_dcc(signed)
    assert (v.xades, v.signing_time) == (False, None)


def test_xades_properties_cannot_be_changed_or_removed(make_dcc, lab_keys):
    import datetime as dt
    when = _within_validity(lab_keys)
    signed = sign_dcc(make_dcc("XA-3"), lab_keys.key_pem, lab_keys.cert_pem, signing_time=when)
    other = (when + dt.timedelta(seconds=1)).isoformat().encode()
    backdated = signed.replace(when.isoformat().encode(), other)
    assert backdated != signed
    with pytest.raises(SignatureError, match=r"Digest mismatch for reference 1 \(#SignXMLSignature"):
        verify_dcc(backdated)
    root = etree.fromstring(signed)
    sig = root.find("ds:Signature", XADES)
    sig.remove(sig.find("ds:Object", XADES))                     # strip the XAdES object
    with pytest.raises(SignatureError, match="the signature has 3 references; a plain XMLDSig"):
        verify_dcc(etree.tostring(root))


def test_certificate_must_be_valid_at_the_signing_time(make_dcc, platform_ca, lab_keys):
    import datetime as dt
    old = platform_ca.issue("expired lab", days=30, not_before=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    inside = dt.datetime(2020, 1, 15, tzinfo=dt.timezone.utc)
    v = verify_dcc(sign_dcc(make_dcc("XA-4"), old.key_pem, old.cert_pem, signing_time=inside))
    assert v.signing_time == inside             # signed while the certificate was valid: verifies
    with pytest.raises(SignatureError, match="valid from 2020-01-01 to 2020-01-31, not at the signing time"):
        verify_dcc(sign_dcc(make_dcc("XA-5"), old.key_pem, old.cert_pem))          # signed now
    with pytest.raises(SignatureError, match="not at the present time"):
        verify_dcc(sign_dcc(make_dcc("XA-6"), old.key_pem, old.cert_pem, xades=False))
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    with pytest.raises(SignatureError, match="lies in the future"):
        verify_dcc(sign_dcc(make_dcc("XA-7"), lab_keys.key_pem, lab_keys.cert_pem, signing_time=future))

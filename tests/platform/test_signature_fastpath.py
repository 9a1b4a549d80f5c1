"""The signature fast path (labauto.certificate.signature_fastpath) against signxml.

Every case is verified twice: by ``verify_dcc`` as it runs (fast path first) and by
``verify_dcc`` with the fast path switched off (signxml alone); the outcomes must be identical —
the same signer, time and verified bytes, or the same error.  Each case also states whether the
fast path handled it (the shapes labauto and PTB use) or left it to signxml, and at the level of
the two verifiers themselves (``verify_fast`` and ``_verify_signxml``) that the fast path never
accepts what signxml refuses.
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from labauto.certificate import pki, signing
from labauto.certificate.signature_fastpath import verify_fast
from labauto.certificate.signing import SignatureError, sign_dcc, verify_dcc

DS = "{http://www.w3.org/2000/09/xmldsig#}"
XADES = "{http://uri.etsi.org/01903/v1.3.2#}"
NS = {"ds": DS[1:-1], "xades": XADES[1:-1], "dcc": "https://ptb.de/dcc"}


@pytest.fixture(scope="module")
def signed_at(lab_keys) -> dt.datetime:
    """A signing time within the lab certificate's validity (it starts minutes ago)."""
    start = pki.load_certificate(lab_keys.cert_pem).not_valid_before_utc
    return start.replace(microsecond=0) + dt.timedelta(minutes=1)


@pytest.fixture(scope="module")
def signed(make_dcc, lab_keys, signed_at) -> bytes:
    return sign_dcc(make_dcc("FAST-1"), lab_keys.key_pem, lab_keys.cert_pem, signing_time=signed_at)


@pytest.fixture(scope="module")
def lab_key(lab_keys):
    return pki.load_private_key(lab_keys.key_pem)


def _outcome(xml: bytes, trusted: bytes | None = None):
    try:
        v = verify_dcc(xml, trusted_cert_pem=trusted)
    except SignatureError as exc:
        return ("refused", str(exc))
    return ("verified", v.signer_fingerprint_sha256, v.signing_time, v.xades,
            etree.tostring(v.signed_root, method="c14n"))


def both(xml: bytes, monkeypatch, trusted: bytes | None = None):
    """verify_dcc with the fast path, then with signxml alone; returns (outcome, fast_handled)."""
    calls = []
    real = signing.verify_fast

    def spy(*a, **kw):
        calls.append(real(*a, **kw))
        return calls[-1]
    with monkeypatch.context() as m:
        m.setattr(signing, "verify_fast", spy)
        fast = _outcome(xml, trusted)
    with monkeypatch.context() as m:
        m.setattr(signing, "verify_fast", lambda *a, **kw: None)
        slow = _outcome(xml, trusted)
    assert fast == slow
    return fast, bool(calls) and calls[-1] is not None


def low_level(root: etree._Element, cert, at: dt.datetime):
    """Fast path and signxml directly (no labauto pre-checks), with the reference count of the
    document: the fast path may leave a case to signxml, never accept one signxml refuses, and
    when both accept they return the same verified content."""
    sig = root.find("ds:Signature", NS)
    xades = sig.find("ds:Object/xades:QualifyingProperties", NS) is not None
    uris = [r.get("URI") for r in sig.findall("ds:SignedInfo/ds:Reference", NS)]
    fast = verify_fast(root, cert, verification_time=at, expect_references=len(uris) if xades else 1,
                       xades=xades, **signing._ALGORITHMS)
    try:
        slow = signing._verify_signxml(root, cert, at, uris, xades)
    except SignatureError:
        assert fast is None
        return None, None
    if fast is not None:
        assert etree.tostring(fast.signed_root) == etree.tostring(slow[0])
        if xades:
            assert etree.tostring(fast.signed_signature_properties) == etree.tostring(slow[1])
    return fast, slow


def resign(root: etree._Element, key) -> bytes:
    """Sign ds:SignedInfo again with the lab's key (as an attacker holding a key, or a signer
    making a mistake, would): the signature value is valid, whatever the references say."""
    sig = root.find("ds:Signature", NS)
    alone = etree.fromstring(etree.tostring(sig))
    si = etree.tostring(alone.find("ds:SignedInfo", NS), method="c14n")
    sig.find("ds:SignatureValue", NS).text = base64.b64encode(
        key.sign(si, padding.PKCS1v15(), hashes.SHA256())).decode()
    return etree.tostring(root)


def test_labauto_xades_signature_takes_the_fast_path(signed, signed_at, lab_keys, monkeypatch):
    out, handled = both(signed, monkeypatch)
    assert handled
    assert out[0] == "verified" and out[2] == signed_at and out[3] is True
    assert out[1] == pki.fingerprint_sha256(lab_keys.cert_pem)
    assert b"<dcc:uniqueIdentifier>FAST-1</dcc:uniqueIdentifier>" in out[4]
    out, handled = both(signed, monkeypatch, trusted=lab_keys.cert_pem)
    assert handled and out[0] == "verified"


def test_ptb_plain_xmldsig_example_takes_the_fast_path(dcc_dir: Path):
    xml = (dcc_dir / "examples" / "valid_signature.xml").read_bytes()
    root = etree.fromstring(xml)
    cert = signing.embedded_certificate(root)
    fast, slow = low_level(root, cert, at=cert.not_valid_before_utc + dt.timedelta(days=1))
    assert fast is not None and slow is not None
    assert fast.signed_root.tag == "{https://ptb.de/dcc}digitalCalibrationCertificate"
    assert fast.signed_signature_properties is None


def test_ptb_invalid_signature_example_is_refused_by_both(dcc_dir: Path, monkeypatch):
    xml = (dcc_dir / "examples" / "invalid_signature.xml").read_bytes()
    out, handled = both(xml, monkeypatch)
    assert out[0] == "refused" and not handled


def test_tampered_content_is_refused_by_both(signed, monkeypatch):
    tampered = signed.replace(b"<dcc:value>SN-0001</dcc:value>", b"<dcc:value>SN-0002</dcc:value>")
    assert tampered != signed
    out, handled = both(tampered, monkeypatch)
    assert out[0] == "refused" and "Digest mismatch for reference 0" in out[1] and not handled


def test_tampered_signed_properties_are_refused_by_both(signed, signed_at, monkeypatch):
    root = etree.fromstring(signed)
    t = root.find(".//xades:SigningTime", NS)
    t.text = (signed_at + dt.timedelta(minutes=1)).isoformat()
    out, handled = both(etree.tostring(root), monkeypatch)
    assert out[0] == "refused" and "Digest mismatch for reference 1" in out[1] and not handled


def test_swapped_certificate_is_refused_by_both(signed, other_lab_keys, monkeypatch):
    root = etree.fromstring(signed)
    other = pki.load_certificate(other_lab_keys.cert_pem)
    root.find(".//ds:X509Certificate", NS).text = base64.b64encode(
        other.public_bytes(pki.serialization.Encoding.DER)).decode()
    out, handled = both(etree.tostring(root), monkeypatch)
    assert out[0] == "refused" and not handled
    out, handled = both(signed, monkeypatch, trusted=other_lab_keys.cert_pem)
    assert out[0] == "refused" and "does not verify" in out[1] and not handled


def test_wrong_digest_under_a_valid_signature_value_is_refused_by_both(signed, signed_at, lab_key, lab_keys,
                                                                        monkeypatch):
    for index in (0, 1, 2):                  # the DCC, the SignedProperties, the KeyInfo
        root = etree.fromstring(signed)
        ref = root.findall("ds:Signature/ds:SignedInfo/ds:Reference", NS)[index]
        ref.find("ds:DigestValue", NS).text = base64.b64encode(b"\x01" * 32).decode()
        xml = resign(root, lab_key)
        out, handled = both(xml, monkeypatch)
        assert out[0] == "refused" and f"Digest mismatch for reference {index}" in out[1], out
        assert not handled
        assert low_level(etree.fromstring(xml), pki.load_certificate(lab_keys.cert_pem), signed_at) == (None, None)


def test_signing_certificate_digest_under_a_valid_signature_is_checked_by_both(signed, lab_key, lab_keys,
                                                                               monkeypatch):
    """SignedProperties naming another certificate, with the references and the signature value
    made valid again: refused by the XAdES SigningCertificateV2 check alone."""
    root = etree.fromstring(signed)
    props = root.find(".//xades:SignedProperties", NS)
    props.find(".//xades:CertDigest/ds:DigestValue", NS).text = base64.b64encode(b"\x02" * 32).decode()
    alone = etree.fromstring(etree.tostring(props))
    ref = root.find(f"ds:Signature/ds:SignedInfo/ds:Reference[@URI='#{props.get('Id')}']", NS)
    import hashlib
    ref.find("ds:DigestValue", NS).text = base64.b64encode(
        hashlib.sha256(etree.tostring(alone, method="c14n")).digest()).decode()
    xml = resign(root, lab_key)
    out, handled = both(xml, monkeypatch)
    assert out[0] == "refused" and "Digest mismatch for certificate digest" in out[1] and not handled


def test_comments_in_digest_value_and_content_are_read_as_signed_by_both(signed, monkeypatch):
    """Comments are not signed (C14N without comments): a comment inside a DigestValue or inside
    the content leaves the signature valid; the verified content has no comment and the text
    around it joined, on both paths."""
    root = etree.fromstring(signed)
    dv = root.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", NS)
    text = dv.text
    dv.text = text[:10]
    dv.append(etree.Comment(" inserted "))
    dv[-1].tail = text[10:]
    value = next(v for v in root.iterfind(".//dcc:identification/dcc:value", NS) if v.text == "SN-0001")
    value.text = "SN-"
    value.append(etree.Comment("x"))
    value[-1].tail = "0001"
    out, handled = both(etree.tostring(root), monkeypatch)
    assert handled and out[0] == "verified"
    assert b"<dcc:value>SN-0001</dcc:value>" in out[4] and b"<!--" not in out[4]


def test_extra_reference_is_refused_by_both(signed, signed_at, lab_key, lab_keys, monkeypatch):
    root = etree.fromstring(signed)
    si = root.find("ds:Signature/ds:SignedInfo", NS)
    si.append(copy.deepcopy(si.findall("ds:Reference", NS)[2]))     # the KeyInfo once more
    xml = resign(root, lab_key)
    out, handled = both(xml, monkeypatch)
    assert out[0] == "refused" and "4 references" in out[1] and not handled
    # the verifiers themselves told to expect 4 agree (both accept the same content)
    fast, slow = low_level(etree.fromstring(xml), pki.load_certificate(lab_keys.cert_pem), signed_at)
    assert fast is not None and slow is not None


def test_duplicate_id_wrapping_is_refused_by_both(signed, signed_at, lab_keys, monkeypatch):
    """A copy of the SignedProperties (same Id, another signing time) planted in the signature:
    two equal xs:ID values make the signature schema-invalid (before: an lxml DocumentInvalid
    escaped verify_dcc, a 500 on the platform); the fast path leaves it to signxml."""
    root = etree.fromstring(signed)
    props = root.find(".//xades:SignedProperties", NS)
    planted = copy.deepcopy(props)
    planted.find(".//xades:SigningTime", NS).text = (signed_at + dt.timedelta(minutes=1)).isoformat()
    obj = etree.SubElement(root.find("ds:Signature", NS), f"{DS}Object")
    obj.append(planted)
    out, handled = both(etree.tostring(root), monkeypatch)
    assert out[0] == "refused" and "is not a valid value of the atomic type 'xs:ID'" in out[1] and not handled
    assert low_level(etree.fromstring(etree.tostring(root)), pki.load_certificate(lab_keys.cert_pem),
                     signed_at) == (None, None)


def test_moved_signed_properties_wrapping_is_refused_by_both(signed, signed_at, lab_keys, monkeypatch):
    """The signed SignedProperties moved into another ds:Object and a forged one (other Id,
    other signing time) put where a reader looks: the signature still verifies over the moved
    original, so both verifiers return the ORIGINAL signed properties, and labauto refuses the
    document because the signing time it read differs from the signed one."""
    root = etree.fromstring(signed)
    props = root.find(".//xades:SignedProperties", NS)
    original = copy.deepcopy(props)
    props.set("Id", "forged")
    props.find(".//xades:SigningTime", NS).text = (signed_at + dt.timedelta(minutes=1)).isoformat()
    obj = etree.SubElement(root.find("ds:Signature", NS), f"{DS}Object")
    obj.append(original)
    xml = etree.tostring(root)
    out, handled = both(xml, monkeypatch)
    assert out == ("refused", "the signed xades:SigningTime differs from the one checked") and handled
    fast, slow = low_level(etree.fromstring(xml), pki.load_certificate(lab_keys.cert_pem), signed_at)
    assert fast.signed_signature_properties.findtext("xades:SigningTime", namespaces=NS) == \
        signed_at.isoformat()


def test_second_signature_inside_the_content_is_left_to_signxml(signed, signed_at, make_dcc, lab_keys,
                                                                monkeypatch):
    """A signed DCC's signature copied into the content of another (unsigned) DCC, the
    original signature left at the end: two ds:Signature elements; the fast path does not
    handle it and labauto's outcome is signxml's."""
    root = etree.fromstring(signed)
    other = etree.fromstring(sign_dcc(make_dcc("FAST-2"), lab_keys.key_pem, lab_keys.cert_pem,
                                      signing_time=signed_at))
    remark = root.find("dcc:administrativeData/dcc:coreData", NS)
    remark.append(copy.deepcopy(other.find("ds:Signature", NS)))
    out, handled = both(etree.tostring(root), monkeypatch)
    assert out[0] == "refused" and not handled


def test_tree_is_unchanged_after_the_fast_path(signed, signed_at, lab_keys):
    root = etree.fromstring(signed)
    root.find("ds:Signature", NS).tail = "\n  "          # text after the signature is signed
    before = etree.tostring(root)
    fast, _ = low_level(root, pki.load_certificate(lab_keys.cert_pem), signed_at)
    assert etree.tostring(root) == before
    assert fast is None       # the tail changed the signed content: refused by both


def test_time_stamped_xades_t_signature_takes_the_fast_path(signed, platform_ca, monkeypatch):
    """labauto's issued DCCs carry a signature time-stamp in the unsigned properties (XAdES-T):
    the same shape for the fast path, the same outcome as signxml."""
    from labauto.certificate.tsa import TimeStampingAuthority, issue_tsa_certificate
    from labauto.certificate.xades_t import add_signature_timestamp
    from labauto.platform.tsa_client import stamp_via

    pair = issue_tsa_certificate(platform_ca)
    tsa = TimeStampingAuthority(pair.key_pem, pair.cert_pem, [platform_ca.cert_pem])
    stamped = add_signature_timestamp(signed, stamp_via(lambda req: tsa.respond(req).response_der))
    assert b"SignatureTimeStamp" in stamped
    out, handled = both(stamped, monkeypatch)
    assert handled and out[0] == "verified"
    assert out == both(signed, monkeypatch)[0]       # the time-stamp is not signed content

"""RFC 3161 time-stamping authority and XAdES-T time-stamps on signed DCCs."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from labauto.certificate import pki
from labauto.certificate.signing import DS_NS, XADES_NS, SignatureError, verify_dcc
from labauto.certificate.tsa import TimeStampingAuthority, issue_tsa_certificate
from labauto.certificate.xades_t import (EXC_C14N, add_signature_timestamp, check_signature_timestamp,
                                         signature_value_octets)
from labauto.platform.tsa_client import TimestampUnavailable, stamp_via

@pytest.fixture(scope="module")
def stamped_at() -> dt.datetime:
    """The TSA's fixed clock: the time its certificate is made (it is valid from 5 min before)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def tsa(platform_ca, stamped_at) -> TimeStampingAuthority:
    pair = issue_tsa_certificate(platform_ca)
    return TimeStampingAuthority(pair.key_pem, pair.cert_pem, [platform_ca.cert_pem],
                                 clock=lambda: stamped_at)


@pytest.fixture(scope="module")
def stamp(tsa):
    return stamp_via(lambda req: tsa.respond(req).response_der)


@pytest.fixture(scope="module")
def stamped_dcc(make_dcc, sign, lab_keys, stamp) -> bytes:
    return add_signature_timestamp(sign(make_dcc("TST-1"), lab_keys), stamp)


def test_tsa_certificate_has_the_critical_time_stamping_usage(tsa):
    cert = pki.load_certificate(tsa.cert_pem)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_a_lab_certificate_cannot_run_a_tsa(platform_ca, lab_keys):
    with pytest.raises(pki.PKIError, match="id-kp-timeStamping"):
        TimeStampingAuthority(lab_keys.key_pem, lab_keys.cert_pem)


def test_the_signature_time_stamp_sits_in_the_unsigned_properties(stamped_dcc, stamped_at):
    root = etree.fromstring(stamped_dcc)
    ns = {"ds": DS_NS, "xades": XADES_NS}
    sts = root.find("ds:Signature/ds:Object/xades:QualifyingProperties/xades:UnsignedProperties/"
                    "xades:UnsignedSignatureProperties/xades:SignatureTimeStamp", ns)
    assert sts.find("ds:CanonicalizationMethod", ns).get("Algorithm") == EXC_C14N
    token = base64.b64decode(sts.findtext("xades:EncapsulatedTimeStamp", namespaces=ns))
    from asn1crypto import cms
    tst_info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    # the imprint is the SHA-256 of the exclusive-c14n ds:SignatureValue element
    value = root.find("ds:Signature/ds:SignatureValue", ns)
    c14n = etree.tostring(value, method="c14n", exclusive=True)
    assert c14n.startswith(b'<ds:SignatureValue xmlns:ds="http://www.w3.org/2000/09/xmldsig#"')
    assert tst_info["message_imprint"]["hashed_message"].native == hashlib.sha256(c14n).digest()
    assert tst_info["gen_time"].native == stamped_at
    assert tst_info["policy"].dotted == "0.4.0.2023.1.1"
    # the time-stamp does not disturb the XAdES signature
    assert verify_dcc(stamped_dcc).signer_subject == "C=DE,O=Lab A,CN=Lab A signing"


def test_a_valid_token_gives_the_trusted_time(stamped_dcc, platform_ca, stamped_at):
    verdict = check_signature_timestamp(stamped_dcc, [platform_ca.cert_pem])
    assert verdict.ok, verdict.reason
    assert verdict.time == stamped_at
    assert verdict.tsa == "Organization: labauto, Common Name: labauto platform TSA"


def test_a_token_from_an_unknown_tsa_is_not_trusted(make_dcc, sign, lab_keys, platform_ca):
    rogue_ca = pki.CertificateAuthority.create("rogue CA")
    pair = issue_tsa_certificate(rogue_ca, "rogue TSA")
    rogue = TimeStampingAuthority(pair.key_pem, pair.cert_pem, [rogue_ca.cert_pem])
    signed = add_signature_timestamp(sign(make_dcc("TST-2"), lab_keys),
                                     stamp_via(lambda req: rogue.respond(req).response_der))
    verdict = check_signature_timestamp(signed, [platform_ca.cert_pem])
    assert not verdict.ok
    assert "does not chain to a trusted anchor" in verdict.reason and "rogue TSA" in verdict.reason
    assert check_signature_timestamp(signed, [rogue_ca.cert_pem]).ok


def test_a_token_whose_imprint_does_not_match_is_refused(stamped_dcc, make_dcc, sign, lab_keys,
                                                         stamp, platform_ca):
    """The token of one DCC moved into another DCC's signature dates the wrong signature value."""
    other = add_signature_timestamp(sign(make_dcc("TST-3"), lab_keys), stamp)
    ns = {"ds": DS_NS, "xades": XADES_NS}
    path = ".//xades:EncapsulatedTimeStamp"
    donor = etree.fromstring(stamped_dcc).findtext(path, namespaces=ns)
    root = etree.fromstring(other)
    root.find(path, ns).text = donor
    swapped = etree.tostring(root)
    verdict = check_signature_timestamp(swapped, [platform_ca.cert_pem])
    assert not verdict.ok
    assert "does not date this signature" in verdict.reason
    assert verify_dcc(swapped).signer_subject      # the XML signature itself still holds


def test_a_dcc_without_time_stamp_has_no_verdict(make_dcc, sign, lab_keys, platform_ca):
    assert check_signature_timestamp(sign(make_dcc("TST-4"), lab_keys), [platform_ca.cert_pem]) is None


def test_a_garbled_token_is_a_failed_verdict(stamped_dcc, platform_ca):
    garbled = stamped_dcc.replace(b"<xades:EncapsulatedTimeStamp>", b"<xades:EncapsulatedTimeStamp>QUJD")
    verdict = check_signature_timestamp(garbled, [platform_ca.cert_pem])
    assert not verdict.ok and "not an RFC 3161 token" in verdict.reason


def test_time_stamping_twice_or_a_plain_signature_is_refused(stamped_dcc, make_dcc, lab_keys, stamp):
    from labauto.certificate.signing import sign_dcc
    with pytest.raises(SignatureError, match="already carries a SignatureTimeStamp"):
        add_signature_timestamp(stamped_dcc, stamp)
    plain = sign_dcc(make_dcc("TST-5"), lab_keys.key_pem, lab_keys.cert_pem, xades=False)
    with pytest.raises(SignatureError, match="plain XMLDSig"):
        add_signature_timestamp(plain, stamp)


def test_the_tsa_rejects_bad_requests_with_a_reason(tsa):
    bad = tsa.respond(b"\x30\x03\x02\x01\x01")
    assert not bad.granted and "not a DER RFC 3161 TimeStampReq" in bad.reason
    with pytest.raises(TimestampUnavailable, match=r"did not grant a time-stamp: status 2 \(badAlg\)"):
        stamp_via(lambda req: tsa.respond(req).response_der)(b"\0" * 20, "sha1")
    with pytest.raises(TimestampUnavailable, match="badDataFormat"):
        stamp_via(lambda req: tsa.respond(req).response_der)(b"\0" * 20, "sha256")


def test_a_token_for_another_digest_is_not_accepted(tsa):
    """A TSA (or a man in the middle) answering with a token over another digest is caught."""
    other = tsa.respond  # answer every request with a token for a fixed digest

    def send(req_der: bytes) -> bytes:
        req = tsp.TimeStampReq.load(req_der)
        fake = tsp.TimeStampReq({"version": 1, "message_imprint": {
            "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\1" * 32},
            "nonce": req["nonce"].native, "cert_req": True})
        return other(fake.dump()).response_der

    with pytest.raises(TimestampUnavailable, match="dates another digest"):
        stamp_via(send)(b"\2" * 32, "sha256")


def test_signature_value_octets_refuse_unknown_canonicalization(stamped_dcc):
    sig = etree.fromstring(stamped_dcc).find(f"{{{DS_NS}}}Signature")
    with pytest.raises(SignatureError, match="not supported"):
        signature_value_octets(sig, "urn:unknown")

"""XAdES-T: an RFC 3161 time-stamp over a DCC's XML signature (ETSI EN 319 132-1, 5.3).

A signed DCC (XAdES-BES, :mod:`labauto.certificate.signing`) states its signing time as the
signer's claim.  XAdES-T adds trusted time: the *unsigned* qualifying property
``xades:SignatureTimeStamp`` holds a time-stamp token whose message imprint is the hash of the
``ds:SignatureValue`` element, canonicalised with the algorithm named in the time-stamp's own
``ds:CanonicalizationMethod`` (here Exclusive XML Canonicalization 1.0).  The token proves the
signature existed at the TSA's time; that time, not the claimed one, is the moment at which the
signer's certificate chain is judged.

Adding the property after signing does not touch the signature: the signature covers the DCC
(enveloped transform) and its SignedProperties, not the UnsignedProperties.  Layout::

    ds:Signature/ds:Object/xades:QualifyingProperties/
        xades:SignedProperties ...            (signed, from signing)
        xades:UnsignedProperties/xades:UnsignedSignatureProperties/xades:SignatureTimeStamp/
            ds:CanonicalizationMethod Algorithm=".../xml-exc-c14n#"
            xades:EncapsulatedTimeStamp       (base64 DER of the token)
"""
from __future__ import annotations

import base64
from typing import Callable, Iterable

from lxml import etree

from labauto.certificate.signing import DS_NS, XADES_NS, SignatureError, parse_xml
from labauto.certificate.timestamp_token import TokenCheck, check_token, token_digest

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_C14N = {  # algorithm URI -> lxml tostring(method="c14n") options
    EXC_C14N: dict(exclusive=True, with_comments=False),
    EXC_C14N + "WithComments": dict(exclusive=True, with_comments=True),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": dict(exclusive=False, with_comments=False),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": dict(exclusive=False, with_comments=True),
}
_QP = f"{{{DS_NS}}}Object/{{{XADES_NS}}}QualifyingProperties"
_STS_PATH = (f"{{{XADES_NS}}}UnsignedProperties/{{{XADES_NS}}}UnsignedSignatureProperties/"
             f"{{{XADES_NS}}}SignatureTimeStamp")

# stamp(digest, hash algorithm name) -> DER time-stamp token over that digest
Stamp = Callable[[bytes, str], bytes]


def _signature(root: etree._Element) -> etree._Element:
    sigs = root.findall(f"{{{DS_NS}}}Signature")
    if len(sigs) != 1:
        raise SignatureError(f"the DCC carries {len(sigs)} ds:Signature elements; XAdES-T needs exactly one")
    return sigs[0]


def signature_value_octets(sig: etree._Element, c14n: str = EXC_C14N) -> bytes:
    """The bytes the SignatureTimeStamp dates: ``ds:SignatureValue`` canonicalised by ``c14n``."""
    value = sig.find(f"{{{DS_NS}}}SignatureValue")
    if value is None:
        raise SignatureError("the signature has no ds:SignatureValue")
    if c14n not in _C14N:
        raise SignatureError(f"the SignatureTimeStamp's canonicalization {c14n!r} is not supported "
                             f"(supported: {', '.join(_C14N)})")
    return etree.tostring(value, method="c14n", **_C14N[c14n])


def add_signature_timestamp(signed_xml: bytes, stamp: Stamp, *, algorithm: str = "sha256") -> bytes:
    """``signed_xml`` (a XAdES-signed DCC) with a SignatureTimeStamp from ``stamp`` added.

    Raises :class:`SignatureError` if the document is not XAdES-signed or is already
    time-stamped; whatever ``stamp`` raises (the TSA is unreachable) propagates unchanged.
    """
    root = parse_xml(signed_xml)
    sig = _signature(root)
    qp = sig.find(_QP)
    if qp is None:
        raise SignatureError("the signature is plain XMLDSig; XAdES-T needs XAdES qualifying properties")
    if qp.find(_STS_PATH) is not None:
        raise SignatureError("the signature already carries a SignatureTimeStamp")
    token = stamp(token_digest(signature_value_octets(sig), algorithm), algorithm)
    unsigned = qp.find(f"{{{XADES_NS}}}UnsignedProperties")
    if unsigned is None:
        unsigned = etree.SubElement(qp, f"{{{XADES_NS}}}UnsignedProperties")
    props = unsigned.find(f"{{{XADES_NS}}}UnsignedSignatureProperties")
    if props is None:
        props = etree.SubElement(unsigned, f"{{{XADES_NS}}}UnsignedSignatureProperties")
    sig_id = sig.get("Id") or "signature"
    sts = etree.SubElement(props, f"{{{XADES_NS}}}SignatureTimeStamp", Id=f"{sig_id}-SignatureTimeStamp")
    etree.SubElement(sts, f"{{{DS_NS}}}CanonicalizationMethod", Algorithm=EXC_C14N)
    etree.SubElement(sts, f"{{{XADES_NS}}}EncapsulatedTimeStamp").text = base64.b64encode(token).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def signature_timestamp(root: etree._Element) -> tuple[bytes, str] | None:
    """The DER token and canonicalization URI of the signature's SignatureTimeStamp, or None
    when the DCC has none (XAdES-BES or plain XMLDSig)."""
    sig = _signature(root)
    sts = sig.find(f"{_QP}/{_STS_PATH}")
    if sts is None:
        return None
    method = sts.find(f"{{{DS_NS}}}CanonicalizationMethod")
    encapsulated = sts.find(f"{{{XADES_NS}}}EncapsulatedTimeStamp")
    if encapsulated is None or not (encapsulated.text or "").strip():
        raise SignatureError("the SignatureTimeStamp carries no xades:EncapsulatedTimeStamp")
    try:
        token = base64.b64decode("".join(encapsulated.text.split()), validate=True)
    except ValueError as exc:
        raise SignatureError(f"the EncapsulatedTimeStamp is not base64: {exc}") from exc
    # XAdES: without a CanonicalizationMethod, the default is Canonical XML 1.0 (inclusive)
    c14n = method.get("Algorithm") if method is not None else "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    return token, c14n


def check_signature_timestamp(xml: bytes | etree._Element, trust_anchors: Iterable[bytes], *,
                              crls: Iterable[bytes] = ()) -> TokenCheck | None:
    """The verdict on the DCC's SignatureTimeStamp (None: the DCC is not time-stamped).

    The token must date the canonicalised ``ds:SignatureValue``, be signed by a TSA whose
    certificate has the critical id-kp-timeStamping usage and chains to ``trust_anchors``.
    A malformed time-stamp property is a failed verdict, not an exception.
    """
    root = parse_xml(xml) if isinstance(xml, bytes) else xml
    try:
        found = signature_timestamp(root)
        if found is None:
            return None
        token, c14n = found
        dated = signature_value_octets(_signature(root), c14n)
    except SignatureError as exc:
        return TokenCheck(False, str(exc))
    verdict = check_token(token, dated, trust_anchors, crls=crls)
    if not verdict.ok and "imprint" in verdict.reason:
        return TokenCheck(False, "the time-stamp token does not date this signature: its message "
                          "imprint differs from the hash of the canonicalised ds:SignatureValue",
                          verdict.time, verdict.tsa, verdict.serial_number, verdict.policy,
                          verdict.hash_algorithm)
    return verdict

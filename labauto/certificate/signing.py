"""XML signatures on DCC documents: enveloped XMLDSig with XAdES signed properties.

A DCC is signed by appending one ``ds:Signature`` as the last child of
``dcc:digitalCalibrationCertificate`` (the place DCC 3.x allows it).  Its first
``ds:Reference`` (``URI=""`` with the enveloped-signature transform) covers the whole document;
RSA-SHA256, C14N 1.1, and the signer's X.509 certificate in ``ds:KeyInfo/ds:X509Data``.

By default the signature is XAdES-BES (ETSI EN 319 132-1) as far as signxml's
``XAdESSigner`` goes: a ``ds:Object/xades:QualifyingProperties`` carries the *signed* properties
``xades:SigningTime`` and ``xades:SigningCertificateV2`` (the SHA-256 digest of the signing
certificate), referenced from ``ds:SignedInfo`` together with ``ds:KeyInfo`` — so the claimed time
and the certificate are bound to the signature and cannot be swapped.  There is no trusted
timestamp (XAdES-T needs a time-stamping authority): the signing time is the signer's claim.
``xades=False`` gives the plain XMLDSig form PTB's example ``valid_signature.xml`` uses; both
verify.  The signed DCC stays schema-valid (XAdES elements sit in ``ds:Object``, which the
XMLDSig schema validates laxly).

Verification checks the signature against the certificate embedded in ``ds:KeyInfo`` or against
one the caller trusts (``trusted_cert_pem``), with the certificate's validity checked at the
XAdES signing time when there is one (else now), and returns who signed and when.

XML is parsed with entity resolution, network access and DTD loading switched off, so a hostile
document cannot read files, reach the network or expand entities ("billion laughs").
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import (CanonicalizationMethod, DigestAlgorithm, SignatureConfiguration,
                     SignatureMethod, XMLSigner, XMLVerifier, methods)
from signxml.exceptions import InvalidInput, InvalidSignature, SignXMLException
from signxml.xades import (XAdESDataObjectFormat, XAdESSignatureConfiguration, XAdESSigner,
                           XAdESVerifier)

from labauto.certificate import pki
from labauto.certificate.dcc_xml import DCC_NS, DCC_ROOT, safe_parser
from labauto.certificate.signature_fastpath import verify_fast

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"
C14N_11 = CanonicalizationMethod.CANONICAL_XML_1_1
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
_CLOCK_SKEW = dt.timedelta(minutes=5)

_ALGORITHMS = dict(
    signature_methods=frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384,
                                 SignatureMethod.RSA_SHA512, SignatureMethod.ECDSA_SHA256,
                                 SignatureMethod.ECDSA_SHA384, SignatureMethod.ECDSA_SHA512}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384,
                                 DigestAlgorithm.SHA512}),
)


class SignatureError(ValueError):
    """The document is not signed, the signature does not verify, or it does not cover the DCC."""


@dataclass(frozen=True)
class VerifiedSignature:
    """The result of a successful verification: who signed, when, and what the signature covers."""

    signer_cert_pem: bytes
    signer_subject: str
    signer_fingerprint_sha256: str
    signed_root: etree._Element   # the verified content (the whole DCC minus the signature)
    signing_time: dt.datetime | None = None   # signed xades:SigningTime (UTC); None for plain XMLDSig
    xades: bool = False
    signer_not_after: dt.datetime | None = None   # the end of the signing certificate's validity (UTC)


def parse_xml(xml: bytes) -> etree._Element:
    """Parse ``xml`` safely (:func:`~labauto.certificate.dcc_xml.safe_parser`); refuse a
    DOCTYPE (DTDs are never needed in a DCC)."""
    try:
        root = etree.fromstring(xml, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SignatureError(f"not well-formed XML: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SignatureError("the document carries a DOCTYPE declaration; DCCs must not use DTDs")
    return root


def _signatures(root: etree._Element) -> list[etree._Element]:
    return root.findall(f"{{{DS_NS}}}Signature")


# ------------------------------------------------------------------ signing

@functools.lru_cache(maxsize=8)
def _private_key(key_pem: bytes):
    """Loading an RSA key checks it (~20 ms); a lab signs many DCCs with one key."""
    try:
        return pki.load_private_key(key_pem)
    except pki.PKIError as exc:
        raise SignatureError(f"the signing key is {exc}") from exc


@functools.lru_cache(maxsize=8)
def _certificate(cert_pem: bytes) -> x509.Certificate:
    try:
        return pki.load_certificate(cert_pem)
    except pki.PKIError as exc:
        raise SignatureError(f"the signing certificate is {exc}") from exc


class _DccXAdESSigner(XAdESSigner):
    """signxml's XAdES signer with the signing time given by the caller (signxml writes "now")."""

    def __init__(self, signing_time: dt.datetime, **kwargs) -> None:
        super().__init__(data_object_format=XAdESDataObjectFormat(
            Description="PTB Digital Calibration Certificate (DCC)", MimeType="application/xml"), **kwargs)
        self.signing_time = signing_time

    def add_signing_time(self, signed_signature_properties, sig_root, signing_settings) -> None:
        el = etree.SubElement(signed_signature_properties, f"{{{XADES_NS}}}SigningTime",
                              nsmap=self.namespaces)
        el.text = self.signing_time.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def sign_dcc(xml: bytes, key_pem: bytes, cert_pem: bytes, *, xades: bool = True,
             signing_time: dt.datetime | None = None) -> bytes:
    """Return ``xml`` (an unsigned DCC) with an enveloped RSA-SHA256 signature by ``key_pem``.

    ``cert_pem`` (the certificate of the key) is embedded in ``ds:KeyInfo/ds:X509Data``.  With
    ``xades`` (the default) the signature carries XAdES signed properties: ``signing_time``
    (default now, UTC) and the SHA-256 digest of ``cert_pem``.
    Raises :class:`SignatureError` if the document is not a DCC or is already signed.
    """
    root = parse_xml(xml)
    if root.tag != DCC_ROOT:
        raise SignatureError(f"root element is {root.tag}, not dcc:digitalCalibrationCertificate")
    if _signatures(root):
        raise SignatureError("the DCC is already signed; sign the unsigned document")
    key_pem = key_pem.encode() if isinstance(key_pem, str) else key_pem
    cert_pem = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
    key, cert = _private_key(key_pem), _certificate(cert_pem)
    options = dict(method=methods.enveloped, signature_algorithm=SignatureMethod.RSA_SHA256,
                   digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=C14N_11)
    try:
        if xades:
            signer = _DccXAdESSigner(signing_time or dt.datetime.now(dt.timezone.utc), **options)
            signer.namespaces = {"ds": DS_NS, "xades": XADES_NS}
            signed = signer.sign(root, key=key, cert=[cert], always_add_key_value=False)
        else:
            signer = XMLSigner(**options)
            signer.namespaces = {"ds": DS_NS}
            signed = signer.sign(root, key=key, cert=[cert])
    except (SignXMLException, ValueError, TypeError) as exc:
        raise SignatureError(f"cannot sign the DCC with this key/certificate: {exc}") from exc
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


# ------------------------------------------------------------------ verification

@functools.lru_cache(maxsize=64)
def _der_certificate(der: bytes) -> x509.Certificate:
    """A lab signs many DCCs with one certificate: parse its DER once (keyed by the bytes)."""
    return x509.load_der_x509_certificate(der)


@functools.lru_cache(maxsize=64)
def _signer_identity(cert: x509.Certificate) -> tuple[bytes, str, str]:
    """PEM, RFC 4514 subject and SHA-256 fingerprint of a certificate, computed once per
    certificate (certificates compare and hash by their DER encoding)."""
    return cert.public_bytes(serialization.Encoding.PEM), pki.subject_text(cert), pki.fingerprint_sha256(cert)


def embedded_certificate(root: etree._Element) -> x509.Certificate | None:
    """The first X509Certificate in the document's signature KeyInfo, if any."""
    for sig in _signatures(root):
        el = sig.find(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate")
        if el is not None and el.text:
            try:
                return _der_certificate(base64.b64decode("".join(el.text.split())))
            except ValueError as exc:
                raise SignatureError(f"the X509Certificate in ds:KeyInfo is not a certificate: {exc}") from exc
    return None


def embedded_certificates(root: etree._Element) -> list[x509.Certificate]:
    """Every X509Certificate in the signature's KeyInfo (the signer's, then any CA certificates
    the signer added to help build its chain)."""
    out = []
    for sig in _signatures(root):
        for el in sig.iterfind(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate"):
            try:
                out.append(_der_certificate(base64.b64decode("".join((el.text or "").split()))))
            except ValueError as exc:
                raise SignatureError(f"an X509Certificate in ds:KeyInfo is not a certificate: {exc}") from exc
    return out


def _parse_time(text: str) -> dt.datetime:
    """An xsd:dateTime as an aware UTC datetime (no offset = UTC)."""
    text = text.strip()
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SignatureError(f"xades:SigningTime {text!r} is not an ISO 8601 date-time") from exc
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def _claimed_signing_time(sig: etree._Element) -> dt.datetime:
    """The xades:SigningTime in the (not yet verified) signature."""
    el = sig.find(f"{{{DS_NS}}}Object/{{{XADES_NS}}}QualifyingProperties/{{{XADES_NS}}}SignedProperties/"
                  f"{{{XADES_NS}}}SignedSignatureProperties/{{{XADES_NS}}}SigningTime")
    if el is None:
        raise SignatureError("the XAdES signed properties carry no xades:SigningTime")
    return _parse_time(el.text or "")


def _check_references(sig: etree._Element, is_xades: bool) -> list[str]:
    """The Reference URIs of ``ds:SignedInfo``: exactly one ``URI=""`` (the whole DCC, with the
    enveloped-signature transform); with XAdES the others may only point inside the signature
    (its SignedProperties and KeyInfo), so nothing outside the signature is signed piecemeal."""
    refs = sig.findall(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    uris = [r.get("URI") for r in refs]
    whole = [r for r in refs if r.get("URI") == ""]
    if len(whole) != 1 or ENVELOPED not in [t.get("Algorithm") for t in whole[0].iter(f"{{{DS_NS}}}Transform")]:
        raise SignatureError('the signature does not cover the whole DCC (exactly one Reference URI="" '
                             "with the enveloped-signature transform is required)")
    if not is_xades:
        if len(refs) != 1:
            raise SignatureError(f"the signature has {len(refs)} references; a plain XMLDSig DCC "
                                 'signature has exactly one (URI="")')
        return uris
    if not 2 <= len(refs) <= 3:
        raise SignatureError(f"the XAdES signature has {len(refs)} references; expected the DCC, "
                             "the SignedProperties and optionally the KeyInfo")
    inside = {el.get("Id") for el in sig.iter() if el.get("Id")}
    for r in refs:
        uri = r.get("URI") or ""
        if uri and (not uri.startswith("#") or uri[1:] not in inside):
            raise SignatureError(f"the signature references {uri!r}, which is not an element of the "
                                 "signature itself")
    if not any(r.get("Type") == _SIGNED_PROPERTIES_TYPE for r in refs):
        raise SignatureError("the XAdES signature does not reference its SignedProperties")
    return uris


def _verify_signxml(root: etree._Element, cert: x509.Certificate, at: dt.datetime, uris: list[str],
                    is_xades: bool) -> tuple[etree._Element | None, etree._Element | None]:
    """signxml's verification: the verified content of the URI="" reference and, with XAdES, the
    verified SignedSignatureProperties."""
    try:
        if is_xades:
            config = XAdESSignatureConfiguration(expect_references=len(uris), verification_time=at, **_ALGORITHMS)
            results = XAdESVerifier().verify(root, x509_cert=cert, expect_config=config)
        else:
            config = SignatureConfiguration(require_x509=True, expect_references=1, verification_time=at,
                                            **_ALGORITHMS)
            results = [XMLVerifier().verify(root, x509_cert=cert, expect_config=config)]
    except InvalidSignature as exc:
        raise SignatureError(f"the XML signature does not verify: {exc}") from exc
    except (InvalidInput, SignXMLException, ValueError, etree.DocumentInvalid) as exc:
        # DocumentInvalid: signxml's schema check of the signature element (e.g. two equal Ids)
        raise SignatureError(f"the XML signature cannot be verified: {exc}") from exc
    props = next(r.signed_properties for r in results if hasattr(r, "signed_properties")) if is_xades else None
    return results[uris.index("")].signed_xml, props


def verify_dcc(xml: bytes | etree._Element, trusted_cert_pem: bytes | None = None, *,
               check_validity: bool = True) -> VerifiedSignature:
    """Verify the DCC's enveloped signature and return the signer (and the XAdES signing time).

    With ``trusted_cert_pem`` the signature must verify against that certificate (whatever the
    document embeds); without it, against the certificate embedded in ``ds:KeyInfo`` — which
    proves integrity, not identity: the caller decides whether it trusts that signer.  The
    certificate must be valid at the XAdES signing time (else now), and a signing time may not
    lie in the future.  Raises :class:`SignatureError` with the reason otherwise.
    ``check_validity=False`` leaves the certificate's validity to the caller (a verification
    report judges it with the whole chain, at the signing time).
    """
    root = parse_xml(xml) if isinstance(xml, bytes) else xml
    sigs = _signatures(root)
    if not sigs:
        raise SignatureError("the DCC is not signed: no ds:Signature child of "
                             "dcc:digitalCalibrationCertificate")
    if len(sigs) > 1:
        raise SignatureError(f"the DCC carries {len(sigs)} signatures; exactly one is supported")
    sig = sigs[0]
    is_xades = sig.find(f"{{{DS_NS}}}Object/{{{XADES_NS}}}QualifyingProperties") is not None
    uris = _check_references(sig, is_xades)
    if trusted_cert_pem is not None:
        try:
            cert = pki.load_certificate(trusted_cert_pem)
        except pki.PKIError as exc:
            raise SignatureError(f"trusted certificate: {exc}") from exc
    else:
        cert = embedded_certificate(root)
        if cert is None:
            raise SignatureError("the signature carries no X509Certificate in ds:KeyInfo and no "
                                 "trusted certificate was given")
    now = dt.datetime.now(dt.timezone.utc)
    signing_time = _claimed_signing_time(sig) if is_xades else None
    if signing_time is not None and signing_time > now + _CLOCK_SKEW:
        raise SignatureError(f"the XAdES signing time {signing_time.isoformat()} lies in the future")
    at = signing_time or now
    try:
        if check_validity:
            pki.check_valid_now(cert, at, when="the signing time" if signing_time else "the present time")
    except pki.PKIError as exc:
        raise SignatureError(f"the signing {exc}") from exc
    if not check_validity:      # signxml checks the validity too: give it a moment it holds
        at = max(cert.not_valid_before_utc, min(at, cert.not_valid_after_utc))
    # the shapes labauto and PTB's examples use, checked as signxml checks them without its
    # copies of the document (signature_fastpath); any other shape, or any failure: signxml decides
    fast = verify_fast(root, cert, verification_time=at, expect_references=len(uris) if is_xades else 1,
                       xades=is_xades, **_ALGORITHMS)
    if fast is not None:
        signed, props = fast.signed_root, fast.signed_signature_properties
    else:
        signed, props = _verify_signxml(root, cert, at, uris, is_xades)
    if signed is None or signed.tag != root.tag or signed.find(f"{{{DCC_NS}}}administrativeData") is None:
        raise SignatureError('the signature does not cover the whole DCC (Reference URI="" with '
                             "the enveloped-signature transform is required)")
    if is_xades:
        verified_time = props.findtext(f"{{{XADES_NS}}}SigningTime")
        if verified_time is None or _parse_time(verified_time) != signing_time:
            raise SignatureError("the signed xades:SigningTime differs from the one checked")
    pem, subject, fingerprint = _signer_identity(cert)
    return VerifiedSignature(signer_cert_pem=pem, signer_subject=subject,
                             signer_fingerprint_sha256=fingerprint,
                             signed_root=signed, signing_time=signing_time, xades=is_xades,
                             signer_not_after=cert.not_valid_after_utc)


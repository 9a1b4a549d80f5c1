"""Enveloped XML signatures on DCC documents (RSA-SHA256, C14N 1.1, X509Certificate in KeyInfo).

A DCC is signed by appending one ``ds:Signature`` as the last child of
``dcc:digitalCalibrationCertificate`` (the place DCC 3.x allows it), covering the whole document
(``Reference URI=""`` with the enveloped-signature transform).  The signed document stays
schema-valid.  Verification checks the signature against the certificate embedded in KeyInfo,
or against a certificate the caller trusts (``trusted_cert_pem``), and returns who signed.

XML is parsed with entity resolution, network access and DTD loading switched off, so a hostile
document cannot read files, reach the network or expand entities ("billion laughs").
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree
from signxml import (CanonicalizationMethod, DigestAlgorithm, SignatureConfiguration,
                     SignatureMethod, XMLSigner, XMLVerifier, methods)
from signxml.exceptions import InvalidInput, InvalidSignature, SignXMLException

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
DCC_NS = "https://ptb.de/dcc"
C14N_11 = CanonicalizationMethod.CANONICAL_XML_1_1

_VERIFY_CONFIG = SignatureConfiguration(
    require_x509=True,
    expect_references=1,
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
    """The result of a successful verification: who signed, and what the signature covers."""

    signer_cert_pem: bytes
    signer_subject: str
    signer_fingerprint_sha256: str
    signed_root: etree._Element   # the verified content (the whole DCC minus the signature)


def safe_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entities, loads no DTD and touches no network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=False)


def parse_xml(xml: bytes) -> etree._Element:
    """Parse ``xml`` safely; refuse a DOCTYPE (DTDs are never needed in a DCC)."""
    try:
        root = etree.fromstring(xml, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SignatureError(f"not well-formed XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise SignatureError("the document carries a DOCTYPE declaration; DCCs must not use DTDs")
    return root


def _signatures(root: etree._Element) -> list[etree._Element]:
    return root.findall(f"{{{DS_NS}}}Signature")


def sign_dcc(xml: bytes, key_pem: bytes, cert_pem: bytes) -> bytes:
    """Return ``xml`` (an unsigned DCC) with an enveloped RSA-SHA256 signature by ``key_pem``.

    ``cert_pem`` (the certificate of the key) is embedded in ``ds:KeyInfo/ds:X509Data``.
    Raises :class:`SignatureError` if the document is not a DCC or is already signed.
    """
    root = parse_xml(xml)
    if root.tag != f"{{{DCC_NS}}}digitalCalibrationCertificate":
        raise SignatureError(f"root element is {root.tag}, not dcc:digitalCalibrationCertificate")
    if _signatures(root):
        raise SignatureError("the DCC is already signed; sign the unsigned document")
    signer = XMLSigner(method=methods.enveloped, signature_algorithm=SignatureMethod.RSA_SHA256,
                       digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=C14N_11)
    signer.namespaces = {"ds": DS_NS}
    try:
        signed = signer.sign(root, key=key_pem, cert=cert_pem.decode() if isinstance(cert_pem, bytes)
                             else cert_pem)
    except (SignXMLException, ValueError, TypeError) as exc:
        raise SignatureError(f"cannot sign the DCC with this key/certificate: {exc}") from exc
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def embedded_certificate(root: etree._Element) -> x509.Certificate | None:
    """The first X509Certificate in the document's signature KeyInfo, if any."""
    for sig in _signatures(root):
        el = sig.find(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate")
        if el is not None and el.text:
            try:
                return x509.load_der_x509_certificate(base64.b64decode("".join(el.text.split())))
            except ValueError as exc:
                raise SignatureError(f"the X509Certificate in ds:KeyInfo is not a certificate: {exc}") from exc
    return None


def verify_dcc(xml: bytes | etree._Element, trusted_cert_pem: bytes | None = None) -> VerifiedSignature:
    """Verify the DCC's enveloped signature and return the signer.

    With ``trusted_cert_pem`` the signature must verify against that certificate (whatever the
    document embeds); without it, against the certificate embedded in ``ds:KeyInfo`` — which
    proves integrity, not identity: the caller decides whether it trusts that signer.
    Raises :class:`SignatureError` with the reason otherwise.
    """
    root = parse_xml(xml) if isinstance(xml, bytes) else xml
    sigs = _signatures(root)
    if not sigs:
        raise SignatureError("the DCC is not signed: no ds:Signature child of "
                             "dcc:digitalCalibrationCertificate")
    if len(sigs) > 1:
        raise SignatureError(f"the DCC carries {len(sigs)} signatures; exactly one is supported")
    if trusted_cert_pem is not None:
        from labauto.platform.pki import PKIError, load_certificate
        try:
            cert = load_certificate(trusted_cert_pem)
        except PKIError as exc:
            raise SignatureError(f"trusted certificate: {exc}") from exc
    else:
        cert = embedded_certificate(root)
        if cert is None:
            raise SignatureError("the signature carries no X509Certificate in ds:KeyInfo and no "
                                 "trusted certificate was given")
    try:
        result = XMLVerifier().verify(root, x509_cert=cert, expect_config=_VERIFY_CONFIG)
    except InvalidSignature as exc:
        raise SignatureError(f"the XML signature does not verify: {exc}") from exc
    except (InvalidInput, SignXMLException, ValueError) as exc:
        raise SignatureError(f"the XML signature cannot be verified: {exc}") from exc
    signed = result.signed_xml
    if signed is None or signed.tag != root.tag or signed.find(f"{{{DCC_NS}}}administrativeData") is None:
        raise SignatureError('the signature does not cover the whole DCC (Reference URI="" with '
                             "the enveloped-signature transform is required)")
    from cryptography.hazmat.primitives.serialization import Encoding
    return VerifiedSignature(signer_cert_pem=cert.public_bytes(Encoding.PEM),
                             signer_subject=cert.subject.rfc4514_string(),
                             signer_fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
                             signed_root=signed)

"""A strict fast path for verifying the enveloped DCC signatures labauto writes and PTB's
examples carry, with the checks signxml makes, without signxml's copies of the document.

signxml's verifier serialises and re-parses the whole DCC once to take it in, once more per
``ds:Reference`` (three with XAdES) and once again inside the C14N transform: about two thirds of
a publication's signature time (2.1–2.4 ms for a 25 kB DCC) go into copies.  This module
verifies the same signature with one canonicalisation of the document (the signature taken out
in place, then put back) and one parse of the canonical bytes, which become the verified
content exactly as signxml returns it.

It is a *fast path*, never a second opinion: :func:`verify_fast` returns a result only when the
signature has exactly a shape listed below AND every check signxml makes for that shape has
passed; in every other case (another shape, a failed check, an exception) it returns ``None``
and the caller runs signxml, whose verdict and error message stand.  So it can only accept what
signxml accepts; tests cross-check both on good and on tampered documents.

Shapes handled (anything else goes to signxml):
- exactly one ``ds:Signature`` element in the whole document, a child of the root;
- ``ds:SignedInfo`` with inclusive C14N 1.1 or 1.0 (no comments, no InclusiveNamespaces),
  RSA PKCS#1 v1.5 with SHA-256/384/512, references whose digests are SHA-256/384/512;
- the ``URI=""`` reference with the transforms [enveloped-signature] or [enveloped-signature,
  inclusive C14N 1.1/1.0]; other references ``URI="#id"`` without transforms (XAdES
  SignedProperties and KeyInfo), resolved as signxml resolves them (the attributes named
  ``Id``, ``ID``, ``id`` by local name, in that order; two matches are ambiguous);
- ``ds:KeyInfo`` without ``KeyValue``/``DEREncodedKeyValue`` (signxml would compare them with
  the certificate).

Checks made, as signxml makes them: the signature element is valid against the XMLDSig schema
(XAdES: one of signxml's XAdES schemas); the signing certificate is valid at the verification
time; the signature value verifies over the canonical SignedInfo; the references are read from
that verified SignedInfo (so comments or anything not signed never count), their number is the
one expected, each digest matches; with XAdES, the verified SignedProperties carry exactly one
of ``SigningCertificate``/``SigningCertificateV2`` whose ``xades:Cert`` digests each name a
certificate of the signature, the first the signing certificate.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree
from signxml import XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod, digest_algorithm_implementations
from signxml.util import add_pem_header
from signxml.xades import XAdESVerifier

DS = "{http://www.w3.org/2000/09/xmldsig#}"
XADES = "{http://uri.etsi.org/01903/v1.3.2#}"
DSIG11 = "{http://www.w3.org/2009/xmldsig11#}"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
# the canonicalisations signxml runs as lxml's inclusive C14N without comments
INCLUSIVE_C14N = frozenset({"http://www.w3.org/2006/12/xml-c14n11",
                            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"})
_RSA = {SignatureMethod.RSA_SHA256: hashes.SHA256, SignatureMethod.RSA_SHA384: hashes.SHA384,
        SignatureMethod.RSA_SHA512: hashes.SHA512}
_DIGESTS = {DigestAlgorithm.SHA256: "sha256", DigestAlgorithm.SHA384: "sha384",
            DigestAlgorithm.SHA512: "sha512"}
_ID_NAMES = ("Id", "ID", "id")          # signxml's id attributes ("xml:id" is local name "id")
_ID_CANDIDATES = etree.XPath("//*[@*[local-name() = 'Id' or local-name() = 'ID' or local-name() = 'id']]")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_SCHEMA_LOCK = threading.Lock()


class _NotHandled(Exception):
    """The signature is not one of the shapes handled here, or a check failed: use signxml."""


@dataclass(frozen=True)
class FastVerified:
    """What the caller needs from a verified signature (as signxml's results give it)."""

    signed_root: etree._Element                     # the URI="" reference's verified content
    signed_signature_properties: etree._Element | None   # XAdES: verified SignedSignatureProperties


def _require(condition: bool) -> None:
    if not condition:
        raise _NotHandled


def _c14n(node: etree._Element) -> bytes:
    return etree.tostring(node, method="c14n", exclusive=False, with_comments=False)


def _copy(node: etree._Element) -> etree._Element:
    """signxml's copy of an element: serialise (with the namespaces in scope) and parse."""
    return etree.fromstring(etree.tostring(node), parser=_PARSER)


@functools.lru_cache(maxsize=64)
def _public_key(cert: x509.Certificate):
    return cert.public_key()


@functools.lru_cache(maxsize=256)
def _fingerprint(cert: x509.Certificate, algorithm: DigestAlgorithm) -> bytes:
    return cert.fingerprint(digest_algorithm_implementations[algorithm]())


@functools.lru_cache(maxsize=64)
def _pem_certificate(text: str) -> x509.Certificate:
    """An X509Certificate element's text read as signxml reads it (PEM header added)."""
    return x509.load_pem_x509_certificate(add_pem_header(text))


def _valid_schema(signature: etree._Element, xades: bool) -> bool:
    """signxml's schema check of the (copied) signature element: valid against one of the
    verifier's schemas."""
    schemas = XAdESVerifier.schemas() if xades else XMLVerifier.schemas()
    with _SCHEMA_LOCK:
        return any(schema.validate(signature) for schema in schemas)


def _resolve(candidates: list[etree._Element], uri: str) -> etree._Element:
    """signxml's resolution of ``#id`` in the document (``candidates``: its elements with an
    Id, ID or id attribute): for Id, then ID, then id (by local name, any namespace), the one
    element carrying it; two are ambiguous (refused by signxml)."""
    value = uri[1:]
    candidates = [el for el in candidates if any(v == value for v in el.attrib.values())]
    for name in _ID_NAMES:
        hits = [el for el in candidates
                if any(etree.QName(k).localname == name and v == value for k, v in el.attrib.items())]
        _require(len(hits) <= 1)
        if hits:
            return hits[0]
    raise _NotHandled


def _digest_of_document(root: etree._Element, sig: etree._Element, algorithm: str) -> tuple[bytes, bytes]:
    """Canonical bytes of the document without its signature (the enveloped-signature transform
    as signxml applies it: the signature's tail text stays in the document) and their digest.
    The signature is taken out in place and put back with the tree as it was."""
    parent, index = sig.getparent(), sig.getparent().index(sig)
    prev = sig.getprevious()
    tail = sig.tail
    saved = (prev.tail if prev is not None else parent.text)
    if tail is not None:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(sig)
    try:
        data = _c14n(root)
    finally:
        parent.insert(index, sig)
        sig.tail = tail
        if prev is not None:
            prev.tail = saved
        else:
            parent.text = saved
    return data, hashlib.new(algorithm, data).digest()


def verify_fast(root: etree._Element, cert: x509.Certificate, *, verification_time, expect_references: int,
                signature_methods: frozenset, digest_algorithms: frozenset,
                xades: bool) -> FastVerified | None:
    """Verify the document's enveloped signature against ``cert`` as signxml's verifier would
    with these settings (``XAdESVerifier`` when ``xades``), for the shapes listed in the module
    docstring; ``None`` when the shape differs or any check fails (then ask signxml)."""
    try:
        return _verify(root, cert, verification_time, expect_references, signature_methods,
                       digest_algorithms, xades)
    except Exception:          # noqa: BLE001 — anything unexpected: signxml decides (and explains)
        return None


def _verify(root, cert, at, expect_references, signature_methods, digest_algorithms, xades):
    sigs = list(root.iter(f"{DS}Signature"))
    _require(len(sigs) == 1 and sigs[0].getparent() is root and root.tag != f"{XADES}SignedProperties")
    sig = sigs[0]
    signature = _copy(sig)                 # as signxml: the signature element on its own
    _require(_valid_schema(signature, xades))
    signed_info = signature.find(f"{DS}SignedInfo")
    c14n_method = signed_info.find(f"{DS}CanonicalizationMethod")
    _require(c14n_method.get("Algorithm") in INCLUSIVE_C14N and len(c14n_method) == 0)
    method = SignatureMethod(signed_info.find(f"{DS}SignatureMethod").get("Algorithm"))
    _require(method in _RSA and method in signature_methods)
    _require(signature.find(f"{DS}KeyInfo/{DS}KeyValue") is None
             and signature.find(f"{DS}KeyInfo/{DSIG11}DEREncodedKeyValue") is None)
    # the certificate's validity at the verification time (signxml's check)
    _require(cert.not_valid_before_utc <= at <= cert.not_valid_after_utc)
    signed_info_c14n = _c14n(signed_info)
    key = _public_key(cert)
    _require(isinstance(key, rsa.RSAPublicKey))
    key.verify(base64.b64decode(signature.find(f"{DS}SignatureValue").text), signed_info_c14n,
               padding.PKCS1v15(), _RSA[method]())
    # from here on only what the signature value covers
    verified = etree.fromstring(signed_info_c14n, parser=_PARSER)
    refs = verified.findall(f"{DS}Reference")
    _require(len(refs) == expect_references)
    signed_root, signed_properties, candidates = None, None, None
    for ref in refs:
        uri = ref.get("URI")
        algorithm = DigestAlgorithm(ref.find(f"{DS}DigestMethod").get("Algorithm"))
        _require(algorithm in _DIGESTS and algorithm in digest_algorithms)
        expected = base64.b64decode(ref.find(f"{DS}DigestValue").text)
        transforms = ref.find(f"{DS}Transforms")
        if uri == "":
            steps = [t.get("Algorithm") for t in ref.iterfind(f"{DS}Transforms/{DS}Transform")]
            _require(steps[:1] == [ENVELOPED] and len(steps) <= 2
                     and all(s in INCLUSIVE_C14N for s in steps[1:])
                     and all(len(t) == 0 for t in transforms))
            _require(signed_root is None)
            data, digest = _digest_of_document(root, sig, _DIGESTS[algorithm])
            _require(digest == expected)
            signed_root = etree.fromstring(data, parser=_PARSER)
        else:
            _require(uri is not None and uri.startswith("#") and not uri.startswith("#xpointer(")
                     and transforms is None)
            if candidates is None:
                candidates = _ID_CANDIDATES(root)
            target = _resolve(candidates, uri)
            data = _c14n(_copy(target))
            _require(hashlib.new(_DIGESTS[algorithm], data).digest() == expected)
            if xades and signed_properties is None and target.tag == f"{XADES}SignedProperties":
                signed_properties = etree.fromstring(data, parser=_PARSER)
    _require(signed_root is not None)
    if not xades:
        return FastVerified(signed_root, None)
    _require(signed_properties is not None)
    return FastVerified(signed_root, _check_signing_certificate(signature, signed_properties, cert))


def _check_signing_certificate(signature: etree._Element, signed_properties: etree._Element,
                               cert: x509.Certificate) -> etree._Element:
    """XAdES: the signed SigningCertificate(V2) names certificates of the signature, its first
    the signing certificate (signxml's ``_verify_cert_digests``); returns the verified
    SignedSignatureProperties."""
    certs = [_pem_certificate(el.text) for el in
             signature.iterfind(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")]
    if cert not in certs:
        certs.append(cert)
    props = signed_properties.find(f"{XADES}SignedSignatureProperties")
    _require(props is not None)
    nodes = [n for n in (props.find(f"{XADES}SigningCertificate"), props.find(f"{XADES}SigningCertificateV2"))
             if n is not None]
    _require(len(nodes) == 1)
    for i, c in enumerate(nodes[0].findall(f"{XADES}Cert")):
        digest = c.find(f"{XADES}CertDigest")
        algorithm = DigestAlgorithm(digest.find(f"{DS}DigestMethod").get("Algorithm"))
        value = base64.b64decode(digest.find(f"{DS}DigestValue").text)
        _require(any(value == _fingerprint(candidate, algorithm) for candidate in certs))
        _require(i != 0 or value == _fingerprint(cert, algorithm))
    return props

"""PAdES signatures on the PDF certificate (pyHanko): sign with the lab key, check anywhere.

The rendered PDF (:mod:`labauto.certificate.pdf`) is signed as an incremental update with a
PAdES signature (``/SubFilter /ETSI.CAdES.detached``, SHA-256): the lab's certificate and its
issuing chain are embedded, and with a time-stamping authority the signature carries a
signature time-stamp (PAdES B-T) — without one it is PAdES B-B and the signing time is the
signer's claim.  A visible statement sits in the bottom margin of the last page; the
cryptographic signature is what a PDF reader checks: any changed byte of the signed range
breaks it, and anything appended after it no longer covers the whole file.

:func:`verify_pdf` answers whether a PDF carries such a signature, intact, by a certificate that
chains to a given trust anchor, covering the whole file.
"""
from __future__ import annotations

import datetime as dt
import io
import warnings
from dataclasses import dataclass
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from labauto.certificate import pki
from labauto.certificate.timestamp_token import run_sync

FIELD_NAME = "LabSignature"
# bottom margin of the last page, between the footer's left text and its page number (points)
_MM = 72 / 25.4
STAMP_BOX = (62 * _MM, 11 * _MM, 168 * _MM, 17.5 * _MM)


class PdfSigningError(ValueError):
    """The PDF could not be signed (not a PDF, or an unusable key or certificate)."""


def _asn1_cert(pem: bytes):
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(pki.load_certificate(pem).public_bytes(serialization.Encoding.DER))


def _asn1_key(key_pem: bytes):
    from asn1crypto import keys as asn1_keys

    key = pki.load_private_key(key_pem)
    return asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def import_pyhanko() -> None:
    """Import pyHanko's signer module without its import-time warning: pyHanko imports
    cryptography's DSA key type, and cryptography warns (CryptographyDeprecationWarning, two
    lines with a source path) on every run of every command that signs or checks a PDF; the
    lab's keys are never DSA.  Call before any other pyHanko import."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="DSA is deprecated")
        import pyhanko.sign.signers.pdf_cms  # noqa: F401


def sign_pdf(pdf: bytes, key_pem: bytes, cert_pem: bytes, *, chain_pems: Iterable[bytes] = (),
             timestamper=None, reason: str = "Calibration certificate issued by the laboratory",
             location: str | None = None) -> bytes:
    """``pdf`` with a PAdES signature by ``key_pem``/``cert_pem`` (B-T with ``timestamper``, a
    pyHanko TimeStamper, else B-B).  ``chain_pems`` are embedded for path building."""
    import_pyhanko()
    from pyhanko.pdf_utils.font.basic import SimpleFontEngineFactory
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import TextStampStyle
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    try:
        cert, key = _asn1_cert(cert_pem), _asn1_key(key_pem)
    except pki.PKIError as exc:
        raise PdfSigningError(f"cannot sign the PDF: {exc}") from exc
    signer = signers.SimpleSigner(signing_cert=cert, signing_key=key,
                                  cert_registry=SimpleCertificateStore.from_certs(
                                      [_asn1_cert(p) for p in chain_pems]))
    meta = signers.PdfSignatureMetadata(field_name=FIELD_NAME, md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES,
                                        reason=reason, location=location,
                                        use_pades_lta=False)
    style = TextStampStyle(
        stamp_text="Digitally signed by %(signer)s\n%(ts)s; any change to this PDF voids the signature",
        border_width=0, timestamp_format="%Y-%m-%d %H:%M:%S %Z",
        text_box_style=TextBoxStyle(font=SimpleFontEngineFactory("Helvetica", 0.5), font_size=7))
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        last_page = int(writer.root["/Pages"]["/Count"]) - 1
        pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper, stamp_style=style,
                                       new_field_spec=fields.SigFieldSpec(FIELD_NAME, on_page=last_page,
                                                                          box=STAMP_BOX))
        out = pdf_signer.sign_pdf(writer)
    except (PdfError, ValueError, KeyError) as exc:
        raise PdfSigningError(f"cannot sign the PDF: {exc}") from exc
    return out.getvalue()


@dataclass(frozen=True)
class PdfSignatureCheck:
    """The verdict on a PDF's signature.  ``ok`` only if it is intact, valid, trusted (chains
    to a trust anchor) and covers the whole file; ``reason`` says what failed."""
    ok: bool
    reason: str = ""
    intact: bool = False                         # unchanged since signing, whole file covered
    signer: str | None = None
    signer_cert: x509.Certificate | None = None
    signing_time: dt.datetime | None = None      # the signature time-stamp's time, if any
    claimed_time: dt.datetime | None = None      # the signer's own /M or signingTime
    timestamped: bool = False


def verify_pdf(pdf: bytes, trust_anchors: Iterable[bytes]) -> PdfSignatureCheck:
    """Check the (single, last) signature of ``pdf`` against ``trust_anchors`` (PEM)."""
    import_pyhanko()
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    if not pdf.startswith(b"%PDF-"):
        return PdfSignatureCheck(False, "not a PDF (it does not start with %PDF-)")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        return PdfSignatureCheck(False, f"the PDF cannot be read: {exc}")
    if not signatures:
        return PdfSignatureCheck(False, "the PDF carries no digital signature")
    anchors = [_asn1_cert(p) for p in trust_anchors]
    context = ValidationContext(trust_roots=anchors, allow_fetching=False)
    ts_context = ValidationContext(trust_roots=anchors, allow_fetching=False)
    sig = signatures[-1]
    try:
        status = run_sync(async_validate_pdf_signature(sig, signer_validation_context=context,
                                                       ts_validation_context=ts_context))
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as exc:
        return PdfSignatureCheck(False, f"the PDF signature cannot be validated: {exc}")
    cert = x509.load_der_x509_certificate(status.signing_cert.dump()) if status.signing_cert else None
    tst = status.timestamp_validity
    base = dict(signer=cert.subject.rfc4514_string() if cert else None, signer_cert=cert,
                signing_time=tst.timestamp if tst is not None and tst.intact and tst.valid else None,
                claimed_time=status.signer_reported_dt, timestamped=tst is not None)
    if not status.intact:
        return PdfSignatureCheck(False, "the PDF was changed after it was signed: the signed bytes "
                                 "no longer match the signature's digest", **base)
    if not status.valid:
        return PdfSignatureCheck(False, "the PDF signature value does not verify", **base)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return PdfSignatureCheck(False, "the PDF was changed after it was signed: content was "
                                 "appended that the signature does not cover", **base)
    base["intact"] = True
    if not status.trusted:
        return PdfSignatureCheck(False, f"the signer's certificate ({base['signer']}) does not chain to "
                                 f"a trusted anchor ({getattr(status.trust_problem_indic, 'name', '')})",
                                 **base)
    if tst is not None and not (tst.intact and tst.valid and tst.trusted):
        return PdfSignatureCheck(False, "the PDF's signature time-stamp is not valid or its TSA is "
                                 "not trusted", **base)
    return PdfSignatureCheck(True, **base)

"""Admission checks of trusted time and of the signed PDF (after the DCC's own stages).

Run on every publication, without the database, after the signature stage:

``time``        a DCC that carries a XAdES-T signature time-stamp must carry a good one: its
                imprint dates this signature, its TSA certificate has the critical
                id-kp-timeStamping usage and chains to one of the platform's trust anchors (its
                CA, its trusted lab CA).  A token from an unknown TSA is refused.  A DCC without
                token passes (its signing time stays the signer's claim) — unless its signing
                certificate has expired: then only a time-stamp from within the certificate's
                validity shows it signed in its time (:func:`expired_signer_refusal`); the XAdES
                SigningTime is the signer's own claim and an expired key could backdate it.
``pdf``         an attached PDF that carries a signature must be intact, cover the whole file
                (nothing appended after signing), and be signed with the same certificate as the
                DCC.  An unsigned PDF (no signature dictionary) passes; the verify page says
                it is not signed.

The token's time is returned: it is the time at which the signer's certificate is judged,
including against its revocation on the platform (:func:`revoked_signer_refusal`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from labauto.certificate import pki
from labauto.certificate.signer_crl import proven_before
from labauto.platform.server.service import Rejected
from labauto.platform.server.verification import expired_signer_refusal  # noqa: F401 (publishing's)


@dataclass(frozen=True)
class TrustFacts:
    trusted_time: dt.datetime | None     # the signature time-stamp's time, when there is one
    tsa: str | None = None


def check_timestamp(root: etree._Element, trust_anchors: list[bytes]) -> TrustFacts:
    """The ``time`` stage: a present signature time-stamp must verify (see the module)."""
    from labauto.certificate.xades_t import check_signature_timestamp

    verdict = check_signature_timestamp(root, trust_anchors)
    if verdict is None:
        return TrustFacts(None)
    if not verdict.ok:
        raise Rejected("time", f"the signature time-stamp is not acceptable: {verdict.reason}")
    return TrustFacts(verdict.time, verdict.tsa)


def check_signed_pdf(pdf: bytes | None, signer_fingerprint: str) -> None:
    """The ``pdf`` stage: a signed PDF must be unchanged since signing and signed by the DCC's
    signer.  Trust in that signer is established by the signer stage (lab registry)."""
    if pdf is None:
        return
    from labauto.certificate.pdf_signing import verify_pdf

    if b"/ByteRange" not in pdf:      # no signature dictionary: an unsigned PDF
        return
    verdict = verify_pdf(pdf, [])
    if not verdict.intact:
        raise Rejected("pdf", verdict.reason)
    if verdict.signer_cert is None or pki.fingerprint_sha256(verdict.signer_cert) != signer_fingerprint:
        raise Rejected("pdf", f"the PDF is signed by {verdict.signer}, not by the DCC's signer")


def revoked_signer_refusal(revoked_at: dt.datetime | None, reason: str | None,
                           invalid_since: dt.datetime | None, trusted_time: dt.datetime | None,
                           subject: str) -> str | None:
    """Why a document signed with a signing certificate the platform revoked is refused, or None
    when it is not revoked or a time-stamp proves it was signed before (and before the key was
    known to be unsafe)."""
    if revoked_at is None:
        return None
    utc = lambda t: t.replace(tzinfo=dt.timezone.utc) if t is not None and t.tzinfo is None else t  # noqa: E731
    revoked_at, invalid_since = utc(revoked_at), utc(invalid_since)
    cutoff = min(revoked_at, invalid_since) if invalid_since else revoked_at
    if proven_before(trusted_time, cutoff):
        return None
    proof = (f"the signature's time-stamp ({trusted_time:%Y-%m-%d %H:%M:%S} UTC) is not earlier"
             if trusted_time is not None else "the DCC carries no time-stamp proving it was signed before")
    return (f"the signing certificate {subject} was revoked on the platform on "
            f"{revoked_at:%Y-%m-%d %H:%M} UTC ({reason or 'unspecified'}) and {proof}")

"""Revoking a lab's X.509 *signing certificate* on the platform, and the CRL entries it makes.

Not to be confused with revoking a *calibration certificate* (``service.revoke``: a lab
withdraws a published DCC).  Here the platform's administrator revokes a lab's signing
certificate (key compromise, the lab left the scheme, ...); if the platform's CA issued it, it
is listed in the CA's CRL (``GET /api/v1/crl``) from then on.  A revocation is permanent and
audited; revoking twice changes nothing.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from labauto.certificate import pki
from labauto.certificate.signer_crl import REASONS, RevokedSigner
from labauto.platform.server.models import LabCertificate, utcnow
from labauto.platform.server.service import Invalid, NotFound, audit


def revoke_signing_certificate(session: Session, lab_id: int, fingerprint: str, reason: str, *,
                               invalid_since: dt.datetime | None = None,
                               actor: str = "admin") -> LabCertificate:
    """Mark the lab's signing certificate ``fingerprint`` revoked now, with an RFC 5280 reason
    name and optionally the time since when its key is unsafe (not after now)."""
    if reason not in REASONS:
        raise Invalid(f"unknown revocation reason {reason!r}; one of {', '.join(REASONS)}")
    row = session.scalar(select(LabCertificate).where(LabCertificate.fingerprint_sha256 == fingerprint.lower()))
    if row is None or row.lab_id != lab_id:
        raise NotFound(f"lab {lab_id} has no signing certificate with SHA-256 fingerprint {fingerprint}")
    if row.revoked_at is not None:
        return row
    now = utcnow()
    if invalid_since is not None:
        invalid_since = (invalid_since if invalid_since.tzinfo else
                         invalid_since.replace(tzinfo=dt.timezone.utc))
        if invalid_since > now:
            raise Invalid("invalid_since lies in the future")
    row.revoked_at, row.revocation_reason, row.invalid_since = now, reason, invalid_since
    audit(session, actor, "lab.certificate.revoke", lab_id=lab_id, fingerprint_sha256=row.fingerprint_sha256,
          reason=reason, invalid_since=invalid_since.isoformat() if invalid_since else None)
    return row


def _utc(v: dt.datetime | None) -> dt.datetime | None:
    return v.replace(tzinfo=dt.timezone.utc) if v is not None and v.tzinfo is None else v


def crl_entries(session: Session, ca_cert_pem: bytes) -> list[RevokedSigner]:
    """The revoked signing certificates that the CA ``ca_cert_pem`` issued (only those belong
    in its CRL; a certificate from another CA is revoked on the platform but listed by its own
    issuer)."""
    ca = pki.load_certificate(ca_cert_pem)
    entries = []
    for row in session.scalars(select(LabCertificate).where(LabCertificate.revoked_at.is_not(None))
                               .order_by(LabCertificate.id)):
        cert = pki.load_certificate(row.cert_pem)
        if cert.issuer == ca.subject:
            entries.append(RevokedSigner(cert.serial_number, _utc(row.revoked_at),
                                         row.revocation_reason or "unspecified", _utc(row.invalid_since)))
    return entries

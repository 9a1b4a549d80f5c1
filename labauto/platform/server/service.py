"""The platform's operations on the store: labs and tokens, verification records, revoke,
search, and the audit trail (publishing is in :mod:`publishing`, chains in :mod:`traceability`).

Plain functions over a SQLAlchemy ``Session`` so the HTTP API and the command line share them.
Every change writes an :class:`AuditEvent` in the same transaction.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from labauto.certificate import pki
from labauto.platform.server import prepared
from labauto.platform.server.db import Database, lookup
from labauto.platform.server.models import (ApiToken, AuditEvent, CertificateRecord, Document,
                                            ItemIdentifier, Lab, LabCertificate, Measurand, utcnow)

TOKEN_PREFIX = "lat_"


class ServiceError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Forbidden(ServiceError):
    status_code = 403


class Invalid(ServiceError):
    status_code = 422


class Rejected(ServiceError):
    """A submitted document refused at an admission stage (HTTP 422 with ``stage``)."""
    status_code = 422

    def __init__(self, stage: str, detail: str) -> None:
        super().__init__(detail)
        self.stage = stage


_INSERT_AUDIT = insert(AuditEvent.__table__)


def audit(session: Session | Connection, actor: str, action: str, *, lab_id: int | None = None,
          certificate_id: str | None = None, sha256: str | None = None, **detail: Any) -> None:
    """Append one event to the audit log, in the caller's transaction (a Core insert: it is
    written at once, in call order, and never becomes an ORM object that could be changed)."""
    values = dict(at=utcnow(), actor=actor, action=action, lab_id=lab_id,
                  certificate_id=certificate_id, sha256=sha256, detail=detail)
    if isinstance(session, Connection):          # the publish path: compiled once (see prepared)
        prepared.execute(session, _INSERT_AUDIT, values)
    else:                                        # a Session flushes its pending objects first
        session.execute(_INSERT_AUDIT, values)


# ---------------------------------------------------------------- labs and tokens

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def register_lab(session: Session, name: str, accreditation_id: str, cert_pem: str, *,
                 trusted_ca_pem: bytes | None = None, actor: str = "admin") -> Lab:
    """Register a lab with its accreditation id and first signing certificate."""
    name, accreditation_id = name.strip(), accreditation_id.strip()
    if not name or not accreditation_id:
        raise Invalid("name and accreditation_id must not be empty")
    if session.scalar(select(Lab).where(or_(Lab.name == name, Lab.accreditation_id == accreditation_id))):
        raise Conflict(f"a lab named {name!r} or with accreditation id {accreditation_id!r} is "
                       "already registered")
    lab = Lab(name=name, accreditation_id=accreditation_id)
    session.add(lab)
    session.flush()
    audit(session, actor, "lab.register", lab_id=lab.id, name=name, accreditation_id=accreditation_id)
    add_lab_certificate(session, lab, cert_pem, trusted_ca_pem=trusted_ca_pem, actor=actor)
    return lab


def add_lab_certificate(session: Session, lab: Lab, cert_pem: str, *,
                        trusted_ca_pem: bytes | None = None, actor: str = "admin") -> LabCertificate:
    """Register (another) signing certificate for ``lab`` (key rollover).

    ``cert_pem`` is the signing certificate, optionally followed by its intermediate CA
    certificates; with ``trusted_ca_pem`` (one or more trust anchors) the certificate must chain
    through those intermediates to an anchor at a time it is valid (:func:`pki.registration_time`).
    An expired certificate may be registered: what matters for a signature is its validity at
    the signing time, which publishing checks."""
    try:
        bundle = pki.load_certificates(cert_pem)
        cert = bundle[0]
        cert_pem = cert.public_bytes(pki.serialization.Encoding.PEM).decode()
        if trusted_ca_pem:
            pki.validate_chain(cert, pki.load_certificates(trusted_ca_pem), pki.registration_time(cert),
                               intermediates=bundle[1:])
    except pki.PKIError as exc:
        raise Invalid(f"signing certificate refused: {exc}") from exc
    fp = pki.fingerprint_sha256(cert)
    if session.scalar(select(LabCertificate).where(LabCertificate.fingerprint_sha256 == fp)):
        raise Conflict(f"certificate {fp} is already registered")
    lc = LabCertificate(lab_id=lab.id, fingerprint_sha256=fp, subject=cert.subject.rfc4514_string(),
                        cert_pem=cert_pem if isinstance(cert_pem, str) else cert_pem.decode(),
                        not_after=cert.not_valid_after_utc)
    session.add(lc)
    session.flush()
    audit(session, actor, "lab.certificate.add", lab_id=lab.id, fingerprint_sha256=fp,
          subject=lc.subject)
    return lc


@dataclass(frozen=True)
class IssuedToken:
    """A new API token (shown once) and the id that names it for listing and revocation."""

    id: int
    token: str


def issue_token(session: Session, lab_id: int, *, actor: str = "admin") -> IssuedToken:
    """A new API token for the lab; only its SHA-256 is stored, the token is shown once."""
    if session.get(Lab, lab_id) is None:
        raise NotFound(f"no lab with id {lab_id}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(lab_id=lab_id, token_sha256=hash_token(token))
    session.add(row)
    session.flush()
    audit(session, actor, "token.issue", lab_id=lab_id, token_id=row.id)
    return IssuedToken(row.id, token)


def lab_tokens(session: Session, lab_id: int) -> list[ApiToken]:
    """The lab's tokens (revoked ones too), oldest first."""
    if session.get(Lab, lab_id) is None:
        raise NotFound(f"no lab with id {lab_id}")
    return list(session.scalars(select(ApiToken).where(ApiToken.lab_id == lab_id).order_by(ApiToken.id)))


def revoke_token(session: Session, lab_id: int, token_id: int, *, actor: str = "admin") -> ApiToken:
    """Revoke one of the lab's tokens (a lost or leaked one); the lab's other tokens keep working.
    Revoking a revoked token changes nothing (and is not audited twice)."""
    row = session.get(ApiToken, token_id)
    if row is None or row.lab_id != lab_id:
        raise NotFound(f"lab {lab_id} has no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(session, actor, "token.revoke", lab_id=row.lab_id, token_id=token_id)
    return row


def token_json(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "lab_id": row.lab_id, "created_at": _iso(row.created_at),
            "revoked_at": _iso(row.revoked_at)}


_TOKEN_LAB = (select(Lab.__table__.c.id, Lab.__table__.c.name, ApiToken.__table__.c.token_sha256)
              .join_from(ApiToken.__table__, Lab.__table__, ApiToken.__table__.c.lab_id == Lab.__table__.c.id)
              .where(ApiToken.__table__.c.token_sha256 == bindparam("digest"),
                     ApiToken.__table__.c.revoked_at.is_(None)))


@dataclass(frozen=True)
class LabRef:
    """The authenticated lab of a request (id and name; no ORM object outlives its session)."""
    id: int
    name: str


def lab_for_token(session: Session | Connection | Database, token: str) -> LabRef | None:
    """The lab owning an unrevoked token, or None (one indexed lookup of the token's hash; with
    a :class:`Database`, a :meth:`~Database.lookup` of its own)."""
    digest = hash_token(token)
    row = lookup(session, _TOKEN_LAB, digest=digest)
    if row is None or not hmac.compare_digest(row.token_sha256, digest):
        return None
    return LabRef(row.id, row.name)


def lab_json(lab: Lab) -> dict[str, Any]:
    return {"id": lab.id, "name": lab.name, "accreditation_id": lab.accreditation_id,
            "certificates": [{"fingerprint_sha256": c.fingerprint_sha256, "subject": c.subject,
                              "not_after": c.not_after.isoformat()} for c in lab.certificates]}


# ---------------------------------------------------------------- records

def _iso(v: dt.date | dt.datetime | None) -> str | None:
    """ISO 8601; datetimes in UTC with an explicit offset (SQLite returns them naive)."""
    if isinstance(v, dt.datetime) and v.tzinfo is None:
        v = v.replace(tzinfo=dt.timezone.utc)
    return v.isoformat() if v is not None else None


def record_json(row: CertificateRecord, session: Session) -> dict[str, Any]:
    """The verification record of one stored document."""
    sup = row.superseded_by
    supersedes = session.scalar(select(CertificateRecord.certificate_id)
                                .where(CertificateRecord.superseded_by_id == row.id).limit(1))
    return {
        "certificate_id": row.certificate_id,
        "version": row.version,
        "sha256": row.sha256,
        "status": row.status,
        "lab": row.lab.name,
        "lab_id": row.lab_id,
        "accreditation_id": row.lab.accreditation_id,
        "schema_version": row.schema_version,
        "dates": {"receipt": _iso(row.receipt_date), "begin_performance": _iso(row.begin_date),
                  "end_performance": _iso(row.end_date), "issue": _iso(row.issue_date)},
        "published_at": _iso(row.published_at),
        "item": {"name": row.item_name, "manufacturer": row.item_manufacturer, "model": row.item_model,
                 "serial": row.item_serial,
                 "identifications": [{"issuer": i.issuer, "value": i.value} for i in row.identifiers]},
        "amends": ({"certificate_id": row.amends_certificate_id, "type_of_change": row.type_of_change}
                   if row.amends_certificate_id else None),
        "supersedes": supersedes,
        "superseded_by": sup.certificate_id if sup else None,
        "superseded_by_sha256": sup.sha256 if sup else None,
        "superseded_at": _iso(row.superseded_at),
        "revoked_at": _iso(row.revoked_at),
        "revocation_reason": row.revocation_reason,
        "signer": {"subject": row.signer_subject, "fingerprint_sha256": row.signer_fingerprint,
                   "signing_time": _iso(row.signing_time)},
        "has_pdf": row.has_pdf,
        "has_json": row.has_json,
        "verification_url": f"/verify/{row.certificate_id}",
        "accreditation": accreditation_json(session, row),
    }


def accreditation_json(session: Session, row: CertificateRecord) -> dict[str, Any]:
    from labauto.platform.server import scope      # scope builds on this module
    return scope.accreditation_json(session, row)


def current(session: Session, certificate_id: str) -> CertificateRecord | None:
    """The newest stored version of a certificate id."""
    return session.scalar(select(CertificateRecord).where(CertificateRecord.certificate_id == certificate_id)
                          .order_by(CertificateRecord.version.desc()).limit(1))


def by_sha256(session: Session, sha256: str) -> CertificateRecord | None:
    return session.scalar(select(CertificateRecord).where(CertificateRecord.sha256 == sha256.lower()))


def get_current(session: Session, certificate_id: str) -> CertificateRecord:
    row = current(session, certificate_id)
    if row is None:
        raise NotFound(f"no certificate {certificate_id!r} on the platform")
    return row


def document(session: Session, row: CertificateRecord) -> Document:
    return session.get(Document, row.id)


# ---------------------------------------------------------------- revoke

def revoke(session: Session, lab: LabRef, certificate_id: str, reason: str) -> CertificateRecord:
    """Revoke the current version of a certificate; only its issuing lab may."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("a revocation needs a reason")
    row = get_current(session, certificate_id)
    if row.lab_id != lab.id:
        raise Forbidden(f"certificate {certificate_id!r} was issued by another lab; only the "
                        "issuing lab can revoke it")
    if row.revoked_at is None:
        row.revoked_at, row.revocation_reason = utcnow(), reason[:4000]
        audit(session, f"lab:{lab.id}", "certificate.revoke", lab_id=lab.id,
              certificate_id=row.certificate_id, sha256=row.sha256, reason=row.revocation_reason)
    return row


# ---------------------------------------------------------------- search

def search(session: Session, *, serial: str | None = None, manufacturer: str | None = None,
           model: str | None = None, lab: str | None = None, date_from: dt.date | None = None,
           date_to: dt.date | None = None, measurand: str | None = None, status: str | None = None,
           limit: int = 100, offset: int = 0) -> tuple[int, list[CertificateRecord]]:
    """Stored documents matching every given criterion, newest first, with the total count.

    serial: exact match on any identification of the item; manufacturer, model, measurand:
    case-insensitive substring; lab: name, accreditation id or numeric id; dates: the end of
    the calibration (endPerformanceDate), inclusive.
    """
    q = select(CertificateRecord)
    if serial:
        q = q.where(CertificateRecord.id.in_(select(ItemIdentifier.certificate_row_id)
                                             .where(ItemIdentifier.value == serial)))
    if manufacturer:
        q = q.where(func.lower(CertificateRecord.item_manufacturer).contains(manufacturer.lower(),
                                                                             autoescape=True))
    if model:
        q = q.where(func.lower(CertificateRecord.item_model).contains(model.lower(), autoescape=True))
    if lab:
        cond = [func.lower(Lab.name) == lab.lower(), Lab.accreditation_id == lab]
        if lab.isdigit() and len(lab) < 10:
            cond.append(Lab.id == int(lab))
        q = q.where(CertificateRecord.lab_id.in_(select(Lab.id).where(or_(*cond))))
    if date_from:
        q = q.where(CertificateRecord.end_date >= date_from)
    if date_to:
        q = q.where(CertificateRecord.end_date <= date_to)
    if measurand:
        q = q.where(CertificateRecord.id.in_(select(Measurand.certificate_row_id).where(
            Measurand.name.contains(measurand.lower(), autoescape=True))))
    if status == "revoked":
        q = q.where(CertificateRecord.revoked_at.is_not(None))
    elif status == "superseded":
        q = q.where(CertificateRecord.revoked_at.is_(None), CertificateRecord.superseded_by_id.is_not(None))
    elif status == "valid":
        q = q.where(CertificateRecord.revoked_at.is_(None), CertificateRecord.superseded_by_id.is_(None))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(CertificateRecord.id.desc()).limit(limit).offset(offset)).all()
    return total or 0, list(rows)


# ---------------------------------------------------------------- audit

def audit_events(session: Session, *, certificate_id: str | None = None, lab_id: int | None = None,
                 limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
    q = select(AuditEvent)
    if certificate_id:
        q = q.where(AuditEvent.certificate_id == certificate_id)
    if lab_id is not None:
        q = q.where(AuditEvent.lab_id == lab_id)
    return [{"id": e.id, "at": _iso(e.at), "actor": e.actor, "action": e.action, "lab_id": e.lab_id,
             "certificate_id": e.certificate_id, "sha256": e.sha256, "detail": e.detail}
            for e in session.scalars(q.order_by(AuditEvent.id).limit(limit).offset(offset))]

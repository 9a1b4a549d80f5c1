"""The platform's operations on the store: labs and tokens, publish (idempotent, amendments),
verify, revoke, search, traceability chains and dependents, and the audit trail.

Plain functions over a SQLAlchemy ``Session`` so the HTTP API and the command line share them.
Every change writes an :class:`AuditEvent` in the same transaction.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from labauto.platform import pki
from labauto.platform.server.dcc import AdmissionError, SchemaRegistry, admit
from labauto.platform.server.models import (ApiToken, AuditEvent, CertificateRecord, Document,
                                            ItemIdentifier, Lab, LabCertificate, Measurand,
                                            TraceLink, utcnow)

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


def audit(session: Session, actor: str, action: str, *, lab_id: int | None = None,
          certificate_id: str | None = None, sha256: str | None = None, **detail: Any) -> None:
    session.add(AuditEvent(actor=actor, action=action, lab_id=lab_id, certificate_id=certificate_id,
                           sha256=sha256, detail=detail))


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
    """Register (another) signing certificate for ``lab`` (key rollover)."""
    try:
        cert = pki.load_certificate(cert_pem)
        pki.check_valid_now(cert)
        if trusted_ca_pem:
            pki.check_issued_by(cert_pem, trusted_ca_pem)
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


def issue_token(session: Session, lab_id: int, *, actor: str = "admin") -> str:
    """A new API token for the lab; only its SHA-256 is stored, the token is shown once."""
    if session.get(Lab, lab_id) is None:
        raise NotFound(f"no lab with id {lab_id}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(lab_id=lab_id, token_sha256=hash_token(token))
    session.add(row)
    session.flush()
    audit(session, actor, "token.issue", lab_id=lab_id, token_id=row.id)
    return token


def revoke_token(session: Session, token_id: int, *, actor: str = "admin") -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(session, actor, "token.revoke", lab_id=row.lab_id, token_id=token_id)


def lab_for_token(session: Session, token: str) -> Lab | None:
    """The lab owning an unrevoked token, or None (constant-time comparison of the hashes)."""
    digest = hash_token(token)
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_sha256, digest):
        return None
    return session.get(Lab, row.lab_id)


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


def record_json(row: CertificateRecord, session: Session | None = None) -> dict[str, Any]:
    """The verification record of one stored document."""
    sup = row.superseded_by
    supersedes = None
    if session is not None:
        prev = session.scalar(select(CertificateRecord.certificate_id)
                              .where(CertificateRecord.superseded_by_id == row.id).limit(1))
        supersedes = prev
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
        "signer": {"subject": row.signer_subject, "fingerprint_sha256": row.signer_fingerprint},
        "has_pdf": row.has_pdf,
        "has_json": row.has_json,
        "verification_url": f"/verify/{row.certificate_id}",
    }


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


# ---------------------------------------------------------------- publish

@dataclass
class PublishOutcome:
    row: CertificateRecord
    created: bool


def _check_attachments(pdf: bytes | None, js: bytes | None) -> None:
    if pdf is not None and not pdf.startswith(b"%PDF-"):
        raise Rejected("attachment", "the pdf file is not a PDF (it does not start with %PDF-)")
    if js is not None:
        try:
            json.loads(js)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Rejected("attachment", f"the json file is not valid JSON: {exc}") from exc


def publish(session: Session, lab: Lab, dcc: bytes, schemas: SchemaRegistry, *,
            pdf: bytes | None = None, js: bytes | None = None) -> PublishOutcome:
    """Admit and store a signed DCC published by ``lab``.

    The same bytes again return the stored record (``created=False``).  A different document
    under a stored certificate id is a :class:`Conflict` unless it declares itself an amendment
    or substitution of that id (``reportAmendedSubstituted``), which then supersedes it.
    """
    sha = hashlib.sha256(dcc).hexdigest()
    same = by_sha256(session, sha)
    if same is not None and same.lab_id == lab.id:
        return PublishOutcome(same, False)
    _check_attachments(pdf, js)
    try:
        adm = admit(dcc, schemas)
    except AdmissionError as exc:
        raise Rejected(exc.stage, exc.detail) from exc
    sig, facts = adm.signature, adm.facts
    registered = {c.fingerprint_sha256: c for c in lab.certificates}
    if sig.signer_fingerprint_sha256 not in registered:
        other = session.scalar(select(LabCertificate).where(
            LabCertificate.fingerprint_sha256 == sig.signer_fingerprint_sha256))
        who = f"registered to lab {other.lab.name!r}" if other else "not registered on the platform"
        raise Rejected("signer", f"the DCC is signed by {sig.signer_subject} (certificate "
                       f"{sig.signer_fingerprint_sha256[:16]}…), which is {who}; lab {lab.name!r} "
                       "can publish only documents signed with its own registered certificate")
    try:
        pki.check_valid_now(sig.signer_cert_pem)
    except pki.PKIError as exc:
        raise Rejected("signer", f"the signing certificate is not valid now: {exc}") from exc
    if not facts.certificate_id:
        raise Rejected("schema", "dcc:coreData/dcc:uniqueIdentifier is empty")

    existing = current(session, facts.certificate_id)
    version, superseded = 1, None
    if existing is not None:
        if facts.replaced_id != facts.certificate_id:
            raise Conflict(f"certificate {facts.certificate_id!r} is already stored with a different "
                           f"document (sha256 {existing.sha256}); publish a new version by declaring "
                           "dcc:reportAmendedSubstituted with replacedUniqueIdentifier "
                           f"{facts.certificate_id!r}, or use a new certificate id")
        if existing.lab_id != lab.id:
            raise Forbidden(f"certificate {facts.certificate_id!r} was issued by another lab")
        version, superseded = existing.version + 1, existing
    elif facts.replaced_id:
        superseded = current(session, facts.replaced_id)
        if superseded is not None and superseded.lab_id != lab.id:
            raise Forbidden(f"certificate {facts.replaced_id!r} was issued by another lab; "
                            f"lab {lab.name!r} cannot amend or substitute it")
        if superseded is not None and superseded.superseded_by_id is not None:
            raise Conflict(f"certificate {facts.replaced_id!r} is already superseded by "
                           f"{superseded.superseded_by.certificate_id!r}")

    row = CertificateRecord(
        certificate_id=facts.certificate_id, version=version, sha256=sha, lab_id=lab.id,
        schema_version=facts.schema_version, signer_fingerprint=sig.signer_fingerprint_sha256,
        signer_subject=sig.signer_subject, item_name=facts.item_name,
        item_manufacturer=facts.manufacturer, item_model=facts.model, item_serial=facts.serial,
        receipt_date=facts.receipt_date, begin_date=facts.begin_date, end_date=facts.end_date,
        issue_date=facts.issue_date,
        amends_certificate_id=facts.replaced_id, type_of_change=facts.type_of_change,
        has_pdf=pdf is not None, has_json=js is not None)
    session.add(row)
    session.flush()
    session.add(Document(certificate_row_id=row.id, dcc=dcc, pdf=pdf, json=js))
    session.add_all(ItemIdentifier(certificate_row_id=row.id, issuer=i[:64], value=v)
                    for i, v in facts.identifications)
    session.add_all(Measurand(certificate_row_id=row.id, name=m) for m in facts.measurands)
    session.add_all(TraceLink(certificate_row_id=row.id, referral_id=r.referral_id,
                              procedure=r.procedure, declared_hash=r.value) for r in facts.references)
    audit(session, f"lab:{lab.id}", "certificate.publish", lab_id=lab.id,
          certificate_id=row.certificate_id, sha256=sha, version=version,
          references=[r.referral_id for r in facts.references])
    if superseded is not None:
        _supersede(session, superseded, row, lab)
    # an amendment that arrived before the certificate it replaces supersedes it on arrival
    early = session.scalar(select(CertificateRecord).where(
        CertificateRecord.amends_certificate_id == row.certificate_id,
        CertificateRecord.certificate_id != row.certificate_id,
        CertificateRecord.lab_id == lab.id))
    if early is not None and row.superseded_by_id is None:
        _supersede(session, row, early, lab)
    session.flush()
    session.refresh(row)
    return PublishOutcome(row, True)


def _supersede(session: Session, old: CertificateRecord, new: CertificateRecord, lab: Lab) -> None:
    old.superseded_by_id, old.superseded_at = new.id, utcnow()
    audit(session, f"lab:{lab.id}", "certificate.supersede", lab_id=lab.id,
          certificate_id=old.certificate_id, sha256=old.sha256,
          superseded_by=new.certificate_id, superseded_by_sha256=new.sha256,
          type_of_change=new.type_of_change)


# ---------------------------------------------------------------- revoke

def revoke(session: Session, lab: Lab, certificate_id: str, reason: str) -> CertificateRecord:
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


# ---------------------------------------------------------------- traceability

def _node(row: CertificateRecord) -> dict[str, Any]:
    return {"certificate_id": row.certificate_id, "sha256": row.sha256, "status": row.status,
            "lab": row.lab.name, "accreditation_id": row.lab.accreditation_id,
            "revocation_reason": row.revocation_reason,
            "superseded_by": row.superseded_by.certificate_id if row.superseded_by else None,
            "item": {"manufacturer": row.item_manufacturer, "model": row.item_model,
                     "serial": row.item_serial},
            "end_performance": _iso(row.end_date), "dangling": False}


def _resolve(session: Session, link: TraceLink) -> tuple[CertificateRecord | None, bool | None]:
    """The stored document a link names: the exact version by declared SHA-256 if stored,
    else the current version of the id (hash mismatch), else None (dangling)."""
    if link.procedure.upper().replace("_", "-") in ("SHA-256", "SHA256") and len(link.declared_hash) == 64:
        exact = session.scalar(select(CertificateRecord).where(
            CertificateRecord.sha256 == link.declared_hash,
            CertificateRecord.certificate_id == link.referral_id))
        if exact is not None:
            return exact, True
    row = current(session, link.referral_id)
    return row, (None if row is None else False)


def chain(session: Session, certificate_id: str, *, max_nodes: int = 10_000) -> dict[str, Any]:
    """The traceability graph from a certificate up to its roots (breadth first).

    ``complete`` is false while some referenced certificate is not on the platform;
    ``all_valid`` is true only if every node is valid and every declared hash matches.
    """
    start = get_current(session, certificate_id)
    nodes: dict[int, dict[str, Any]] = {start.id: _node(start)}
    edges, dangling, roots = [], [], []
    queue: deque[CertificateRecord] = deque([start])
    while queue and len(nodes) < max_nodes:
        row = queue.popleft()
        links = session.scalars(select(TraceLink).where(TraceLink.certificate_row_id == row.id)
                                .order_by(TraceLink.id)).all()
        if not links:
            roots.append(row.certificate_id)
        for link in links:
            target, match = _resolve(session, link)
            edges.append({"from": row.certificate_id, "from_sha256": row.sha256, "to": link.referral_id,
                          "declared_hash": link.declared_hash, "procedure": link.procedure,
                          "resolved_sha256": target.sha256 if target else None, "hash_match": match})
            if target is None:
                if link.referral_id not in dangling:
                    dangling.append(link.referral_id)
            elif target.id not in nodes:
                nodes[target.id] = _node(target)
                queue.append(target)
    return {"certificate_id": start.certificate_id, "sha256": start.sha256, "status": start.status,
            "nodes": list(nodes.values()), "edges": edges, "roots": roots, "dangling": dangling,
            "complete": not dangling,
            "all_valid": all(n["status"] == "valid" for n in nodes.values())
            and all(e["hash_match"] for e in edges) and not dangling}


def dependents(session: Session, certificate_id: str, *, max_nodes: int = 100_000) -> dict[str, Any]:
    """Every stored certificate that depends on ``certificate_id``, directly or transitively
    (recall impact), with its depth and the certificate it depends through."""
    start = get_current(session, certificate_id)
    seen: set[int] = set()
    out: list[dict[str, Any]] = []
    queue: deque[tuple[str, int]] = deque([(start.certificate_id, 0)])
    visited_ids = {start.certificate_id}
    while queue and len(out) < max_nodes:
        cid, depth = queue.popleft()
        rows = session.scalars(select(CertificateRecord).join(
            TraceLink, TraceLink.certificate_row_id == CertificateRecord.id)
            .where(TraceLink.referral_id == cid).order_by(CertificateRecord.id)).all()
        for row in rows:
            if row.id in seen:
                continue
            seen.add(row.id)
            node = _node(row)
            node.update(depth=depth + 1, via=cid)
            out.append(node)
            if row.certificate_id not in visited_ids:
                visited_ids.add(row.certificate_id)
                queue.append((row.certificate_id, depth + 1))
    return {"certificate_id": start.certificate_id, "status": start.status,
            "count": len(out), "dependents": out}


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

"""Publishing a signed DCC: admission (no database), then one short write transaction.

The pipeline is split so that the CPU-heavy part — parsing, schema validation, signature
verification (:func:`admit_submission`, in an admission worker process when the server has
them) — runs outside the store's write lock and concurrent publications overlap;
:func:`store` then checks what needs the database (idempotency, signer registered to the
publishing lab, amendment rules) and inserts with Core statements (a publish is a hot path: no
ORM unit of work, no reloads).

Rules:
- the same bytes again return the stored version (``created=False``), whatever its status;
- the signer's certificate must be one registered for the publishing lab;
- a different document under a stored certificate id is a :class:`Conflict` unless it declares
  itself an amendment/substitution of that id (``dcc:reportAmendedSubstituted``), which then
  supersedes the old version; one naming another id supersedes that certificate (same lab only);
- an amendment that arrives before the certificate it replaces supersedes it on arrival.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from labauto.platform.server import prepared as run
from labauto.platform.server.db import Database, lookup
from labauto.platform.server.admission import Admission, admit_document
from labauto.platform.server.dcc import SchemaRegistry
from labauto.platform.server.models import (CertificateRecord, Document, ItemIdentifier, Lab,
                                            LabCertificate, Measurand, TraceLink, record_status,
                                            utcnow)
from labauto.platform.server.service import Conflict, Forbidden, LabRef, Rejected, audit
from labauto.platform.server.trust_admission import (check_signed_pdf, expired_signer_refusal,
                                                     revoked_signer_refusal)

Db = Session | Connection

# The hot path uses Core statements built once (their SQL and cache keys are computed once)
# with bound parameters: no ORM identity map, no unit of work, no statement rebuilding.
T = CertificateRecord.__table__
C = T.c
_BY_SHA = select(C.certificate_id, C.version, C.lab_id, C.revoked_at, C.superseded_by_id).where(
    C.sha256 == bindparam("sha"))
_CURRENT = (select(C.id, C.certificate_id, C.sha256, C.lab_id, C.version, C.superseded_by_id)
            .where(C.certificate_id == bindparam("cid")).order_by(C.version.desc()).limit(1))
_EARLY_AMENDMENT = (select(C.id, C.certificate_id, C.sha256, C.type_of_change)
                    .where(C.amends_certificate_id == bindparam("cid"), C.certificate_id != bindparam("cid"),
                           C.lab_id == bindparam("lab")).order_by(C.id).limit(1))
_LC = LabCertificate.__table__.c
_CERT_OWNER = select(_LC.lab_id, _LC.subject, _LC.revoked_at, _LC.revocation_reason, _LC.invalid_since).where(
    _LC.fingerprint_sha256 == bindparam("fp"))
_INSERT_RECORD = insert(T).returning(C.id)
_INSERT_DOCUMENT = insert(Document.__table__)
_INSERT_IDENTIFIERS = insert(ItemIdentifier.__table__)
_INSERT_MEASURANDS = insert(Measurand.__table__)
_INSERT_LINKS = insert(TraceLink.__table__)
_SUPERSEDE = update(T).where(C.id == bindparam("row"), C.superseded_by_id.is_(None)).values(
    superseded_by_id=bindparam("by"), superseded_at=bindparam("at"))


@dataclass(frozen=True)
class PublishOutcome:
    """What the API answers for a publication."""
    certificate_id: str
    sha256: str
    status: str
    version: int
    created: bool
    superseded: str | None = None      # the certificate id this publication superseded
    lab_id: int | None = None
    row_id: int | None = None          # the new certificates row (created publications only)

    def json(self) -> dict:
        return {"certificate_id": self.certificate_id, "sha256": self.sha256, "status": self.status,
                "created": self.created, "version": self.version, "superseded": self.superseded}


def _conn(db: Db) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_version(db: Db | Database, sha256: str) -> PublishOutcome | None:
    """The stored document with this SHA-256 (as an unchanged publication), if any (with a
    :class:`Database`, a :meth:`~Database.lookup` of its own)."""
    r = lookup(db, _BY_SHA, sha=sha256)
    if r is None:
        return None
    return PublishOutcome(r.certificate_id, sha256, record_status(r.revoked_at, r.superseded_by_id),
                          r.version, created=False, lab_id=r.lab_id)


_STORED_ATTACHMENTS = (select(Document.__table__.c.pdf, Document.__table__.c.json)
                       .join_from(Document.__table__, T, Document.__table__.c.certificate_row_id == C.id)
                       .where(C.sha256 == bindparam("sha")))


def check_replay_attachments(db: Db, sha256: str, pdf: bytes | None, js: bytes | None) -> None:
    """A replay of a stored DCC may repeat its PDF and JSON or leave them out; one carrying a PDF
    or JSON other than the stored one (or one where none was stored) is a 409: a published
    certificate is immutable, its files are never added or replaced (publish a new version)."""
    if pdf is None and js is None:
        return
    stored = db.execute(_STORED_ATTACHMENTS, {"sha": sha256}).first()
    for kind, new, old in (("pdf", pdf, stored.pdf), ("json", js, stored.json)):
        if new is not None and new != old:
            raise Conflict(f"this DCC (sha256 {sha256}) is already published "
                           + (f"without a {kind}" if old is None else f"with a different {kind}")
                           + "; a published certificate is immutable: its files cannot be added or "
                           "replaced (publish an amended DCC as a new version to change them)")


def _check_attachments(pdf: bytes | None, js: bytes | None) -> None:
    if pdf is not None and not pdf.startswith(b"%PDF-"):
        raise Rejected("attachment", "the pdf file is not a PDF (it does not start with %PDF-)")
    if js is not None:
        try:
            json.loads(js)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Rejected("attachment", f"the json file is not valid JSON: {exc}") from exc


def admit_submission(dcc: bytes, schemas: SchemaRegistry, *, pdf: bytes | None = None,
                     js: bytes | None = None, time_anchors: list[bytes] = ()) -> Admission:
    """The database-free admission stages; :class:`Rejected` names the failing stage.  The
    attachments' form, then the DCC's own stages and its ``time`` stage (a signature time-stamp
    must chain to ``time_anchors``) in an admission worker when the server has them
    (:func:`~labauto.platform.server.admission.admit_document`), then ``time`` for an expired
    signer and ``pdf`` (a signed PDF must be unchanged and signed by the DCC's signer), see
    :mod:`labauto.platform.server.trust_admission`."""
    _check_attachments(pdf, js)
    adm = admit_document(dcc, schemas, time_anchors)
    sig = adm.signature
    expired = expired_signer_refusal(sig.signer_subject, sig.signer_not_after, sig.signing_time,
                                     adm.trusted_time)
    if expired:
        raise Rejected("time", expired)
    check_signed_pdf(pdf, sig.signer_fingerprint_sha256)
    return adm


def _check_signer(db: Db, lab: LabRef, adm: Admission) -> None:
    sig = adm.signature
    registered = run.first(db, _CERT_OWNER, {"fp": sig.signer_fingerprint_sha256})
    owner = registered.lab_id if registered is not None else None
    if owner == lab.id:
        refusal = revoked_signer_refusal(registered.revoked_at, registered.revocation_reason,
                                         registered.invalid_since, adm.trusted_time, registered.subject)
        if refusal:
            raise Rejected("revocation", refusal)
        return
    who = (f"registered to lab {db.scalar(select(Lab.__table__.c.name).where(Lab.__table__.c.id == owner))!r}"
           if owner is not None
           else "not registered on the platform")
    raise Rejected("signer", f"the DCC is signed by {sig.signer_subject} (certificate "
                   f"{sig.signer_fingerprint_sha256[:16]}…), which is {who}; lab {lab.name!r} "
                   "can publish only documents signed with its own registered certificate")


def _current(db: Db, certificate_id: str):
    return run.first(db, _CURRENT, {"cid": certificate_id})


def _supersede(db: Db, old, new_id: int, new_cid: str, new_sha: str, type_of_change: str | None,
               lab: LabRef) -> None:
    if run.execute(db, _SUPERSEDE, {"row": old.id, "by": new_id, "at": utcnow()}) != 1:
        # a concurrent publication superseded it first (the row lock made this one wait)
        raise Conflict(f"certificate {old.certificate_id!r} was superseded by another publication "
                       "meanwhile; look it up and publish again if this document is still needed")
    audit(db, f"lab:{lab.id}", "certificate.supersede", lab_id=lab.id,
          certificate_id=old.certificate_id, sha256=old.sha256, superseded_by=new_cid,
          superseded_by_sha256=new_sha, type_of_change=type_of_change)


def store(db: Db, lab: LabRef, dcc: bytes, adm: Admission, *, pdf: bytes | None = None,
          js: bytes | None = None, sha256: str | None = None) -> PublishOutcome:
    """Store an admitted document for ``lab`` in the caller's write transaction
    (``sha256``: the caller's :func:`sha256_hex` of ``dcc``, if it has it already)."""
    db = _conn(db)                    # Core statements only: skip the Session's per-call work
    sha = sha256 or sha256_hex(dcc)
    same = stored_version(db, sha)
    if same is not None and same.lab_id == lab.id:
        check_replay_attachments(db, sha, pdf, js)
        return same
    _check_signer(db, lab, adm)
    sig, facts = adm.signature, adm.facts
    existing = _current(db, facts.certificate_id)
    if existing is not None and existing.sha256 == sha and existing.lab_id == lab.id:
        # stored by a concurrent publication since the check above (READ COMMITTED sees it now)
        return stored_version(db, sha)
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
        superseded = _current(db, facts.replaced_id)
        if superseded is not None and superseded.lab_id != lab.id:
            raise Forbidden(f"certificate {facts.replaced_id!r} was issued by another lab; "
                            f"lab {lab.name!r} cannot amend or substitute it")
    if superseded is not None and superseded.superseded_by_id is not None:
        by = db.scalar(select(C.certificate_id).where(C.id == superseded.superseded_by_id))
        raise Conflict(f"certificate {facts.replaced_id!r} is already superseded by {by!r}")

    row_id = run.first(db, _INSERT_RECORD, dict(
        certificate_id=facts.certificate_id, version=version, sha256=sha, lab_id=lab.id,
        schema_version=facts.schema_version, signer_fingerprint=sig.signer_fingerprint_sha256,
        signer_subject=sig.signer_subject, signing_time=sig.signing_time, item_name=facts.item_name,
        item_manufacturer=facts.manufacturer, item_model=facts.model, item_serial=facts.serial,
        receipt_date=facts.receipt_date, begin_date=facts.begin_date, end_date=facts.end_date,
        issue_date=facts.issue_date, amends_certificate_id=facts.replaced_id,
        type_of_change=facts.type_of_change, published_at=utcnow(),
        has_pdf=pdf is not None, has_json=js is not None,
        pdf_sha256=sha256_hex(pdf) if pdf is not None else None)).id
    run.execute(db, _INSERT_DOCUMENT, [dict(certificate_row_id=row_id, dcc=dcc, pdf=pdf, json=js)])
    if facts.identifications:
        run.execute(db, _INSERT_IDENTIFIERS, [dict(certificate_row_id=row_id, issuer=i[:64], value=v)
                                         for i, v in facts.identifications])
    if facts.measurands:
        run.execute(db, _INSERT_MEASURANDS, [dict(certificate_row_id=row_id, name=m) for m in facts.measurands])
    if facts.references:
        run.execute(db, _INSERT_LINKS, [dict(certificate_row_id=row_id, referral_id=r.referral_id,
                                        procedure=r.procedure, declared_hash=r.value)
                                   for r in facts.references])
    audit(db, f"lab:{lab.id}", "certificate.publish", lab_id=lab.id,
          certificate_id=facts.certificate_id, sha256=sha, version=version,
          references=[r.referral_id for r in facts.references])
    if superseded is not None:
        _supersede(db, superseded, row_id, facts.certificate_id, sha, facts.type_of_change, lab)
    status = "valid"
    # an amendment that arrived before the certificate it replaces supersedes it on arrival
    early = existing is None and run.first(
        db, _EARLY_AMENDMENT, {"cid": facts.certificate_id, "lab": lab.id})
    if early:
        mine = _current(db, facts.certificate_id)
        _supersede(db, mine, early.id, early.certificate_id, early.sha256, early.type_of_change, lab)
        status = "superseded"
    return PublishOutcome(facts.certificate_id, sha, status, version, created=True,
                          superseded=superseded.certificate_id if superseded is not None else None,
                          lab_id=lab.id, row_id=row_id)


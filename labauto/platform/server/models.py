"""SQLAlchemy 2 models of the platform store (the schema itself is made by Alembic migrations).

One ``certificates`` row per stored DCC *document* (a version): amending a certificate adds a
row and points the old one's ``superseded_by_id`` at it.  The document bytes live in
``documents`` so record queries stay small.  ``audit_log`` is append-only: the ORM refuses to
update or delete its rows and database triggers (see the migration) refuse it in SQL too.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint, event)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def record_status(revoked_at: dt.datetime | None, superseded_by_id: int | None) -> str:
    """A stored document is revoked, else superseded, else valid."""
    if revoked_at is not None:
        return "revoked"
    if superseded_by_id is not None:
        return "superseded"
    return "valid"


class Base(DeclarativeBase):
    pass


class Lab(Base):
    __tablename__ = "labs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    accreditation_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    certificates: Mapped[list["LabCertificate"]] = relationship(back_populates="lab", lazy="selectin")


class LabCertificate(Base):
    """An X.509 signing certificate registered for a lab (several allow key rollover)."""
    __tablename__ = "lab_certificates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"), index=True)
    fingerprint_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    cert_pem: Mapped[str] = mapped_column(Text)
    not_after: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # revocation of this *signing certificate* by the platform CA (listed in its CRL)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    invalid_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lab: Mapped[Lab] = relationship(back_populates="certificates")


class ApiToken(Base):
    """A lab's API token, stored only as the SHA-256 of the (high-entropy) token."""
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CertificateRecord(Base):
    """One stored DCC document (a version of a certificate) and the facts extracted from it."""
    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("certificate_id", "version", name="uq_certificate_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_id: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"), index=True)
    schema_version: Mapped[str] = mapped_column(String(16))
    signer_fingerprint: Mapped[str] = mapped_column(String(64))
    signer_subject: Mapped[str] = mapped_column(Text)
    signing_time: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    item_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    item_manufacturer: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    item_model: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    item_serial: Mapped[str | None] = mapped_column(String(255), nullable=True)
    receipt_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    begin_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    end_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True, index=True)
    issue_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    amends_certificate_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    type_of_change: Mapped[str | None] = mapped_column(String(32), nullable=True)
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"), nullable=True,
                                                         index=True)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    has_pdf: Mapped[bool] = mapped_column(default=False)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    has_json: Mapped[bool] = mapped_column(default=False)

    lab: Mapped[Lab] = relationship(lazy="joined")
    superseded_by: Mapped["CertificateRecord | None"] = relationship(remote_side=[id], lazy="joined",
                                                                     join_depth=1)
    identifiers: Mapped[list["ItemIdentifier"]] = relationship(lazy="selectin", order_by="ItemIdentifier.id")

    @property
    def status(self) -> str:
        return record_status(self.revoked_at, self.superseded_by_id)


class Document(Base):
    """The submitted bytes: the DCC exactly as signed, and the optional PDF and JSON."""
    __tablename__ = "documents"
    certificate_row_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), primary_key=True)
    dcc: Mapped[bytes] = mapped_column(LargeBinary)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    json: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class ItemIdentifier(Base):
    """An identification of the calibrated item (serial numbers etc.), searchable exactly."""
    __tablename__ = "item_identifiers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_row_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(255), index=True)


class Measurand(Base):
    """A quantity/result name from the measurement results (lower-cased), for search."""
    __tablename__ = "measurands"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_row_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))


class TraceLink(Base):
    """'This certificate used a reference standard calibrated under certificate ``referral_id``'.

    ``referral_id`` may name a certificate not (yet) on the platform: the link is resolved at
    query time, so it is dangling until that certificate arrives and resolved from then on.
    """
    __tablename__ = "trace_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_row_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    referral_id: Mapped[str] = mapped_column(String(255), index=True)
    procedure: Mapped[str] = mapped_column(String(64))
    declared_hash: Mapped[str] = mapped_column(String(128))


class AuditEvent(Base):
    """One change to the platform. Append-only: never updated, never deleted."""
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_certificate", "certificate_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    lab_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    certificate_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("the audit log is append-only: events cannot be changed or deleted")

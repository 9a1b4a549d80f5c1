"""SQLAlchemy models of accreditation: bodies and their tokens, a lab's scope versions and their
CMC rows, and the accreditation status of each published result (migration 0003).

Values are floats in the coherent SI unit of their quantity (see :mod:`cmc`).  At most one scope
version of a lab is valid on any date: importing a version ends the validity of the versions it
overlaps the day before it starts (``valid_until``).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from labauto.platform.server.models import Base, utcnow


class AccreditationBody(Base):
    __tablename__ = "accreditation_bodies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    country: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BodyToken(Base):
    """An accreditation body's API token (SHA-256 only, like a lab's)."""
    __tablename__ = "body_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("accreditation_bodies.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Scope(Base):
    """One version of a lab's accredited scope."""
    __tablename__ = "scopes"
    __table_args__ = (UniqueConstraint("lab_id", "version", name="uq_scope_version"),
                      Index("ix_scopes_lab_valid", "lab_id", "valid_from"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"))
    body_id: Mapped[int] = mapped_column(ForeignKey("accreditation_bodies.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    source_name: Mapped[str] = mapped_column(String(255))
    source_sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    suspended_from: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    suspended_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    withdrawn_from: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ScopeRow(Base):
    """One CMC row: quantity, range, frequency band, CMC = relative * |x| + absolute (or table)."""
    __tablename__ = "scope_rows"
    # the capability search ranks rows from this index alone on PostgreSQL (migration 0005)
    __table_args__ = (Index("ix_scope_rows_capability", "quantity", "range_min", "range_max",
                            postgresql_include=["frequency_min", "frequency_max", "cmc_relative", "cmc_absolute",
                                                "scope_id", "id"]),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope_id: Mapped[int] = mapped_column(ForeignKey("scopes.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(16))
    range_min: Mapped[float] = mapped_column(Float)
    range_max: Mapped[float] = mapped_column(Float)
    frequency_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    frequency_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    conditions: Mapped[str] = mapped_column(Text)
    cmc_text: Mapped[str] = mapped_column(Text)
    range_text: Mapped[str] = mapped_column(Text)
    frequency_text: Mapped[str] = mapped_column(Text)
    cmc_relative: Mapped[float] = mapped_column(Float)
    cmc_absolute: Mapped[float] = mapped_column(Float)
    cmc_table: Mapped[list | None] = mapped_column(JSON, nullable=True)
    k: Mapped[float] = mapped_column(Float)


class ResultCoverage(Base):
    """One result of a published document and its accreditation status at publication."""
    __tablename__ = "result_coverage"
    __table_args__ = (Index("ix_result_coverage_search", "quantity", "value"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_row_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[str | None] = mapped_column(String(64), nullable=True)
    unit: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    uncertainty: Mapped[float] = mapped_column(Float)
    k: Mapped[float] = mapped_column(Float)
    frequency: Mapped[float | None] = mapped_column(Float, nullable=True)
    covered: Mapped[bool] = mapped_column()
    scope_id: Mapped[int | None] = mapped_column(ForeignKey("scopes.id"), nullable=True)
    scope_row_id: Mapped[int | None] = mapped_column(ForeignKey("scope_rows.id"), nullable=True)
    cmc: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str] = mapped_column(Text)

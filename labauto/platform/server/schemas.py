"""Pydantic models of the HTTP API (they document the OpenAPI schema)."""
from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Error(BaseModel):
    detail: str


class Rejection(BaseModel):
    detail: str
    stage: str = Field(description="admission stage that refused the document: attachment, "
                       "well-formed, schema, identifier, schematron, signature or signer")


class PublishResult(BaseModel):
    certificate_id: str
    sha256: str
    status: str = Field(description="valid, superseded or revoked")
    created: bool = Field(description="false when the identical document was already stored")
    version: int
    superseded: str | None = Field(None, description="certificate id this publication superseded")


class Dates(BaseModel):
    receipt: str | None
    begin_performance: str | None
    end_performance: str | None
    issue: str | None


class Identification(BaseModel):
    issuer: str
    value: str


class Item(BaseModel):
    name: str | None
    manufacturer: str | None
    model: str | None
    serial: str | None
    identifications: list[Identification]


class Amends(BaseModel):
    certificate_id: str
    type_of_change: str | None


class Signer(BaseModel):
    subject: str
    fingerprint_sha256: str = Field(description="SHA-256 of the signing certificate (DER)")
    signing_time: str | None = Field(description="the signed XAdES SigningTime; null for a plain "
                                     "XMLDSig signature")


class VerificationRecord(BaseModel):
    certificate_id: str
    version: int
    sha256: str = Field(description="SHA-256 (hex) of the stored signed DCC, exactly as submitted")
    status: str = Field(description="valid, superseded or revoked")
    lab: str
    lab_id: int
    accreditation_id: str
    schema_version: str
    dates: Dates
    published_at: str
    item: Item
    amends: Amends | None
    supersedes: str | None
    superseded_by: str | None
    superseded_by_sha256: str | None
    superseded_at: str | None
    revoked_at: str | None
    revocation_reason: str | None
    signer: Signer
    has_pdf: bool
    has_json: bool
    verification_url: str


class SearchResult(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[VerificationRecord]


class ChainItem(BaseModel):
    manufacturer: str | None
    model: str | None
    serial: str | None


class ChainNode(BaseModel):
    certificate_id: str
    sha256: str
    status: str
    lab: str
    accreditation_id: str
    revocation_reason: str | None
    superseded_by: str | None
    item: ChainItem
    end_performance: str | None
    dangling: bool


class ChainEdge(BaseModel):
    from_: str = Field(alias="from")
    from_sha256: str
    to: str
    declared_hash: str
    procedure: str
    resolved_sha256: str | None
    hash_match: bool | None


class Chain(BaseModel):
    certificate_id: str
    sha256: str
    status: str
    nodes: list[ChainNode]
    edges: list[ChainEdge]
    roots: list[str]
    dangling: list[str] = Field(description="referenced certificate ids not (yet) on the platform")
    complete: bool
    all_valid: bool


class Dependent(ChainNode):
    depth: int
    via: str


class Dependents(BaseModel):
    certificate_id: str
    status: str
    count: int
    dependents: list[Dependent]


class RevokeRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=4000)


class LabCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    accreditation_id: str = Field(min_length=1, max_length=255)
    certificate_pem: str = Field(min_length=1, max_length=100_000)


class LabCertificateAdd(BaseModel):
    certificate_pem: str = Field(min_length=1, max_length=100_000)


class LabCertificateInfo(BaseModel):
    fingerprint_sha256: str
    subject: str
    not_after: str


class LabInfo(BaseModel):
    id: int
    name: str
    accreditation_id: str
    certificates: list[LabCertificateInfo]


class TokenIssued(BaseModel):
    lab_id: int
    token_id: int = Field(description="names the token for listing and revocation")
    token: str = Field(description="shown once; only its SHA-256 is stored")


class TokenInfo(BaseModel):
    id: int
    lab_id: int
    created_at: str
    revoked_at: str | None = Field(description="null while the token is in use")


class AuditEntry(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    lab_id: int | None
    certificate_id: str | None
    sha256: str | None
    detail: dict


class VerificationStage(BaseModel, extra="allow"):
    stage: str = Field(description="well-formed, schema, rules, signature, signer, time, chain, "
                       "revocation or platform")
    status: str = Field(description="pass, warn, fail or skip (not checked, with the reason)")
    detail: str


class VerificationReport(BaseModel):
    valid: bool = Field(description="no stage failed, and every stage that could fail was checked")
    sha256: str
    certificate_id: str | None
    schema_version: str | None
    stages: list[VerificationStage]

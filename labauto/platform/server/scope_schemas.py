"""Pydantic models of the accreditation API (bodies, scopes, capability and result search)."""
from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class BodyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    country: str | None = Field(None, max_length=64)


class BodyInfo(BaseModel):
    id: int
    name: str
    country: str | None


class BodyTokenIssued(BaseModel):
    body_id: int
    token_id: int
    token: str = Field(description="shown once; only its SHA-256 is stored")


class StatusChange(BaseModel):
    reason: str = Field(min_length=1, max_length=4000)
    from_date: dt.date | None = Field(None, description="first day it applies (default today)")


class Reinstate(BaseModel):
    on: dt.date | None = Field(None, description="first day the accreditation is in force again (default today)")


class ScopeRowInfo(BaseModel):
    id: int
    line: int = Field(description="line of the row in the imported file")
    quantity: str
    unit: str = Field(description="SI unit of range_min/range_max and of the CMC's absolute part")
    range_min: float
    range_max: float
    range: str
    frequency_min: float | None
    frequency_max: float | None
    frequency: str | None
    conditions: str | None
    cmc: str = Field(description="the CMC as written, e.g. '2 µV/V + 1 µV'")
    k: float


class ScopeInfo(BaseModel):
    lab_id: int
    version: int
    body: str
    body_id: int
    valid_from: str
    valid_until: str | None
    status_today: str = Field(description="active, suspended, withdrawn, or 'not valid today'")
    suspended_from: str | None
    suspended_until: str | None
    withdrawn_from: str | None
    status_reason: str | None
    source: str
    source_sha256: str
    row_count: int
    rows: list[ScopeRowInfo] = []


class Capability(BaseModel):
    lab_id: int
    lab: str
    accreditation_id: str
    scope_version: int
    valid_from: str
    valid_until: str | None
    row: ScopeRowInfo
    cmc_at_value: float | None = Field(description="the CMC at the asked value, in the quantity's SI unit")
    cmc_at_value_text: str | None


class Capabilities(BaseModel):
    quantity: str
    unit: str
    value: float | None
    frequency: float | None
    max_cmc: float | None = Field(description="the asked CMC limit at the value, absolute, SI unit")
    date: str
    count: int
    items: list[Capability]


class ResultHit(BaseModel):
    position: int
    name: str
    quantity: str | None
    unit: str
    value: float
    uncertainty: float
    k: float
    frequency: float | None
    covered: bool


class CertificateHit(BaseModel):
    certificate_id: str
    version: int
    sha256: str
    status: str
    lab: str
    accreditation_id: str
    end_performance: str | None
    verification_url: str
    results: list[ResultHit]


class ResultSearch(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CertificateHit]


class ResultTexts(BaseModel):
    value: str
    uncertainty: str
    cmc: str | None
    frequency: str | None


class ResultAccreditation(BaseModel):
    position: int
    name: str
    quantity: str | None
    unit: str
    value: float
    uncertainty: float = Field(description="expanded uncertainty U, same unit as value")
    k: float
    frequency: float | None
    cmc: float | None = Field(description="the accredited CMC at the value (same unit), when a scope row holds it")
    status: str = Field(description="covered, not covered by accreditation, accreditation suspended, "
                        "accreditation withdrawn")
    text: ResultTexts
    note: str


class ScopeRef(BaseModel):
    version: int
    body: str
    valid_from: str
    valid_until: str | None
    status_on_calibration_date: str | None
    status_reason: str | None


class Accreditation(BaseModel):
    status: str = Field(description="accredited, partly covered by accreditation, not covered by "
                        "accreditation, accreditation suspended, accreditation withdrawn, no results assessed")
    calibration_date: str
    scope: ScopeRef | None
    lab_accreditation_today: str = Field(description="active, suspended, withdrawn or none")
    results: list[ResultAccreditation]

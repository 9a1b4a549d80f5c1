"""The verify page for a file in hand: upload a certificate PDF or a DCC, learn whether it is the
published, valid, unrevoked document.

``GET /verify`` shows the upload form; ``POST /verify`` (multipart field ``file``) answers an
HTML page with one verdict and the checks behind it.  Nothing is stored.

For a **DCC**: the stages of the platform's verification report (the same
:class:`~labauto.platform.server.verification.Verifier` as ``POST /api/v1/verify``: schema,
rules, signature, signer, time from the XAdES-T time-stamp, chain to the platform's anchors,
revocation from its CA's CRL), the signer's registration on the platform, and whether a
published document has its SHA-256, with that record's status.
For a **PDF**: its PAdES signature must be intact, cover the whole file and be by a registered,
unrevoked signing certificate (:func:`labauto.certificate.pdf_signing.verify_pdf`); its SHA-256
must be that of a published PDF.  Only then, and if the published record is ``valid``, is the
verdict "published and valid".
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from html import escape
from typing import Any

from fastapi import File, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from labauto.certificate import pki
from labauto.platform.server import service
from labauto.platform.server.models import CertificateRecord, LabCertificate
from labauto.platform.server.trust_admission import revoked_signer_refusal


@dataclass(frozen=True)
class Check:
    stage: str
    ok: bool | None          # None: not applicable / informative
    detail: str


@dataclass
class UploadVerdict:
    kind: str                               # "pdf", "dcc" or "unknown"
    label: str                              # the headline
    good: bool
    checks: list[Check] = field(default_factory=list)
    record: dict[str, Any] | None = None


def _signer_registration(session: Session, cert, trusted_time: dt.datetime | None) -> list[Check]:
    fp = pki.fingerprint_sha256(cert)
    row = session.scalar(select(LabCertificate).where(LabCertificate.fingerprint_sha256 == fp))
    if row is None:
        return [Check("registered", False, f"{cert.subject.rfc4514_string()} is not a signing certificate "
                      "registered on this platform")]
    checks = [Check("registered", True, f"{row.subject}, registered to {row.lab.name} "
                    f"(accreditation {row.lab.accreditation_id})")]
    refusal = revoked_signer_refusal(row.revoked_at, row.revocation_reason, row.invalid_since,
                                     trusted_time, row.subject)
    if refusal:
        checks.append(Check("revocation", False, refusal))
    elif row.revoked_at is not None:
        checks.append(Check("revocation", True, f"the signing certificate was revoked on "
                            f"{service._iso(row.revoked_at)}, after the time-stamped signing time: "
                            "the signature stays valid"))
    else:
        checks.append(Check("revocation", True, "the signing certificate is not revoked"))
    return checks


def _record_checks(session: Session, row: CertificateRecord | None, what: str) -> tuple[list[Check], dict | None]:
    if row is None:
        return [Check("published", False, f"this {what} is not a document published on this platform "
                      "(no published document has its SHA-256)")], None
    rec = service.record_json(row, session)
    status_ok = rec["status"] == "valid"
    detail = f"certificate {rec['certificate_id']} (version {rec['version']}) by {rec['lab']}: {rec['status']}"
    if rec["status"] == "revoked":
        detail += f" on {rec['revoked_at']}: {rec['revocation_reason']}"
    if rec["superseded_by"]:
        detail += f", superseded by {rec['superseded_by']}"
    return [Check("published", True, f"published on {rec['published_at']}"),
            Check("status", status_ok, detail)], rec


_STAGE_OK = {"pass": True, "warn": True, "fail": False, "skip": None}


def verify_dcc_upload(session: Session, data: bytes, verifier) -> UploadVerdict:
    """The stages of the platform's DCC verification report (schema, rules, signature, signer,
    time, chain, revocation: :class:`~.verification.Verifier`), then the signer's registration
    and whether the platform published this document."""
    report = verifier.verify(data)
    checks = [Check(s.name, _STAGE_OK[s.status], s.detail) for s in report.stages if s.name != "platform"]
    sig = next((s for s in report.stages if s.name == "signature"), None)
    if sig is not None and sig.status == "pass":
        from labauto.certificate.signing import embedded_certificate, parse_xml

        cert = embedded_certificate(parse_xml(data))
        time = next((s for s in report.stages if s.name == "time"), None)
        trusted = (dt.datetime.fromisoformat(time.data["time"]) if time is not None and time.status == "pass"
                   and time.data.get("source", "").startswith("signature time-stamp") else None)
        crl_said = any(s.name == "revocation" and s.status != "skip" for s in report.stages)
        checks += [c for c in _signer_registration(session, cert, trusted)
                   if c.stage == "registered" or not crl_said]   # the platform's own record
    more, rec = _record_checks(session, service.by_sha256(session, report.sha256), "DCC")
    return _verdict("dcc", checks + more, rec, report.sha256)


def verify_pdf_upload(session: Session, data: bytes, anchors: list[bytes]) -> UploadVerdict:
    from labauto.certificate.pdf_signing import verify_pdf

    sha = hashlib.sha256(data).hexdigest()
    verdict = verify_pdf(data, anchors)
    checks: list[Check] = []
    if verdict.signer_cert is None or not verdict.intact:
        checks.append(Check("signature", False, verdict.reason))
    else:
        checks.append(Check("signature", True, f"the PDF signature is intact and covers the whole file "
                            f"(signed by {verdict.signer})"))
        if verdict.timestamped:
            good = verdict.signing_time is not None and "time-stamp" not in verdict.reason
            checks.append(Check("time", good, f"time-stamped {verdict.signing_time:%Y-%m-%d %H:%M:%S} UTC"
                                if good else verdict.reason))
        else:
            checks.append(Check("time", None, "no time-stamp: the signing time is the signer's claim"))
        checks += _signer_registration(session, verdict.signer_cert,
                                       verdict.signing_time if verdict.timestamped else None)
    row = session.scalar(select(CertificateRecord).where(CertificateRecord.pdf_sha256 == sha))
    more, rec = _record_checks(session, row, "PDF")
    return _verdict("pdf", checks + more, rec, sha)


def _verdict(kind: str, checks: list[Check], rec: dict | None, sha: str) -> UploadVerdict:
    failed = [c for c in checks if c.ok is False]
    checks.append(Check("sha256", None, sha))
    if not failed:
        return UploadVerdict(kind, "PUBLISHED AND VALID", True, checks, rec)
    first = failed[0].stage
    label = {"well-formed": "NOT A VALID DCC", "schema": "NOT A VALID DCC", "rules": "NOT A VALID DCC",
             "signature": "SIGNATURE BROKEN", "time": "TIME-STAMP NOT TRUSTED", "registered": "UNKNOWN SIGNER",
             "chain": "SIGNER NOT TRUSTED", "revocation": "SIGNER REVOKED",
             "published": "NOT PUBLISHED HERE"}.get(first)
    if label is None:
        label = (rec or {}).get("status", "not valid").upper()
    return UploadVerdict(kind, label, False, checks, rec)


def verify_upload(session: Session, data: bytes, anchors: list[bytes], verifier) -> UploadVerdict:
    """The verdict on an uploaded PDF or DCC (anything else: "not a PDF or DCC")."""
    if data.startswith(b"%PDF-"):
        return verify_pdf_upload(session, data, anchors)
    head = data.lstrip()[:1]
    if head == b"<" or data.startswith(b"\xef\xbb\xbf"):
        return verify_dcc_upload(session, data, verifier)
    return UploadVerdict("unknown", "NOT A PDF OR DCC", False,
                         [Check("file", False, "the file is neither a PDF nor an XML document")])


# ---------------------------------------------------------------- HTML

_FORM = ("<form method=\"post\" action=\"/verify\" enctype=\"multipart/form-data\">"
         "<p><input type=\"file\" name=\"file\" required "
         "accept=\".pdf,.xml,application/pdf,application/xml,text/xml\"> "
         "<button type=\"submit\">Verify</button></p></form>")


def form_page() -> str:
    from labauto.platform.server.html import _page

    return _page("Verify a calibration certificate",
                 "<h1>Verify a calibration certificate</h1>"
                 "<p>Upload the PDF certificate or the digital calibration certificate (DCC, XML) you "
                 "received. The platform checks its signature, its time-stamp and signer, and whether it "
                 "is the document the laboratory published, unchanged and not revoked. Nothing you "
                 "upload is stored.</p>" + _FORM)


def result_page(v: UploadVerdict, filename: str) -> str:
    from labauto.platform.server.html import _page

    colour = "#0a7d32" if v.good else "#b00020"
    marks = {True: "✔", False: "✘", None: "–"}
    rows = "".join(f"<tr><td>{escape(c.stage)}</td><td>{marks[c.ok]}</td><td>{escape(c.detail)}</td></tr>"
                   for c in v.checks)
    link = ""
    if v.record:
        cid = escape(v.record["certificate_id"])
        link = f"<p><a href=\"/verify/{cid}\">The published record of certificate {cid}</a></p>"
    what = {"pdf": "PDF certificate", "dcc": "digital calibration certificate (DCC)"}.get(v.kind, "file")
    return _page(f"{v.label}: {filename}",
                 f"<h1>{escape(filename)} — {what}</h1>"
                 f"<p class=\"status\" style=\"background:{colour}\">{escape(v.label)}</p>"
                 f"<table>{rows}</table>{link}<h2 style=\"font-size:1.1rem\">Verify another file</h2>{_FORM}")


def add_upload_routes(app, trust, max_upload_bytes: int, dcc_verifier) -> None:
    """``GET /verify`` (the form) and ``POST /verify`` (the verdict page) on ``app``."""
    @app.get("/verify", response_class=HTMLResponse, tags=["public"],
             summary="Verify a PDF or DCC you hold: the upload form")
    def upload_form() -> HTMLResponse:
        return HTMLResponse(form_page())

    @app.post("/verify", response_class=HTMLResponse, tags=["public"],
              responses={413: {"content": {"text/html": {}}, "description": "file too large"}},
              summary="Verify an uploaded PDF certificate or DCC (nothing is stored)")
    async def upload_verify(request: Request, file: UploadFile = File(...)) -> HTMLResponse:
        data = await file.read(max_upload_bytes + 1)
        name = (file.filename or "upload")[:200]
        if len(data) > max_upload_bytes:
            return HTMLResponse(result_page(UploadVerdict("unknown", "FILE TOO LARGE", False, [Check(
                "file", False, f"the file exceeds {max_upload_bytes} bytes")]), name), status_code=413)

        def work() -> str:
            database = request.app.state.db
            with database.read() as session:
                return result_page(verify_upload(session, data, trust.time_anchors,
                                                 dcc_verifier(database)), name)

        return HTMLResponse(await run_in_threadpool(work))

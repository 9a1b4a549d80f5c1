"""The platform's trust services: its CA's certificate, a time-stamping authority for its labs
(RFC 3161 over HTTP) and the CA's CRL of revoked lab signing certificates.

They exist when the platform is given its own CA (``LABAUTO_PLATFORM_CA_KEY`` / ``_CERT``).
At start-up the CA issues the TSA a fresh key and certificate (extended key usage
id-kp-timeStamping, critical); each worker process has its own, all chaining to the CA, so a
token is verified against the CA certificate, which is the trust anchor a verifier needs
(``GET /api/v1/ca``).

Routes (HTTP contract in docs/platform.md):

``POST /api/v1/tsa``      a lab's bearer token, ``Content-Type: application/timestamp-query``,
                          a DER TimeStampReq (at most 16 KiB) -> ``application/timestamp-reply``
                          (a granted token, or a rejection saying why).  The token is checked
                          before the body is read.
``GET  /api/v1/crl``      the CA's current CRL, DER (``application/pkix-crl``), nextUpdate one
                          day ahead.
``GET  /api/v1/ca``       the CA certificate, PEM.
``POST /api/v1/labs/{lab_id}/certificates/{fingerprint}/revoke``   (admin) revoke a lab's
                          signing certificate (RFC 5280 reason, optional invalidity date).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable

from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from labauto.certificate import pki
from labauto.certificate.signer_crl import DEFAULT_VALIDITY, build_crl
from labauto.certificate.tsa import DEFAULT_POLICY, TimeStampingAuthority, issue_tsa_certificate
from labauto.platform.server import service
from labauto.platform.server.settings import PlatformSettings

API = "/api/v1"
MAX_TSA_REQUEST = 16 * 1024
TIMESTAMP_QUERY, TIMESTAMP_REPLY = "application/timestamp-query", "application/timestamp-reply"
_bearer = HTTPBearer(auto_error=False, description="a lab API token")
LabCreds = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@dataclass
class TrustServices:
    """The platform CA (None without one), the TSA it certified at start-up, and the anchors a
    signature time-stamp must chain to (the platform CA, the CA of the labs' certificates)."""
    ca: pki.CertificateAuthority | None
    tsa: TimeStampingAuthority | None
    crl_validity: dt.timedelta = DEFAULT_VALIDITY

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> "TrustServices":
        # every anchor of the trusted-CA bundle, one PEM each: a time-stamp check reads one
        # certificate per entry, so the bundle as one entry trusted only its first certificate
        lab_ca = ([c.public_bytes(Encoding.PEM) for c in pki.load_certificates(settings.trusted_ca_pem)]
                  if settings.trusted_ca_pem else [])
        if not settings.ca_key_pem or not settings.ca_cert_pem:
            return cls(None, None, time_anchors=lab_ca)
        ca = pki.CertificateAuthority(settings.ca_key_pem, settings.ca_cert_pem)
        pair = issue_tsa_certificate(ca, "labauto platform TSA", organization=_organization(ca))
        tsa = TimeStampingAuthority(pair.key_pem, pair.cert_pem, [ca.cert_pem],
                                    policy=settings.tsa_policy or DEFAULT_POLICY)
        return cls(ca, tsa, time_anchors=[ca.cert_pem] + lab_ca)

    time_anchors: list[bytes] = field(default_factory=list)

    def issued_by_ca(self, issuer_cert) -> bool:
        """Whether ``issuer_cert`` (a certificate of a chain) is this platform's CA."""
        return self.ca is not None and issuer_cert.subject == pki.load_certificate(self.ca.cert_pem).subject

    def current_crl(self, database) -> bytes:
        """The CA's CRL as ``GET /api/v1/crl`` serves it now (DER)."""
        from labauto.platform.server.signer_revocation import crl_entries

        with database.read() as session:
            entries = crl_entries(session, self.ca.cert_pem)
        return build_crl(self.ca, entries, validity=self.crl_validity)

    @property
    def trust_anchors(self) -> list[bytes]:
        """The platform CA's certificate (the anchor of its TSA and CRL), if it has one."""
        return [self.ca.cert_pem] if self.ca else []


def _organization(ca: pki.CertificateAuthority) -> str | None:
    from cryptography.x509.oid import NameOID

    names = pki.load_certificate(ca.cert_pem).subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else None


class SigningCertificateRevoke(BaseModel):
    reason: str = Field("unspecified", max_length=32, description="RFC 5280 reason: key_compromise, "
                        "ca_compromise, affiliation_changed, superseded, cessation_of_operation, "
                        "certificate_hold, privilege_withdrawn, aa_compromise or unspecified")
    invalid_since: dt.datetime | None = Field(None, description="since when the key is known to be "
                                              "unsafe (the CRL's invalidity date); not in the future")


def add_trust_routes(app: FastAPI, trust: TrustServices, require_admin: Callable) -> None:
    """Add the TSA, CRL, CA and signing-certificate revocation routes to ``app``."""

    def _no_ca() -> HTTPException:
        return HTTPException(404, "this platform runs no CA, so no time-stamping authority and no "
                             "CRL (its operator sets LABAUTO_PLATFORM_CA_KEY and LABAUTO_PLATFORM_CA_CERT)")

    @app.post(f"{API}/tsa", tags=["lab"], response_class=Response,
              summary="RFC 3161 time-stamping authority for the platform's labs",
              responses={200: {"content": {TIMESTAMP_REPLY: {}}, "description": "a TimeStampResp"},
                         401: {"description": "missing or unknown token"},
                         413: {"description": "request too large"}, 415: {"description": "wrong media type"},
                         404: {"description": "no CA configured"}})
    async def timestamp(request: Request, creds: LabCreds) -> Response:
        if creds is None:
            raise HTTPException(401, "a lab API token is required (Authorization: Bearer <token>)",
                                headers={"WWW-Authenticate": "Bearer"})
        database = request.app.state.db
        if await run_in_threadpool(service.lab_for_token, database, creds.credentials) is None:
            raise HTTPException(401, "unknown or revoked API token", headers={"WWW-Authenticate": "Bearer"})
        if trust.tsa is None:
            raise _no_ca()
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != TIMESTAMP_QUERY:
            raise HTTPException(415, f"send a DER TimeStampReq as {TIMESTAMP_QUERY} (RFC 3161 3.4)")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_TSA_REQUEST):
            raise HTTPException(413, f"a TimeStampReq is at most {MAX_TSA_REQUEST} bytes here")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_TSA_REQUEST:
                raise HTTPException(413, f"a TimeStampReq is at most {MAX_TSA_REQUEST} bytes here")
        stamped = await run_in_threadpool(trust.tsa.respond, bytes(body))
        return Response(stamped.response_der, media_type=TIMESTAMP_REPLY)

    @app.get(f"{API}/crl", tags=["public"], response_class=Response,
             summary="The platform CA's certificate revocation list (revoked lab signing certificates)",
             responses={200: {"content": {"application/pkix-crl": {}}}, 404: {"description": "no CA configured"}})
    def crl(request: Request) -> Response:
        if trust.ca is None:
            raise _no_ca()
        return Response(trust.current_crl(request.app.state.db), media_type="application/pkix-crl",
                        headers={"Cache-Control": "public, max-age=300"})

    @app.get(f"{API}/ca", tags=["public"], response_class=Response,
             summary="The platform CA's certificate (the trust anchor of its TSA and CRL)",
             responses={200: {"content": {"application/x-pem-file": {}}}, 404: {"description": "no CA configured"}})
    def ca_certificate() -> Response:
        if trust.ca is None:
            raise _no_ca()
        return Response(trust.ca.cert_pem, media_type="application/x-pem-file")

    @app.post(f"{API}/labs/{{lab_id}}/certificates/{{fingerprint}}/revoke", tags=["admin"],
              summary="Revoke a lab's signing certificate (listed in the CA's CRL if the CA issued it)",
              responses={401: {"description": "admin token required"}, 404: {"description": "unknown certificate"}})
    def revoke_signing_certificate(lab_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                                   fingerprint: Annotated[str, Path(pattern="^[0-9a-fA-F]{64}$")],
                                   body: SigningCertificateRevoke, request: Request,
                                   actor: str = Depends(require_admin)) -> dict[str, Any]:
        from labauto.platform.server.signer_revocation import revoke_signing_certificate as revoke

        with request.app.state.db.write() as session:
            row = revoke(session, lab_id, fingerprint, body.reason, invalid_since=body.invalid_since,
                         actor=actor)
            in_crl = trust.ca is not None and pki.load_certificate(row.cert_pem).issuer == \
                pki.load_certificate(trust.ca.cert_pem).subject
            return {"lab_id": lab_id, "fingerprint_sha256": row.fingerprint_sha256,
                    "revoked_at": service._iso(row.revoked_at), "reason": row.revocation_reason,
                    "invalid_since": service._iso(row.invalid_since), "listed_in_crl": in_crl}

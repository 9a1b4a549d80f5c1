"""The FastAPI application of the reference NQI platform (HTTP contract in docs/platform.md)."""

import datetime as dt
import hmac
import re
from contextlib import asynccontextmanager
from typing import Annotated, Any, Callable

from fastapi import Depends, FastAPI, File, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError, OperationalError

from labauto.certificate import pki
from labauto.platform.server import html, publishing, scope, scope_routes, service, traceability
from labauto.platform.server import schemas as S
from labauto.platform.server.db import Database, migrate
from labauto.platform.server.dcc import SchemaRegistry
from labauto.platform.server.form import FormError, read_files
from labauto.platform.server.limits import BodyLimit, PublishFastPath, RateLimit
from labauto.platform.server.scope import BODY_TOKEN_PREFIX, body_for_token
from labauto.platform.server.verification import Verifier
from labauto.platform.server.models import Lab
from labauto.platform.server.settings import PlatformSettings
from labauto.platform.server.trust_services import TrustServices, add_trust_routes
from labauto.platform.server.trust_stages import crl_revocation_check, timestamp_time_check
from labauto.platform.server.upload_verification import add_upload_routes

API = "/api/v1"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_NO_NUL = r"^[^\x00]*$"      # a NUL byte in a search text would match every certificate on SQLite
_LAB_ROUTE = re.compile(r"^/api/v1/(certificates(/[^/]+/revoke)?|tsa)$")
_SCOPE_ROUTE = re.compile(r"^/api/v1/labs/[^/]+/(scopes|scope/[^/]+)$")   # an accreditation body's routes
bearer = HTTPBearer(auto_error=False, description="a lab API token, or the admin token for admin operations")

R401 = {401: {"model": S.Error, "description": "missing or unknown token"}}
R404 = {404: {"model": S.Error, "description": "unknown certificate"}}
_FILE = {"type": "string", "format": "binary"}
PUBLISH_FORM = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["dcc"], "properties": {
        "dcc": {**_FILE, "description": "the signed DCC XML"},
        "pdf": {**_FILE, "description": "the PDF certificate"},
        "json": {**_FILE, "description": "the JSON form"}}}}}}


def create_app(settings: PlatformSettings) -> FastAPI:
    """The platform app for ``settings`` (migrates the database at startup unless told not to)."""
    schemas = SchemaRegistry(settings.schema_dir)        # compiles PTB's Schematron once, here
    verify_schemas = SchemaRegistry(settings.schema_dir, any_version=True)
    anchors = pki.load_certificates(settings.trusted_ca_pem) if settings.trusted_ca_pem else []
    if settings.ca_cert_pem and pki.load_certificate(settings.ca_cert_pem) not in anchors:
        anchors.append(pki.load_certificate(settings.ca_cert_pem))   # the platform's own CA
    verify_limit = RateLimit(settings.verify_rate_per_minute, burst=max(1, settings.verify_rate_per_minute // 3))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        db = Database(settings.database_url)
        if settings.migrate_on_startup:
            migrate(db.engine)
        app.state.db = db
        try:
            yield
        finally:
            db.dispose()

    app = FastAPI(title="labauto NQI platform", version="1.0.0", lifespan=lifespan,
                  description="Reference implementation of the national quality-infrastructure "
                  "platform: labs publish signed Digital Calibration Certificates (PTB DCC XML); "
                  "anyone verifies them by id or hash, searches them, follows traceability chains "
                  "and finds the certificates that depend on one (recall impact).")

    # dependencies without I/O are async: a sync one costs a hop through the thread pool
    async def db(request: Request) -> Database:
        return request.app.state.db

    def _platform_record(database: Database, sha256: str) -> dict[str, Any] | None:
        with database.read() as session:
            row = service.by_sha256(session, sha256)
            return service.record_json(row, session) if row is not None else None

    def _bearer_token(scope: dict) -> str:
        auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    async def authenticate(scope: dict) -> str | None:
        """Credentials of a write request, checked before its body is read (see limits)."""
        if scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            return None
        path = scope["path"]
        token = _bearer_token(scope)
        if _SCOPE_ROUTE.match(path) and token.startswith(BODY_TOKEN_PREFIX):
            # an accreditation body acts on a lab's scope with its own token; the route checks
            # that this body keeps that lab's scope
            database = scope["app"].state.db

            def body() -> Any:
                with database.read_connection() as conn:
                    return body_for_token(conn, token)
            if await run_in_threadpool(body) is None:
                return "unknown or revoked accreditation-body token"
            return None
        if path.startswith(f"{API}/labs"):
            if settings.admin_token is None:
                return None                      # the route answers 403: admin API disabled
            if not token or not hmac.compare_digest(token.encode(), settings.admin_token.encode()):
                return "admin token required"
        elif _LAB_ROUTE.match(path):
            if not token:
                return "a lab API token is required (Authorization: Bearer <token>)"
            lab = await run_in_threadpool(service.lab_for_token, scope["app"].state.db, token)
            if lab is None:
                return "unknown or revoked API token"
            scope.setdefault("state", {})["lab"] = lab
        return None

    # POST /api/v1/certificates goes from BodyLimit (size cap, token) straight to its handler:
    # FastAPI's routing, exception and dependency layers cost ~0.3 ms of CPU per publication
    app.add_middleware(PublishFastPath, path=f"{API}/certificates",
                       handler=lambda scope, receive, send: publish_fast(scope, receive, send))
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes, authenticate=authenticate)

    DB = Annotated[Database, Depends(db)]
    Creds = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

    def _unauthorised(detail: str) -> HTTPException:
        return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})

    async def require_admin(creds: Creds) -> str:
        if settings.admin_token is None:
            raise HTTPException(403, "the admin API is disabled (no admin token configured)")
        if creds is None or not hmac.compare_digest(creds.credentials.encode(), settings.admin_token.encode()):
            raise _unauthorised("admin token required")
        return "admin"

    trust = TrustServices.from_settings(settings)
    app.state.trust = trust
    add_trust_routes(app, trust, require_admin)

    def platform_crl(database: Database, issuer) -> bytes | None:
        """The platform CA's current CRL when ``issuer`` is that CA (None for any other issuer)."""
        return trust.current_crl(database) if trust.issued_by_ca(issuer) else None

    def dcc_verifier(database: Database) -> Verifier:
        """The verifier of POST /api/v1/verify and the verify page: the platform's anchors, its
        TSA's anchors for time-stamps, its CA's CRL, its store for the platform stage."""
        return Verifier(verify_schemas, anchors, platform=lambda sha: _platform_record(database, sha),
                        time_check=timestamp_time_check(trust.time_anchors),
                        revocation_check=crl_revocation_check(lambda issuer: platform_crl(database, issuer)))

    add_upload_routes(app, trust, settings.max_upload_bytes, dcc_verifier)

    async def lab_token(creds: Creds) -> str:
        """The bearer token of a lab request; the lab is looked up with the request's own
        database work, in its worker thread (see :func:`_lab`)."""
        if creds is None:
            raise _unauthorised("a lab API token is required (Authorization: Bearer <token>)")
        return creds.credentials

    LabToken = Annotated[str, Depends(lab_token)]

    def _lab(session, token: str) -> service.LabRef:
        lab = service.lab_for_token(session, token)
        if lab is None:
            raise _unauthorised("unknown or revoked API token")
        return lab

    def _service_error_body(exc: service.ServiceError) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": exc.detail}
        if isinstance(exc, service.Rejected):
            body["stage"] = exc.stage
        return body

    @app.exception_handler(service.ServiceError)
    async def _service_error(_request: Request, exc: service.ServiceError) -> JSONResponse:
        return JSONResponse(_service_error_body(exc), status_code=exc.status_code)

    async def _read(upload: UploadFile | None, field: str) -> bytes | None:
        if upload is None:
            return None
        data = await upload.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise HTTPException(413, f"the {field} file exceeds {settings.max_upload_bytes} bytes")
        return data

    # ------------------------------------------------------------------ public

    @app.get(f"{API}/health", response_model=S.Health, tags=["public"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(f"{API}/verify", response_model=S.VerificationReport, tags=["public"],
              responses={413: {"model": S.Error}, 429: {"model": S.Error}, 400: {"model": S.Error}},
              summary="Verify any DCC: schema, rules, signature, chain to a trust anchor, time, "
                      "revocation, and whether the platform holds it (nothing is stored)")
    async def verify_upload(request: Request, database: DB,
                            dcc: Annotated[UploadFile, File(description="the DCC XML to verify")],
                            trust_anchor: Annotated[UploadFile | None, File(
                                description="PEM trust anchor(s) to use instead of the platform's")] = None,
                            ) -> JSONResponse:
        wait = verify_limit.allow(request.client.host if request.client else "?")
        if wait:
            raise HTTPException(429, f"too many verification requests; retry in {wait:.0f} s",
                                headers={"Retry-After": str(max(1, round(wait)))})
        xml, pem = await _read(dcc, "dcc"), await _read(trust_anchor, "trust_anchor")
        given = None
        if pem is not None:
            try:
                given = pki.load_certificates(pem)
            except pki.PKIError as exc:
                raise HTTPException(400, f"trust_anchor: {exc}") from exc
        report = await run_in_threadpool(dcc_verifier(database).verify, xml, anchors=given)
        return JSONResponse(report.json())

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get(f"{API}/certificates/{{certificate_id}}", response_model=S.VerificationRecord,
             responses=R404, tags=["public"], summary="Verify a certificate by id (current version)")
    def get_certificate(certificate_id: str, database: DB) -> dict[str, Any]:
        with database.read() as session:
            return service.record_json(service.get_current(session, certificate_id), session)

    @app.get(f"{API}/verify", response_model=S.VerificationRecord, tags=["public"],
             responses={**R404, 400: {"model": S.Error}},
             summary="Verify a certificate by the SHA-256 of its document (or by id)")
    def verify(database: DB, sha256: Annotated[str | None, Query(max_length=64)] = None,
               certificate_id: Annotated[str | None, Query(max_length=255, pattern=_NO_NUL)] = None) -> dict[str, Any]:
        with database.read() as session:
            if sha256 is not None:
                if not _HEX64.match(sha256):
                    raise HTTPException(400, "sha256 must be 64 hexadecimal digits")
                row = service.by_sha256(session, sha256)
                if row is None:
                    raise HTTPException(404, f"no document with sha256 {sha256.lower()} on the platform")
            elif certificate_id is not None:
                row = service.get_current(session, certificate_id)
            else:
                raise HTTPException(400, "give sha256 or certificate_id")
            return service.record_json(row, session)

    @app.get(f"{API}/certificates/{{certificate_id}}/document", tags=["public"], responses={
        **R404, 200: {"content": {"application/xml": {}}, "description": "the signed DCC as submitted"}},
        response_class=Response, summary="The stored signed DCC (current version, or ?sha256=)")
    def get_document(certificate_id: str, database: DB,
                     sha256: Annotated[str | None, Query(max_length=64)] = None,
                     kind: Annotated[str, Query(pattern="^(dcc|pdf|json)$")] = "dcc") -> Response:
        with database.read() as session:
            row = service.get_current(session, certificate_id)
            if sha256 is not None:
                other = service.by_sha256(session, sha256) if _HEX64.match(sha256) else None
                if other is None or other.certificate_id != row.certificate_id:
                    raise HTTPException(404, f"no version of {certificate_id!r} with sha256 {sha256}")
                row = other
            doc = service.document(session, row)
            data = {"dcc": doc.dcc, "pdf": doc.pdf, "json": doc.json}[kind]
            if data is None:
                raise HTTPException(404, f"certificate {certificate_id!r} was published without a {kind}")
            media = {"dcc": "application/xml", "pdf": "application/pdf", "json": "application/json"}[kind]
            return Response(data, media_type=media, headers={"X-Content-SHA256": row.sha256})

    @app.get(f"{API}/certificates/{{certificate_id}}/chain", response_model=S.Chain, tags=["traceability"],
             responses=R404, response_model_by_alias=True,
             summary="Traceability chain from a certificate up to its roots")
    def get_chain(certificate_id: str, database: DB) -> dict[str, Any]:
        with database.read() as session:
            return traceability.chain(session, certificate_id)

    @app.get(f"{API}/certificates/{{certificate_id}}/dependents", response_model=S.Dependents,
             tags=["traceability"], responses=R404,
             summary="Certificates that depend on this one, transitively (recall impact)")
    def get_dependents(certificate_id: str, database: DB) -> dict[str, Any]:
        with database.read() as session:
            return traceability.dependents(session, certificate_id)

    @app.get(f"{API}/certificates", response_model=S.SearchResult, tags=["public"],
             summary="Search certificates")
    def search(database: DB,
               serial: Annotated[str | None, Query(max_length=255, pattern=_NO_NUL,
                                                   description="exact item identification")] = None,
               manufacturer: Annotated[str | None, Query(max_length=255, pattern=_NO_NUL)] = None,
               model: Annotated[str | None, Query(max_length=255, pattern=_NO_NUL)] = None,
               lab: Annotated[str | None, Query(max_length=255, pattern=_NO_NUL,
                                                description="name, accreditation id or id")] = None,
               date_from: Annotated[dt.date | None, Query(description="end of calibration >= this")] = None,
               date_to: Annotated[dt.date | None, Query(description="end of calibration <= this")] = None,
               measurand: Annotated[str | None, Query(max_length=255, pattern=_NO_NUL)] = None,
               status: Annotated[str | None, Query(pattern="^(valid|superseded|revoked)$")] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> dict[str, Any]:
        with database.read() as session:
            total, rows = service.search(session, serial=serial, manufacturer=manufacturer, model=model,
                                         lab=lab, date_from=date_from, date_to=date_to,
                                         measurand=measurand, status=status, limit=limit, offset=offset)
            return {"total": total, "limit": limit, "offset": offset,
                    "items": [service.record_json(r, session) for r in rows]}

    @app.get(f"{API}/labs", response_model=list[S.LabInfo], tags=["public"],
             summary="Registered labs and their signing certificates")
    def list_labs(database: DB) -> list[dict[str, Any]]:
        from sqlalchemy import select
        with database.read() as session:
            return [service.lab_json(lab) for lab in session.scalars(select(Lab).order_by(Lab.id))]

    @app.get("/verify/{certificate_id}", response_class=HTMLResponse, tags=["public"],
             responses={404: {"content": {"text/html": {}}, "description": "the NOT FOUND page"}},
             summary="Human verification page (the QR code on the PDF points here)")
    def verify_page(certificate_id: str, database: DB) -> HTMLResponse:
        with database.read() as session:
            row = service.current(session, certificate_id)
            if row is None:
                return HTMLResponse(html.not_found_page(certificate_id), status_code=404)
            return HTMLResponse(html.verification_page(service.record_json(row, session),
                                                       traceability.chain(session, certificate_id, max_nodes=200)))

    # ------------------------------------------------------------------ labs (publishing)

    @app.post(f"{API}/certificates", response_model=S.PublishResult, status_code=201, tags=["lab"],
              responses={**R401, 200: {"model": S.PublishResult, "description": "identical document already stored"},
                         400: {"model": S.Error, "description": "the body is not a readable multipart form"},
                         409: {"model": S.Error, "description": "another document under this id, or a "
                               "replay of a stored document with a different PDF or JSON"},
                         403: {"model": S.Error, "description": "amending another lab's certificate"},
                         413: {"model": S.Error}, 422: {"model": S.Rejection}},
              openapi_extra={"requestBody": PUBLISH_FORM, "security": [{"HTTPBearer": []}]},
              summary="Publish a signed DCC (idempotent by content)")
    async def publish(request: Request) -> Response:
        # reached only where PublishFastPath does not take the request (a root_path): the same answer
        answered = await _publication(request.scope, request.receive)
        return answered if answered is not None else Response(status_code=400)

    async def _publication(scope: dict, receive) -> JSONResponse | None:
        """The answer to a publication (None: the client left before its body was read).  The
        form is read in one pass (labauto.platform.server.form), not through File() parameters;
        the token was checked by the BodyLimit middleware before the body was read (it put the
        lab in the request's state), here only where that middleware did not see the path."""
        lab = scope.get("state", {}).get("lab")
        if lab is None:
            token = _bearer_token(scope)
            lab = await run_in_threadpool(service.lab_for_token, app.state.db, token) if token else None
            if lab is None:
                return JSONResponse({"detail": "a lab API token is required (Authorization: Bearer <token>)"
                                     if not token else "unknown or revoked API token"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":      # gone, or cut off by BodyLimit (413 sent)
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        try:
            files = read_files(b"".join(chunks), content_type, ("dcc", "pdf", "json"), settings.max_upload_bytes)
        except FormError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        if "dcc" not in files:         # as FastAPI's validation error for a missing File() field
            return JSONResponse({"detail": [{"type": "missing", "loc": ["body", "dcc"], "msg": "Field required",
                                             "input": None}]}, status_code=422)
        try:
            out = await run_in_threadpool(_publish_sync, app.state.db, lab, files["dcc"],
                                          files.get("pdf"), files.get("json"))
        except service.ServiceError as exc:
            return JSONResponse(_service_error_body(exc), status_code=exc.status_code)
        return JSONResponse(out.json(), status_code=201 if out.created else 200)

    async def publish_fast(scope: dict, receive, send) -> None:
        answered = await _publication(scope, receive)
        if answered is not None:
            await answered(scope, receive, send)

    def _publish_sync(database: Database, lab: service.LabRef, dcc_b: bytes, pdf_b: bytes | None,
                      json_b: bytes | None) -> publishing.PublishOutcome:
        sha = publishing.sha256_hex(dcc_b)
        # a replay of a stored document is answered without admitting it again
        same = publishing.stored_version(database, sha)
        if same is not None and same.lab_id == lab.id:
            if pdf_b is not None or json_b is not None:
                with database.read_connection() as conn:
                    publishing.check_replay_attachments(conn, sha, pdf_b, json_b)
            return same
        # parse, schema, rules, signature, the results: CPU only, outside the write transaction
        # (in an admission worker process when the server has them)
        admitted = publishing.admit_submission(dcc_b, schemas, pdf=pdf_b, js=json_b,
                                               time_anchors=trust.time_anchors)

        def store(conn):
            # the accreditation scope on the calibration date (422 at stage "scope")
            coverage = scope.check(conn, lab.id, admitted.facts.end_date, admitted.results)
            out = publishing.store(conn, lab, dcc_b, admitted, pdf=pdf_b, js=json_b, sha256=sha)
            if out.created:
                scope.record_coverage(conn, out.row_id, coverage)
            return out

        for attempt in range(3):
            try:
                # committed with the publications arriving meanwhile (one fsync for the group);
                # returns after the commit holding this one
                return database.write_grouped(store)
            except (IntegrityError, OperationalError):
                # a concurrent publication of the same document/id won the race: look again
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @app.post(f"{API}/certificates/{{certificate_id}}/revoke", response_model=S.VerificationRecord,
              tags=["lab"], responses={**R401, **R404, 403: {"model": S.Error}},
              summary="Revoke a certificate (issuing lab only), with a reason")
    def revoke(certificate_id: str, body: S.RevokeRequest, database: DB, token: LabToken) -> dict[str, Any]:
        with database.write() as session:
            row = service.revoke(session, _lab(session, token), certificate_id, body.reason)
            session.flush()
            return service.record_json(row, session)

    # ------------------------------------------------------------------ admin

    def _change_lab(database: Database, change: Callable[[Any], Lab], conflict: str) -> dict[str, Any]:
        """Run ``change(session)`` in a write transaction and answer the lab it returns, with
        its certificates reloaded; a unique-constraint race (IntegrityError) answers 409."""
        try:
            with database.write() as session:
                lab = change(session)
                session.flush()
                session.refresh(lab)
                return service.lab_json(lab)
        except IntegrityError as exc:
            raise HTTPException(409, conflict) from exc

    @app.post(f"{API}/labs", response_model=S.LabInfo, status_code=201, tags=["admin"],
              responses={**R401, 409: {"model": S.Error}, 403: {"model": S.Error}},
              summary="Register a lab with its accreditation id and signing certificate")
    def create_lab(body: S.LabCreate, database: DB, actor: Annotated[str, Depends(require_admin)]) -> dict[str, Any]:
        return _change_lab(database, lambda session: service.register_lab(
            session, body.name, body.accreditation_id, body.certificate_pem,
            trusted_ca_pem=settings.trusted_ca_pem, actor=actor),
            "the lab or its certificate is already registered")

    @app.post(f"{API}/labs/{{lab_id}}/certificates", response_model=S.LabInfo, status_code=201, tags=["admin"],
              responses={**R401, 404: {"model": S.Error}, 409: {"model": S.Error}, 403: {"model": S.Error}},
              summary="Register another signing certificate for a lab (key rollover)")
    def add_certificate(lab_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: S.LabCertificateAdd,
                        database: DB, actor: Annotated[str, Depends(require_admin)]) -> dict[str, Any]:
        def change(session) -> Lab:
            lab = session.get(Lab, lab_id)
            if lab is None:
                raise service.NotFound(f"no lab with id {lab_id}")
            service.add_lab_certificate(session, lab, body.certificate_pem,
                                        trusted_ca_pem=settings.trusted_ca_pem, actor=actor)
            return lab
        return _change_lab(database, change, "this certificate is already registered")

    @app.post(f"{API}/labs/{{lab_id}}/tokens", response_model=S.TokenIssued, status_code=201, tags=["admin"],
              responses={**R401, 404: {"model": S.Error}, 403: {"model": S.Error}},
              summary="Issue an API token for a lab")
    def create_token(lab_id: Annotated[int, Path(ge=1, le=2**31 - 1)], database: DB,
                     actor: Annotated[str, Depends(require_admin)]) -> dict[str, Any]:
        with database.write() as session:
            issued = service.issue_token(session, lab_id, actor=actor)
            return {"lab_id": lab_id, "token_id": issued.id, "token": issued.token}

    @app.get(f"{API}/labs/{{lab_id}}/tokens", response_model=list[S.TokenInfo], tags=["admin"],
             responses={**R401, 404: {"model": S.Error}, 403: {"model": S.Error}},
             summary="A lab's API tokens (ids and dates only; the tokens themselves are not stored)")
    def list_tokens(lab_id: Annotated[int, Path(ge=1, le=2**31 - 1)], database: DB,
                    actor: Annotated[str, Depends(require_admin)]) -> list[dict[str, Any]]:
        with database.read() as session:
            return [service.token_json(t) for t in service.lab_tokens(session, lab_id)]

    @app.delete(f"{API}/labs/{{lab_id}}/tokens/{{token_id}}", response_model=S.TokenInfo, tags=["admin"],
                responses={**R401, 404: {"model": S.Error}, 403: {"model": S.Error}},
                summary="Revoke a lab's API token (lost or leaked); its requests are refused from now on")
    def delete_token(lab_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                     token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], database: DB,
                     actor: Annotated[str, Depends(require_admin)]) -> dict[str, Any]:
        with database.write() as session:
            return service.token_json(service.revoke_token(session, lab_id, token_id, actor=actor))

    @app.get(f"{API}/audit", response_model=list[S.AuditEntry], tags=["admin"],
             responses={**R401, 403: {"model": S.Error}}, summary="The append-only audit log")
    def get_audit(database: DB, actor: Annotated[str, Depends(require_admin)],
                  certificate_id: Annotated[str | None, Query(max_length=255, pattern=_NO_NUL)] = None,
                  lab_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                  limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[dict[str, Any]]:
        with database.read() as session:
            return service.audit_events(session, certificate_id=certificate_id, lab_id=lab_id,
                                        limit=limit, offset=offset)

    app.include_router(scope_routes.make_router(settings, require_admin))      # accreditation (docs/accreditation.md)
    return app


def create_app_from_env() -> FastAPI:
    """The app for the settings in the environment (the factory of multi-worker serving)."""
    return create_app(PlatformSettings.from_env())

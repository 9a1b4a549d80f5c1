"""HTTP routes of accreditation: bodies (admin), scopes (accreditation bodies, with their own
tokens), capability search and result search (public, JSON and the ``/search`` page)."""

import contextlib
import datetime as dt
import hashlib
from typing import Annotated, Any, Awaitable, Callable, Iterator

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from labauto.platform.server import scope, scope_html, service
from labauto.platform.server import scope_schemas as SS
from labauto.platform.server.db import Database
from labauto.platform.server.schemas import Error
from labauto.platform.server.scope_file import ScopeFileError, parse as parse_scope_file
from labauto.platform.server.scope_models import AccreditationBody, Scope
from labauto.platform.server.settings import PlatformSettings

API = "/api/v1"
ID = Annotated[int, Path(ge=1, le=2**31 - 1)]
R401 = {401: {"model": Error, "description": "missing or unknown token"}, 403: {"model": Error}}
R404 = {404: {"model": Error}}
R422 = {422: {"model": Error, "description": "refused input (the reason names file:line)"}}
bearer = HTTPBearer(auto_error=False, description="an accreditation body's token, or the admin token")


@contextlib.contextmanager
def _search_connection(database: Database) -> Iterator[Connection]:
    """A Core connection for the public search: on PostgreSQL in autocommit — each statement is
    its own snapshot, and no BEGIN and ROLLBACK round trips (on a loaded machine each round trip
    waits for the database's turn on a core); the search reads rows that never change once
    written.  Elsewhere a read transaction."""
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
    else:
        with database.read_connection() as conn:
            yield conn


def make_router(settings: PlatformSettings, require_admin: Callable[..., Awaitable[str]]) -> APIRouter:
    """The accreditation routes; ``require_admin`` is the app's admin-token dependency."""
    router = APIRouter()

    async def db(request: Request) -> Database:
        return request.app.state.db

    DB = Annotated[Database, Depends(db)]
    Creds = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

    def _unauthorised(detail: str) -> HTTPException:
        return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})

    async def body_token(creds: Creds) -> str:
        if creds is None:
            raise _unauthorised("an accreditation body's API token is required (Authorization: Bearer <token>)")
        return creds.credentials

    Admin = Annotated[str, Depends(require_admin)]
    BodyToken = Annotated[str, Depends(body_token)]

    def _body(session, token: str) -> scope.BodyRef:
        body = scope.body_for_token(session, token)
        if body is None:
            raise _unauthorised("unknown or revoked accreditation body token")
        return body

    # ------------------------------------------------------------ admin: bodies

    @router.post(f"{API}/bodies", response_model=SS.BodyInfo, status_code=201, tags=["accreditation"],
                 responses={**R401, 409: {"model": Error}}, summary="Register an accreditation body")
    def create_body(body: SS.BodyCreate, database: DB, actor: Admin) -> dict[str, Any]:
        try:
            with database.write() as session:
                return scope.body_json(scope.register_body(session, body.name, body.country, actor=actor))
        except IntegrityError as exc:
            raise HTTPException(409, f"an accreditation body named {body.name!r} is already registered") from exc

    @router.get(f"{API}/bodies", response_model=list[SS.BodyInfo], tags=["accreditation"],
                summary="Registered accreditation bodies")
    def list_bodies(database: DB) -> list[dict[str, Any]]:
        with database.read() as session:
            return [scope.body_json(b) for b in session.scalars(select(AccreditationBody).order_by(AccreditationBody.id))]

    @router.post(f"{API}/bodies/{{body_id}}/tokens", response_model=SS.BodyTokenIssued, status_code=201,
                 tags=["accreditation"], responses={**R401, **R404}, summary="Issue an accreditation body's API token")
    def create_body_token(body_id: ID, database: DB, actor: Admin) -> dict[str, Any]:
        with database.write() as session:
            issued = scope.issue_body_token(session, body_id, actor=actor)
            return {"body_id": body_id, "token_id": issued.id, "token": issued.token}

    # ------------------------------------------------------------ bodies: scopes

    def _scope_json(database: Database, scope_id: int) -> dict[str, Any]:
        with database.read() as session:
            return scope.scope_json(session, session.get(Scope, scope_id))

    @router.post(f"{API}/labs/{{lab_id}}/scopes", response_model=SS.ScopeInfo, status_code=201,
                 tags=["accreditation"], responses={**R401, **R404, **R422, 413: {"model": Error}},
                 summary="Import a new version of a lab's accredited scope (CMC table, CSV or JSON)")
    async def import_scope(lab_id: ID, database: DB, token: BodyToken,
                           file: Annotated[UploadFile, File(alias="scope", description="the scope file (CSV or JSON)")],
                           valid_from: Annotated[dt.date | None, Form(description="first day valid")] = None,
                           valid_until: Annotated[dt.date | None, Form(description="last day valid (open if unset)")] = None,
                           ) -> dict[str, Any]:
        data = await file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise HTTPException(413, f"the scope file exceeds {settings.max_upload_bytes} bytes")
        name = (file.filename or "scope")[:200]
        try:
            doc = parse_scope_file(data, name)
        except ScopeFileError as exc:
            raise HTTPException(422, str(exc)) from exc
        with database.write() as session:
            body = _body(session, token)
            sid = scope.import_scope(session, body, lab_id, doc, source_name=name,
                                     source_sha256=hashlib.sha256(data).hexdigest(),
                                     valid_from=valid_from, valid_until=valid_until).id
        return _scope_json(database, sid)

    @router.get(f"{API}/labs/{{lab_id}}/scopes", response_model=list[SS.ScopeInfo], tags=["accreditation"],
                responses=R404, summary="A lab's scope versions, newest first (date=: the one valid that day)")
    def get_scopes(lab_id: ID, database: DB, date: Annotated[dt.date | None, Query()] = None) -> list[dict[str, Any]]:
        with database.read() as session:
            return scope.lab_scopes(session, lab_id, on=date)

    def _status_change(database: Database, token: str, change) -> dict[str, Any]:
        with database.write() as session:
            sid = change(session, _body(session, token)).id
        return _scope_json(database, sid)

    @router.post(f"{API}/labs/{{lab_id}}/scope/suspend", response_model=SS.ScopeInfo, tags=["accreditation"],
                 responses={**R401, **R404, 409: {"model": Error}}, summary="Suspend a lab's accreditation")
    def suspend(lab_id: ID, body: SS.StatusChange, database: DB, token: BodyToken) -> dict[str, Any]:
        return _status_change(database, token, lambda s, b: scope.suspend(s, b, lab_id, body.reason,
                                                                          from_date=body.from_date))

    @router.post(f"{API}/labs/{{lab_id}}/scope/reinstate", response_model=SS.ScopeInfo, tags=["accreditation"],
                 responses={**R401, **R404, 409: {"model": Error}}, summary="End a suspension")
    def reinstate(lab_id: ID, body: SS.Reinstate, database: DB, token: BodyToken) -> dict[str, Any]:
        return _status_change(database, token, lambda s, b: scope.reinstate(s, b, lab_id, on=body.on))

    @router.post(f"{API}/labs/{{lab_id}}/scope/withdraw", response_model=SS.ScopeInfo, tags=["accreditation"],
                 responses={**R401, **R404, 409: {"model": Error}}, summary="Withdraw a lab's accreditation")
    def withdraw(lab_id: ID, body: SS.StatusChange, database: DB, token: BodyToken) -> dict[str, Any]:
        return _status_change(database, token, lambda s, b: scope.withdraw(s, b, lab_id, body.reason,
                                                                           from_date=body.from_date))

    # ------------------------------------------------------------ public search

    Text = Annotated[str | None, Query(max_length=64)]

    @router.get(f"{API}/capabilities", response_model=SS.Capabilities, tags=["accreditation"],
                responses={422: {"model": Error}},
                summary="Labs accredited for a quantity at a value with a CMC at most max_cmc")
    def get_capabilities(database: DB, quantity: Annotated[str, Query(max_length=64, description="e.g. DC voltage")],
                         value: Text = None, max_cmc: Text = None, frequency: Text = None,
                         date: Annotated[dt.date | None, Query()] = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
        with _search_connection(database) as conn:
            found = scope.capabilities(conn, quantity, value, max_cmc, frequency, date, limit)
        # the answer is built by scope.capabilities in the documented shape (SS.Capabilities;
        # test_server_scope validates answers against it): returned as is, without FastAPI
        # validating and serialising a hundred nested items a second time
        return JSONResponse(found)

    @router.get(f"{API}/results", response_model=SS.ResultSearch, tags=["accreditation"],
                responses={422: {"model": Error}},
                summary="Certificates with results of a quantity in a range (magnitudes)")
    def get_results(database: DB, quantity: Annotated[str, Query(max_length=64)],
                    value_min: Text = None, value_max: Text = None,
                    status: Annotated[str | None, Query(pattern="^(covered|not-covered)$")] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> dict[str, Any]:
        with database.read() as session:
            total, hits = scope.search_results(session, quantity, value_min, value_max, status, limit, offset)
            return {"total": total, "limit": limit, "offset": offset,
                    "items": [_hit(row, results) for row, results in hits]}

    @router.get("/search", response_class=HTMLResponse, tags=["accreditation"],
                summary="Capability and certificate search page")
    def search_page(database: DB, quantity: Text = None, value: Text = None, max_cmc: Text = None,
                    frequency: Text = None, value_min: Text = None, value_max: Text = None,
                    what: Annotated[str, Query(pattern="^(labs|certificates)$")] = "labs") -> HTMLResponse:
        form = {"quantity": quantity or "", "value": value or "", "max_cmc": max_cmc or "",
                "frequency": frequency or "", "value_min": value_min or "", "value_max": value_max or "",
                "what": what}
        found, error, status = None, None, 200
        if quantity:
            try:
                with database.read() as session:
                    if what == "labs":
                        found = scope.capabilities(session, quantity, value, max_cmc, frequency, None, 100)
                    else:
                        total, hits = scope.search_results(session, quantity, value_min, value_max, None, 100, 0)
                        found = {"total": total, "items": [_hit(r, res) for r, res in hits]}
            except service.ServiceError as exc:
                error, status = exc.detail, 422
        return HTMLResponse(scope_html.search_page(form, found, error), status_code=status)

    return router


def _hit(row, results: list) -> dict[str, Any]:
    return {"certificate_id": row.certificate_id, "version": row.version, "sha256": row.sha256,
            "status": row.status, "lab": row.lab.name, "accreditation_id": row.lab.accreditation_id,
            "end_performance": row.end_date.isoformat() if row.end_date else None,
            "verification_url": f"/verify/{row.certificate_id}", "results": results}

"""HTTP client of the NQI platform (the contract is in docs/platform.md; server: ``server/app.py``).

Every failure is sorted into what the publisher must do about it:

``PlatformUnavailable``  transient — connection refused/reset, timeout, HTTP 5xx, 408, 429:
                         try again later (publishing is idempotent by content, so a resend after a
                         lost response is answered "already present", never stored twice);
``PlatformRejected``     permanent — the platform refused *this document* (HTTP 4xx: 422 with the
                         admission ``stage``, 409 another document under the id, 403 another
                         lab's certificate, 413 too large): the reason is the server's;
``PlatformConfigurationError`` (a ``PlatformRejected``) — the request never reached a platform
                         that knows us: 401 (token), 404/405 on publishing (wrong base URL).  It
                         says nothing about the document, so the publisher stops and keeps it;
``PlatformNotFound``     (a ``PlatformRejected``) — a looked-up certificate is not there;
``PlatformMismatch``     the platform acknowledged, but the document it stores does not hash to
                         what we sent — never treated as delivered.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from labauto.errors import LabautoError

API = "/api/v1"
_TRANSIENT_4XX = {408, 425, 429}


class PlatformError(LabautoError):
    """Talking to the platform failed; ``status_code`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status_code: int | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.status_code, self.detail = status_code, detail if detail is not None else message


class PlatformUnavailable(PlatformError):
    """Transient: the platform could not be reached or failed; retry later.
    ``retry_after_s`` is the delay the server asked for (Retry-After), if any."""

    def __init__(self, message: str, *, status_code: int | None = None, detail: str | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, status_code=status_code, detail=detail)
        self.retry_after_s = retry_after_s


class PlatformRejected(PlatformError):
    """Permanent: the platform refused the request; ``reason`` is the server's own words and
    ``stage`` the admission stage it named (well-formed, schema, schematron, signature, signer,
    attachment) when it did."""

    def __init__(self, message: str, *, status_code: int | None = None, detail: str | None = None,
                 stage: str | None = None) -> None:
        super().__init__(message, status_code=status_code, detail=detail)
        self.stage = stage

    @property
    def reason(self) -> str:
        return self.detail or str(self)


class PlatformConfigurationError(PlatformRejected):
    """The token or the base URL is wrong: fix the configuration; the document is not at fault."""


class PlatformNotFound(PlatformRejected):
    """The certificate (or document) asked for is not on the platform."""


class PlatformMismatch(PlatformError):
    """The platform's stored hash differs from the local SHA-256 of the document."""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _detail(response: httpx.Response) -> tuple[str, str | None]:
    """The server's reason (FastAPI ``detail``) and admission ``stage`` of an error response."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())[:300]
        return text or response.reason_phrase, None
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, list):     # request validation errors
            detail = "; ".join(f"{'/'.join(map(str, d.get('loc', [])))}: {d.get('msg')}"
                               if isinstance(d, dict) else str(d) for d in detail)
        return str(detail if detail is not None else body), body.get("stage")
    return str(body)[:300], None


@dataclass(frozen=True)
class Verification:
    """A certificate checked from the outside: its record, and the stored document re-hashed and
    its XML signature verified locally."""

    certificate_id: str
    record: dict[str, Any]
    document_sha256: str           # SHA-256 of the bytes the platform serves
    hash_ok: bool                  # ... equals the record's (and the response header's) sha256
    signature_ok: bool
    signer_ok: bool                # the signing certificate is the one the platform recorded
    signature_error: str | None

    @property
    def status(self) -> str:
        return self.record.get("status", "unknown")

    @property
    def valid(self) -> bool:
        """Intact, validly signed by the recorded signer, and neither superseded nor revoked."""
        return self.hash_ok and self.signature_ok and self.signer_ok and self.status == "valid"


class PlatformClient:
    """``with PlatformClient(base_url, token) as c: c.publish(dcc)`` — one httpx connection pool.

    ``token`` is the lab's API token (needed for publishing; lookups are public).
    ``timeout`` bounds each request (connect, read, write) in seconds.
    """

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise PlatformConfigurationError(
                f"platform URL {base_url!r} is not an http(s) URL; set LABAUTO_PLATFORM_URL or "
                "--url to the platform's base URL, e.g. https://platform.example.org")
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout,
                                  transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "PlatformClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ transport and errors

    def _request(self, method: str, url: str, *, publishing: bool = False, **kw) -> httpx.Response:
        try:
            r = self._http.request(method, url, **kw)
        except httpx.TimeoutException as exc:
            raise PlatformUnavailable(f"the platform at {self.base_url} did not answer in time "
                                      f"({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise PlatformUnavailable(f"cannot reach the platform at {self.base_url}: "
                                      f"{type(exc).__name__}: {exc}") from exc
        except httpx.RequestError as exc:    # a garbled answer (DecodingError), redirect loops ...
            raise PlatformUnavailable(f"the platform at {self.base_url} answered {method} {url} with "
                                      f"something unusable: {type(exc).__name__}: {exc}") from exc
        if r.status_code < 400:
            return r
        detail, stage = _detail(r)
        where = f"{method} {self.base_url}{url}"
        code = r.status_code
        if code >= 500 or code in _TRANSIENT_4XX:
            raise PlatformUnavailable(f"the platform failed (HTTP {code}) on {where}: {detail}",
                                      status_code=code, detail=detail,
                                      retry_after_s=_retry_after(r.headers.get("Retry-After")))
        if code == 401:
            raise PlatformConfigurationError(
                f"the platform refused the API token (HTTP 401: {detail}); set LABAUTO_PLATFORM_TOKEN "
                "or --token to a valid token of this lab (the platform admin issues one)",
                status_code=code, detail=detail)
        if publishing and code in (404, 405):
            raise PlatformConfigurationError(
                f"{where} does not exist (HTTP {code}); LABAUTO_PLATFORM_URL/--url must be the "
                "platform's base URL (the API lives under /api/v1)", status_code=code, detail=detail)
        if code == 404:
            raise PlatformNotFound(detail, status_code=code, detail=detail)
        what = f" at stage {stage!r}" if stage else ""
        raise PlatformRejected(f"the platform rejected the request (HTTP {code}){what}: {detail}",
                               status_code=code, detail=detail, stage=stage)

    def _json(self, r: httpx.Response) -> dict[str, Any]:
        try:
            body = r.json()
        except ValueError as exc:
            raise PlatformUnavailable(f"the platform at {self.base_url} answered HTTP {r.status_code} "
                                      "with something that is not JSON (a proxy or the wrong URL?)",
                                      status_code=r.status_code) from exc
        if not isinstance(body, dict):
            raise PlatformUnavailable(f"unexpected answer from {self.base_url}: {str(body)[:200]}")
        return body

    # ------------------------------------------------------------------ API

    def health(self) -> bool:
        try:
            return self._json(self._request("GET", f"{API}/health")).get("status") == "ok"
        except PlatformError:
            return False

    def publish(self, dcc: bytes, pdf: bytes | None = None, json: bytes | None = None, *,
                confirm: bool = True) -> dict[str, Any]:
        """Publish a signed DCC (and its PDF/JSON forms).

        Returns the platform's verification record of the stored document plus ``created``
        (True: stored now, HTTP 201; False: the identical document was already there, HTTP 200)
        and ``superseded``.  With ``confirm`` the record is read back by hash and must name the
        same certificate and hash as the local SHA-256 of ``dcc``, else :class:`PlatformMismatch`.
        """
        local = hashlib.sha256(dcc).hexdigest()
        files: dict[str, tuple[str, bytes, str]] = {"dcc": ("dcc.xml", dcc, "application/xml")}
        if pdf is not None:
            files["pdf"] = ("certificate.pdf", pdf, "application/pdf")
        if json is not None:
            files["json"] = ("certificate.json", json, "application/json")
        r = self._request("POST", f"{API}/certificates", files=files, publishing=True)
        result = self._json(r)
        if r.status_code not in (200, 201) or "sha256" not in result:
            raise PlatformUnavailable(f"unexpected answer to publishing (HTTP {r.status_code}): "
                                      f"{str(result)[:200]}", status_code=r.status_code)
        if str(result["sha256"]).lower() != local:
            raise PlatformMismatch(
                f"the platform acknowledged certificate {result.get('certificate_id')} with sha256 "
                f"{result['sha256']}, but the document sent hashes to {local}: it was altered in "
                "transit or by the platform; the entry stays queued", status_code=r.status_code)
        record: dict[str, Any] = dict(result)
        if confirm:
            try:
                stored = self.verify_hash(local)
            except PlatformRejected as exc:   # e.g. 404 from a lagging replica or a proxy: the
                # platform did answer 201; keep the entry queued and check again later
                raise PlatformUnavailable(
                    f"the platform acknowledged {result.get('certificate_id')} but reading it back by "
                    f"sha256 {local} failed (HTTP {exc.status_code}: {exc}); the entry stays queued",
                    status_code=exc.status_code) from exc
            if (str(stored.get("sha256", "")).lower() != local
                    or stored.get("certificate_id") != result.get("certificate_id")):
                raise PlatformMismatch(
                    f"after acknowledging {result.get('certificate_id')}, the platform's record for "
                    f"sha256 {local} names {stored.get('certificate_id')} / {stored.get('sha256')}; "
                    "the entry stays queued", status_code=r.status_code)
            record = {**stored, "superseded": result.get("superseded")}
        record["created"] = bool(result.get("created", r.status_code == 201))
        return record

    def get_certificate(self, certificate_id: str) -> dict[str, Any]:
        """The verification record of the current version of ``certificate_id``
        (:class:`PlatformNotFound` if the platform has none)."""
        return self._json(self._request("GET", f"{API}/certificates/{quote(certificate_id, safe='')}"))

    def verify_hash(self, sha256: str) -> dict[str, Any]:
        """The record of the document whose SHA-256 is ``sha256`` (:class:`PlatformNotFound`)."""
        return self._json(self._request("GET", f"{API}/verify", params={"sha256": sha256.lower()}))

    def document(self, certificate_id: str, *, sha256: str | None = None, kind: str = "dcc") -> bytes:
        """The stored bytes (``kind`` dcc, pdf or json) of the current version, or of ``sha256``."""
        params = {"kind": kind, **({"sha256": sha256} if sha256 else {})}
        return self._request("GET", f"{API}/certificates/{quote(certificate_id, safe='')}/document",
                             params=params).content

    def verify(self, certificate_id: str) -> Verification:
        """Check a published certificate end to end: fetch its record and stored DCC, re-hash
        the bytes, verify the XML signature locally and compare the signer with the record."""
        from labauto.certificate.signing import SignatureError, verify_dcc

        record = self.get_certificate(certificate_id)
        r = self._request("GET", f"{API}/certificates/{quote(certificate_id, safe='')}/document",
                          params={"kind": "dcc", "sha256": record["sha256"]})
        doc = r.content
        sha = hashlib.sha256(doc).hexdigest()
        header = r.headers.get("X-Content-SHA256", sha).lower()
        hash_ok = sha == str(record.get("sha256", "")).lower() == header
        try:
            sig = verify_dcc(doc)
            signature_ok, error = True, None
            signer_ok = sig.signer_fingerprint_sha256 == (record.get("signer") or {}).get("fingerprint_sha256")
            if not signer_ok:
                error = (f"signed by {sig.signer_subject} ({sig.signer_fingerprint_sha256[:16]}…), "
                         "not the certificate the platform recorded")
        except SignatureError as exc:
            signature_ok, signer_ok, error = False, False, str(exc)
        return Verification(record["certificate_id"], record, sha, hash_ok, signature_ok, signer_ok, error)

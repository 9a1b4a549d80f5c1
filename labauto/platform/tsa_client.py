"""The lab side of RFC 3161: ask a time-stamping authority to date a digest.

The request is built by pyHanko (:meth:`pyhanko.sign.timestamps.TimeStamper.request_cms`: a
``TimeStampReq`` with a random nonce and ``certReq``); the answer is checked before the token is
used: status granted, the same nonce, and a message imprint equal to the digest that was sent.
The platform's TSA (``POST /api/v1/tsa``) takes the lab's bearer token; any RFC 3161 TSA over
HTTP works the same way.

Where the TSA is: ``LABAUTO_TSA_URL`` (any RFC 3161 HTTP endpoint), else the platform's
``LABAUTO_PLATFORM_URL`` + ``/api/v1/tsa``; the bearer token is ``LABAUTO_TSA_TOKEN``, else
``LABAUTO_PLATFORM_TOKEN``.  ``LABAUTO_TSA_URL=off`` switches time-stamping off.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import httpx

from labauto.errors import LabautoError

TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"


class TimestampUnavailable(LabautoError):
    """No token was obtained: the TSA is unreachable, refused the request, or answered wrongly."""


def _status_text(response_der: bytes) -> str:
    """The status, statusString and failInfo of a TimeStampResp that carries no token
    (asn1crypto cannot parse those; pyasn1-modules can)."""
    from pyasn1.codec.der import decoder
    from pyasn1.error import PyAsn1Error
    from pyasn1_modules import rfc3161

    try:
        resp, _ = decoder.decode(response_der, asn1Spec=rfc3161.TimeStampResp())
    except PyAsn1Error as exc:
        return f"an answer that is not a TimeStampResp ({exc})"
    status = resp["status"]
    texts = "; ".join(str(t) for t in status["statusString"]) if status["statusString"].isValue else ""
    fail = status["failInfo"]
    bits = ([name for name, bit in fail.namedValues.items() if len(fail) > bit and fail[bit]]
            if fail.isValue else [])
    return f"status {int(status['status'])}" + (f" ({', '.join(bits)})" if bits else "") + \
        (f": {texts}" if texts else "")


def stamp_via(send: Callable[[bytes], bytes]) -> Callable[[bytes, str], bytes]:
    """A ``stamp(digest, algorithm) -> token DER`` function that sends each DER TimeStampReq
    through ``send`` (HTTP, or a TSA object in the same process) and checks the answer."""
    from asn1crypto import tsp
    from labauto.certificate.pdf_signing import import_pyhanko
    import_pyhanko()
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError, handle_tsp_response

    def stamp(digest: bytes, algorithm: str) -> bytes:
        nonce, request = TimeStamper().request_cms(digest, algorithm)
        answer = send(request.dump())
        try:
            response = tsp.TimeStampResp.load(answer)
            response["time_stamp_token"]     # parsing: a rejection has no token
        except (ValueError, TypeError) as exc:
            raise TimestampUnavailable(f"the TSA did not grant a time-stamp: {_status_text(answer)}") from exc
        try:
            token = handle_tsp_response(response, nonce)
        except TimestampRequestError as exc:
            raise TimestampUnavailable(f"the TSA's answer is not usable: {exc}") from exc
        info = token["content"]["encap_content_info"]["content"].parsed
        if info["message_imprint"]["hashed_message"].native != digest:
            raise TimestampUnavailable("the TSA's token dates another digest than the one sent")
        return token.dump()

    return stamp


def http_send(url: str, bearer_token: str | None, *, timeout_s: float = 10.0) -> Callable[[bytes], bytes]:
    """POST a TimeStampReq to ``url`` as application/timestamp-query; the reply's body."""
    headers = {"Content-Type": TIMESTAMP_QUERY, "Accept": TIMESTAMP_REPLY}
    if bearer_token:
        headers["Authorization"] = f"Bearer {bearer_token}"

    def send(request_der: bytes) -> bytes:
        try:
            r = httpx.post(url, content=request_der, headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise TimestampUnavailable(f"the time-stamping authority {url} is unreachable: {exc}") from exc
        if r.status_code != 200:
            raise TimestampUnavailable(f"the time-stamping authority {url} answered HTTP "
                                       f"{r.status_code}: {r.text[:300]}")
        if r.headers.get("content-type", "").split(";")[0].strip() != TIMESTAMP_REPLY:
            raise TimestampUnavailable(f"the time-stamping authority {url} answered "
                                       f"{r.headers.get('content-type')!r}, not {TIMESTAMP_REPLY}")
        return r.content

    return send


@dataclass(frozen=True)
class TsaConfig:
    url: str
    token: str | None


def configured_tsa() -> TsaConfig | None:
    """The lab's TSA from the environment (see the module docstring), or None."""
    url = os.environ.get("LABAUTO_TSA_URL", "").strip()
    if url.lower() == "off":
        return None
    token = os.environ.get("LABAUTO_TSA_TOKEN") or os.environ.get("LABAUTO_PLATFORM_TOKEN")
    if url:
        return TsaConfig(url, token)
    platform = os.environ.get("LABAUTO_PLATFORM_URL", "").strip()
    if platform:
        return TsaConfig(platform.rstrip("/") + "/api/v1/tsa", token)
    return None


def pyhanko_timestamper(send: Callable[[bytes], bytes]):
    """A pyHanko ``TimeStamper`` (for PAdES signatures) that sends its requests through
    ``send``; pyHanko checks the status and the nonce of the answer."""
    import asyncio

    from asn1crypto import tsp
    from labauto.certificate.pdf_signing import import_pyhanko
    import_pyhanko()
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    class _SendingTimeStamper(TimeStamper):
        async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            answer = await asyncio.to_thread(send, req.dump())
            try:
                response = tsp.TimeStampResp.load(answer)
                response["time_stamp_token"]
            except (ValueError, TypeError) as exc:
                raise TimestampRequestError(f"the TSA did not grant a time-stamp: {_status_text(answer)}") from exc
            return response

    return _SendingTimeStamper()

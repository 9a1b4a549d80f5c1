"""Trusted time on issue: the lab time-stamps its signed DCC and PDF through a TSA.

Where the TSA is comes from the environment (:func:`labauto.platform.tsa_client.configured_tsa`:
``LABAUTO_TSA_URL``, else the platform's ``/api/v1/tsa``).  Issuing never waits on it for long
and never fails because of it: when no TSA is configured, or it is unreachable or refuses, the
certificate is issued without a token (XAdES-BES DCC, PAdES B-B PDF) and the outcome says so.

Why not queue the time-stamp and add it later: the issued DCC is immutable — its SHA-256 is
printed on the PDF, recorded in the run journal and queued for publishing — and adding a token
changes the document's bytes.  A late token would also only prove the signature existed at that
later time.  So a certificate is time-stamped at issue or not at all, and verification reports
a DCC without token as "time: signing time is the signer's claim (no time-stamp)".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labauto.platform.tsa_client import (TimestampUnavailable, configured_tsa, http_send,
                                         pyhanko_timestamper, stamp_via)


@dataclass(frozen=True)
class TimestampOutcome:
    """Whether the issued DCC carries a signature time-stamp, and a sentence saying so."""
    stamped: bool
    detail: str
    pdf_timestamper: Any = None      # a pyHanko TimeStamper for the PDF, when the TSA answered


def timestamp_signed_dcc(signed_dcc: bytes, *, timeout_s: float = 10.0) -> tuple[bytes, TimestampOutcome]:
    """``signed_dcc`` with a XAdES-T SignatureTimeStamp from the lab's TSA, or unchanged (with
    the reason) when there is none or it cannot be reached."""
    from labauto.certificate.xades_t import add_signature_timestamp

    tsa = configured_tsa()
    if tsa is None:
        return signed_dcc, TimestampOutcome(False, "not time-stamped: no time-stamping authority "
                                            "configured (LABAUTO_TSA_URL or LABAUTO_PLATFORM_URL)")
    send = http_send(tsa.url, tsa.token, timeout_s=timeout_s)
    try:
        stamped = add_signature_timestamp(signed_dcc, stamp_via(send))
    except TimestampUnavailable as exc:
        return signed_dcc, TimestampOutcome(False, f"NOT time-stamped ({exc}); issued with the "
                                            "signer's claimed signing time only")
    return stamped, TimestampOutcome(True, f"time-stamped by {tsa.url}", pyhanko_timestamper(send))

"""Checking an RFC 3161 time-stamp token: what it dates, who dated it, and whether to believe it.

A token is believed when (1) it is a CMS SignedData over a TSTInfo, (2) its message imprint is
the hash of the data it is claimed to date, (3) the TSA's CMS signature verifies, (4) the TSA
certificate carries the critical extended key usage id-kp-timeStamping, and (5) the TSA
certificate chains to one of the given trust anchors (intermediates are taken from the token)
and is valid at the token's time.  The checks are pyHanko's
(:func:`pyhanko.sign.validation.generic_cms.validate_tst_signed_data`, path building and
validation by pyhanko-certvalidator); this module turns their status into one verdict with a
reason a person can read.  Requesting tokens (the lab side) is in
:mod:`labauto.platform.tsa_client`; answering them in :mod:`labauto.certificate.tsa`.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Callable, Iterable

from cryptography import x509

from labauto.certificate import pki

# pyHanko logs a failed path or imprint as a warning with a traceback, which a host that
# configures logging (Prefect, uvicorn) would print to the technician; the verdicts of this
# module and of pdf_signing carry the reason instead
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).addHandler(logging.NullHandler())
    logging.getLogger(_name).propagate = False

_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


@dataclass(frozen=True)
class TokenCheck:
    """The verdict on one time-stamp token.  ``ok`` only if every check passed; otherwise
    ``reason`` names the first that failed.  ``time`` is the TSA's genTime (read even from a
    token that failed, for the report), ``tsa`` the subject of the TSA certificate."""
    ok: bool
    reason: str = ""
    time: dt.datetime | None = None
    tsa: str | None = None
    serial_number: int | None = None
    policy: str | None = None
    hash_algorithm: str | None = None


def run_sync(coro):
    """Run a pyHanko coroutine from synchronous code, also from inside a running event loop
    (then in a worker thread with a loop of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _asn1_cert(cert: x509.Certificate | bytes):
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization

    if isinstance(cert, bytes):
        cert = pki.load_certificate(cert)
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def token_digest(data: bytes, algorithm: str) -> bytes:
    """The imprint of ``data`` under a TSTInfo hash algorithm name (sha256, sha384, sha512)."""
    if algorithm not in _HASHES:
        raise ValueError(f"hash algorithm {algorithm} is not accepted for time-stamp imprints")
    return _HASHES[algorithm](data).digest()


def check_token(token_der: bytes, dated_data: bytes | Callable[[str], bytes],
                trust_anchors: Iterable[bytes | x509.Certificate], *,
                crls: Iterable[bytes] = ()) -> TokenCheck:
    """Check the time-stamp token ``token_der`` (a DER ContentInfo/SignedData) over
    ``dated_data`` (the bytes it must date, or a function from a hash algorithm name to the
    expected imprint) against ``trust_anchors`` (PEM or certificates).  ``crls`` (DER) are
    consulted for the TSA certificate's revocation when given."""
    from asn1crypto import cms, core, tsp
    from labauto.certificate.pdf_signing import import_pyhanko
    import_pyhanko()
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    try:
        content = cms.ContentInfo.load(token_der, strict=True)
        signed_data = content["content"]
        if content["content_type"].native != "signed_data":
            raise ValueError(f"content type {content['content_type'].native}, not signed data")
        info_bytes = signed_data["encap_content_info"]["content"]
        info = info_bytes.parsed if isinstance(info_bytes, core.ParsableOctetString) else None
        if not isinstance(info, tsp.TSTInfo):
            raise ValueError("the SignedData does not encapsulate a TSTInfo")
        gen_time = info["gen_time"].native.astimezone(dt.timezone.utc)
        algo = info["message_imprint"]["hash_algorithm"]["algorithm"].native
        serial, policy = info["serial_number"].native, info["policy"].dotted
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return TokenCheck(False, f"the time-stamp token is not an RFC 3161 token: {exc}")
    base = dict(time=gen_time, serial_number=serial, policy=policy, hash_algorithm=algo)
    expected = dated_data if callable(dated_data) else (lambda a: token_digest(dated_data, a))
    try:
        expected(algo)
    except ValueError as exc:
        return TokenCheck(False, str(exc), **base)
    anchors = [_asn1_cert(c) for c in trust_anchors]
    context = ValidationContext(trust_roots=anchors, moment=gen_time, allow_fetching=False,
                                crls=list(crls), revocation_mode="soft-fail" if not crls else "hard-fail")
    try:
        status = run_sync(validate_tst_signed_data(signed_data, context, expected))
    except (SignatureValidationError, ValueError) as exc:
        return TokenCheck(False, f"the time-stamp token cannot be validated: {exc}", **base)
    signer = status.get("signing_cert")
    tsa = signer.subject.human_friendly if signer is not None else None
    base["tsa"] = tsa
    if not status["intact"]:
        return TokenCheck(False, "the time-stamp token does not date this data: its message imprint "
                          "differs from the data's hash", **base)
    if not status["valid"]:
        return TokenCheck(False, "the TSA's signature on the time-stamp token does not verify", **base)
    tsa_cert = x509.load_der_x509_certificate(signer.dump())
    try:
        from labauto.certificate.tsa import check_tsa_certificate
        check_tsa_certificate(tsa_cert)
    except pki.PKIError as exc:
        return TokenCheck(False, str(exc), **base)
    problem = status.get("trust_problem_indic")
    if problem is not None:
        return TokenCheck(False, f"the TSA certificate ({tsa}) does not chain to a trusted anchor "
                          f"valid at {gen_time:%Y-%m-%d %H:%M:%S} UTC ({_indication(problem)})", **base)
    return TokenCheck(True, **base)


def _indication(problem) -> str:
    name = getattr(problem, "name", str(problem))
    return {"NO_CERTIFICATE_CHAIN_FOUND": "no path to a trust anchor",
            "REVOKED_NO_POE": "the TSA certificate is revoked",
            "OUT_OF_BOUNDS_NO_POE": "the TSA certificate was not valid then",
            "CHAIN_CONSTRAINTS_FAILURE": "a chain constraint failed"}.get(name, name)

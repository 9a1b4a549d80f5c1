"""The ``time`` and ``revocation`` stages of a verification report (:mod:`.verification`), from
the signature time-stamp (XAdES-T) and the CA's CRL.  The platform's ``POST /api/v1/verify``
and ``labauto dcc verify`` plug them into their :class:`~.verification.Verifier`.

``time``        with a signature time-stamp, its verdict
                (:func:`labauto.certificate.xades_t.check_signature_timestamp`): ``pass`` and the
                chain is judged at the token's time; ``fail`` when the token does not date this
                signature or its TSA is not trusted.  Without one, the XAdES SigningTime (the
                signer's claim) as before.
``revocation``  the signer's certificate against the CRL of its issuer
                (:func:`labauto.certificate.signer_crl.check_signer_revocation`): ``pass`` not
                listed; ``warn`` listed but revoked after the time-stamped signing time (the
                signature stays valid); ``fail`` revoked and not proven earlier, or a CRL that
                is forged or out of date; ``skip`` when no CRL of that issuer is known.
"""
from __future__ import annotations

from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from labauto.certificate.signer_crl import check_signer_revocation
from labauto.certificate.xades_t import check_signature_timestamp
from labauto.platform.server.verification import (FAIL, PASS, SKIP, WARN, Evidence, RevocationCheck,
                                                  Stage, TimeCheck, claimed_signing_time)

# the issuer's certificate -> the DER CRL it publishes (None: no CRL known for that issuer)
CrlSource = Callable[[x509.Certificate], "bytes | None"]


def timestamp_time_check(tsa_anchors: list[bytes] = ()) -> TimeCheck:
    """The time stage from the signature time-stamp: its TSA must chain to one of the report's
    trust anchors or of ``tsa_anchors`` (PEM; the platform's CA)."""

    def check(ev: Evidence) -> Stage:
        anchors = [c.public_bytes(Encoding.PEM) for c in ev.anchors] + list(tsa_anchors)
        verdict = check_signature_timestamp(ev.root, anchors)
        if verdict is None:
            return claimed_signing_time(ev)
        data = {"source": "signature time-stamp (RFC 3161, XAdES-T)", "tsa": verdict.tsa,
                "serial_number": verdict.serial_number, "policy": verdict.policy,
                "time": verdict.time.isoformat() if verdict.time else None}
        if not verdict.ok:
            claimed_signing_time(ev)          # the later stages still need a time
            return Stage("time", FAIL, f"the signature time-stamp is not acceptable: {verdict.reason}", data)
        ev.validation_time = ev.trusted_time = verdict.time
        return Stage("time", PASS, f"time-stamped at {verdict.time:%Y-%m-%d %H:%M:%S} UTC by {verdict.tsa}; "
                     "the chain is judged at that time", data)

    return check


def crl_from(crls: list[bytes]) -> CrlSource:
    """A CRL source over a list of DER CRLs (``--crl`` files, the platform's ``/api/v1/crl``):
    the one issued by the given certificate's subject."""
    from labauto.certificate.signer_crl import load_crl

    by_issuer = {}
    for der in crls:
        by_issuer[load_crl(der).issuer] = der
    return lambda issuer: by_issuer.get(issuer.subject)


def crl_revocation_check(crl_for: CrlSource) -> RevocationCheck:
    """The revocation stage from the CRL ``crl_for`` gives for the signer's issuer."""

    def check(ev: Evidence) -> Stage:
        chain = ev.chain or []
        issuer = chain[1] if len(chain) > 1 else None
        if issuer is None:
            return Stage("revocation", SKIP, "not checked: the signer is itself a trust anchor")
        crl = crl_for(issuer)
        if crl is None:
            return Stage("revocation", SKIP, f"not checked: no CRL of {issuer.subject.rfc4514_string()} is known")
        verdict = check_signer_revocation(ev.signer, crl, issuer, trusted_time=ev.trusted_time)
        data = {"crl_status": verdict.status,
                "revoked_at": verdict.revoked_at.isoformat() if verdict.revoked_at else None,
                "reason": verdict.revocation_reason,
                "crl_next_update": verdict.crl_next_update.isoformat() if verdict.crl_next_update else None}
        status = {"good": PASS, "revoked_after_signing": WARN, "revoked": FAIL, "unknown": FAIL}[verdict.status]
        return Stage("revocation", status, verdict.reason, data)

    return check

"""Revocation of *signing certificates*: the platform CA's certificate revocation list (CRL).

Two different things are called "revoked" on the platform; this module is about the first:

* a lab's **X.509 signing certificate** is revoked (its key was compromised, the lab left):
  the platform's CA lists its serial number in the CRL it publishes (``GET /api/v1/crl``), and
  a verifier flags signatures made with it;
* a **calibration certificate** (a published DCC) is revoked by its lab ("withdrawn"): that is
  the record's status on the platform (``POST /api/v1/certificates/{id}/revoke``), not a CRL.

The CRL is built with ``cryptography``'s ``CertificateRevocationListBuilder`` (RFC 5280 v2:
thisUpdate, nextUpdate, CRL number, authority key identifier; per entry the revocation date,
a reason code and, for a key compromise, the invalidity date).  Checking a signer against it
compares the revocation with the *trusted* signing time (an RFC 3161 token's time): a signature
time-stamped before the revocation (and before the key was known to be compromised) stays
valid; without a trusted time a revoked signer is refused, since the signing time is only the
signer's claim.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from labauto.certificate import pki

REASONS = {r.name: r for r in x509.ReasonFlags if r not in (x509.ReasonFlags.unspecified,)} | {
    "unspecified": x509.ReasonFlags.unspecified}
DEFAULT_VALIDITY = dt.timedelta(days=1)
# a time-stamp token's genTime is given to the second (no accuracy field): the signature existed
# at some instant of that second, so it is proven earlier than a moment only if the whole
# second lies before it
TOKEN_RESOLUTION = dt.timedelta(seconds=1)


def proven_before(trusted_time: dt.datetime | None, moment: dt.datetime) -> bool:
    """Whether a token time proves that the signature existed before ``moment``."""
    return trusted_time is not None and trusted_time + TOKEN_RESOLUTION <= moment


@dataclass(frozen=True)
class RevokedSigner:
    """One CRL entry: the certificate's serial, when it was revoked, why, and (optional) since
    when its key is known to be unsafe (the invalidity date, before the revocation date)."""
    serial_number: int
    revoked_at: dt.datetime
    reason: str = "unspecified"
    invalid_since: dt.datetime | None = None


def build_crl(ca: pki.CertificateAuthority, revoked: Iterable[RevokedSigner], *,
              this_update: dt.datetime | None = None,
              validity: dt.timedelta = DEFAULT_VALIDITY) -> bytes:
    """The DER CRL of ``ca`` listing ``revoked``, valid from ``this_update`` (default now) to
    nextUpdate = ``this_update`` + ``validity``.  The CRL number is thisUpdate in Unix seconds,
    so it increases with every CRL the CA issues (RFC 5280 5.2.3)."""
    this_update = (this_update or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    key = pki.load_private_key(ca.key_pem)
    cert = pki.load_certificate(ca.cert_pem)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(cert.subject)
               .last_update(this_update).next_update(this_update + validity)
               .add_extension(x509.CRLNumber(int(this_update.timestamp())), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                              critical=False))
    for entry in revoked:
        if entry.reason not in REASONS:
            raise ValueError(f"unknown revocation reason {entry.reason!r}; one of {', '.join(REASONS)}")
        item = (x509.RevokedCertificateBuilder().serial_number(entry.serial_number)
                .revocation_date(entry.revoked_at))
        if entry.reason != "unspecified":
            item = item.add_extension(x509.CRLReason(REASONS[entry.reason]), critical=False)
        if entry.invalid_since is not None:
            item = item.add_extension(x509.InvalidityDate(entry.invalid_since.astimezone(dt.timezone.utc)
                                                          .replace(tzinfo=None)), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


@dataclass(frozen=True)
class RevocationCheck:
    """The verdict on a signer's certificate against a CRL.

    ``status``: ``good`` (not listed), ``revoked`` (listed, and the signature is not proven to
    predate the revocation: refuse), ``revoked_after_signing`` (listed, but a trusted time-stamp
    proves the signature was made before it and before the invalidity date: valid, flagged),
    ``unknown`` (the CRL is not usable: wrong issuer, bad signature, expired)."""
    status: str
    reason: str = ""
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None
    crl_next_update: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("good", "revoked_after_signing")


def load_crl(crl_der: bytes) -> x509.CertificateRevocationList:
    try:
        return x509.load_der_x509_crl(crl_der)
    except ValueError as exc:
        raise pki.PKIError(f"not a DER X.509 CRL: {exc}") from exc


def check_signer_revocation(signer: x509.Certificate, crl_der: bytes, issuer: x509.Certificate, *,
                            trusted_time: dt.datetime | None = None,
                            now: dt.datetime | None = None) -> RevocationCheck:
    """Check ``signer`` against ``issuer``'s CRL ``crl_der``.

    ``trusted_time`` is the time-stamp token's time when the signature has one; a claimed
    signing time must not be passed (it proves nothing about the order of events)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        crl = load_crl(crl_der)
    except pki.PKIError as exc:
        return RevocationCheck("unknown", str(exc))
    if crl.issuer != issuer.subject or signer.issuer != issuer.subject:
        return RevocationCheck("unknown", f"the CRL is issued by {crl.issuer.rfc4514_string()}, the "
                               f"signer's certificate by {signer.issuer.rfc4514_string()}; the "
                               "CRL says nothing about this signer")
    if not crl.is_signature_valid(issuer.public_key()):
        return RevocationCheck("unknown", f"the CRL's signature does not verify with the key of "
                               f"{issuer.subject.rfc4514_string()}")
    next_update = crl.next_update_utc
    if next_update is not None and next_update < now:
        return RevocationCheck("unknown", f"the CRL expired at {next_update:%Y-%m-%d %H:%M} UTC "
                               "(nextUpdate); fetch a current one", crl_next_update=next_update)
    entry = crl.get_revoked_certificate_by_serial_number(signer.serial_number)
    if entry is None:
        return RevocationCheck("good", f"not listed in the CRL of {issuer.subject.rfc4514_string()} "
                               f"(valid until {next_update:%Y-%m-%d %H:%M} UTC)",
                               crl_next_update=next_update)
    revoked_at = entry.revocation_date_utc
    reason, invalid_since = "unspecified", None
    for ext in entry.extensions:
        if isinstance(ext.value, x509.CRLReason):
            reason = ext.value.reason.name
        elif isinstance(ext.value, x509.InvalidityDate):
            invalid_since = ext.value.invalidity_date_utc
    cutoff = min(revoked_at, invalid_since) if invalid_since else revoked_at
    details = dict(revoked_at=revoked_at, revocation_reason=reason, crl_next_update=next_update)
    subject = signer.subject.rfc4514_string()
    if proven_before(trusted_time, cutoff):
        return RevocationCheck("revoked_after_signing", f"the signer's certificate {subject} was "
                               f"revoked on {revoked_at:%Y-%m-%d %H:%M} UTC ({reason}), after the "
                               f"time-stamped signing time {trusted_time:%Y-%m-%d %H:%M:%S} UTC: "
                               "the signature stays valid", **details)
    when = (f"before the time-stamped signing time {trusted_time:%Y-%m-%d %H:%M:%S} UTC"
            if trusted_time is not None else "and the signature carries no trusted time-stamp "
            "proving it was made before")
    since = f" (key unsafe since {invalid_since:%Y-%m-%d %H:%M} UTC)" if invalid_since else ""
    return RevocationCheck("revoked", f"the signer's certificate {subject} was revoked on "
                           f"{revoked_at:%Y-%m-%d %H:%M} UTC ({reason}){since}, {when}", **details)

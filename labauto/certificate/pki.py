"""A small self-managed X.509 certificate authority for lab signing certificates.

The platform registers each lab with an X.509 certificate; the lab signs its DCCs with the
matching private key.  This module makes the keys and certificates (for tests, the demo and
small deployments) and answers the questions both sides ask about them: is this PEM a
certificate or a key, what is its SHA-256 fingerprint, does it chain (through intermediate CAs)
to a trust anchor at a given time, is it valid at a given time.  It sits beside :mod:`labauto.certificate.signing`, which loads keys and
certificates through it; the platform imports it from here.
Only ``cryptography`` is used; keys are RSA (the DCC examples use RSA-SHA256).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class PKIError(ValueError):
    """A certificate or key is malformed, expired, or does not chain to a trust anchor."""


@dataclass(frozen=True)
class KeyPair:
    """A private key and its certificate, both PEM."""

    key_pem: bytes
    cert_pem: bytes


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str, organization: str | None = None, country: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if country:
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    return x509.Name(attrs)


def load_certificate(cert_pem: bytes | str) -> x509.Certificate:
    """Parse one PEM certificate; :class:`PKIError` says what is wrong if it is not one."""
    data = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
    try:
        return x509.load_pem_x509_certificate(data)
    except (ValueError, TypeError) as exc:
        raise PKIError(f"not a PEM X.509 certificate: {exc}") from exc


def load_private_key(key_pem: bytes | str):
    data = key_pem.encode() if isinstance(key_pem, str) else key_pem
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise PKIError(f"not an unencrypted PEM private key: {exc}") from exc


def fingerprint_sha256(cert: x509.Certificate | bytes | str) -> str:
    """Hex SHA-256 of the certificate's DER encoding (how the platform identifies it)."""
    if not isinstance(cert, x509.Certificate):
        cert = load_certificate(cert)
    return cert.fingerprint(hashes.SHA256()).hex()


def subject_text(cert: x509.Certificate | bytes | str) -> str:
    if not isinstance(cert, x509.Certificate):
        cert = load_certificate(cert)
    return cert.subject.rfc4514_string()


def check_valid_now(cert: x509.Certificate | bytes | str, at: dt.datetime | None = None,
                    when: str = "") -> None:
    """Raise :class:`PKIError` unless ``at`` (default now) lies in the certificate's validity;
    ``when`` names the moment in the message ("the signing time")."""
    if not isinstance(cert, x509.Certificate):
        cert = load_certificate(cert)
    at = at or _now()
    if at < cert.not_valid_before_utc or at > cert.not_valid_after_utc:
        raise PKIError(f"certificate {cert.subject.rfc4514_string()} is valid from "
                       f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}, "
                       f"not at {when + ' ' if when else ''}{at:%Y-%m-%d %H:%M} UTC")


def load_certificates(pem: bytes | str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (one or more ``BEGIN CERTIFICATE`` blocks)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificates(data)
    except (ValueError, TypeError) as exc:
        raise PKIError(f"not a PEM X.509 certificate bundle: {exc}") from exc


def validate_chain(cert: x509.Certificate, anchors: list[x509.Certificate], at: dt.datetime, *,
                   intermediates: list[x509.Certificate] = ()) -> list[x509.Certificate]:
    """The chain from ``cert`` through ``intermediates`` to one of ``anchors``, every certificate
    valid at ``at``; :class:`PKIError` says why there is none.

    Path building and checking are ``cryptography``'s (``x509.verification``, RFC 5280 with the
    CA/Browser-Forum profile for the CA certificates: basic constraints, key usage keyCertSign,
    path length, signatures, validity at ``at``).  The signer's own extensions are not held to
    the Web PKI profile (a document-signing certificate needs no DNS name or TLS usage); if it
    states a key usage, it must allow signatures (digitalSignature or contentCommitment)."""
    from cryptography.x509.verification import (ExtensionPolicy, PolicyBuilder, Store,
                                                VerificationError)

    if not anchors:
        raise PKIError("no trust anchor is configured")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or usage.content_commitment):
            raise PKIError(f"certificate {cert.subject.rfc4514_string()} may not sign documents "
                           "(its key usage allows neither digitalSignature nor contentCommitment)")
    except x509.ExtensionNotFound:
        pass
    verifier = (PolicyBuilder().store(Store(list(anchors))).time(at)
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=ExtensionPolicy.permit_all())
                .build_client_verifier())
    try:
        return list(verifier.verify(cert, list(intermediates)).chain)
    except VerificationError as exc:
        names = ", ".join(a.subject.rfc4514_string() for a in anchors[:3])
        known = {c.subject for c in [*anchors, *intermediates]}
        reason = (f"the certificate of its issuer, {cert.issuer.rfc4514_string()}, is neither a trust "
                  "anchor nor among the intermediate certificates given"
                  if cert.issuer not in known and cert.issuer != cert.subject else str(exc))
        raise PKIError(f"no valid chain from {cert.subject.rfc4514_string()} to a trust anchor "
                       f"({names}{', ...' if len(anchors) > 3 else ''}) at {at:%Y-%m-%d %H:%M} UTC: "
                       f"{reason}") from exc


def registration_time(cert: x509.Certificate) -> dt.datetime:
    """When a chain is checked for a certificate being registered: now if it is valid now, else
    the last moment it was valid (an expired certificate still verifies what it signed in its
    time) — a certificate not valid yet is checked at its start."""
    now = _now()
    return max(cert.not_valid_before_utc, min(now, cert.not_valid_after_utc))


class CertificateAuthority:
    """A root CA (key + self-signed certificate) that issues lab signing certificates."""

    def __init__(self, key_pem: bytes, cert_pem: bytes) -> None:
        self.key_pem, self.cert_pem = key_pem, cert_pem
        self._key = load_private_key(key_pem)
        self._cert = load_certificate(cert_pem)

    @classmethod
    def create(cls, common_name: str = "labauto platform CA", *, organization: str = "labauto",
               days: int = 3650) -> "CertificateAuthority":
        """A new root CA valid for ``days`` from now."""
        key = _new_key()
        name = _name(common_name, organization)
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True, crl_sign=True,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, *, organization: str | None = None, country: str | None = None,
              days: int = 825, not_before: dt.datetime | None = None,
              extended_key_usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH,
              extended_key_usage_critical: bool = False,
              within_ca_validity: bool = False) -> KeyPair:
        """A new RSA key and a document-signing certificate for it, signed by this CA
        (digitalSignature + nonRepudiation, one extended key usage; ``within_ca_validity`` ends
        it no later than the CA's own certificate)."""
        key = _new_key()
        start = not_before or (_now() - dt.timedelta(minutes=5))
        end = start + dt.timedelta(days=days)
        if within_ca_validity:
            end = min(end, self._cert.not_valid_after_utc)
        cert = (x509.CertificateBuilder().subject_name(_name(common_name, organization, country))
                .issuer_name(self._cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=False, crl_sign=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([extended_key_usage]),
                               critical=extended_key_usage_critical)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                               critical=False)
                .sign(self._key, hashes.SHA256()))
        return KeyPair(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM))


def self_signed(common_name: str, *, organization: str | None = None, days: int = 825) -> KeyPair:
    """A key with a self-signed certificate (a lab outside any CA; e.g. an untrusted signer)."""
    key = _new_key()
    name = _name(common_name, organization)
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    return KeyPair(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM))

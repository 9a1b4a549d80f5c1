"""X.509 chains built in the test with ``cryptography``: root CA -> intermediate CA -> signer,
as real PKIs (and PTB's signed examples, whose signer a sub-CA issued) use."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

UTC = dt.timezone.utc


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _cert(subject: str, key, issuer: x509.Certificate | None, issuer_key, *, ca: bool,
          start: dt.datetime, days: int, path_length: int | None = None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test PKI")])
    usage = dict(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                 encipher_only=False, decipher_only=False)
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer.subject if issuer else name).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
         .add_extension(x509.KeyUsage(**usage), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                        critical=False))
    return b.sign(issuer_key, hashes.SHA256())


@dataclass
class Chain:
    root: x509.Certificate
    intermediate: x509.Certificate
    signer: x509.Certificate
    signer_key_pem: bytes

    @property
    def root_pem(self) -> bytes:
        return _pem(self.root)

    @property
    def intermediate_pem(self) -> bytes:
        return _pem(self.intermediate)

    @property
    def signer_pem(self) -> bytes:
        return _pem(self.signer)


def build_chain(name: str = "Lab T", *, signer_start: dt.datetime | None = None,
                signer_days: int = 365) -> Chain:
    """A root (20 years), an intermediate it issued (10 years), and a signer the intermediate
    issued (``signer_days`` from ``signer_start``, default five minutes ago)."""
    now = dt.datetime.now(UTC)
    root_key, sub_key, signer_key = _key(), _key(), _key()
    ca_start = min(now - dt.timedelta(days=3 * 365), (signer_start or now) - dt.timedelta(days=1))
    root = _cert(f"{name} root CA", root_key, None, root_key, ca=True, start=ca_start, days=20 * 365)
    sub = _cert(f"{name} issuing CA", sub_key, root, root_key, ca=True, start=ca_start, days=10 * 365,
                path_length=0)
    signer = _cert(f"{name} signing", signer_key, sub, sub_key, ca=False,
                   start=signer_start or now - dt.timedelta(minutes=5), days=signer_days)
    key_pem = signer_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    return Chain(root, sub, signer, key_pem)


def build_tsa(at: dt.datetime, name: str = "Old TSA"):
    """A TSA whose root (20 years) and time-stamping certificate (from a day before ``at``) were
    valid at ``at``, answering with that time: a time-stamp made in the past.  Returns
    ``(root PEM, TimeStampingAuthority)``."""
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from labauto.certificate import pki
    from labauto.certificate.tsa import TimeStampingAuthority

    key = _key()
    root = _cert(f"{name} root CA", key, None, key, ca=True, start=at - dt.timedelta(days=3 * 365),
                 days=20 * 365)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    ca = pki.CertificateAuthority(key_pem, _pem(root))
    pair = ca.issue(f"{name}", not_before=at - dt.timedelta(days=1), days=825,
                    extended_key_usage=ExtendedKeyUsageOID.TIME_STAMPING, extended_key_usage_critical=True)
    return _pem(root), TimeStampingAuthority(pair.key_pem, pair.cert_pem, [_pem(root)], clock=lambda: at)

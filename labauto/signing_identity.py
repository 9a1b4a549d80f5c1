"""The lab's document-signing identity: private key + X.509 certificate used to sign DCCs.

Where it comes from, in order:

1. ``LABAUTO_SIGNING_KEY`` and ``LABAUTO_SIGNING_CERT`` — PEM files issued to the lab by its
   PKI (a real accredited lab uses this; the key never leaves the lab's machine);
2. otherwise a *demonstration* identity under ``<LABAUTO_HOME>/pki/``: a local root CA
   ("labauto demo CA") and a lab certificate issued by it, created on first use.  It is good for
   simulated calibrations and CI only; a platform trusts it only when told to (the demo registers
   it with the in-process reference platform).

Keys are written with mode 0600.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labauto.config import labauto_home
from labauto.errors import LabautoError
from labauto.files import pid_lock, write_durably
from labauto.lab import LabConfig


class SigningIdentityError(LabautoError):
    """The configured signing key or certificate cannot be used."""


@dataclass(frozen=True)
class SigningIdentity:
    key_pem: bytes
    cert_pem: bytes
    ca_cert_pem: bytes | None      # issuer of cert_pem when known (the demo CA)
    origin: str                    # where it was loaded from (printed by the CLI)


def _from_environment() -> SigningIdentity | None:
    key, cert = os.environ.get("LABAUTO_SIGNING_KEY"), os.environ.get("LABAUTO_SIGNING_CERT")
    if not key and not cert:
        return None
    if not (key and cert):
        raise SigningIdentityError("set both LABAUTO_SIGNING_KEY and LABAUTO_SIGNING_CERT "
                                   "(PEM files of the lab's signing key and certificate)")
    try:
        return SigningIdentity(Path(key).read_bytes(), Path(cert).read_bytes(), None,
                               f"{key} / {cert}")
    except OSError as exc:
        raise SigningIdentityError(f"cannot read the lab's signing identity: {exc}") from exc


def demo_identity(lab: LabConfig, folder: Path | None = None) -> SigningIdentity:
    """The demonstration CA and lab certificate in ``folder`` (created on first use)."""
    folder = folder or labauto_home() / "pki"
    ca_key, ca_cert = folder / "demo-ca.key.pem", folder / "demo-ca.cert.pem"
    key, cert = folder / "lab.key.pem", folder / "lab.cert.pem"
    if not cert.exists():
        # several runs (benches) of one lab home may start at once: one creates, the others
        # wait and use what it created
        folder.mkdir(parents=True, exist_ok=True)
        with pid_lock(folder / "create.lock", timeout_s=60) as held:
            if not held:
                raise SigningIdentityError(f"the demo signing identity in {folder} is being created "
                                           "by another process that does not finish; try again")
            _create_demo_identity(lab, ca_key, ca_cert, key, cert)
    return SigningIdentity(key.read_bytes(), cert.read_bytes(), ca_cert.read_bytes(),
                           f"demo PKI in {folder}")


def _create_demo_identity(lab: LabConfig, ca_key: Path, ca_cert: Path, key: Path,
                          cert: Path) -> None:
    from labauto.certificate.pki import CertificateAuthority

    if not ca_cert.exists():
        ca = CertificateAuthority.create("labauto demo CA (simulation only)",
                                         organization="labauto demo")
        write_durably(ca_key, ca.key_pem, private=True)
        write_durably(ca_cert, ca.cert_pem)
    if not cert.exists():
        ca = CertificateAuthority(ca_key.read_bytes(), ca_cert.read_bytes())
        pair = ca.issue(lab.laboratory.name, organization=lab.laboratory.name,
                        country=lab.country or None)
        write_durably(key, pair.key_pem, private=True)
        write_durably(cert, pair.cert_pem)


def lab_signing_identity(lab: LabConfig) -> SigningIdentity:
    return _from_environment() or demo_identity(lab)

"""Settings of the platform server, from arguments or the environment.

LABAUTO_PLATFORM_DB            database URL (default: SQLite file ./labauto-platform.sqlite3)
LABAUTO_PLATFORM_SCHEMA_DIR    DCC schema directory (vX.Y.Z/dcc.xsd inside)
LABAUTO_PLATFORM_ADMIN_TOKEN   token for the admin API (lab registration, tokens, audit);
                               unset = admin API disabled
LABAUTO_PLATFORM_TRUSTED_CA    PEM file of the trust anchors (one or more CA certificates) every
                               lab certificate must chain to, and verification checks chains
                               against (unset = any certificate the admin registers; no anchors)
LABAUTO_PLATFORM_MAX_UPLOAD    largest accepted upload part in bytes (default 20 MB); a whole
                               request body may be three parts plus 64 KiB
LABAUTO_PLATFORM_VERIFY_RATE   POST /api/v1/verify requests per minute and client address
                               (default 30, per server process)
LABAUTO_PLATFORM_CA_KEY        PEM files of the platform's own CA (key and certificate): with
LABAUTO_PLATFORM_CA_CERT       them the platform runs an RFC 3161 time-stamping authority for
                               its labs (POST /api/v1/tsa) and publishes the CA's CRL of revoked
                               signing certificates (GET /api/v1/crl); unset = neither
LABAUTO_PLATFORM_TSA_POLICY    the TSA's policy OID (default ETSI EN 319 421 best practices)

(``to_env`` also uses LABAUTO_PLATFORM_TRUSTED_CA_PEM, LABAUTO_PLATFORM_CA_KEY_PEM and
LABAUTO_PLATFORM_CA_CERT_PEM — the PEMs themselves — and
LABAUTO_PLATFORM_MIGRATE=0 to hand settings to the worker processes of a multi-worker server.)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB = "sqlite:///labauto-platform.sqlite3"
DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024
DEFAULT_VERIFY_RATE = 30


@dataclass(frozen=True)
class PlatformSettings:
    database_url: str
    schema_dir: Path
    admin_token: str | None = None
    trusted_ca_pem: bytes | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    migrate_on_startup: bool = True
    ca_key_pem: bytes | None = None
    ca_cert_pem: bytes | None = None
    tsa_policy: str | None = None
    verify_rate_per_minute: int = DEFAULT_VERIFY_RATE

    @property
    def max_request_bytes(self) -> int:
        """The largest request body (a DCC, a PDF and a JSON part, plus multipart overhead)."""
        return 3 * self.max_upload_bytes + 64 * 1024

    @classmethod
    def from_env(cls, **overrides) -> "PlatformSettings":
        env = os.environ
        ca_path = env.get("LABAUTO_PLATFORM_TRUSTED_CA")
        ca_pem = env.get("LABAUTO_PLATFORM_TRUSTED_CA_PEM")
        schema = env.get("LABAUTO_PLATFORM_SCHEMA_DIR") or env.get("LABAUTO_DCC_DIR", "")
        if schema and (Path(schema) / "schema").is_dir():
            schema = str(Path(schema) / "schema")
        values = dict(database_url=env.get("LABAUTO_PLATFORM_DB", DEFAULT_DB),
                      schema_dir=Path(schema) if schema else None,
                      admin_token=env.get("LABAUTO_PLATFORM_ADMIN_TOKEN") or None,
                      trusted_ca_pem=(ca_pem.encode() if ca_pem else
                                      Path(ca_path).read_bytes() if ca_path else None),
                      max_upload_bytes=int(env.get("LABAUTO_PLATFORM_MAX_UPLOAD", DEFAULT_MAX_UPLOAD)),
                      migrate_on_startup=env.get("LABAUTO_PLATFORM_MIGRATE", "1") != "0",
                      verify_rate_per_minute=int(env.get("LABAUTO_PLATFORM_VERIFY_RATE", DEFAULT_VERIFY_RATE)))
        values.update(ca_key_pem=_pem(env, "LABAUTO_PLATFORM_CA_KEY"),
                      ca_cert_pem=_pem(env, "LABAUTO_PLATFORM_CA_CERT"),
                      tsa_policy=env.get("LABAUTO_PLATFORM_TSA_POLICY") or None)
        if (values["ca_key_pem"] is None) != (values["ca_cert_pem"] is None):
            raise ValueError("set both LABAUTO_PLATFORM_CA_KEY and LABAUTO_PLATFORM_CA_CERT (the "
                             "platform CA's key and certificate) or neither")
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["schema_dir"] is None:
            raise ValueError("no DCC schema directory: pass --schema-dir or set LABAUTO_PLATFORM_SCHEMA_DIR")
        values["schema_dir"] = Path(values["schema_dir"])
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables that :meth:`from_env` reads back."""
        env = {"LABAUTO_PLATFORM_DB": self.database_url, "LABAUTO_PLATFORM_SCHEMA_DIR": str(self.schema_dir),
               "LABAUTO_PLATFORM_MAX_UPLOAD": str(self.max_upload_bytes),
               "LABAUTO_PLATFORM_MIGRATE": "1" if self.migrate_on_startup else "0",
               "LABAUTO_PLATFORM_VERIFY_RATE": str(self.verify_rate_per_minute),
               "LABAUTO_PLATFORM_ADMIN_TOKEN": self.admin_token or "",
               "LABAUTO_PLATFORM_TRUSTED_CA_PEM": (self.trusted_ca_pem or b"").decode(),
               "LABAUTO_PLATFORM_CA_KEY_PEM": (self.ca_key_pem or b"").decode(),
               "LABAUTO_PLATFORM_CA_CERT_PEM": (self.ca_cert_pem or b"").decode(),
               "LABAUTO_PLATFORM_TSA_POLICY": self.tsa_policy or ""}
        return env


def _pem(env, name: str) -> bytes | None:
    """A PEM given inline (``NAME_PEM``) or as a file (``NAME``)."""
    inline = env.get(f"{name}_PEM")
    if inline:
        return inline.encode()
    path = env.get(name)
    return Path(path).read_bytes() if path else None

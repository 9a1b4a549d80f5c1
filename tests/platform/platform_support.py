"""Plain helpers of the platform tests (the fixtures are in conftest.py).

Test modules import these by name (``from platform_support import ...``); importing them from
``conftest`` would pick whichever ``conftest`` module pytest loaded last when several test
folders run together.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx

from labauto.certificate.pki import KeyPair
from labauto.platform.server.testing import register_lab


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def client(base_url: str, token: str | None = None) -> httpx.Client:
    """An HTTP client for the platform at ``base_url``, with ``token`` as bearer token if given."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else None
    return httpx.Client(base_url=base_url, timeout=30, headers=headers)


@dataclass
class Platform:
    base_url: str
    admin_token: str
    database_url: str

    def admin(self) -> httpx.Client:
        return client(self.base_url, self.admin_token)

    def public(self) -> httpx.Client:
        return client(self.base_url)


@dataclass
class RegisteredLab:
    name: str
    accreditation_id: str
    token: str
    keys: KeyPair
    base_url: str

    def client(self) -> httpx.Client:
        return client(self.base_url, self.token)

    def publish(self, dcc: bytes, *, pdf: bytes | None = None, json: bytes | None = None) -> httpx.Response:
        files = {"dcc": ("dcc.xml", dcc, "application/xml")}
        if pdf is not None:
            files["pdf"] = ("certificate.pdf", pdf, "application/pdf")
        if json is not None:
            files["json"] = ("certificate.json", json, "application/json")
        with self.client() as c:
            return c.post("/api/v1/certificates", files=files)


def make_lab(platform: Platform, name: str, accreditation_id: str, keys: KeyPair) -> RegisteredLab:
    token = register_lab(platform.base_url, platform.admin_token, name, accreditation_id, keys.cert_pem)
    return RegisteredLab(name, accreditation_id, token, keys, platform.base_url)

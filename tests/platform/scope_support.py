"""Helpers of the accreditation tests: DCCs with chosen results, bodies and scopes over HTTP."""
from __future__ import annotations

from dataclasses import dataclass

import httpx

from labauto.platform.server.testing import dcc_with_results as with_results  # noqa: F401 (re-exported)


@dataclass
class Body:
    id: int
    token: str
    base_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, headers={"Authorization": f"Bearer {self.token}"})

    def import_scope(self, lab_id: int, content: str | bytes, name: str = "scope.csv", **form) -> httpx.Response:
        data = content.encode() if isinstance(content, str) else content
        with self.client() as c:
            return c.post(f"/api/v1/labs/{lab_id}/scopes", files={"scope": (name, data, "text/plain")},
                          data={k: str(v) for k, v in form.items()})

    def post(self, path: str, body: dict) -> httpx.Response:
        with self.client() as c:
            return c.post(path, json=body)


def make_body(platform, name: str = "DAkkS", country: str = "DE") -> Body:
    with platform.admin() as c:
        r = c.post("/api/v1/bodies", json={"name": name, "country": country})
        assert r.status_code == 201, r.text
        body_id = r.json()["id"]
        r = c.post(f"/api/v1/bodies/{body_id}/tokens")
        assert r.status_code == 201, r.text
        return Body(body_id, r.json()["token"], platform.base_url)


def lab_id(platform, name: str) -> int:
    with platform.public() as c:
        return next(lab["id"] for lab in c.get("/api/v1/labs").json() if lab["name"] == name)

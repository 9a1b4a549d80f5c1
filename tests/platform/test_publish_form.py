"""The publish route reads its multipart form in one pass (labauto.platform.server.form) instead of
FastAPI's File() parameters: the same files reach admission, and a malformed, ambiguous or
oversized form is refused with a 4xx naming what is wrong, never a 5xx."""
from __future__ import annotations

import httpx
import pytest

from labauto.platform.server.form import MAX_PARTS, FormError, read_files
from labauto.platform.server.runner import ThreadedServer
from labauto.platform.server.settings import PlatformSettings
from labauto.platform.server.testing import register_lab

CT = "multipart/form-data; boundary=XyZ"


def part(name: str, data: bytes, filename: str | None = "f") -> bytes:
    file = f'; filename="{filename}"' if filename is not None else ""
    return (f'--XyZ\r\nContent-Disposition: form-data; name="{name}"{file}\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--XyZ--\r\n"


FIELDS = ("dcc", "pdf", "json")


def test_the_named_files_are_read_byte_for_byte():
    dcc = b"<x>\r\n<!-- --XyZ (not after a CRLF: not a delimiter) -->\r\n</x>\r\n"
    body = form(part("dcc", dcc), part("note", b"ignored"), part("json", b"{}", filename=None))
    assert read_files(body + b"epilogue", CT, FIELDS, 1000) == {"dcc": dcc, "json": b"{}"}
    assert read_files(form(part("dcc", b"")), 'multipart/form-data; boundary="XyZ"', FIELDS, 10) == {"dcc": b""}
    assert read_files(form(), CT, FIELDS, 10) == {}


@pytest.mark.parametrize("body, content_type, status, words", [
    (form(part("dcc", b"<x/>")), "application/xml", 400, "multipart/form-data with a boundary"),
    (form(part("dcc", b"<x/>")), "multipart/form-data", 400, "multipart/form-data with a boundary"),
    (part("dcc", b"<x/>"), CT, 400, "ends before its closing boundary"),                  # truncated
    (b"--XyZ\r\nContent-Disposition: form-data; name=\"dcc\"\r\n\r\n<x/>", CT, 400, "closing boundary"),
    (b"no boundary anywhere", CT, 400, "cannot be read"),
    (b"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--\r\n", CT, 400, "no Content-Disposition"),
    (b'--XyZ\r\nContent-Disposition: attachment; name="dcc"\r\n\r\nx\r\n--XyZ--\r\n', CT, 400, "no form-data name"),
    (b"--XyZ\r\nno colon in this header\r\n\r\nx\r\n--XyZ--\r\n", CT, 400, "cannot be read"),
    (form(part("dcc", b"a"), part("dcc", b"b")), CT, 422, "field 'dcc' twice"),
    (form(part("dcc", b"x" * 11)), CT, 413, "the dcc file exceeds 10 bytes"),
    (form(*[part(f"f{i}", b"") for i in range(MAX_PARTS + 1)]), CT, 400, f"more than {MAX_PARTS} parts"),
])
def test_a_bad_form_is_refused_with_the_reason(body, content_type, status, words):
    with pytest.raises(FormError) as caught:
        read_files(body, content_type, FIELDS, 10)
    assert caught.value.status == status and words in caught.value.detail


@pytest.fixture(scope="module")
def small_platform(tmp_path_factory, dcc_schema_dir, lab_keys):
    settings = PlatformSettings(database_url=f"sqlite:///{tmp_path_factory.mktemp('form') / 'p.sqlite3'}",
                                schema_dir=dcc_schema_dir, admin_token="admin-form", max_upload_bytes=40_000)
    server = ThreadedServer(settings)
    url = server.start()
    token = register_lab(url, "admin-form", "Form Lab", "D-K-FORM", lab_keys.cert_pem)
    yield url, token
    server.stop()


def post(url: str, token: str | None, body: bytes, content_type: str = CT) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{url}/api/v1/certificates", content=body, headers=headers, timeout=30)


def test_the_route_publishes_and_refuses_bad_forms(small_platform, make_dcc, sign, lab_keys):
    url, token = small_platform
    doc = sign(make_dcc("FORM-1"), lab_keys)
    r = post(url, token, form(part("dcc", doc), part("pdf", b"%PDF-1.7\n%%EOF\n")))
    assert r.status_code == 201 and r.json()["certificate_id"] == "FORM-1"
    stored = httpx.get(f"{url}/api/v1/certificates/FORM-1/document", params={"kind": "pdf"})
    assert stored.content == b"%PDF-1.7\n%%EOF\n"
    r = post(url, token, form(part("pdf", b"%PDF-1.7\n")))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "dcc"]
    r = post(url, token, form(part("dcc", doc), part("dcc", doc)))
    assert r.status_code == 422 and "twice" in r.json()["detail"]
    assert post(url, token, part("dcc", doc)).status_code == 400                  # no closing boundary
    assert post(url, token, doc, "application/xml").status_code == 400
    r = post(url, token, form(part("dcc", doc + b" " * 40_000)))
    assert r.status_code == 413 and "the dcc file exceeds 40000 bytes" in r.json()["detail"]
    body = form(part("dcc", sign(make_dcc("FORM-2"), lab_keys)))
    r = httpx.post(f"{url}/api/v1/certificates", content=(body[i:i + 4096] for i in range(0, len(body), 4096)),
                   headers={"Content-Type": CT, "Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 201 and r.json()["certificate_id"] == "FORM-2"      # chunked, no Content-Length
    r = post(url, None, form(part("dcc", doc)))                                    # the token comes first
    assert r.status_code == 401
    r = post(url, "lat_unknown", b"not a form at all", "text/plain")
    assert r.status_code == 401


def test_the_openapi_document_still_describes_the_form(small_platform):
    url, _ = small_platform
    op = httpx.get(f"{url}/openapi.json").json()["paths"]["/api/v1/certificates"]["post"]
    schema = op["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["dcc"] and set(schema["properties"]) == {"dcc", "pdf", "json"}
    assert schema["properties"]["dcc"]["format"] == "binary" and op["security"] == [{"HTTPBearer": []}]


def test_the_declared_route_answers_where_the_fast_path_does_not(tmp_path, dcc_schema_dir, lab_keys,
                                                                 make_dcc, sign):
    """Behind a root_path (``/p/api/v1/certificates``) neither BodyLimit's token check nor
    PublishFastPath sees the route: FastAPI's route answers, looking the token up itself."""
    import asyncio

    from labauto.platform.server.app import create_app

    app = create_app(PlatformSettings(database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}",
                                      schema_dir=dcc_schema_dir, admin_token="admin-root"))
    doc = sign(make_dcc("ROOT-1"), lab_keys)

    async def run() -> list[tuple[int, object]]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, root_path="/p")
            async with httpx.AsyncClient(transport=transport, base_url="http://t/p") as c:
                admin = {"Authorization": "Bearer admin-root"}
                lab = (await c.post("/api/v1/labs", headers=admin, json={
                    "name": "Root Lab", "accreditation_id": "D-K-ROOT",
                    "certificate_pem": lab_keys.cert_pem.decode()})).json()["id"]
                token = (await c.post(f"/api/v1/labs/{lab}/tokens", headers=admin)).json()["token"]
                out = []
                for tok, body in ((token, form(part("dcc", doc))), (token, form(part("dcc", doc))),
                                  ("lat_unknown", form(part("dcc", doc))), (None, form(part("dcc", doc))),
                                  (token, form(part("pdf", b"%PDF-")))):
                    headers = {"Content-Type": CT} | ({"Authorization": f"Bearer {tok}"} if tok else {})
                    r = await c.post("/api/v1/certificates", content=body, headers=headers)
                    out.append((r.status_code, r.json()))
                return out

    (s1, b1), (s2, b2), (s3, b3), (s4, b4), (s5, b5) = asyncio.run(run())
    assert (s1, b1["certificate_id"], b1["created"]) == (201, "ROOT-1", True)
    assert (s2, b2["created"]) == (200, False)                                   # the replay
    assert (s3, b3["detail"]) == (401, "unknown or revoked API token")
    assert s4 == 401 and "token is required" in b4["detail"]
    assert s5 == 422 and b5["detail"][0]["loc"] == ["body", "dcc"]

"""The verify page for an uploaded PDF or DCC, and the publication checks of trusted time, signed
PDFs and revoked signing certificates (bad input is refused with its stage; nothing stored)."""
from __future__ import annotations

import io
import re
import time

import pytest
from platform_support import make_lab

from labauto.certificate import pki
from labauto.certificate.pdf_signing import sign_pdf
from labauto.certificate.tsa import TimeStampingAuthority, issue_tsa_certificate
from labauto.certificate.xades_t import add_signature_timestamp
from labauto.platform.tsa_client import http_send, pyhanko_timestamper, stamp_via


def _pdf(text: str) -> bytes:
    from reportlab.pdfgen import canvas
    out = io.BytesIO()
    c = canvas.Canvas(out, invariant=1)
    c.drawString(100, 700, text)
    c.showPage()
    c.save()
    return out.getvalue()


def _flip(data: bytes, marker: bytes) -> bytes:
    i = data.index(marker) + 2
    return data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1:]


def _upload(platform, name: str, data: bytes) -> tuple[int, str]:
    with platform.public() as c:
        r = c.post("/verify", files={"file": (name, data, "application/octet-stream")})
    return r.status_code, r.text


def _label(page: str) -> str:
    return re.search(r'<p class="status"[^>]*>([^<]+)</p>', page).group(1)


@pytest.fixture()
def issued(platform, lab, make_dcc, sign, platform_ca):
    """A DCC time-stamped by the platform's TSA and its PDF signed by the same lab key (B-T)."""
    send = http_send(f"{platform.base_url}/api/v1/tsa", lab.token)
    dcc = add_signature_timestamp(sign(make_dcc("UP-1"), lab.keys), stamp_via(send))
    pdf = sign_pdf(_pdf("UP-1"), lab.keys.key_pem, lab.keys.cert_pem, chain_pems=[platform_ca.cert_pem],
                   timestamper=pyhanko_timestamper(send))
    return dcc, pdf


def test_the_published_pdf_and_dcc_verify_as_published_and_valid(platform, lab, issued):
    dcc, pdf = issued
    assert lab.publish(dcc, pdf=pdf).status_code == 201
    with platform.public() as c:
        form = c.get("/verify")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    for name, data in (("certificate.pdf", pdf), ("certificate.xml", dcc)):
        code, page = _upload(platform, name, data)
        assert code == 200 and _label(page) == "PUBLISHED AND VALID", page
        assert "UP-1" in page and "time-stamped" in page and "registered to Lab A" in page


def test_a_pdf_changed_after_signing_is_flagged(platform, lab, issued):
    dcc, pdf = issued
    lab.publish(dcc, pdf=pdf)
    code, page = _upload(platform, "certificate.pdf", _flip(pdf, b"/Producer"))
    assert code == 200 and _label(page) == "SIGNATURE BROKEN"
    assert "changed after it was signed" in page
    code, page = _upload(platform, "certificate.pdf", pdf + b"\n% appended after signing\n")
    assert _label(page) == "SIGNATURE BROKEN" and "appended" in page


def test_an_unpublished_or_revoked_document_is_not_valid(platform, lab, issued):
    dcc, pdf = issued
    assert _label(_upload(platform, "c.pdf", pdf)[1]) == "NOT PUBLISHED HERE"
    lab.publish(dcc, pdf=pdf)
    with lab.client() as c:
        assert c.post("/api/v1/certificates/UP-1/revoke", json={"reason": "wrong item"}).status_code == 200
    code, page = _upload(platform, "c.xml", dcc)
    assert _label(page) == "REVOKED" and "wrong item" in page


def test_anything_else_is_neither_pdf_nor_dcc(platform):
    code, page = _upload(platform, "notes.txt", b"hello")
    assert code == 200 and _label(page) == "NOT A PDF OR DCC"


def test_publishing_refuses_a_pdf_changed_after_signing(platform, lab, issued):
    dcc, pdf = issued
    r = lab.publish(dcc, pdf=_flip(pdf, b"/Producer"))
    assert r.status_code == 422 and r.json()["stage"] == "pdf", r.text
    assert "changed after it was signed" in r.json()["detail"]
    with platform.public() as c:
        assert c.get("/api/v1/certificates/UP-1").status_code == 404          # nothing stored


def test_publishing_refuses_a_token_from_an_unknown_tsa(platform, lab, make_dcc, sign):
    rogue_ca = pki.CertificateAuthority.create("rogue CA")
    pair = issue_tsa_certificate(rogue_ca, "rogue TSA")
    rogue = TimeStampingAuthority(pair.key_pem, pair.cert_pem, [rogue_ca.cert_pem])
    dcc = add_signature_timestamp(sign(make_dcc("UP-2"), lab.keys),
                                  stamp_via(lambda req: rogue.respond(req).response_der))
    r = lab.publish(dcc)
    assert r.status_code == 422 and r.json()["stage"] == "time", r.text
    assert "rogue TSA" in r.json()["detail"]
    with platform.public() as c:
        assert c.get("/api/v1/certificates/UP-2").status_code == 404
    code, page = _upload(platform, "c.xml", dcc)
    assert _label(page) == "TIME-STAMP NOT TRUSTED"


def test_a_revoked_signer_is_refused_unless_time_stamped_before(platform, platform_ca, make_dcc, sign):
    keys = platform_ca.issue("Lab D signing", organization="Lab D")
    lab_d = make_lab(platform, "Lab D", "D-K-44444-01-00", keys)
    send = http_send(f"{platform.base_url}/api/v1/tsa", lab_d.token)
    before = add_signature_timestamp(sign(make_dcc("UP-3"), keys), stamp_via(send))   # stamped now
    unstamped = sign(make_dcc("UP-4"), keys)
    time.sleep(1.1)          # tokens are dated to the second: revoke in a later second
    fp = pki.fingerprint_sha256(keys.cert_pem)
    with platform.admin() as admin:
        lab_id = next(x["id"] for x in admin.get("/api/v1/labs").json() if x["name"] == "Lab D")
        assert admin.post(f"/api/v1/labs/{lab_id}/certificates/{fp}/revoke",
                          json={"reason": "cessation_of_operation"}).status_code == 200
    r = lab_d.publish(unstamped)
    assert r.status_code == 422 and r.json()["stage"] == "revocation", r.text
    assert "no time-stamp" in r.json()["detail"]
    assert _label(_upload(platform, "c.xml", unstamped)[1]) == "SIGNER REVOKED"
    # time-stamped before the revocation: still publishable and valid
    assert lab_d.publish(before).status_code == 201
    code, page = _upload(platform, "c.xml", before)
    assert _label(page) == "PUBLISHED AND VALID" and "after the time-stamped signing time" in page
    stamped_after = add_signature_timestamp(sign(make_dcc("UP-5"), keys), stamp_via(send))
    r = lab_d.publish(stamped_after)
    assert r.status_code == 422 and r.json()["stage"] == "revocation" and "not earlier" in r.json()["detail"]

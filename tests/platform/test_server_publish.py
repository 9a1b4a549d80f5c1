"""Publishing over real HTTP (SQLite and PostgreSQL): admission stages, idempotency,
amendments, authentication, and the PTB example documents."""
from __future__ import annotations

from pathlib import Path

import httpx
from platform_support import make_lab, sha256

from labauto.certificate.pki import self_signed


def test_health_and_openapi(platform):
    with platform.public() as c:
        assert c.get("/api/v1/health").json() == {"status": "ok"}
        spec = c.get("/openapi.json").json()
    for path in ("/api/v1/certificates", "/api/v1/certificates/{certificate_id}", "/api/v1/verify",
                 "/api/v1/certificates/{certificate_id}/chain", "/verify/{certificate_id}"):
        assert path in spec["paths"], path


def test_publish_is_idempotent_by_content(platform, lab, make_dcc, sign):
    doc = sign(make_dcc("CAL-1", serial="MY-123"), lab.keys)
    r = lab.publish(doc, pdf=b"%PDF-1.7 test", json=b'{"certificate_id": "CAL-1"}')
    assert r.status_code == 201, r.text
    assert r.json() == {"certificate_id": "CAL-1", "sha256": sha256(doc), "status": "valid",
                        "created": True, "version": 1, "superseded": None}
    again = lab.publish(doc)
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["sha256"] == sha256(doc)
    with platform.public() as c:
        rec = c.get("/api/v1/certificates/CAL-1").json()
        assert c.get("/api/v1/certificates/CAL-1/document").content == doc
        assert c.get("/api/v1/certificates/CAL-1/document", params={"kind": "pdf"}).content == b"%PDF-1.7 test"
    assert (rec["status"], rec["lab"], rec["accreditation_id"], rec["version"]) == \
        ("valid", "Lab A", "D-K-12345-01-00", 1)
    assert rec["item"]["serial"] == "MY-123" and rec["item"]["manufacturer"] == "Keysight"
    assert rec["has_pdf"] and rec["has_json"]
    with platform.admin() as c:
        events = c.get("/api/v1/audit", params={"certificate_id": "CAL-1"}).json()
    assert [e["action"] for e in events] == ["certificate.publish"]      # the replay changed nothing


def test_different_document_under_existing_id_is_refused(platform, lab, make_dcc, sign):
    first = sign(make_dcc("CAL-2"), lab.keys)
    assert lab.publish(first).status_code == 201
    r = lab.publish(sign(make_dcc("CAL-2", serial="OTHER"), lab.keys))
    assert r.status_code == 409
    assert "already stored with a different document" in r.json()["detail"]
    assert "reportAmendedSubstituted" in r.json()["detail"]
    with platform.public() as c:
        assert c.get("/api/v1/certificates/CAL-2").json()["sha256"] == sha256(first)


def test_amendment_under_the_same_id_supersedes_the_old_version(platform, lab, make_dcc, sign):
    v1 = sign(make_dcc("CAL-3", serial="S1"), lab.keys)
    v2 = sign(make_dcc("CAL-3", serial="S1-corrected", amends="CAL-3"), lab.keys)
    assert lab.publish(v1).status_code == 201
    r = lab.publish(v2)
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["status"]) == (2, "valid")
    with platform.public() as c:
        cur = c.get("/api/v1/certificates/CAL-3").json()
        old = c.get("/api/v1/verify", params={"sha256": sha256(v1)}).json()
    assert (cur["sha256"], cur["status"], cur["item"]["serial"]) == (sha256(v2), "valid", "S1-corrected")
    assert cur["amends"] == {"certificate_id": "CAL-3", "type_of_change": "amended"}
    assert (old["status"], old["superseded_by"], old["superseded_by_sha256"]) == \
        ("superseded", "CAL-3", sha256(v2))
    assert lab.publish(v1).json() == {**lab.publish(v1).json(), "created": False, "status": "superseded"}


def test_substitution_under_a_new_id_supersedes_the_old_certificate(platform, lab, make_dcc, sign):
    assert lab.publish(sign(make_dcc("CAL-4"), lab.keys)).status_code == 201
    new = sign(make_dcc("CAL-4-R1", amends="CAL-4", type_of_change="substituted"), lab.keys)
    r = lab.publish(new)
    assert r.status_code == 201 and r.json()["superseded"] == "CAL-4"
    with platform.public() as c:
        old = c.get("/api/v1/certificates/CAL-4").json()
        cur = c.get("/api/v1/certificates/CAL-4-R1").json()
    assert (old["status"], old["superseded_by"]) == ("superseded", "CAL-4-R1")
    assert (cur["status"], cur["supersedes"]) == ("valid", "CAL-4")


def test_a_lab_cannot_amend_another_labs_certificate(platform, lab, other_lab_keys, make_dcc, sign):
    lab_b = make_lab(platform, "Lab B", "D-K-99999-01-00", other_lab_keys)
    assert lab.publish(sign(make_dcc("CAL-5"), lab.keys)).status_code == 201
    r = lab_b.publish(sign(make_dcc("CAL-5", amends="CAL-5"), other_lab_keys))
    assert r.status_code == 403 and "issued by another lab" in r.json()["detail"]
    r = lab_b.publish(sign(make_dcc("CAL-5-B", amends="CAL-5"), other_lab_keys))
    assert r.status_code == 403 and "cannot amend or substitute it" in r.json()["detail"]


def test_tokens_are_required_and_checked(platform, lab, make_dcc, sign):
    doc = sign(make_dcc("CAL-6"), lab.keys)
    files = {"dcc": ("d.xml", doc, "application/xml")}
    for headers in ({}, {"Authorization": "Bearer lat_not-a-token"},
                    {"Authorization": f"Bearer {platform.admin_token}"}):
        r = httpx.post(f"{platform.base_url}/api/v1/certificates", files=files, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
    r = httpx.post(f"{platform.base_url}/api/v1/labs", json={"name": "X", "accreditation_id": "Y",
                   "certificate_pem": lab.keys.cert_pem.decode()}, headers={"Authorization": f"Bearer {lab.token}"})
    assert r.status_code == 401          # a lab token is not the admin token


def test_signer_must_be_the_publishing_lab(platform, lab, other_lab_keys, make_dcc, sign):
    make_lab(platform, "Lab B", "D-K-99999-01-00", other_lab_keys)
    r = lab.publish(sign(make_dcc("CAL-7"), other_lab_keys))
    assert r.status_code == 422 and r.json()["stage"] == "signer"
    assert "registered to lab 'Lab B'" in r.json()["detail"]
    r = lab.publish(sign(make_dcc("CAL-8"), self_signed("Mallory")))
    assert r.status_code == 422 and r.json()["stage"] == "signer"
    assert "CN=Mallory" in r.json()["detail"] and "not registered on the platform" in r.json()["detail"]
    with platform.public() as c:
        assert c.get("/api/v1/certificates/CAL-7").status_code == 404


def test_key_rollover(platform, lab, platform_ca, make_dcc, sign):
    new_keys = platform_ca.issue("Lab A signing 2027")
    assert lab.publish(sign(make_dcc("CAL-9"), new_keys)).json()["stage"] == "signer"
    with platform.admin() as c:
        lab_id = c.get("/api/v1/labs").json()[0]["id"]
        r = c.post(f"/api/v1/labs/{lab_id}/certificates", json={"certificate_pem": new_keys.cert_pem.decode()})
    assert r.status_code == 201 and len(r.json()["certificates"]) == 2
    assert lab.publish(sign(make_dcc("CAL-9"), new_keys)).status_code == 201


def test_tampered_and_unsigned_documents(platform, lab, make_dcc, sign):
    doc = sign(make_dcc("CAL-10"), lab.keys)
    r = lab.publish(doc.replace(b"Keysight", b"Keysigh7", 1))
    assert r.status_code == 422 and r.json()["stage"] == "signature"
    assert "Digest mismatch" in r.json()["detail"]
    r = lab.publish(make_dcc("CAL-10"))
    assert (r.status_code, r.json()["stage"]) == (422, "signature")
    assert "not signed" in r.json()["detail"]


def test_hostile_xml_is_refused_at_the_well_formed_stage(platform, lab):
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc" schemaVersion="3.3.0">'
           b'&x;</dcc:digitalCalibrationCertificate>')
    r = lab.publish(xxe)
    assert (r.status_code, r.json()["stage"]) == (422, "well-formed")
    assert "DOCTYPE" in r.json()["detail"] and "root:" not in r.text
    r = lab.publish(b"<dcc:x xmlns:dcc='https://ptb.de/dcc'/>")
    assert (r.status_code, r.json()["stage"]) == (422, "schema")


def test_attachments_must_be_what_they_claim(platform, lab, make_dcc, sign):
    r = lab.publish(sign(make_dcc("CAL-11"), lab.keys), pdf=b"not a pdf")
    assert (r.status_code, r.json()["stage"]) == (422, "attachment")
    r = lab.publish(sign(make_dcc("CAL-11"), lab.keys), json=b"{nope")
    assert (r.status_code, r.json()["stage"]) == (422, "attachment")


def test_unsupported_schema_version(platform, lab, make_dcc, sign):
    doc = make_dcc("CAL-12").replace(b'schemaVersion="3.3.0"', b'schemaVersion="2.4.0"')
    r = lab.publish(sign(doc, lab.keys))
    assert (r.status_code, r.json()["stage"]) == (422, "schema")
    assert "3.1.0 to 3.3.0" in r.json()["detail"]


PTB_REJECTED = [
    ("valid.xml", "signature", "not signed"),               # schema-valid, but the platform needs a signature
    ("invalid_schema.xml", "schema", "uniqueIdentifier"),
    ("invalid_syntax.xml", "well-formed", "not well-formed XML"),
    ("invalid_schematron.xml", "schematron", "'en' is not declared in dcc:usedLangCodeISO639_1"),
]


def test_ptb_invalid_examples_are_rejected_at_their_stage(platform, lab, dcc_dir: Path):
    """Each invalid_* example (and the unsigned valid.xml) fails at its own stage with its own
    message; valid_signature.xml, signed by PTB's test certificate, is refused from Lab A."""
    for name, stage, message in PTB_REJECTED:
        r = lab.publish((dcc_dir / "examples" / name).read_bytes())
        assert (r.status_code, r.json()["stage"]) == (422, stage), name
        assert message in r.json()["detail"], (name, r.json()["detail"])
    r = lab.publish((dcc_dir / "examples" / "valid_signature.xml").read_bytes())
    assert (r.status_code, r.json()["stage"]) == (422, "signer")
    assert "CN=cert" in r.json()["detail"] and "not registered on the platform" in r.json()["detail"]


def test_ptb_valid_example_signed_by_the_lab_is_accepted(platform, lab, dcc_dir: Path, sign):
    doc = sign((dcc_dir / "examples" / "valid.xml").read_bytes(), lab.keys)
    r = lab.publish(doc)
    assert r.status_code == 201, r.text
    assert (r.json()["certificate_id"], r.json()["sha256"]) == ("1234", sha256(doc))


def test_ptb_signed_examples_with_ptbs_certificate_registered(platform, dcc_dir: Path):
    """With PTB's test certificate (the one valid_signature.xml embeds) registered as a lab,
    valid_signature.xml is accepted as it is and invalid_signature.xml is refused.  PTB's
    certificate is valid 2026-01-06 to 2027-01-06; after that the platform refuses both the
    registration and the plain-XMLDSig signature (no signing time: checked at the present)."""
    import datetime as dt

    from cryptography.hazmat.primitives.serialization import Encoding
    from lxml import etree

    from labauto.certificate.signing import embedded_certificate

    valid = (dcc_dir / "examples" / "valid_signature.xml").read_bytes()
    invalid = (dcc_dir / "examples" / "invalid_signature.xml").read_bytes()
    cert = embedded_certificate(etree.fromstring(valid))
    pem = cert.public_bytes(Encoding.PEM).decode()
    with platform.admin() as c:
        reg = c.post("/api/v1/labs", json={"name": "PTB example", "accreditation_id": "PTB-1.24",
                                           "certificate_pem": pem})
    if cert.not_valid_before_utc <= dt.datetime.now(dt.timezone.utc) <= cert.not_valid_after_utc:
        assert reg.status_code == 201, reg.text
        with platform.admin() as c:
            token = c.post(f"/api/v1/labs/{reg.json()['id']}/tokens").json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.post(f"{platform.base_url}/api/v1/certificates", headers=auth,
                       files={"dcc": ("valid_signature.xml", valid, "application/xml")})
        assert r.status_code == 201, r.text
        with platform.public() as c:
            rec = c.get("/api/v1/certificates/1234").json()
        assert (rec["sha256"], rec["lab"], rec["status"]) == (sha256(valid), "PTB example", "valid")
        assert "CN=cert" in rec["signer"]["subject"] and rec["signer"]["signing_time"] is None
        r = httpx.post(f"{platform.base_url}/api/v1/certificates", headers=auth,
                       files={"dcc": ("invalid_signature.xml", invalid, "application/xml")})
        assert (r.status_code, r.json()["stage"]) == (422, "signature")
        assert "Digest mismatch" in r.json()["detail"]
    else:
        # an expired certificate may be registered (it verifies what it signed in its time), but
        # this example carries no signing time, so it is checked now and refused at publishing
        assert reg.status_code == 201, reg.text
        with platform.admin() as c:
            token = c.post(f"/api/v1/labs/{reg.json()['id']}/tokens").json()["token"]
        r = httpx.post(f"{platform.base_url}/api/v1/certificates", headers={"Authorization": f"Bearer {token}"},
                       files={"dcc": ("valid_signature.xml", valid, "application/xml")})
        assert (r.status_code, r.json()["stage"]) == (422, "signature")
        assert "is valid from 2026-01-06 to 2027-01-06" in r.text


def _with_issue_date(xml: bytes, version: str) -> bytes:
    from lxml import etree
    root = etree.fromstring(xml)
    root.set("schemaVersion", version)
    loc = root.find("{https://ptb.de/dcc}administrativeData/{https://ptb.de/dcc}coreData/"
                    "{https://ptb.de/dcc}performanceLocation")
    el = etree.Element("{https://ptb.de/dcc}issueDate")
    el.text = "2026-01-20"
    loc.addnext(el)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_each_document_is_validated_against_its_own_schema_version(platform, lab, make_dcc, sign):
    """dcc:issueDate exists from DCC 3.2.0 on: the same document is valid as 3.3.0 and not as 3.1.0."""
    r = lab.publish(sign(_with_issue_date(make_dcc("SV-1"), "3.1.0"), lab.keys))
    assert (r.status_code, r.json()["stage"]) == (422, "schema")
    assert "not valid against the DCC 3.1.0 schema" in r.json()["detail"] and "issueDate" in r.json()["detail"]
    assert lab.publish(sign(_with_issue_date(make_dcc("SV-1"), "3.3.0"), lab.keys)).status_code == 201
    old = make_dcc("SV-2").replace(b'schemaVersion="3.3.0"', b'schemaVersion="3.1.0"')
    assert lab.publish(sign(old, lab.keys)).status_code == 201
    with platform.public() as c:
        assert c.get("/api/v1/certificates/SV-1").json()["dates"]["issue"] == "2026-01-20"
        assert c.get("/api/v1/certificates/SV-2").json()["schema_version"] == "3.1.0"


def test_a_substitution_arriving_first_supersedes_the_original_on_arrival(platform, lab, make_dcc, sign):
    """Outboxes deliver in any order: the substitute CAL-20-R may reach the platform before CAL-20."""
    r = lab.publish(sign(make_dcc("CAL-20-R", amends="CAL-20", type_of_change="substituted"), lab.keys))
    assert (r.status_code, r.json()["superseded"], r.json()["status"]) == (201, None, "valid")
    r = lab.publish(sign(make_dcc("CAL-20"), lab.keys))
    assert (r.status_code, r.json()["status"]) == (201, "superseded")
    with platform.public() as c:
        old = c.get("/api/v1/certificates/CAL-20").json()
        new = c.get("/api/v1/certificates/CAL-20-R").json()
    assert (old["status"], old["superseded_by"]) == ("superseded", "CAL-20-R")
    assert (new["status"], new["supersedes"]) == ("valid", "CAL-20")

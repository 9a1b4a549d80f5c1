"""Verification of any DCC, stage by stage: ``labauto dcc verify`` and ``POST /api/v1/verify``
(the same :class:`~labauto.platform.server.verification.Verifier`); nothing is stored."""
from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from chain_support import UTC, build_chain
from platform_support import sha256
from typer.testing import CliRunner

from labauto.certificate.signing import sign_dcc
from labauto.certificate.verify_cli import app as dcc_app
from labauto.platform.server.dcc import SchemaRegistry
from labauto.platform.server.verification import Verifier, Stage

runner = CliRunner()


@pytest.fixture(scope="module")
def chain():
    return build_chain("Lab V")


@pytest.fixture(scope="module")
def verifier(dcc_schema_dir, chain):
    return Verifier(SchemaRegistry(dcc_schema_dir, any_version=True), [chain.root])


def statuses(report) -> dict[str, str]:
    return {s.name: s.status for s in report.stages}


def signed_by(chain, xml: bytes, **kw) -> bytes:
    return sign_dcc(xml, chain.signer_key_pem, chain.signer_pem, **kw)


def test_a_dcc_signed_through_an_intermediate_verifies(verifier, chain, make_dcc):
    doc = signed_by(chain, make_dcc("V-1"))
    # the signer's certificate alone: the intermediate is missing
    report = verifier.verify(doc)
    assert statuses(report)["chain"] == "fail" and not report.valid
    assert "no valid chain from O=Test PKI,CN=Lab V signing" in report.stage("chain").detail
    report = verifier.verify(doc, intermediates=[chain.intermediate])
    assert statuses(report) == {"well-formed": "pass", "schema": "pass", "rules": "warn", "signature": "pass",
                                "signer": "pass", "time": "pass", "chain": "pass", "revocation": "skip",
                                "platform": "skip"}
    assert report.valid and report.certificate_id == "V-1" and report.sha256 == sha256(doc)
    assert report.stage("chain").data["chain"] == ["O=Test PKI,CN=Lab V signing", "O=Test PKI,CN=Lab V issuing CA",
                                                   "O=Test PKI,CN=Lab V root CA"]
    assert report.stage("signer").data["subject"] == "O=Test PKI,CN=Lab V signing"
    assert report.stage("time").data["source"] == "xades:SigningTime"


def test_an_expired_signer_is_not_valid_on_its_own_claimed_signing_time(verifier, make_dcc):
    """The chain is judged at the signing time, but an expired key can claim any signing time:
    without a time-stamp (test_verify_trust_stages) the time stage fails.  It passed before."""
    old = build_chain("Old", signer_start=dt.datetime(2020, 1, 1, tzinfo=UTC), signer_days=30)
    anchors = [old.root]
    in_time = signed_by(old, make_dcc("V-2"), signing_time=dt.datetime(2020, 1, 15, tzinfo=UTC))
    report = verifier.verify(in_time, anchors=anchors, intermediates=[old.intermediate])
    assert (statuses(report)["signature"], statuses(report)["time"]) == ("pass", "fail"), report.json()
    assert not report.valid
    assert ("the signing certificate O=Test PKI,CN=Old signing expired on 2020-01-31 00:00 UTC and its "
            "signing time 2020-01-15 00:00 UTC is the signer's own claim (xades:SigningTime)"
            in report.stage("time").detail)
    assert report.stage("chain").data["at"] == "2020-01-15T00:00:00+00:00"
    late = signed_by(old, make_dcc("V-3"), signing_time=dt.datetime(2020, 3, 1, tzinfo=UTC))
    report = verifier.verify(late, anchors=anchors, intermediates=[old.intermediate])
    assert (statuses(report)["signature"], statuses(report)["chain"]) == ("pass", "fail")
    assert "not valid at validation time" in report.stage("chain").detail and not report.valid


def test_a_chain_that_does_not_reach_a_trust_anchor(verifier, make_dcc):
    stranger = build_chain("Stranger")
    report = verifier.verify(signed_by(stranger, make_dcc("V-4")), intermediates=[stranger.intermediate])
    assert statuses(report)["chain"] == "fail" and statuses(report)["revocation"] == "skip"
    assert "to a trust anchor (O=Test PKI,CN=Lab V root CA)" in report.stage("chain").detail


def test_ptb_examples_per_stage(verifier, dcc_dir):
    ex = dcc_dir / "examples"
    expect = {  # the stages the examples' names speak of
        "valid.xml": {"schema": "pass", "rules": "warn", "signature": "fail"},     # unsigned
        "valid_signature.xml": {"schema": "pass", "rules": "warn", "signature": "pass"},
        "invalid_signature.xml": {"schema": "pass", "rules": "warn", "signature": "fail"},
        "invalid_schema.xml": {"schema": "fail", "rules": "skip"},
        "invalid_schematron.xml": {"schema": "pass", "rules": "fail"},
        "invalid_syntax.xml": {"well-formed": "fail", "schema": "skip"},
    }
    for name, stages in expect.items():
        report = verifier.verify((ex / name).read_bytes())
        assert {k: statuses(report)[k] for k in stages} == stages, name
        assert not report.valid            # none is signed by a signer chaining to our anchor
    report = verifier.verify((ex / "valid_signature.xml").read_bytes())
    assert statuses(report)["chain"] == "fail"      # PTB's CA is not our trust anchor
    assert "CN=cert,OU=1.24,O=PTB" in report.stage("signer").detail


def test_rules_follow_the_declared_version(verifier, make_dcc, chain):
    """A 3.2.0 document: its XSD only, and the report says there are no rules for it."""
    doc = make_dcc("V-5").replace(b'schemaVersion="3.3.0"', b'schemaVersion="3.2.0"')
    report = verifier.verify(signed_by(chain, doc), intermediates=[chain.intermediate])
    assert statuses(report)["schema"] == "pass" and statuses(report)["rules"] == "pass", report.json()
    assert report.stage("rules").detail == "no Schematron rules published for this version (3.2.0): XSD only"
    assert report.valid


def test_the_time_and_revocation_stages_are_plug_ins(dcc_schema_dir, chain, make_dcc):
    """A time check sets the moment the chain is judged at; a revocation check says revoked."""
    moment = dt.datetime.now(UTC) + dt.timedelta(days=400)         # after the signer expired

    def token_time(ev) -> Stage:
        ev.validation_time = dt.datetime.now(UTC) - dt.timedelta(minutes=1)
        return Stage("time", "pass", "from a test time-stamp")

    def revoked(ev) -> Stage:
        return Stage("revocation", "fail", f"{ev.chain[0].subject.rfc4514_string()} is revoked")

    schemas = SchemaRegistry(dcc_schema_dir, any_version=True)
    doc = signed_by(chain, make_dcc("V-6"))
    report = Verifier(schemas, [chain.root], time_check=token_time, revocation_check=revoked).verify(
        doc, intermediates=[chain.intermediate])
    assert statuses(report)["time"] == "pass" and statuses(report)["chain"] == "pass"
    assert report.stage("revocation").detail == "O=Test PKI,CN=Lab V signing is revoked" and not report.valid

    def late(ev) -> Stage:
        ev.validation_time = moment
        return Stage("time", "pass", "late")
    report = Verifier(schemas, [chain.root], time_check=late).verify(doc, intermediates=[chain.intermediate])
    assert statuses(report)["time"] == "fail" and "lies in the future" in report.stage("time").detail


def test_cli_human_and_json(tmp_path, chain, make_dcc, dcc_schema_dir):
    doc = tmp_path / "dcc.xml"
    doc.write_bytes(signed_by(chain, make_dcc("V-7")))
    (tmp_path / "root.pem").write_bytes(chain.root_pem)
    (tmp_path / "sub.pem").write_bytes(chain.intermediate_pem)
    base = ["verify", str(doc), "--schema-dir", str(dcc_schema_dir)]
    r = runner.invoke(dcc_app, base + ["--trust-anchor", str(tmp_path / "root.pem"),
                                       "--intermediate", str(tmp_path / "sub.pem")])
    assert r.exit_code == 0, r.output
    assert "VALID" in r.output and "NOT VALID" not in r.output and "Lab V root CA" in r.output
    r = runner.invoke(dcc_app, base + ["--trust-anchor", str(tmp_path / "root.pem"), "--json"])
    assert r.exit_code == 1
    body = json.loads(r.stdout)
    assert body["valid"] is False and body["certificate_id"] == "V-7"
    assert [s["stage"] for s in body["stages"]] == ["well-formed", "schema", "rules", "signature", "signer",
                                                    "time", "chain", "revocation", "platform"]
    r = runner.invoke(dcc_app, base + ["--trust-anchor", str(tmp_path / "missing.pem")])
    assert r.exit_code == 2 and "missing.pem" in r.output and "Traceback" not in r.output
    r = runner.invoke(dcc_app, ["verify", str(tmp_path / "nope.xml"), "--schema-dir", str(dcc_schema_dir)])
    assert r.exit_code == 2 and "no such file" in " ".join(r.output.split())


def test_api_verify_reports_and_stores_nothing(tmp_path, dcc_schema_dir, make_dcc):
    from labauto.platform.server.testing import running_server
    from platform_support import client, make_lab
    from labauto.platform.server.settings import PlatformSettings  # noqa: F401

    chain = build_chain("Lab P")
    db = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    with running_server(db, dcc_schema_dir, admin_token="adm", trusted_ca_pem=chain.root_pem) as url:
        with client(url, "adm") as c:
            bundle = (chain.signer_pem + chain.intermediate_pem).decode()
            lab = c.post("/api/v1/labs", json={"name": "Lab P", "accreditation_id": "P-1",
                                               "certificate_pem": bundle}).json()
            token = c.post(f"/api/v1/labs/{lab['id']}/tokens").json()["token"]
        held = signed_by(chain, make_dcc("P-1"))
        with client(url, token) as c:
            assert c.post("/api/v1/certificates", files={"dcc": ("d.xml", held)}).status_code == 201
        # KeyInfo carries the signer only: the platform's anchors, intermediates from the request
        other = signed_by(chain, make_dcc("P-2"))
        with client(url) as c:
            r = c.post("/api/v1/verify", files={"dcc": ("d.xml", other)})
            assert r.status_code == 200
            body = r.json()
            st = {s["stage"]: s for s in body["stages"]}
            assert st["chain"]["status"] == "fail"           # the intermediate is not in the DCC
            anchors = chain.root_pem
            r = c.post("/api/v1/verify", files={"dcc": ("d.xml", held),
                                                "trust_anchor": ("a.pem", chain.intermediate_pem)})
            st = {s["stage"]: s for s in r.json()["stages"]}
            assert st["chain"]["status"] == "pass", st["chain"]
            assert st["platform"]["status"] == "pass" and st["platform"]["certificate_id"] == "P-1"
            assert r.json()["valid"] is True
            assert st["signature"]["status"] == "pass" and anchors
            r = c.post("/api/v1/verify", files={"dcc": ("d.xml", other),
                                                "trust_anchor": ("a.pem", chain.intermediate_pem)})
            st = {s["stage"]: s for s in r.json()["stages"]}
            assert (st["platform"]["status"], st["platform"]["held"]) == ("warn", False)
            bad = c.post("/api/v1/verify", files={"dcc": ("d.xml", b"<oops")}).json()
            assert bad["valid"] is False and bad["stages"][0]["status"] == "fail"
            r = c.post("/api/v1/verify", files={"dcc": ("d.xml", held), "trust_anchor": ("a.pem", b"junk")})
            assert r.status_code == 400 and "trust_anchor" in r.json()["detail"]
            # nothing was stored
            assert c.get("/api/v1/certificates/P-2").status_code == 404
            assert c.get("/api/v1/certificates").json()["total"] == 1
        make_lab  # (imported for the fixtures' helpers)


def test_api_verify_is_rate_limited(tmp_path, dcc_schema_dir, make_dcc):
    from labauto.platform.server.runner import ThreadedServer
    from labauto.platform.server.settings import PlatformSettings

    server = ThreadedServer(PlatformSettings(database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}",
                                             schema_dir=dcc_schema_dir, verify_rate_per_minute=6))
    url = server.start()
    try:
        codes = [httpx.post(f"{url}/api/v1/verify", files={"dcc": ("d.xml", b"<x/>")}).status_code
                 for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[-1] == 429
        r = httpx.post(f"{url}/api/v1/verify", files={"dcc": ("d.xml", b"<x/>")})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    finally:
        server.stop()

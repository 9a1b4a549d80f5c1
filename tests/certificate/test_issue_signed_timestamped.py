"""Issuing signs and time-stamps: the DCC carries a XAdES-T time-stamp from the platform's TSA,
the PDF a PAdES signature by the lab key that a changed byte breaks; an unreachable TSA issues
without token and says so."""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from labauto.certificate import pki
from labauto.certificate.pdf_signing import verify_pdf
from labauto.certificate.signing import verify_dcc
from labauto.certificate.xades_t import check_signature_timestamp
from labauto.issuing import issue_certificate
from labauto.lab import load_lab
from labauto.platform.server.testing import free_port, register_lab, running_server
from labauto.signing_identity import demo_identity


@pytest.fixture()
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LABAUTO_HOME", str(home))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(home / "outbox.sqlite3"))
    for var in ("LABAUTO_PLATFORM_URL", "LABAUTO_PLATFORM_TOKEN", "LABAUTO_SIGNING_KEY",
                "LABAUTO_SIGNING_CERT", "LABAUTO_TSA_URL", "LABAUTO_TSA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="module")
def platform_ca() -> pki.CertificateAuthority:
    return pki.CertificateAuthority.create("labauto test platform CA")


def test_issued_dcc_and_pdf_are_signed_and_time_stamped(lab_home, tmp_path, cal_result, dcc_schema_dir,
                                                        platform_ca, monkeypatch):
    lab = load_lab()
    identity = demo_identity(lab)
    admin = secrets.token_urlsafe(16)
    with running_server(f"sqlite:///{tmp_path / 'p.sqlite3'}", dcc_schema_dir, admin_token=admin,
                        ca=platform_ca) as url:
        token = register_lab(url, admin, "Lab A", "D-K-1", identity.cert_pem)
        monkeypatch.setenv("LABAUTO_TSA_URL", f"{url}/api/v1/tsa")
        monkeypatch.setenv("LABAUTO_TSA_TOKEN", token)
        issued = issue_certificate(cal_result, tmp_path / "certs", lab=lab)
    assert issued.timestamp == f"time-stamped by {url}/api/v1/tsa"
    dcc = issued.files["xml"].read_bytes()
    stamp = check_signature_timestamp(dcc, [platform_ca.cert_pem])
    assert stamp.ok, stamp.reason
    assert verify_dcc(dcc).signer_fingerprint_sha256 == pki.fingerprint_sha256(identity.cert_pem)

    pdf = issued.files["pdf"].read_bytes()
    anchors = [identity.ca_cert_pem, platform_ca.cert_pem]   # the lab's CA and the TSA's CA
    verdict = verify_pdf(pdf, anchors)
    assert verdict.ok, verdict.reason
    assert verdict.timestamped and verdict.signing_time is not None
    assert abs((verdict.signing_time - stamp.time).total_seconds()) < 60
    assert verdict.signer == pki.subject_text(identity.cert_pem)
    # one changed byte inside the signed range breaks it
    i = pdf.index(b"/Producer")
    changed = pdf[:i + 2] + bytes([pdf[i + 2] ^ 0x20]) + pdf[i + 3:]
    broken = verify_pdf(changed, anchors)
    assert not broken.ok and "changed after it was signed" in broken.reason
    # and a lab outside the trusted CA is not trusted
    assert "does not chain" in verify_pdf(pdf, [platform_ca.cert_pem]).reason


def test_an_unreachable_tsa_issues_without_token_and_says_so(lab_home, tmp_path, cal_result, monkeypatch):
    monkeypatch.setenv("LABAUTO_TSA_URL", f"http://127.0.0.1:{free_port()}/api/v1/tsa")
    issued = issue_certificate(cal_result, tmp_path / "certs", lab=load_lab())
    assert issued.timestamp.startswith("NOT time-stamped (the time-stamping authority")
    assert "unreachable" in issued.timestamp
    dcc = issued.files["xml"].read_bytes()
    assert check_signature_timestamp(dcc, []) is None          # XAdES-BES, still signed
    assert verify_dcc(dcc).signing_time is not None
    identity = demo_identity(load_lab())
    verdict = verify_pdf(issued.files["pdf"].read_bytes(), [identity.ca_cert_pem])
    assert verdict.ok and not verdict.timestamped             # PAdES B-B
    assert issued.outbox_state                                 # queued for publishing all the same


def test_without_a_tsa_configured_issuing_says_not_time_stamped(lab_home, tmp_path, cal_result):
    issued = issue_certificate(cal_result, tmp_path / "certs", lab=load_lab())
    assert issued.timestamp.startswith("not time-stamped: no time-stamping authority configured")

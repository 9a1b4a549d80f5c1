"""``labauto platform`` commands: CA, lab certificate, migration, registration, tokens."""
from __future__ import annotations

import stat

import httpx
from typer.testing import CliRunner

from labauto.certificate.signing import sign_dcc
from labauto.platform.cli import app
from labauto.certificate import pki
from labauto.platform.server.testing import running_server

runner = CliRunner()


def test_cli_ca_registration_and_publish(tmp_path, dcc_schema_dir, make_dcc):
    db = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    r = runner.invoke(app, ["init-ca", "--out", str(tmp_path / "ca")])
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE((tmp_path / "ca" / "ca.key.pem").stat().st_mode) == 0o600
    assert runner.invoke(app, ["init-ca", "--out", str(tmp_path / "ca")]).exit_code == 2   # no overwrite
    r = runner.invoke(app, ["issue-cert", "--ca", str(tmp_path / "ca"), "--cn", "Lab C", "--out",
                            str(tmp_path / "lab")])
    assert r.exit_code == 0, r.output
    cert, key = (tmp_path / "lab" / "lab.cert.pem").read_bytes(), (tmp_path / "lab" / "lab.key.pem").read_bytes()
    signer = pki.load_certificate(cert)
    chain = pki.validate_chain(signer, pki.load_certificates((tmp_path / "ca" / "ca.cert.pem").read_bytes()),
                               pki.registration_time(signer))
    assert [c.subject.rfc4514_string() for c in chain] == ["CN=Lab C", "O=labauto,CN=labauto platform CA"]

    assert runner.invoke(app, ["migrate", "--db", db]).exit_code == 0
    r = runner.invoke(app, ["register-lab", "--db", db, "--name", "Lab C", "--accreditation-id", "D-K-3",
                            "--cert", str(tmp_path / "lab" / "lab.cert.pem"),
                            "--trusted-ca", str(tmp_path / "ca" / "ca.cert.pem")])
    assert r.exit_code == 0, r.output
    token = r.output.split("token: ")[1].strip()
    r = runner.invoke(app, ["register-lab", "--db", db, "--name", "Lab C", "--accreditation-id", "D-K-3",
                            "--cert", str(tmp_path / "lab" / "lab.cert.pem")])
    assert r.exit_code == 2 and "is already registered" in " ".join(r.output.split())
    r = runner.invoke(app, ["issue-token", "--db", db, "--lab-id", "1"])
    token2 = r.output.split("token: ")[1].strip()
    assert runner.invoke(app, ["issue-token", "--db", db, "--lab-id", "9"]).exit_code == 2

    with running_server(db, dcc_schema_dir, admin_token="adm") as url:
        for i, t in enumerate((token, token2)):
            r = httpx.post(f"{url}/api/v1/certificates", headers={"Authorization": f"Bearer {t}"},
                           files={"dcc": ("d.xml", sign_dcc(make_dcc(f"CLI-{i}"), key, cert))})
            assert r.status_code == 201, r.text

    # list the lab's tokens, revoke the first (a lost one): it is refused, the second still works
    r = runner.invoke(app, ["list-tokens", "--db", db, "--lab-id", "1"])
    assert r.exit_code == 0 and [line.split("\t")[0] for line in r.output.splitlines()] == ["1", "2"]
    assert all(line.endswith("in use") for line in r.output.splitlines())
    r = runner.invoke(app, ["revoke-token", "--db", db, "--lab-id", "1", "--token-id", "1"])
    assert r.exit_code == 0 and "token 1 of lab 1 revoked" in r.output
    assert runner.invoke(app, ["revoke-token", "--db", db, "--lab-id", "1", "--token-id", "7"]).exit_code == 2
    lines = runner.invoke(app, ["list-tokens", "--db", db, "--lab-id", "1"]).output.splitlines()
    assert "revoked" in lines[0] and lines[1].endswith("in use")
    with running_server(db, dcc_schema_dir, admin_token="adm") as url:
        for i, (t, status) in enumerate(((token, 401), (token2, 201))):
            r = httpx.post(f"{url}/api/v1/certificates", headers={"Authorization": f"Bearer {t}"},
                           files={"dcc": ("d.xml", sign_dcc(make_dcc(f"CLI-R{i}"), key, cert))})
            assert r.status_code == status, r.text

"""Trust chains (:func:`labauto.certificate.pki.validate_chain`): root + intermediate + signer built
in the test, an expired signer, a chain that does not reach a trust anchor; lab certificates are
registered through their chain and may be registered after they expired."""
from __future__ import annotations

import datetime as dt

import pytest
from chain_support import UTC, build_chain

from labauto.certificate import pki


@pytest.fixture(scope="module")
def chain():
    return build_chain()


def test_root_intermediate_signer_chain(chain):
    now = dt.datetime.now(UTC)
    got = pki.validate_chain(chain.signer, [chain.root], now, intermediates=[chain.intermediate])
    assert [c.subject.rfc4514_string() for c in got] == [
        "O=Test PKI,CN=Lab T signing", "O=Test PKI,CN=Lab T issuing CA", "O=Test PKI,CN=Lab T root CA"]
    # the intermediate itself may be the trust anchor
    assert len(pki.validate_chain(chain.signer, [chain.intermediate], now)) == 2


def test_a_chain_without_its_intermediate_or_to_another_root_is_refused(chain):
    now = dt.datetime.now(UTC)
    with pytest.raises(pki.PKIError, match="no valid chain from O=Test PKI,CN=Lab T signing"):
        pki.validate_chain(chain.signer, [chain.root], now)          # intermediate missing
    other = build_chain("Other")
    with pytest.raises(pki.PKIError, match=r"to a trust anchor \(O=Test PKI,CN=Other root CA\)"):
        pki.validate_chain(chain.signer, [other.root], now, intermediates=[chain.intermediate])
    with pytest.raises(pki.PKIError, match="no trust anchor is configured"):
        pki.validate_chain(chain.signer, [], now)


def test_validity_is_judged_at_the_given_time():
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    old = build_chain("Old", signer_start=start, signer_days=30)
    during = dt.datetime(2020, 1, 15, tzinfo=UTC)
    assert len(pki.validate_chain(old.signer, [old.root], during, intermediates=[old.intermediate])) == 3
    with pytest.raises(pki.PKIError, match="no valid chain"):
        pki.validate_chain(old.signer, [old.root], dt.datetime.now(UTC), intermediates=[old.intermediate])
    # registration checks the chain at the last moment the certificate was valid
    assert pki.registration_time(old.signer) == old.signer.not_valid_after_utc


def test_a_certificate_that_may_not_sign_is_refused(chain):
    # the intermediate as "signer": a CA certificate whose key usage is certificate signing only
    with pytest.raises(pki.PKIError, match="may not sign documents"):
        pki.validate_chain(chain.intermediate, [chain.root], dt.datetime.now(UTC))


def test_registration_through_an_intermediate_and_after_expiry(tmp_path, dcc_schema_dir):
    from labauto.platform.server.testing import running_server
    from platform_support import client

    chain = build_chain("Lab R")
    expired = build_chain("Lab X", signer_start=dt.datetime(2020, 1, 1, tzinfo=UTC), signer_days=30)
    stranger = build_chain("Stranger")
    anchors = chain.root_pem + expired.root_pem
    with running_server(f"sqlite:///{tmp_path / 'p.sqlite3'}", dcc_schema_dir, admin_token="adm",
                        trusted_ca_pem=anchors) as url, client(url, "adm") as c:  # noqa: E501
        bundle = (chain.signer_pem + chain.intermediate_pem).decode()
        r = c.post("/api/v1/labs", json={"name": "Lab R", "accreditation_id": "R-1", "certificate_pem": bundle})
        assert r.status_code == 201, r.text
        assert r.json()["certificates"][0]["subject"] == "O=Test PKI,CN=Lab R signing"
        # the signer alone does not reach the anchor
        r = c.post("/api/v1/labs", json={"name": "Lab S", "accreditation_id": "S-1",
                                         "certificate_pem": chain.signer_pem.decode()})
        assert r.status_code == 422 and "no valid chain" in r.json()["detail"]
        r = c.post("/api/v1/labs", json={"name": "Lab S", "accreditation_id": "S-1", "certificate_pem":
                                         (stranger.signer_pem + stranger.intermediate_pem).decode()})
        assert r.status_code == 422 and "no valid chain" in r.json()["detail"]
        # expired today, valid when it signed: registered
        r = c.post("/api/v1/labs", json={"name": "Lab X", "accreditation_id": "X-1", "certificate_pem":
                                         (expired.signer_pem + expired.intermediate_pem).decode()})
        assert r.status_code == 201, r.text


def test_an_expired_signer_publishes_only_what_a_time_stamp_dates_in_its_time(tmp_path, dcc_schema_dir,
                                                                              make_dcc):
    """Issue 15, bad input: 'an expired ... signer: refused ... with the stage and reason, nothing
    stored'.  Registered after it expired (test above), the signer's DCCs are refused when signed
    after the expiry, and when only its own xades:SigningTime says they were signed in time (an
    expired key can claim any time: that DCC was stored as valid before); a signature time-stamp
    from within the validity is accepted."""
    from chain_support import build_tsa

    from labauto.certificate.signing import sign_dcc
    from labauto.certificate.xades_t import add_signature_timestamp
    from labauto.platform.tsa_client import stamp_via
    from labauto.platform.server.testing import running_server
    from platform_support import client

    expired = build_chain("Lab E", signer_start=dt.datetime(2020, 1, 1, tzinfo=UTC), signer_days=30)
    in_time = dt.datetime(2020, 1, 15, tzinfo=UTC)
    tsa_root, tsa = build_tsa(in_time)
    with running_server(f"sqlite:///{tmp_path / 'p.sqlite3'}", dcc_schema_dir, admin_token="adm",
                        trusted_ca_pem=expired.root_pem + tsa_root) as url, client(url, "adm") as c:
        r = c.post("/api/v1/labs", json={"name": "Lab E", "accreditation_id": "E-1", "certificate_pem":
                                         (expired.signer_pem + expired.intermediate_pem).decode()})
        assert r.status_code == 201, r.text
        token = c.post(f"/api/v1/labs/{r.json()['id']}/tokens").json()["token"]

        def publish(cid: str, doc: bytes):
            with client(url, token) as lab:
                return lab.post("/api/v1/certificates", files={"dcc": ("dcc.xml", doc, "application/xml")})

        sign = lambda cid, when: sign_dcc(make_dcc(cid), expired.signer_key_pem, expired.signer_pem,  # noqa: E731
                                          signing_time=when)
        late = publish("E-LATE", sign("E-LATE", None))
        assert (late.status_code, late.json()["stage"]) == (422, "signature")
        assert "is valid from 2020-01-01 to 2020-01-31, not at the signing time" in late.json()["detail"]
        claimed = publish("E-CLAIMED", sign("E-CLAIMED", in_time))
        assert (claimed.status_code, claimed.json()["stage"]) == (422, "time"), claimed.text
        assert ("expired on 2020-01-31 00:00 UTC and its signing time 2020-01-15 00:00 UTC is the signer's "
                "own claim (xades:SigningTime)") in claimed.json()["detail"]
        stamp = stamp_via(lambda req: tsa.respond(req).response_der)
        ok = publish("E-STAMPED", add_signature_timestamp(sign("E-STAMPED", in_time), stamp))
        assert ok.status_code == 201, ok.text
        with client(url) as public:
            listed = public.get("/api/v1/certificates").json()
        assert [i["certificate_id"] for i in listed["items"]] == ["E-STAMPED"]          # nothing else stored

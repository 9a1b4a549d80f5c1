"""Admin token management: list a lab's tokens, revoke a lost one; the lab's others keep working."""
from __future__ import annotations

from labauto.platform.server.testing import register_lab
from platform_support import client


def test_a_revoked_token_is_refused_and_the_labs_other_token_still_publishes(platform, lab, make_dcc, sign):
    with platform.admin() as admin:
        labs = admin.get("/api/v1/labs").json()
        lab_id = next(x["id"] for x in labs if x["name"] == lab.name)
        second = admin.post(f"/api/v1/labs/{lab_id}/tokens").json()
        tokens = admin.get(f"/api/v1/labs/{lab_id}/tokens").json()
        assert [t["id"] for t in tokens] == [tokens[0]["id"], second["token_id"]]
        assert all(t["revoked_at"] is None and t["lab_id"] == lab_id for t in tokens)
        first_id = tokens[0]["id"]

        r = admin.delete(f"/api/v1/labs/{lab_id}/tokens/{first_id}")
        assert r.status_code == 200 and r.json()["revoked_at"] is not None
        again = admin.delete(f"/api/v1/labs/{lab_id}/tokens/{first_id}")   # idempotent
        assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]
        assert admin.delete(f"/api/v1/labs/{lab_id}/tokens/999999").status_code == 404
        assert admin.get("/api/v1/labs/999999/tokens").status_code == 404

    # the revoked token (the fixture lab's) is refused; the second one publishes
    refused = lab.publish(sign(make_dcc("TOK-1"), lab.keys))
    assert refused.status_code == 401 and "revoked" in refused.text
    with client(platform.base_url, second["token"]) as c:
        r = c.post("/api/v1/certificates", files={"dcc": ("d.xml", sign(make_dcc("TOK-1"), lab.keys))})
    assert r.status_code == 201, r.text

    with platform.admin() as admin:
        events = admin.get("/api/v1/audit", params={"lab_id": lab_id}).json()
    revokes = [e for e in events if e["action"] == "token.revoke"]
    assert len(revokes) == 1 and revokes[0]["detail"] == {"token_id": first_id}


def test_token_admin_needs_the_admin_token_and_the_right_lab(platform, lab, make_dcc, sign):
    with platform.admin() as admin:
        lab_id = next(x["id"] for x in admin.get("/api/v1/labs").json() if x["name"] == lab.name)
        token_id = admin.get(f"/api/v1/labs/{lab_id}/tokens").json()[0]["id"]
    # a lab cannot list or revoke tokens, not even its own
    with lab.client() as c:
        assert c.get(f"/api/v1/labs/{lab_id}/tokens").status_code == 401
        assert c.delete(f"/api/v1/labs/{lab_id}/tokens/{token_id}").status_code == 401
    # another lab's id does not reach this token
    from labauto.certificate.pki import self_signed
    other_token = register_lab(platform.base_url, platform.admin_token, "Lab B", "D-K-2",
                               self_signed("Lab B").cert_pem)
    with platform.admin() as admin:
        other_id = next(x["id"] for x in admin.get("/api/v1/labs").json() if x["name"] == "Lab B")
        assert admin.delete(f"/api/v1/labs/{other_id}/tokens/{token_id}").status_code == 404
    assert lab.publish(sign(make_dcc("TOK-2"), lab.keys)).status_code == 201   # still valid
    assert other_token.startswith("lat_")

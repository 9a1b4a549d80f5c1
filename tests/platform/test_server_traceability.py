"""Traceability chains up to the roots, dangling links resolved on arrival, and the reverse
"which certificates depend on X" (recall impact), with revocation visible along the chain."""
from __future__ import annotations

from platform_support import sha256


def test_chain_dependents_dangling_and_revocation(platform, lab, make_dcc, sign):
    # ROOT (the lab's reference standard, calibrated by a NMI) <- MID <- LEAF1, LEAF2
    root = sign(make_dcc("T-ROOT", serial="REF-1"), lab.keys)
    mid = sign(make_dcc("T-MID", references=[("T-ROOT", sha256(root))]), lab.keys)
    leaf1 = sign(make_dcc("T-LEAF1", references=[("T-MID", sha256(mid)), ("T-EXT", "ab" * 32)]), lab.keys)
    leaf2 = sign(make_dcc("T-LEAF2", references=[("T-MID", sha256(mid))]), lab.keys)
    for doc in (mid, leaf1, leaf2):          # the root arrives last: links dangle until then
        assert lab.publish(doc).status_code == 201
    with platform.public() as c:
        ch = c.get("/api/v1/certificates/T-LEAF1/chain").json()
        assert (ch["dangling"], ch["complete"], ch["all_valid"]) == (["T-EXT", "T-ROOT"], False, False)
        assert lab.publish(root).status_code == 201
        ch = c.get("/api/v1/certificates/T-LEAF1/chain").json()
        assert ch["dangling"] == ["T-EXT"]
        assert sorted(n["certificate_id"] for n in ch["nodes"]) == ["T-LEAF1", "T-MID", "T-ROOT"]
        assert ch["roots"] == ["T-ROOT"]
        edge = next(e for e in ch["edges"] if e["to"] == "T-ROOT")
        assert (edge["from"], edge["declared_hash"], edge["resolved_sha256"], edge["hash_match"]) == \
            ("T-MID", sha256(root), sha256(root), True)

        deps = c.get("/api/v1/certificates/T-ROOT/dependents").json()
        assert sorted((d["certificate_id"], d["depth"], d["via"]) for d in deps["dependents"]) == \
            [("T-LEAF1", 2, "T-MID"), ("T-LEAF2", 2, "T-MID"), ("T-MID", 1, "T-ROOT")]
        assert deps["count"] == 3
        assert c.get("/api/v1/certificates/T-LEAF2/dependents").json()["count"] == 0
        assert c.get("/api/v1/certificates/T-NONE/chain").status_code == 404

    with lab.client() as c:
        c.post("/api/v1/certificates/T-ROOT/revoke", json={"reason": "standard out of tolerance"})
    with platform.public() as c:
        ch = c.get("/api/v1/certificates/T-LEAF2/chain").json()
        page = c.get("/verify/T-LEAF2").text
    root_node = next(n for n in ch["nodes"] if n["certificate_id"] == "T-ROOT")
    assert (root_node["status"], root_node["revocation_reason"]) == ("revoked", "standard out of tolerance")
    assert ch["all_valid"] is False and ch["complete"] is True
    assert "T-ROOT (revoked)" in page


def test_amended_reference_shows_as_superseded_with_matching_hash(platform, lab, make_dcc, sign):
    ref1 = sign(make_dcc("T-REF"), lab.keys)
    assert lab.publish(ref1).status_code == 201
    user = sign(make_dcc("T-USER", references=[("T-REF", sha256(ref1))]), lab.keys)
    assert lab.publish(user).status_code == 201
    ref2 = sign(make_dcc("T-REF", serial="fixed", amends="T-REF"), lab.keys)
    assert lab.publish(ref2).status_code == 201
    with platform.public() as c:
        ch = c.get("/api/v1/certificates/T-USER/chain").json()
    node = next(n for n in ch["nodes"] if n["certificate_id"] == "T-REF")
    # the user certificate names the version it used: that exact version, now superseded
    assert (node["sha256"], node["status"], node["superseded_by"]) == (sha256(ref1), "superseded", "T-REF")
    assert ch["edges"][0]["hash_match"] is True and ch["all_valid"] is False


def test_hash_mismatch_is_reported(platform, lab, make_dcc, sign):
    ref = sign(make_dcc("T-R2"), lab.keys)
    assert lab.publish(ref).status_code == 201
    user = sign(make_dcc("T-U2", references=[("T-R2", "00" * 32)]), lab.keys)
    assert lab.publish(user).status_code == 201
    with platform.public() as c:
        ch = c.get("/api/v1/certificates/T-U2/chain").json()
    assert (ch["edges"][0]["resolved_sha256"], ch["edges"][0]["hash_match"]) == (sha256(ref), False)
    assert ch["all_valid"] is False

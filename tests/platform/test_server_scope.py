"""Accreditation over HTTP (SQLite and PostgreSQL): bodies and their tokens, scope import and
versions, the scope check on publish (refused below the CMC, not covered outside the scope,
suspended and withdrawn marked), the accreditation status in the verification record and page,
the audit trail, and all-or-nothing imports."""
from __future__ import annotations

import datetime as dt

import pytest
from platform_support import make_lab
from scope_support import lab_id, make_body, with_results

from labauto.platform.server import scope_schemas as SS
from labauto.platform.server.db import Database
from labauto.platform.server.scope import import_scope, body_by_id
from labauto.platform.server.scope_file import parse

SCOPE_A = """quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k
DC voltage,100 mV,10 V,,,,2 µV/V + 1 µV,2
DC voltage,10 V,1000 V,,,,3 µV/V + 10 µV,2
AC voltage,10 mV,10 V,40 Hz,1 kHz,,100 µV/V + 5 µV,2
"""
TIGHTER = SCOPE_A.replace("2 µV/V + 1 µV", "1 µV/V + 0.5 µV")


@pytest.fixture
def body(platform):
    return make_body(platform)


def publish(lab, make_dcc, sign, cid: str, points: list[dict], end_date: str = "2026-06-15"):
    return lab.publish(sign(with_results(make_dcc(cid, end_date=end_date), points), lab.keys))


def record(platform, cid: str) -> dict:
    with platform.public() as c:
        r = c.get(f"/api/v1/certificates/{cid}")
        assert r.status_code == 200, r.text
        return r.json()


def test_publication_is_checked_against_the_scope(platform, lab, body, make_dcc, sign):
    lid = lab_id(platform, lab.name)
    r = body.import_scope(lid, SCOPE_A, "lab-a.csv", valid_from="2026-01-01")
    assert r.status_code == 201, r.text
    s = r.json()
    assert (s["version"], s["row_count"], s["valid_from"], s["valid_until"], s["body"]) == (1, 3, "2026-01-01", None, "DAkkS")
    assert [row["line"] for row in s["rows"]] == [4, 2, 3]         # AC first: ordered by quantity

    # covered, covered (AC at 1 kHz), outside the range, outside the frequency band
    r = publish(lab, make_dcc, sign, "ACC-1", [
        {"nominal": "10 V", "U": "25 µV"},
        {"function": "ACV", "nominal": "1 V", "U": "200 µV", "frequency": "1 kHz"},
        {"nominal": "2000 V", "U": "100 mV"},
        {"function": "ACV", "nominal": "1 V", "U": "200 µV", "frequency": "50 kHz"}])
    assert r.status_code == 201, r.text
    acc = record(platform, "ACC-1")["accreditation"]
    assert acc["status"] == "partly covered by accreditation"
    assert acc["calibration_date"] == "2026-06-15" and acc["scope"]["version"] == 1
    res = acc["results"]
    assert [x["status"] for x in res] == ["covered", "covered", "not covered by accreditation",
                                          "not covered by accreditation"]
    assert [x["quantity"] for x in res] == ["DC voltage", "AC voltage", "DC voltage", "AC voltage"]
    # at 10 V both DC rows apply; the smaller CMC counts: 2e-6 * 10 V + 1 µV = 21 µV
    assert res[0]["cmc"] == pytest.approx(21e-6) and res[0]["text"]["cmc"] == "21 µV"
    assert res[1]["cmc"] == pytest.approx(105e-6) and res[1]["frequency"] == 1000.0
    assert res[2]["note"] == "outside the accredited scope: no DC voltage row covers 2 kV"
    assert res[3]["note"] == "outside the accredited scope: no AC voltage row covers 1 V at 50 kHz"

    # U = 20 µV < CMC 21 µV: refused, naming the result, value, U and CMC; nothing stored
    r = publish(lab, make_dcc, sign, "ACC-2", [{"nominal": "1 V", "U": "10 µV"}, {"nominal": "10 V", "U": "20 µV"}])
    assert r.status_code == 422 and r.json()["stage"] == "scope"
    assert r.json()["detail"] == (
        "1 result(s) claim an uncertainty smaller than the lab's accredited CMC on 2026-06-15: result "
        "'P2: DCV 10 V' (10 V): U = 20 µV (k = 2) is smaller than the accredited CMC 21 µV (k = 2; "
        "2 µV/V + 1 µV) for DC voltage 100 mV to 10 V (scope version 1, line 2)")
    with platform.public() as c:
        assert c.get("/api/v1/certificates/ACC-2").status_code == 404
    # compared as standard uncertainties: 30 µV at k = 3 is 10 µV, below 21 µV / 2
    r = publish(lab, make_dcc, sign, "ACC-3", [{"nominal": "10 V", "U": "30 µV", "k": 3}])
    assert r.status_code == 422 and "U = 30 µV (k = 3)" in r.json()["detail"]
    # -10 V is in the 100 mV .. 10 V range (ranges are magnitudes); exactly the CMC is allowed
    r = publish(lab, make_dcc, sign, "ACC-4", [{"nominal": "-10 V", "U": "21 µV"}])
    assert r.status_code == 201, r.text
    assert record(platform, "ACC-4")["accreditation"]["status"] == "accredited"

    # calibrated before the scope was valid: accepted, not covered
    r = publish(lab, make_dcc, sign, "ACC-5", [{"nominal": "10 V", "U": "1 µV"}], end_date="2025-12-31")
    assert r.status_code == 201, r.text
    acc = record(platform, "ACC-5")["accreditation"]
    assert acc["status"] == "not covered by accreditation" and acc["scope"] is None
    assert acc["results"][0]["note"] == "the lab has no accredited scope valid on 2025-12-31"

    # a document without results with an uncertainty (PTB's example is a thermometer: not in this scope)
    with platform.public() as c:
        page = c.get("/verify/ACC-1").text
    assert 'data-status="partly covered by accreditation"' in page
    assert page.count('data-status="covered"') == 2 and page.count('data-status="not covered by accreditation"') == 2
    assert "scope version 1 of DAkkS" in page and "21 µV" in page


def test_versions_suspension_and_withdrawal(platform, lab, body, make_dcc, sign):
    lid = lab_id(platform, lab.name)
    assert body.import_scope(lid, SCOPE_A, valid_from="2026-01-01").status_code == 201
    r = body.import_scope(lid, TIGHTER, "v2.csv", valid_from="2026-07-01")
    assert r.status_code == 201 and r.json()["version"] == 2
    with platform.public() as c:
        versions = c.get(f"/api/v1/labs/{lid}/scopes").json()
        assert [(v["version"], v["valid_from"], v["valid_until"]) for v in versions] == [
            (2, "2026-07-01", None), (1, "2026-01-01", "2026-06-30")]          # v2 ended v1
        assert [v["version"] for v in c.get(f"/api/v1/labs/{lid}/scopes", params={"date": "2026-06-30"}).json()] == [1]

    u15 = [{"nominal": "10 V", "U": "15 µV"}]
    assert publish(lab, make_dcc, sign, "V-1", u15, "2026-06-30").status_code == 422     # v1: 21 µV
    assert publish(lab, make_dcc, sign, "V-2", u15, "2026-07-01").status_code == 201     # v2: 10.5 µV
    assert record(platform, "V-2")["accreditation"]["scope"]["version"] == 2

    r = body.post(f"/api/v1/labs/{lid}/scope/suspend", {"reason": "surveillance findings", "from_date": "2026-08-01"})
    assert r.status_code == 200 and r.json()["suspended_from"] == "2026-08-01"
    # while suspended: accepted even below the CMC, and marked
    r = publish(lab, make_dcc, sign, "V-3", [{"nominal": "10 V", "U": "5 µV"}], "2026-08-10")
    assert r.status_code == 201, r.text
    acc = record(platform, "V-3")["accreditation"]
    assert acc["status"] == "accreditation suspended"
    assert acc["results"][0]["status"] == "accreditation suspended"
    assert acc["scope"]["status_reason"] == "surveillance findings"
    assert record(platform, "V-2")["accreditation"]["status"] == "accredited"      # before the suspension
    with platform.public() as c:
        assert 'data-status="accreditation suspended"' in c.get("/verify/V-3").text

    assert body.post(f"/api/v1/labs/{lid}/scope/reinstate", {"on": "2026-09-01"}).status_code == 200
    assert publish(lab, make_dcc, sign, "V-4", u15, "2026-09-01").status_code == 201
    assert record(platform, "V-4")["accreditation"]["status"] == "accredited"
    assert record(platform, "V-3")["accreditation"]["status"] == "accreditation suspended"   # still
    assert body.post(f"/api/v1/labs/{lid}/scope/reinstate", {}).status_code == 409         # not suspended

    r = body.post(f"/api/v1/labs/{lid}/scope/withdraw", {"reason": "lab closed", "from_date": "2026-10-01"})
    assert r.status_code == 200 and r.json()["withdrawn_from"] == "2026-10-01"
    assert publish(lab, make_dcc, sign, "V-5", u15, "2026-10-05").status_code == 201
    acc = record(platform, "V-5")["accreditation"]
    assert acc["status"] == "accreditation withdrawn" and acc["lab_accreditation_today"] == "withdrawn"
    assert record(platform, "V-4")["accreditation"]["status"] == "accredited"
    with platform.public() as c:
        assert "The lab's accreditation is withdrawn today." in c.get("/verify/V-4").text

    with platform.admin() as c:
        events = [(e["action"], e["actor"], e["lab_id"]) for e in c.get("/api/v1/audit", params={"lab_id": lid}).json()
                  if e["action"].startswith("scope.")]
    actor = f"body:{body.id}"
    assert events == [("scope.import", actor, lid), ("scope.import", actor, lid), ("scope.suspend", actor, lid),
                      ("scope.reinstate", actor, lid), ("scope.withdraw", actor, lid)]


def test_who_may_change_a_scope(platform, lab, body, make_dcc):
    lid = lab_id(platform, lab.name)
    with lab.client() as c:       # a lab's own token is not a body's
        r = c.post(f"/api/v1/labs/{lid}/scopes", files={"scope": ("s.csv", SCOPE_A.encode())},
                   data={"valid_from": "2026-01-01"})
        assert r.status_code == 401
    with platform.admin() as c:
        assert c.post(f"/api/v1/labs/{lid}/scopes", files={"scope": ("s.csv", SCOPE_A.encode())},
                      data={"valid_from": "2026-01-01"}).status_code == 401
        assert c.post("/api/v1/bodies", json={"name": "DAkkS"}).status_code == 409
    assert body.import_scope(lid, SCOPE_A, valid_from="2026-01-01").status_code == 201
    other = make_body(platform, "UKAS", "GB")
    r = other.import_scope(lid, SCOPE_A, valid_from="2026-02-01")
    assert r.status_code == 403 and "accredited by 'DAkkS'" in r.json()["detail"]
    assert other.post(f"/api/v1/labs/{lid}/scope/suspend", {"reason": "x"}).status_code == 403
    assert body.import_scope(999, SCOPE_A, valid_from="2026-01-01").status_code == 404
    with platform.public() as c:
        assert [b["name"] for b in c.get("/api/v1/bodies").json()] == ["DAkkS", "UKAS"]


def test_bad_scope_files_are_refused_whole(platform, lab, body):
    lid = lab_id(platform, lab.name)
    bad = SCOPE_A + "DC voltage,5 V,20 V,,,,1 µV,2\nDC current,1 mA,1 V,,,,1 µA,2\n"
    r = body.import_scope(lid, bad, "bad.csv", valid_from="2026-01-01")
    assert r.status_code == 422
    assert r.json()["detail"].splitlines() == [
        "bad.csv:5: DC voltage 5 V to 20 V overlaps the row of line 2 (100 mV to 10 V)",
        "bad.csv:5: DC voltage 5 V to 20 V overlaps the row of line 3 (10 V to 1000 V)",
        "bad.csv:6: range_max '1 V' is not a DC current (expected a unit like A)"]
    assert body.import_scope(lid, SCOPE_A, "s.csv").json()["detail"] == \
        "a scope needs valid_from (the first day it is valid)"
    r = body.import_scope(lid, SCOPE_A, "s.csv", valid_from="2026-02-01", valid_until="2026-01-01")
    assert r.status_code == 422 and "before valid_from" in r.json()["detail"]
    r = body.import_scope(lid, '{"accreditation_id": "D-K-99", "valid_from": "2026-01-01", "rows": '
                          '[{"quantity": "DCV", "range_min": "1 V", "range_max": "2 V", "cmc": "1 µV"}]}', "s.json")
    assert r.status_code == 422 and "for accreditation 'D-K-99'" in r.json()["detail"]
    with platform.public() as c:
        assert c.get(f"/api/v1/labs/{lid}/scopes").json() == []
    with platform.admin() as c:
        assert not [e for e in c.get("/api/v1/audit").json() if e["action"] == "scope.import"]


def test_an_import_is_one_transaction(platform, lab, body):
    """A failure after the rows are written and the old version ended leaves the old version as it
    was and no new version (the API's write session is one transaction)."""
    lid = lab_id(platform, lab.name)
    assert body.import_scope(lid, SCOPE_A, valid_from="2026-01-01").status_code == 201
    db = Database(platform.database_url)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            with db.write() as session:
                import_scope(session, body_by_id(session, body.id), lid, parse(TIGHTER, "v2.csv"),
                             source_name="v2.csv", source_sha256="0" * 64, valid_from=dt.date(2026, 7, 1))
                raise RuntimeError("disk full")
    finally:
        db.dispose()
    with platform.public() as c:
        versions = c.get(f"/api/v1/labs/{lid}/scopes").json()
    assert [(v["version"], v["valid_until"], v["row_count"], len(v["rows"])) for v in versions] == [(1, None, 3, 3)]


def test_capability_and_result_search(platform, lab, body, make_dcc, sign, other_lab_keys, platform_ca):
    lab_b = make_lab(platform, "Lab B", "D-K-2", other_lab_keys)
    lab_c = make_lab(platform, "Lab C", "D-K-3", platform_ca.issue("Lab C signing", organization="Lab C"))
    head = "quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k\n"
    scopes = [(lab, SCOPE_A),
              (lab_b, head + "DC voltage,1 V,100 V,,,,4 µV/V + 5 µV,2\nAC voltage,1 V,10 V,10 Hz,100 kHz,,1 mV/V,2\n"),
              (lab_c, head + "DC voltage,1 V,100 V,,,,8 µV/V,2\nresistance,1 Ω,10 kΩ,,,4-wire,1 Ω: 1 µΩ; 10 kΩ: 30 mΩ,2\n")]
    ids = {}
    for lb, text in scopes:
        ids[lb.name] = lab_id(platform, lb.name)
        assert body.import_scope(ids[lb.name], text, valid_from="2026-01-01").status_code == 201

    def capabilities(**params):
        with platform.public() as c:
            return c.get("/api/v1/capabilities", params=params)

    # "labs accredited for DC voltage at 10 V with a CMC <= 5 µV/V": A (2.1 µV/V), B (4.5 µV/V)
    found = capabilities(quantity="DC voltage", value="10 V", max_cmc="5 µV/V").json()
    assert [(i["lab"], i["cmc_at_value_text"]) for i in found["items"]] == [("Lab A", "21 µV"), ("Lab B", "45 µV")]
    assert found["max_cmc"] == pytest.approx(50e-6) and found["count"] == 2
    assert [i["lab"] for i in capabilities(quantity="DCV", value="10 V", max_cmc="50 µV").json()["items"]] == ["Lab A", "Lab B"]
    assert [i["lab"] for i in capabilities(quantity="DC voltage", value="10 V", max_cmc="3 ppm").json()["items"]] == ["Lab A"]
    assert [i["lab"] for i in capabilities(quantity="DC voltage", value="10 V").json()["items"]] == ["Lab A", "Lab B", "Lab C"]
    assert [i["lab"] for i in capabilities(quantity="DC voltage", value="500 V").json()["items"]] == ["Lab A"]
    # -10 V is in the ranges of magnitudes; the CMC is taken at |x|
    found = capabilities(quantity="DC voltage", value="-10 V", max_cmc="5 µV/V").json()
    assert [(i["lab"], i["cmc_at_value_text"]) for i in found["items"]] == [("Lab A", "21 µV"), ("Lab B", "45 µV")]
    # without a value: every row of the quantity, by lab; limit counts rows
    rows = capabilities(quantity="DC voltage").json()["items"]
    assert [(i["lab"], i["row"]["range"]) for i in rows] == [("Lab A", "100 mV to 10 V"), ("Lab A", "10 V to 1000 V"),
                                                             ("Lab B", "1 V to 100 V"), ("Lab C", "1 V to 100 V")]
    assert [i["lab"] for i in capabilities(quantity="DC voltage", limit=2).json()["items"]] == ["Lab A", "Lab A"]
    assert [i["lab"] for i in capabilities(quantity="DC voltage", value="10 V", limit=1).json()["items"]] == ["Lab A"]
    assert [i["lab"] for i in capabilities(quantity="AC voltage", value="1 V", frequency="50 kHz").json()["items"]] == ["Lab B"]
    assert [i["lab"] for i in capabilities(quantity="AC voltage", value="1 V", frequency="100 Hz").json()["items"]] == ["Lab A", "Lab B"]
    assert capabilities(quantity="DC voltage", value="10 V", date="2025-06-01").json()["items"] == []
    # a CMC table is interpolated: at 5 kΩ about 15 mΩ
    answer = capabilities(quantity="resistance", value="5 kΩ", max_cmc="16 mΩ").json()
    SS.Capabilities.model_validate(answer, strict=True)           # the documented shape (the route skips it)
    SS.Capabilities.model_validate(capabilities(quantity="AC voltage").json(), strict=True)
    found = answer["items"]
    assert [(i["lab"], i["row"]["conditions"]) for i in found] == [("Lab C", "4-wire")]
    assert found[0]["cmc_at_value"] == pytest.approx(1e-6 + (30e-3 - 1e-6) * (5000 - 1) / (1e4 - 1))
    assert capabilities(quantity="resistance", value="5 kΩ", max_cmc="14 mΩ").json()["items"] == []
    for params, message in [({"quantity": "DC wattage"}, "unknown quantity 'DC wattage'"),
                            ({"quantity": "DC voltage", "value": "10 A"}, "value '10 A' is not a DC voltage"),
                            ({"quantity": "DC voltage", "value": "10 V", "max_cmc": "5 µA"}, "neither relative"),
                            ({"quantity": "DC voltage", "max_cmc": "5 ppm"}, "needs the value")]:
        r = capabilities(**params)
        assert r.status_code == 422 and message in r.json()["detail"], r.text
    # a suspended lab is not offered
    assert body.post(f"/api/v1/labs/{ids['Lab A']}/scope/suspend",
                     {"reason": "audit", "from_date": dt.date.today().isoformat()}).status_code == 200
    assert [i["lab"] for i in capabilities(quantity="DC voltage", value="10 V", max_cmc="5 µV/V").json()["items"]] == ["Lab B"]

    # certificates by quantity and range
    assert publish(lab_b, make_dcc, sign, "S-1", [{"nominal": "10 V", "U": "50 µV"}, {"nominal": "50 V", "U": "1 mV"}]).status_code == 201
    assert publish(lab_c, make_dcc, sign, "S-2", [{"nominal": "1 V", "U": "50 µV"}]).status_code == 201
    with platform.public() as c:
        found = c.get("/api/v1/results", params={"quantity": "DC voltage", "value_min": "5 V", "value_max": "20 V"}).json()
        assert found["total"] == 1 and [h["certificate_id"] for h in found["items"]] == ["S-1"]
        assert [(x["value"], x["covered"]) for x in found["items"][0]["results"]] == [(10.0, True)]
        found = c.get("/api/v1/results", params={"quantity": "DC voltage", "value_max": "100 V"}).json()
        assert [h["certificate_id"] for h in found["items"]] == ["S-2", "S-1"]
        assert c.get("/api/v1/results", params={"quantity": "AC voltage"}).json()["total"] == 0
        page = c.get("/search", params={"quantity": "DC voltage", "value": "10 V", "max_cmc": "5 µV/V"})
        assert page.status_code == 200 and "1 accredited capability for DC voltage" in page.text and "Lab B" in page.text
        page = c.get("/search", params={"quantity": "DC voltage", "value": "10 A"})
        assert page.status_code == 422 and "is not a DC voltage" in page.text

from __future__ import annotations

import json
import math

from labauto.certificate.json_writer import to_json
from labauto.results import CalibrationResult


def test_round_trip(cal_result):
    data = to_json(cal_result)
    back = CalibrationResult.from_dict(json.loads(data))
    assert back == cal_result
    assert to_json(back) == data


def test_stable_sorted_and_complete(cal_result):
    data = to_json(cal_result)
    d = json.loads(data)
    assert list(d) == sorted(d)
    assert d["overall_decision"] == "fail"
    p = d["points"][7]
    assert p["decision"] == "fail"
    assert p["expanded_uncertainty"] == {"unit": "mV", "value": 2.5}
    assert len(p["readings"]) == 10
    assert [r["source"] for r in p["budget"]["rows"]] == [
        "Type A", "calibrator specification", "DUT resolution", "thermal EMF"]
    assert p["budget"]["rows"][1]["dof"] is None   # infinite dof stored as null
    assert math.isclose(sum(r["variance_share"] for r in p["budget"]["rows"]), 1.0)

"""The recall impact of an out-of-control check, from the platform: the certificates that
depend on the quarantined item's calibration certificate (directly or through another
standard), calibrated since its last good check."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from platform_support import sha256

from labauto.errors import LabautoError
from labauto.quality.checks import recall_impact
from labauto.quality.records import Calibration, Item


@pytest.mark.parametrize("platform_db_url", ["sqlite"], indirect=True)
def test_recall_impact_uses_the_platforms_dependents(platform, lab, make_dcc, sign, tmp_path):
    ref = sign(make_dcc("NMI-REF-1", serial="MY60012345", manufacturer="Keysight Technologies",
                        model="34465A", end_date="2025-06-01"), lab.keys)
    recent = sign(make_dcc("LAB-A", end_date="2026-02-10",
                           references=[("NMI-REF-1", sha256(ref))]), lab.keys)
    older = sign(make_dcc("LAB-B", end_date="2025-12-01",
                          references=[("NMI-REF-1", sha256(ref))]), lab.keys)
    onward = sign(make_dcc("LAB-C", end_date="2026-02-20",        # calibrated with LAB-A's item
                           references=[("LAB-A", sha256(recent))]), lab.keys)
    for doc in (ref, recent, older, onward):
        assert lab.publish(doc).status_code == 201
    item = Item("DMM-01", "Keysight Technologies", "34465A", "MY60012345", "reference", 365.0,
                calibrations=(Calibration("NMI-REF-1", dt.date(2025, 6, 1), "NMI"),
                              Calibration("NOT-ON-PLATFORM", dt.date(2024, 6, 1), "NMI")))
    # the lab's own copy of LAB-A (the same certificate: listed once) and a local-only one
    for cid, date in (("LAB-A", "2026-02-10"), ("LAB-LOCAL", "2026-02-11")):
        (tmp_path / "certs" / cid).mkdir(parents=True)
        (tmp_path / "certs" / cid / "certificate.json").write_text(json.dumps({
            "certificate_id": cid, "calibration_date": date,
            "standards": [{"manufacturer": "KEYSIGHT TECHNOLOGIES", "model": "34465A",
                           "serial_number": "MY60012345", "certificate_id": "NMI-REF-1"}]}))
    found = recall_impact(item, dt.date(2026, 1, 1), [tmp_path / "certs"],
                          platform_url=platform.base_url)
    assert [(r["certificate_id"], r["calibration_date"]) for r in found] == [
        ("LAB-A", "2026-02-10"), ("LAB-LOCAL", "2026-02-11"), ("LAB-C", "2026-02-20")]
    onward_row = next(r for r in found if r["certificate_id"] == "LAB-C")
    assert (onward_row["via"], onward_row["depth"], onward_row["source"]) == \
        ("LAB-A", 2, platform.base_url)
    since_2025 = recall_impact(item, dt.date(2025, 7, 1), platform_url=platform.base_url)
    assert [r["certificate_id"] for r in since_2025] == ["LAB-B", "LAB-A", "LAB-C"]


def test_recall_impact_says_when_the_platform_is_down(tmp_path):
    from labauto.platform.server.testing import free_port

    item = Item("DMM-01", "Keysight Technologies", "34465A", "MY1", "reference", 365.0,
                calibrations=(Calibration("NMI-REF-1", dt.date(2025, 6, 1), "NMI"),))
    with pytest.raises(LabautoError, match="unreachable for the recall impact of DMM-01"):
        recall_impact(item, dt.date(2026, 1, 1), platform_url=f"http://127.0.0.1:{free_port()}")

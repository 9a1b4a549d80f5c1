"""The Prefect flow ``calibrate`` carries what the plain engine does beyond measuring: the item's
condition on receipt (stated by the technician) and, for a procedure that declares an
adjustment, as found -> the ``adjust`` task -> as left (one flow run on the session harness)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from labauto.engine.journal import RunJournal
from labauto.sim import SimulatedLab

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]
ADJ = ROOT / "procedures" / "keysight_34465a_dcv_adjust.yaml"


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)


def test_flow_records_item_condition_adjusts_and_measures_as_left(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.calibrate import calibrate

    with SimulatedLab(seed=21, latency="zero", out_of_tolerance="10 V") as lab:
        state = calibrate(str(ADJ), lab.resources["dmm"], lab.resources["calibrator"],
                          runs_dir=str(tmp_path / "runs"), out_dir=str(tmp_path / "certs"),
                          settle_scale=0.0, timeout_ms=5000, publish=False,
                          item_condition="dent in the rear panel", item_condition_confirmed=True,
                          return_state=True)
        adjusted = list(lab.truth.adjustments)
    assert state.is_completed(), state
    summary = state.result()
    data = json.loads(Path(summary["files"]["json"]).read_bytes())
    assert (data["item_condition"], data["item_condition_confirmed"]) == ("dent in the rear panel", True)
    assert (data["as_found_decision"], data["overall_decision"], data["adjusted"]) == ("fail", "pass", True)
    assert [p["decision"] for p in data["as_left_points"]] == ["pass"] * 5
    assert len(adjusted) == 6
    journal = RunJournal(Path(summary["run_folder"]) / "journal.jsonl").read()
    assert journal.header["settings"]["item_condition"] == "dent in the rear panel"
    assert {f"as-left:{p['point_id']}" for p in data["as_left_points"]} <= journal.completed_ids()
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    assert len([t for t in tasks if t.name.startswith("adjust-")]) == 1      # the adjust task

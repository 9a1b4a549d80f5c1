"""The Prefect flow ``calibrate`` on the simulated lab, under one session-scoped test harness:
one task per stretch of points needing no person, retries only on transient VISA errors (each
going on from the point that failed), table + markdown artifacts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from labauto.engine.journal import RunJournal
from labauto.procedure import load_procedure
from labauto.sim import SimulatedLab

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml"


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)


def _flow_run_tasks(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


def _artifacts(flow_run_id) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {a.key: a for a in arts}


def _calibrate(lab, tmp_path):
    """The flow on the quick procedure, without publishing: its final state."""
    from flows.calibrate import calibrate

    return calibrate(str(QUICK), lab.resources["dmm"], lab.resources["calibrator"],
                     runs_dir=str(tmp_path / "runs"), out_dir=str(tmp_path / "certs"),
                     settle_scale=0.0, timeout_ms=3000, publish=False, return_state=True)


def test_flow_measures_the_points_in_one_task_and_publishes_artifacts(prefect_harness, tmp_path):
    from flows.calibrate import calibrate

    procedure = load_procedure(QUICK)
    with SimulatedLab(seed=8, latency="zero") as lab:
        state = calibrate(str(QUICK), lab.resources["dmm"], lab.resources["calibrator"],
                          runs_dir=str(tmp_path / "runs"), out_dir=str(tmp_path / "certs"),
                          settle_scale=0.0, timeout_ms=5000, publish=True, return_state=True)
    assert state.is_completed(), state
    summary = state.result()
    assert summary["overall_decision"] == "pass"
    assert Path(summary["files"]["xml"]).exists()
    assert summary["publication"]["state"] == "queued"

    tasks = _flow_run_tasks(state.state_details.flow_run_id)
    ids = [p.id for p in procedure.points]       # no operator step: one task for all points
    measure = [t.name for t in tasks if t.name.startswith("measure ")]
    assert measure == [f"measure {ids[0]} … {ids[-1]} ({len(ids)} points)"]
    assert len(tasks) == 1 + 2                                # + evaluate-and-issue + publish

    arts = _artifacts(state.state_details.flow_run_id)
    table = arts["calibration-results"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [r["point"] for r in rows] == [p.id for p in procedure.points]
    cert = json.loads(Path(summary["files"]["json"]).read_bytes())
    assert [r["decision"] for r in rows] == [p["decision"] for p in cert["points"]]
    md = arts["certificate-summary"].data
    assert summary["certificate_id"] in md and "| point |" in md


def test_transient_error_is_retried_and_the_point_completes(prefect_harness, tmp_path):
    with SimulatedLab(seed=9, latency="zero") as lab:
        # the DMM drops its connection on the first READ? (a transient fault)
        lab.inject_fault("dmm", "drop", on=r"READ\?", count=1)
        state = _calibrate(lab, tmp_path)
        assert lab.calibrator_state()["operate"] is False
    assert state.is_completed(), state
    summary = state.result()
    journal = RunJournal(Path(summary["run_folder"]) / "journal.jsonl").read()
    first = load_procedure(QUICK).points[0].id
    assert len(journal.points[first].attempts) == 2 and journal.points[first].done_attempt == 2
    assert all(p.completed for p in journal.points.values())


def test_transient_faults_at_three_points_are_retried_from_the_point_that_failed(
        prefect_harness, tmp_path):
    """Three points dropped once each: the task's two retries go on from the point that failed;
    having completed points, it is followed by a task for the rest (a run fails on transient
    faults only when a point stalls).  No point measured twice, every attempt journalled."""
    ids = [p.id for p in load_procedure(QUICK).points]
    with SimulatedLab(seed=11, latency="zero") as lab:
        for output in (r"0\.1 V", r"-10 V", r"100 V"):      # points 1, 3 and 4
            lab.inject_fault("calibrator", "drop", on=rf"^OUT {output}$", count=1)
        state = _calibrate(lab, tmp_path)
        assert lab.calibrator_state()["operate"] is False
    assert state.is_completed(), state
    journal = RunJournal(Path(state.result()["run_folder"]) / "journal.jsonl").read()
    assert {i: len(journal.points[i].attempts) for i in ids} == dict(zip(ids, [2, 1, 2, 2]))
    assert all(p.completed for p in journal.points.values())
    tasks = {t.name: t for t in _flow_run_tasks(state.state_details.flow_run_id)
             if t.name.startswith("measure ")}
    first = tasks[f"measure {ids[0]} … {ids[-1]} (4 points)"]
    assert first.state.is_failed() and first.run_count == 3     # tried, retried twice
    assert tasks[f"measure {ids[-1]}"].state.is_completed() and len(tasks) == 2


def test_a_point_that_stalls_fails_the_run_after_two_retries(prefect_harness, tmp_path):
    with SimulatedLab(seed=12, latency="zero") as lab:
        lab.inject_fault("dmm", "drop", on=r"READ\?", count=None)   # never reads
        state = _calibrate(lab, tmp_path)
        assert lab.calibrator_state()["operate"] is False
    assert state.is_failed()
    journal = RunJournal(next((tmp_path / "runs").glob("*/journal.jsonl"))).read()
    first = load_procedure(QUICK).points[0].id
    assert {i: len(p.attempts) for i, p in journal.points.items() if p.attempts} == {first: 3}
    tasks = [t for t in _flow_run_tasks(state.state_details.flow_run_id)
             if t.name.startswith("measure ")]
    assert len(tasks) == 1 and tasks[0].run_count == 3


def test_instrument_error_is_not_retried(prefect_harness, tmp_path):
    with SimulatedLab(seed=10, latency="zero") as lab:
        lab.inject_fault("dmm", "error", on=r"READ\?", count=None, code=-222,
                         message="Data out of range")
        state = _calibrate(lab, tmp_path)
        assert lab.calibrator_state()["operate"] is False
    assert state.is_failed()
    journal_path = next((tmp_path / "runs").glob("*/journal.jsonl"))
    journal = RunJournal(journal_path).read()
    first = load_procedure(QUICK).points[0].id
    assert len(journal.points[first].attempts) == 1     # permanent error: no retry
    assert "-222" in journal_path.read_text()


_PROBE = """
import sys
from labauto.engine.locks import InstrumentBusy, InstrumentLocks
for resource in sys.argv[1:]:
    try:
        with InstrumentLocks("PROBE", timeout_s=0) as locks:
            locks.acquire_resource(resource, "probe")
        print("free")
    except InstrumentBusy as exc:
        print("busy", exc)
"""


def test_the_flow_holds_the_instrument_locks_between_its_tasks(prefect_harness, tmp_path,
                                                                monkeypatch):
    # Each measure task reopens the instruments; between two tasks another run (another
    # process) must still find them locked by this flow run, not free to grab.
    import subprocess
    import sys

    import flows.calibrate as flow_module
    from flows.calibrate import calibrate

    probes: list[str] = []
    original = flow_module.measure_points

    def measure_then_probe(run, point_ids, **kwargs):
        original(run, point_ids, **kwargs)        # the task's instruments are safe and closed now
        if not probes:
            out = subprocess.run([sys.executable, "-c", _PROBE, run.settings.dut_resource,
                                  run.settings.standard_resource], capture_output=True, text=True,
                                 timeout=60, cwd=ROOT)
            probes.extend(out.stdout.splitlines() or [out.stderr])

    monkeypatch.setattr(flow_module, "measure_points", measure_then_probe)
    with SimulatedLab(seed=11, latency="zero") as lab:
        state = calibrate(str(QUICK), lab.resources["dmm"], lab.resources["calibrator"],
                          runs_dir=str(tmp_path / "runs"), out_dir=str(tmp_path / "certs"),
                          settle_scale=0.0, timeout_ms=5000, publish=False, return_state=True)
        after = subprocess.run([sys.executable, "-c", _PROBE, lab.resources["dmm"],
                                lab.resources["calibrator"]], capture_output=True, text=True,
                               timeout=60, cwd=ROOT).stdout.splitlines()
    assert state.is_completed(), state
    run_id = state.result()["run_id"]
    assert len(probes) == 2 and all(p.startswith("busy") and f"run {run_id} " in p for p in probes), probes
    assert after == ["free", "free"], "the locks are released when the flow run ends"


def test_stretches_cut_the_points_where_a_person_is_needed(tmp_path):
    from labauto.engine.run import stretches

    text = QUICK.read_text().replace("  - {range: 10 V,", "  - step: move the leads\n  - {range: 10 V,")
    (tmp_path / "p.yaml").write_text(text)
    procedure = load_procedure(tmp_path / "p.yaml")
    points = list(procedure.points)
    step = procedure.points[1].steps
    assert [s.text for s in step] == ["move the leads"]
    assert stretches(procedure, points) == [((), points[:1]), (step, points[1:])]
    # resumed at the third point: the set-up it needs is confirmed again first
    assert stretches(procedure, points[2:]) == [(step, points[2:])]
    assert stretches(procedure, []) == []


def test_each_point_measured_is_a_line_in_the_flow_runs_log_and_reaches_the_observer(caplog):
    import logging
    from types import SimpleNamespace

    from flows.calibrate import LoggedPoints
    from labauto.engine.observer import NullObserver

    seen = []

    class Bars(NullObserver):                    # e.g. the CLI's progress bars
        def point_finished(self, point):
            seen.append(("finished", point.id))

        def conditions(self, when, values, problems):
            seen.append(("conditions", when))

    log = logging.getLogger("test-logged-points")
    observer = LoggedPoints(Bars(), log)
    with caplog.at_level(logging.INFO, logger=log.name):
        observer.point_started(SimpleNamespace(id="P1"), 1)
        observer.point_finished(SimpleNamespace(id="P1"))
        observer.conditions("after P1", {}, [])
    assert seen == [("finished", "P1"), ("conditions", "after P1")]
    assert [r.getMessage() for r in caplog.records] == ["point P1 measured"]
    assert not hasattr(LoggedPoints(NullObserver(), log), "conditions")   # optional hook

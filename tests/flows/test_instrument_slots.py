"""Instrument slots (flows/instrument_slots.py): Prefect global concurrency limits, one per
instrument.  A second flow run on a busy bench waits, and its log names the flow run holding
the bench; flow runs on different benches measure at the same time."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from labauto.engine.journal import RunJournal
from labauto.lab import DEFAULT_LAB_FILE
from labauto.sim import SimulatedLab

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml"
SECOND_CALIBRATOR = "3456790"     # the second bench's calibrator, registered in two_benches_lab


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)


@pytest.fixture()
def two_benches_lab(tmp_path) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(DEFAULT_LAB_FILE.read_text() + f"""
  - manufacturer: Fluke
    model: 5522A
    serial: "{SECOND_CALIBRATOR}"
    certificate_id: PTB-SIM-2026-0816
    calibrated_by: National Metrology Institute (simulated)
    calibration_due: "2027-09-30"
""")
    return path


class _Captured(logging.Handler):
    """Flow-run log records, with an event set when one contains ``wanted``."""

    def __init__(self, wanted: str):
        super().__init__(logging.WARNING)
        self.wanted, self.seen, self.messages = wanted, threading.Event(), []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.messages.append(text)
        if self.wanted in text:
            self.seen.set()


@pytest.fixture()
def flow_log():
    handlers = []

    def capture(wanted: str) -> _Captured:
        h = _Captured(wanted)
        logging.getLogger("prefect.flow_runs").addHandler(h)
        handlers.append(h)
        return h
    yield capture
    for h in handlers:
        logging.getLogger("prefect.flow_runs").removeHandler(h)


def _in_thread(fn, results: dict, key: str) -> threading.Thread:
    def target():
        try:
            results[key] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            results[key] = exc
    t = threading.Thread(target=target, name=key, daemon=True)
    t.start()
    return t


def _calibrate(lab: SimulatedLab, tmp_path: Path, name: str, lab_file: Path | None = None,
               run_id: str | None = None):
    from flows.calibrate import calibrate

    return lambda: calibrate(str(QUICK), lab.resources["dmm"], lab.resources["calibrator"],
                             runs_dir=str(tmp_path / name / "runs"),
                             out_dir=str(tmp_path / name / "certs"),
                             lab_file=str(lab_file) if lab_file else None, settle_scale=0.0,
                             timeout_ms=5000, publish=False, run_id=run_id, return_state=True)


def _measuring_window(summary: dict) -> tuple[str, str]:
    """First point_start and last reading of a run (ISO times, comparable as strings)."""
    text = (Path(summary["run_folder"]) / "journal.jsonl").read_text()
    import json

    recs = [json.loads(line) for line in text.splitlines()]
    starts = [r["t"] for r in recs if r["type"] == "point_start"]
    reads = [r["t"] for r in recs if r["type"] == "reading"]
    return min(starts), max(reads)


def test_second_flow_on_a_busy_bench_waits_and_says_who_holds_it(prefect_harness, tmp_path,
                                                                  monkeypatch, flow_log):
    import flows.calibrate as flow_module
    from flows.instrument_slots import resource_slot

    log = flow_log("bench busy")
    original = flow_module.measure_points

    def hold_bench_until_the_second_run_waits(run, point_ids, **kwargs):
        if run.run_id == "FIRST-RUN":
            assert log.seen.wait(120), "the second flow run never reported the busy bench"
        original(run, point_ids, **kwargs)

    monkeypatch.setattr(flow_module, "measure_points", hold_bench_until_the_second_run_waits)
    results: dict = {}
    with SimulatedLab(seed=21, latency="zero") as lab:
        resources = lab.resources
        first = _in_thread(_calibrate(lab, tmp_path, "first", run_id="FIRST-RUN"), results, "first")
        # the second run starts once the first holds the bench (its run folder exists)
        while not (tmp_path / "first" / "runs" / "FIRST-RUN").exists() and first.is_alive():
            first.join(0.05)
        second = _in_thread(_calibrate(lab, tmp_path, "second", run_id="SECOND-RUN"), results, "second")
        first.join(300)
        second.join(300)
        assert lab.calibrator_state()["operate"] is False
    a, b = results["first"], results["second"]
    assert not isinstance(a, BaseException) and a.is_completed(), a
    assert not isinstance(b, BaseException) and b.is_completed(), b
    busy = [m for m in log.messages if "bench busy" in m]
    assert len(busy) == 1, log.messages
    # the message names the slot's instrument and the flow run (and labauto run) holding it
    assert (f"the item (DUT) at {resources['dmm']} and the reference standard at "
            f"{resources['calibrator']} are held by flow run") in busy[0]
    assert "labauto run FIRST-RUN" in busy[0] and "(labauto run SECOND-RUN)" in busy[0]
    assert any("bench free" in m and resource_slot(resources["dmm"]) in m for m in log.messages)
    # the second run measured only after the first had finished measuring
    first_window, second_window = _measuring_window(a.result()), _measuring_window(b.result())
    assert second_window[0] > first_window[1]
    for summary in (a.result(), b.result()):
        journal = RunJournal(Path(summary["run_folder"]) / "journal.jsonl").read()
        assert all(p.completed for p in journal.points.values())
        assert summary["overall_decision"] == "pass"


def test_flows_on_different_benches_measure_at_the_same_time(prefect_harness, tmp_path,
                                                              monkeypatch, two_benches_lab,
                                                              flow_log):
    import flows.calibrate as flow_module

    log = flow_log("bench busy")
    both_measuring = threading.Barrier(2)
    original = flow_module.measure_points
    met: list[str] = []

    def meet_the_other_bench(run, point_ids, **kwargs):
        if run.run_id not in met:        # first point of each run: both are measuring now
            met.append(run.run_id)
            both_measuring.wait(120)     # BrokenBarrierError if the runs were serialised
        original(run, point_ids, **kwargs)

    monkeypatch.setattr(flow_module, "measure_points", meet_the_other_bench)
    results: dict = {}
    with SimulatedLab(seed=22, latency="zero") as bench1, \
            SimulatedLab(seed=23, latency="zero", dmm_serial="MY60099999",
                         calibrator_serial=SECOND_CALIBRATOR) as bench2:
        threads = [_in_thread(_calibrate(bench, tmp_path, name, lab_file=two_benches_lab), results, name)
                   for name, bench in (("bench1", bench1), ("bench2", bench2))]
        for t in threads:
            t.join(300)
    for name in ("bench1", "bench2"):
        state = results[name]
        assert not isinstance(state, BaseException) and state.is_completed(), (name, state)
        assert state.result()["overall_decision"] == "pass"
    assert len(met) == 2 and not both_measuring.broken
    assert not [m for m in log.messages if "bench busy" in m]
    w1, w2 = _measuring_window(results["bench1"].result()), _measuring_window(results["bench2"].result())
    assert w1[0] < w2[1] and w2[0] < w1[1]        # the measuring windows overlap


def test_slot_names_follow_the_instrument_file_locks():
    from flows.instrument_slots import identity_slot, resource_slot
    from labauto.engine.locks import identity_key, resource_key

    # two spellings of one resource are one slot, as they are one file lock
    assert resource_slot("tcpip::10.0.0.5::5025::SOCKET") == resource_slot("TCPIP0::10.0.0.5::5025::SOCKET")
    assert resource_slot("TCPIP0::10.0.0.5::5025::SOCKET") == \
        "instrument-" + resource_key("TCPIP0::10.0.0.5::5025::SOCKET")
    assert identity_slot("Fluke", "5522A", "3456789") == "instrument-identity-fluke_5522a_3456789"
    assert identity_slot("Fluke", "5522A", "3456789") == "instrument-" + identity_key("Fluke", "5522A", "3456789")

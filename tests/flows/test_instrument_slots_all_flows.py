"""Every flow that drives instruments holds their Prefect instrument slots (flows/
instrument_slots.py), as ``calibrate`` does (tests/flows/test_instrument_slots.py): the
``temperature-comparison`` flow (readout, heat sources, DMM; then the identities its task
recorded) and the ``check-standard`` flow (the meter).  Checked on the session's Prefect
server while the real measuring code runs, and after the flow run: every slot released; a
check on a meter another flow run holds waits, then gives up naming the holder."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]
DIGITAL = ROOT / "procedures" / "temperature" / "digital_thermometer.yaml"


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.setenv("LABAUTO_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)


def _server_view(slots: list[str]) -> dict:
    """Taken slots among ``slots`` and the current flow run's ``holds:`` tags."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    with get_client(sync_client=True) as client:
        taken = {n: client.read_global_concurrency_limit_by_name(n).active_slots for n in slots}
        tags = client.read_flow_run(flow_run.get_id()).tags
    return {"taken": taken, "holds": sorted(t for t in tags if t.startswith("holds:"))}


def _active(slots: list[str]) -> dict[str, int]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {n: client.read_global_concurrency_limit_by_name(n).active_slots for n in slots}


class Technician:
    def __init__(self, lab):
        self.lab = lab

    def confirm(self, step, point):
        self.lab.place_probes(point.heat_source)

    def read_display(self, point, index):
        from labauto.units import Q_
        return Q_(self.lab.display(), "degC")


def test_the_temperature_comparison_holds_its_instruments_slots(prefect_harness, tmp_path,
                                                                 monkeypatch):
    import labauto.engine.comparison as comparison
    from flows.instrument_slots import identity_slot, resource_slot
    from flows.temperature_comparison import temperature_comparison
    from labauto.engine.comparison import set_clock
    from labauto.engine.operator import set_operator
    from labauto.procedure.temperature import load_temperature_procedure
    from labauto.sim.thermometry import lab_for_procedure

    (tmp_path / "temperature").mkdir()
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / "sprt-5681-1234.yaml").write_text(
        (ROOT / "procedures" / "references" / "sprt-5681-1234.yaml").read_text())
    text = DIGITAL.read_text()
    for drop in ("  - {setpoint: 50 degC, heat_source: bath}\n",
                 "  - {setpoint: 100 degC, heat_source: bath}\n"):
        assert drop in text
        text = text.replace(drop, "")
    # an operator step before the second setpoint: two measuring tasks
    bath25 = "  - {setpoint: 25 degC, heat_source: bath}\n"
    assert bath25 in text
    text = text.replace(bath25, "  - {step: check the probes' immersion depth}\n" + bath25)
    path = tmp_path / "temperature" / "two.yaml"
    path.write_text(text)
    lab = lab_for_procedure(load_temperature_procedure(path), seed=9)
    resource_slots: list[str] = []
    seen: list[dict] = []
    original = comparison.execute_comparison

    def look_at_the_server_then_measure(run, **kwargs):
        seen.append(_server_view(resource_slots))
        seen[-1]["held"] = _active([t[len("holds:"):] for t in seen[-1]["holds"]])
        return original(run, **kwargs)

    monkeypatch.setattr(comparison, "execute_comparison", look_at_the_server_then_measure)
    previous = (set_operator(Technician(lab)), set_clock(lab.clock))
    try:
        with lab:
            resource_slots.extend(sorted({resource_slot(r) for r in lab.resources.values()}))
            n_instruments = len(lab.resources)
            state = temperature_comparison(
                str(path), lab.resources, runs_dir=str(tmp_path / "runs"),
                out_dir=str(tmp_path / "certs"), timeout_ms=500, publish=False, issue=False,
                return_state=True)
    finally:
        set_operator(previous[0])
        set_clock(previous[1])
    assert state.is_completed(), state
    assert n_instruments >= 2 and len(resource_slots) == n_instruments
    # while the first task measured: one slot per instrument, taken, and tagged as held
    assert seen, "the measuring task never ran"
    assert seen[0]["taken"] == {n: 1 for n in resource_slots}
    # the instruments' identities (the journal's): their identity slots, held and then released
    from labauto.engine.journal import RunJournal
    journal = RunJournal(Path(state.result()["run_folder"]) / "journal.jsonl").read()
    identity_slots = sorted(identity_slot(r["manufacturer"], r["model"], r["serial"])
                            for r in journal.instruments.values())
    assert identity_slots and all(n.startswith("instrument-identity-") for n in identity_slots)
    # taken before the first task's first command (the flow's pre-flight identified the
    # instruments), held by both tasks (the second one after the operator step)
    assert len(seen) == 2
    for view in seen:
        assert view["holds"] == sorted("holds:" + n for n in resource_slots + identity_slots)
        assert view["held"] == {n: 1 for n in resource_slots + identity_slots}
    assert _active(resource_slots + identity_slots) == {n: 0 for n in resource_slots + identity_slots}
    from prefect.client.orchestration import get_client
    with get_client(sync_client=True) as client:
        tags = client.read_flow_run(state.state_details.flow_run_id).tags
    assert not [t for t in tags if t.startswith(("holds:", "lease:"))], tags
    assert f"run:{state.result()['run_id']}" in tags


def test_the_check_standard_flow_holds_the_meters_slot(prefect_harness, tmp_path, monkeypatch):
    from flows.check_standard import check_standard
    from flows.instrument_slots import identity_slot, resource_slot
    from labauto.quality import checks
    from labauto.quality.records import Calibration, Item
    from labauto.quality.register import open_register
    from labauto.sim import SimulatedLab
    from labauto.sim.artifacts import ZENER_10V

    store = open_register(tmp_path / "register", create=True)
    store.add(Item("DMM-01", "Keysight Technologies", "34465A", "MY60012345", "reference", 365.0,
                   bench="DC bench 1"))
    store.add_calibration("DMM-01", Calibration("DKD-2026-0042",
                                                dt.date.today() - dt.timedelta(days=30),
                                                "Accredited DC laboratory (simulated)"))
    store.add(Item("ZENER-01", "Fluke", "732C", "Z1001", "check_standard", 365.0))
    seen: list[dict] = []
    original = checks.measure_check

    with SimulatedLab(seed=7, latency="zero") as sim:
        dmm = sim.resources["dmm"]
        slot = resource_slot(dmm)
        meter = identity_slot("Keysight Technologies", "34465A", "MY60012345")   # the register's

        def look_at_the_server_then_measure(*args, **kwargs):
            seen.append(_server_view([slot, meter]))
            return original(*args, **kwargs)

        monkeypatch.setattr(checks, "measure_check", look_at_the_server_then_measure)
        sim.connect_artifact(ZENER_10V, 0)
        state = check_standard(item="DMM-01", check_standard="ZENER-01", resource=dmm,
                               equipment_register=str(tmp_path / "register"), readings=3,
                               report_dir=str(tmp_path / "checks"), timeout_ms=5000,
                               return_state=True)
    assert state.is_completed(), state
    out = state.result()
    assert out["verdict"] == "baseline" and abs(out["check"]["value"] - 10.0) < 400e-6
    assert seen == [{"taken": {slot: 1, meter: 1}, "holds": sorted(["holds:" + slot, "holds:" + meter])}]
    assert _active([slot, meter]) == {slot: 0, meter: 0}
    from prefect.client.orchestration import get_client
    with get_client(sync_client=True) as client:
        tags = client.read_flow_run(state.state_details.flow_run_id).tags
    assert not [t for t in tags if t.startswith(("holds:", "lease:"))], tags


def test_a_check_on_a_meter_another_flow_run_drives_waits_and_names_the_holder(
        prefect_harness, tmp_path):
    import threading

    from prefect import flow

    from flows.check_standard import check_standard
    from flows.instrument_slots import InstrumentSlots
    from labauto.quality.records import Item
    from labauto.quality.register import open_register

    store = open_register(tmp_path / "register", create=True)
    store.add(Item("DMM-01", "Keysight Technologies", "34465A", "MY60012345", "reference", 365.0))
    store.add(Item("ZENER-01", "Fluke", "732C", "Z1001", "check_standard", 365.0))
    meter = "TCPIP0::192.0.2.17::5025::SOCKET"        # never addressed: the slot is busy
    holding, done = threading.Event(), threading.Event()

    @flow(name="holds-the-meter")
    def holder():
        with InstrumentSlots("HOLDER-RUN", wait_s=10, log=None) as slots:
            slots.hold_resources({"the meter of another bench's calibration": meter})
            holding.set()
            assert done.wait(120)

    errors: list = []
    thread = threading.Thread(target=lambda: errors.append(holder(return_state=True)), daemon=True)
    thread.start()
    try:
        assert holding.wait(120), "the holding flow run never took the slot"
        state = check_standard(item="DMM-01", check_standard="ZENER-01", resource=meter,
                               equipment_register=str(tmp_path / "register"), readings=3,
                               report_dir=str(tmp_path / "checks"), timeout_ms=500,
                               instrument_wait_s=1.0, return_state=True)
    finally:
        done.set()
        thread.join(120)
    assert errors and errors[0].is_completed(), errors
    assert state.is_failed(), state
    from labauto.engine.locks import InstrumentBusy
    with pytest.raises(InstrumentBusy) as busy:
        state.result()
    message = str(busy.value)
    assert (f"the meter DMM-01 reading the check standard ZENER-01 at {meter} is held by "
            "flow run") in message
    assert "labauto run HOLDER-RUN" in message and "gave up after waiting 1 s" in message
    assert open_register(tmp_path / "register").get("DMM-01").checks == ()   # nothing measured


def test_a_check_waits_for_its_meter_driven_through_another_resource(prefect_harness, tmp_path):
    """Another flow run holds the meter by its identity (a calibration reaching it through
    another resource string): the check waits, says who holds it, and measures once it is
    released; a check that cannot wait that long gives up with nothing measured."""
    import logging
    import threading
    import time

    from prefect import flow

    from flows.check_standard import check_standard
    from flows.instrument_slots import InstrumentSlots
    from labauto.engine.locks import InstrumentBusy
    from labauto.quality.records import Item
    from labauto.quality.register import open_register
    from labauto.sim import SimulatedLab
    from labauto.sim.artifacts import ZENER_10V

    store = open_register(tmp_path / "register", create=True)
    store.add(Item("DMM-01", "Keysight Technologies", "34465A", "MY60012345", "reference", 365.0))
    store.add(Item("ZENER-01", "Fluke", "732C", "Z1001", "check_standard", 365.0))
    messages: list[str] = []
    waiting = threading.Event()

    class Captured(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())
            if "bench busy" in record.getMessage():
                waiting.set()

    handler = Captured(logging.WARNING)
    logging.getLogger("prefect.flow_runs").addHandler(handler)
    holding, release = threading.Event(), threading.Event()
    released_at: list[float] = []

    @flow(name="holds-the-meter-by-identity")
    def holder():
        with InstrumentSlots("HOLDER-RUN", wait_s=10, log=None) as slots:
            slots.hold_recorded_identities({"item": {"manufacturer": "Keysight Technologies",
                                                     "model": "34465A", "serial": "MY60012345"}})
            holding.set()
            assert release.wait(120)
        released_at.append(time.monotonic())

    def check(wait_s):
        return check_standard(item="DMM-01", check_standard="ZENER-01", resource=dmm,
                              equipment_register=str(tmp_path / "register"), readings=3,
                              report_dir=str(tmp_path / "checks"), timeout_ms=5000,
                              instrument_wait_s=wait_s, return_state=True)

    results: list = []
    try:
        with SimulatedLab(seed=8, latency="zero") as sim:
            dmm = sim.resources["dmm"]
            sim.connect_artifact(ZENER_10V, 0)
            thread = threading.Thread(target=lambda: results.append(holder(return_state=True)),
                                      daemon=True)
            thread.start()
            assert holding.wait(120), "the holding flow run never took the slot"
            gave_up = check(1.0)
            assert open_register(tmp_path / "register").get("DMM-01").checks == ()
            waiting.clear()
            checker = threading.Thread(target=lambda: results.append(check(120.0)), daemon=True)
            checker.start()
            assert waiting.wait(120), "the second check never said it waits"
            release.set()
            thread.join(120)
            checker.join(120)
    finally:
        release.set()
        logging.getLogger("prefect.flow_runs").removeHandler(handler)
    assert gave_up.is_failed(), gave_up
    with pytest.raises(InstrumentBusy) as busy:
        gave_up.result()
    held = ("the meter DMM-01 instrument Keysight Technologies 34465A serial MY60012345 is held "
            "by flow run")
    assert held in str(busy.value) and "labauto run HOLDER-RUN" in str(busy.value)
    assert "gave up after waiting 1 s" in str(busy.value)
    holder_state, waited = results
    assert holder_state.is_completed() and waited.is_completed(), results
    assert any(held in m and "HOLDER-RUN" in m for m in messages if "bench busy" in m), messages
    checks_done = open_register(tmp_path / "register").get("DMM-01").checks
    assert len(checks_done) == 1 and abs(checks_done[0].value - 10.0) < 400e-6
    assert any("bench free" in m for m in messages), messages      # measured once released
    assert released_at

"""Schedules from the equipment register (flows/schedules.py, `labauto schedule sync`): one
scheduled deployment per item with a procedure and a bench; an item whose procedure needs a
person is attended (its run waits for a technician); bad items are refused, nothing changed;
a finished calibration records itself in the register and moves the item's due date."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labauto.lab import DEFAULT_LAB_FILE
from labauto.sim import SimulatedLab

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml"
runner = CliRunner()

REFERENCE = """asset_id: CAL-01
manufacturer: Fluke
model: 5522A
serial: '3456789'
role: reference
interval: 12 months
calibrations:
- {certificate_id: PTB-SIM-2026-0815, date: '2026-09-30', laboratory: PTB}
"""
DMM = """asset_id: {asset}
manufacturer: Keysight Technologies
model: 34465A
serial: '{serial}'
role: working_standard
interval: 365 d
{extra}"""


def make_lab(folder: Path, dut: str = "TCPIP0::127.0.0.1::5025::SOCKET",
             standard: str = "TCPIP0::127.0.0.1::5026::SOCKET", items: dict[str, str] | None = None) -> Path:
    """A lab file with a register folder and two benches (dc-1 with a DUT port, dc-2 without)."""
    text = DEFAULT_LAB_FILE.read_text()
    text = text[:text.index("reference_standards:")]       # the register replaces the list
    lab = folder / "lab.yaml"
    lab.write_text(text + f"""register: register
benches:
  dc-1:
    standard: {standard}
    dut: {dut}
  dc-2:
    standard: TCPIP0::10.0.1.7::5025::SOCKET
""")
    reg = folder / "register"
    reg.mkdir(exist_ok=True)
    (reg / "CAL-01.yaml").write_text(REFERENCE)
    for name, body in (items or {}).items():
        (reg / f"{name}.yaml").write_text(body)
    steps = QUICK.read_text().replace("  - {range: 10 V,", "  - step: Move the leads\n  - {range: 10 V,")
    (folder / "quick_with_step.yaml").write_text(steps)
    return lab


def dmm(asset: str, serial: str, **keys: str) -> str:
    return DMM.format(asset=asset, serial=serial,
                      extra="".join(f"{k}: {v}\n" for k, v in keys.items()))


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)
    monkeypatch.delenv("LABAUTO_LAB", raising=False)


@pytest.mark.prefect
def test_sync_schedules_each_item_on_its_bench_when_due(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client

    from flows.schedules import sync

    lab = make_lab(tmp_path, items={
        "DMM-01": dmm("DMM-01", "MY1", bench="dc-1", procedure=str(QUICK),
                      calibrations="\n- {certificate_id: LA-2026-1, date: '2026-01-10', laboratory: us}"),
        "DMM-02": dmm("DMM-02", "MY2", bench="dc-1", procedure="quick_with_step.yaml"),
        "DMM-03": dmm("DMM-03", "MY3", bench="dc-1"),            # calibrated outside: no procedure
    })
    report = sync(lab)
    assert report["deployments"] == ["calibrate/item-DMM-01", "calibrate/item-DMM-02"]
    assert sorted(report["not_scheduled"]) == ["CAL-01: no procedure (calibrated outside the lab)",
                                               "DMM-03: no procedure (calibrated outside the lab)"]
    with get_client(sync_client=True) as client:
        one = client.read_deployment_by_name("calibrate/item-DMM-01")
        two = client.read_deployment_by_name("calibrate/item-DMM-02")
    assert one.work_queue_name == "bench-dc-1" and two.work_queue_name == "bench-dc-1"
    sched = one.schedules[0].schedule
    assert sched.interval == dt.timedelta(days=365)
    assert sched.anchor_date == dt.datetime(2027, 1, 10, 6, 0, tzinfo=dt.timezone.utc)  # 2026-01-10 + 365 d
    assert one.parameters["procedure"] == str(QUICK) and one.parameters["register_item"] == "DMM-01"
    assert one.parameters["attended"] is False and "unattended" in one.tags
    # never calibrated: due now; its procedure needs a person: attended
    assert two.parameters["attended"] is True and "attended" in two.tags
    assert two.parameters["procedure"] == str(tmp_path / "quick_with_step.yaml")
    anchor = two.schedules[0].schedule.anchor_date
    assert dt.timedelta(0) < anchor - dt.datetime.now(dt.timezone.utc) < dt.timedelta(minutes=5)

    # DMM-02 leaves the schedule: its deployment goes; DMM-01's stays
    (tmp_path / "register" / "DMM-02.yaml").write_text(dmm("DMM-02", "MY2", bench="dc-1"))
    again = sync(lab)
    assert again["deployments"] == ["calibrate/item-DMM-01"]
    assert again["deleted"] == ["calibrate/item-DMM-02"]


@pytest.mark.parametrize("item, message", [
    (dmm("DMM-09", "MY9", procedure=str(QUICK)), "DMM-09 .*no bench"),
    (dmm("DMM-09", "MY9", bench="dc-7", procedure=str(QUICK)), "bench 'dc-7' is not a bench"),
    (dmm("DMM-09", "MY9", bench="dc-1", procedure="procedures/nosuch.yaml"),
     "unknown procedure 'procedures/nosuch.yaml'"),
    (dmm("DMM-09", "MY9", bench="dc-2", procedure=str(QUICK)), "bench dc-2 has no dut port"),
])
def test_an_item_that_cannot_be_scheduled_is_refused_and_nothing_changes(tmp_path, item, message):
    import re

    from labauto.cli import app

    lab = make_lab(tmp_path, items={"DMM-09": item,
                                    "DMM-01": dmm("DMM-01", "MY1", bench="dc-1", procedure=str(QUICK))})
    result = runner.invoke(app, ["schedule", "sync", "--lab", str(lab), "--dry-run"],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert re.search(message, text), text
    assert "nothing was changed" in text and "register item DMM-09" in text


@pytest.mark.prefect
def test_a_scheduled_calibration_records_itself_and_moves_the_due_date(prefect_harness, tmp_path):
    from flows.calibrate import calibrate
    from labauto.quality.register import open_register

    with SimulatedLab(seed=41, latency="zero") as sim:
        lab = make_lab(tmp_path, dut=sim.resources["dmm"], standard=sim.resources["calibrator"],
                       items={"DMM-01": dmm("DMM-01", "MY60012345", bench="dc-1",
                                            procedure=str(QUICK))})
        state = calibrate(str(QUICK), sim.resources["dmm"], sim.resources["calibrator"],
                          lab_file=str(lab), runs_dir=str(tmp_path / "runs"),
                          out_dir=str(tmp_path / "certs"), settle_scale=0.0, timeout_ms=5000,
                          publish=False, register_item="DMM-01", return_state=True)
    assert state.is_completed(), state
    item = open_register(tmp_path / "register").get("DMM-01")
    cal = item.latest_calibration()
    assert cal.certificate_id == state.result()["certificate_id"]
    assert cal.date == dt.date.today() and cal.as_found == "in_tolerance"
    assert item.due_date() == dt.date.today() + dt.timedelta(days=365)


@pytest.mark.prefect
def test_an_attended_calibration_never_starts_without_a_technician(prefect_harness, tmp_path,
                                                                     caplog):
    from flows.calibrate import calibrate

    lab = make_lab(tmp_path)
    with SimulatedLab(seed=42, latency="zero") as sim:
        state = calibrate(str(tmp_path / "quick_with_step.yaml"), sim.resources["dmm"],
                          sim.resources["calibrator"], lab_file=str(lab),
                          runs_dir=str(tmp_path / "runs"), out_dir=str(tmp_path / "certs"),
                          settle_scale=0.0, publish=False, attended=True, register_item="DMM-02",
                          operator_timeout_s=1, return_state=True)
        history = sim.calibrator_state()["history"]
    assert state.is_failed()
    assert not (tmp_path / "runs").exists()            # nothing measured, no run started
    assert history == []                               # the calibrator was never touched
    errors = " ".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert "nobody came to attend the calibration of DMM-02" in errors


@pytest.mark.parametrize("clock, due, expected", [
    # due today, before 06:00 UTC: due means due now (the old code waited until 06:00)
    ("2026-12-06T02:21:00", "2026-12-06", "2026-12-06T02:22:00"),
    # due today, after 06:00 and overdue: a minute from now
    ("2026-12-06T14:00:00", "2026-12-06", "2026-12-06T14:01:00"),
    ("2026-12-06T02:21:00", "2026-11-01", "2026-12-06T02:22:00"),
    # due on a later day: 06:00 UTC that day
    ("2026-12-06T23:59:00", "2026-12-07", "2026-12-07T06:00:00"),
])
def test_the_first_run_is_now_for_an_item_due_today_or_overdue(clock, due, expected):
    from labauto.benches import Bench
    from flows.schedules import ItemSchedule

    utc = dt.timezone.utc
    plan = ItemSchedule("DMM-01", Bench.__new__(Bench), QUICK, "p", 365.0,
                        dt.date.fromisoformat(due), False)
    now = dt.datetime.fromisoformat(clock).replace(tzinfo=utc)
    assert plan.anchor(now) == dt.datetime.fromisoformat(expected).replace(tzinfo=utc)

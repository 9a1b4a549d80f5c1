"""``labauto validate --faults``: injected faults, a killed and resumed process, the platform
down while publishing; nothing lost, nothing measured twice, sources in standby, published once."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labauto.cli import app
from labauto.engine.journal import RunJournal
from labauto.validation.faults import fault_bench

QUICK = "procedures/keysight_34465a_dcv_quick.yaml"


@pytest.fixture(scope="module")
def bench(project_root, tmp_path_factory):
    with fault_bench(project_root / QUICK, tmp_path_factory.mktemp("faults"), seed=3,
                    platform=False) as b:
        yield b


def _journal(bench, name):
    return RunJournal(bench.workdir / name / "runs" / f"faults-{name}" / "journal.jsonl").read()


def test_overload_stops_cleanly_and_the_resumed_run_completes(bench):
    o = bench.run("overload")
    assert o.first_session.startswith("stopped cleanly: MeasurementFault")
    assert o.resumed and o.completed and o.ok
    assert (o.readings_lost, o.points_measured_twice) == (0, 0)
    assert o.standby_when_stopped and o.standby_at_end
    state = _journal(bench, "overload")
    # the faulted point has a failed attempt with the overload in the journal, then a completed one
    faulted = [p for p in state.points.values() if p.faults]
    assert len(faulted) == 1 and faulted[0].done_attempt == 2
    assert faulted[0].faults[0]["reason"].startswith("overload indication")
    assert state.completed_ids() == {p.id for p in bench.procedure.points}


@pytest.mark.parametrize("scenario, error, injected", [
    ("timeout", "TransientVisaError", "the meter does not answer 'READ?' after reading"),
    ("dropped-socket", "ConnectionLostError", "the meter's connection is cut at 'READ?' after"),
    ("error-queue", "InstrumentError", "the source rejects 'OUT' with -222 at the start of")])
def test_communication_faults_stop_cleanly_and_resume(bench, scenario, error, injected):
    o = bench.run(scenario)
    assert o.first_session.startswith(f"stopped cleanly: {error}")
    assert o.injected.startswith(injected), o.injected     # the command, not its regex READ\\?
    assert o.resumed and o.completed and o.ok
    assert (o.readings_lost, o.points_measured_twice) == (0, 0)
    assert o.standby_when_stopped and o.standby_at_end
    assert _journal(bench, scenario).completed_ids() == {p.id for p in bench.procedure.points}


def test_a_killed_process_is_resumed_without_loss(bench):
    o = bench.run("killed")
    assert o.first_session == "stopped cleanly: killed" and o.resumed and o.completed
    assert (o.readings_lost, o.points_measured_twice) == (0, 0)
    # standby when killed: only if the kill fell after a point's last reading (the engine puts
    # the source in standby then); mid-point nobody is left to do it; the resumed session does
    assert o.standby_at_end and o.ok
    assert o.injected.startswith("SIGKILL after reading")
    state = _journal(bench, "killed")
    n = sum(p.readings for p in bench.procedure.points)
    done = sum(len(p.readings) for p in state.points.values())
    assert done == n


def test_cli_faults_with_the_platform_down(project_root, tmp_path, dcc_dir, monkeypatch):
    monkeypatch.setenv("LABAUTO_DCC_DIR", str(dcc_dir))
    r = CliRunner().invoke(app, ["validate", str(project_root / QUICK), "--faults", "--scenario",
                                 "platform-down", "--json", "--workdir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    by = {f["scenario"]: f for f in d["faults"]}
    assert by["platform-down"]["first_session"] == \
        "completed; publication queued while the platform was down"
    assert by["platform-down"]["published"] == 1        # delivered from the outbox, once
    assert list(by) == ["platform-down"]
    assert all(f["ok"] and f["readings_lost"] == 0 and f["points_measured_twice"] == 0
               for f in d["faults"])


def test_the_error_queue_fault_fires_whatever_the_draw(project_root, tmp_path):
    """Seed 2 draws 16 of the 20 readings: set after reading 16 (the last point's first), the
    -222 found no point's output command left, only the safe state's 'OUT 0 V' at the end
    (SafeStateError): the scenario tested another path than a rejected output.  It is set as a
    random point starts now (and a fault that never fires is reported as an error)."""
    with fault_bench(project_root / QUICK, tmp_path, seed=2, platform=False) as b:
        o = b.run("error-queue")
    assert o.first_session.startswith("stopped cleanly: InstrumentError"), o.first_session
    assert o.injected.startswith("the source rejects 'OUT' with -222 at the start of point")
    assert o.ok and not o.error
    assert (o.readings_lost, o.points_measured_twice) == (0, 0)

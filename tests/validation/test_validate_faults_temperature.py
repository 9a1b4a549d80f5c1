"""``labauto validate --faults`` on a temperature comparison procedure: faults of the heat
source and the readout, a killed and resumed process, the platform down; nothing lost,
nothing measured twice, the heat sources at their safe setpoints, published once."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labauto.cli import app
from labauto.engine.journal import RunJournal
from labauto.validation.comparison_faults import COMPARISON_SCENARIOS
from labauto.validation.faults import fault_bench

DIGITAL = "procedures/temperature/digital_thermometer.yaml"
TYPE_N = "procedures/temperature/type_n_thermocouple.yaml"


@pytest.fixture(scope="module")
def bench(project_root, tmp_path_factory):
    with fault_bench(project_root / DIGITAL, tmp_path_factory.mktemp("tfaults"), seed=3,
                     platform=False) as b:
        yield b


def _journal(bench, name):
    return RunJournal(bench.workdir / name / "runs" / f"faults-{name}" / "journal.jsonl").read()


def _clean(o):
    assert o.ok, o.to_dict()
    assert o.resumed and o.completed
    assert (o.readings_lost, o.points_measured_twice) == (0, 0)
    assert o.standby_when_stopped and o.standby_at_end


@pytest.mark.parametrize("scenario, error", [
    ("timeout", "TransientVisaError"), ("dropped-socket", "ConnectionLostError"),
    ("error-queue", "InstrumentError"), ("overload", "OverloadError"),
    ("heat-source-lost", "ConnectionLostError"), ("heat-source-error", "InstrumentError")])
def test_readout_and_heat_source_faults_stop_cleanly_and_resume(bench, scenario, error):
    o = bench.run(scenario)
    assert o.first_session.startswith(f"stopped cleanly: {error}"), o.first_session
    _clean(o)
    state = _journal(bench, scenario)
    assert state.completed_ids() == {p.id for p in bench.procedure.points}
    # the faulted setpoint: one failed attempt, then one completed (4 readings each point)
    failed = [p for p in state.points.values() if p.done_attempt and p.done_attempt > 1]
    assert len(failed) == 1
    assert sum(len(p.readings) for p in state.points.values()) == 4 * len(bench.procedure.points)


def test_a_heat_source_that_settles_short_of_its_setpoint_stops_the_run(bench):
    """Its medium levels off half-way, stable: without the setpoint check the run measured there
    and labelled the readings with the setpoint."""
    o = bench.run("setpoint-not-reached")
    assert o.first_session.startswith("stopped cleanly: SetpointNotReached"), o.first_session
    assert "the reference became stable at" in o.first_session
    _clean(o)


def test_a_hunting_heat_source_times_out_and_the_resumed_run_completes(bench):
    o = bench.run("stability-timeout")
    assert o.first_session.startswith("stopped cleanly: StabilityTimeout"), o.first_session
    _clean(o)


def test_a_killed_process_is_resumed_mid_setpoint_without_loss(bench):
    o = bench.run("killed")
    assert o.first_session == "stopped cleanly: killed" and o.resumed and o.completed, o.to_dict()
    assert (o.readings_lost, o.points_measured_twice) == (0, 0)
    assert o.ok and o.standby_at_end
    assert o.injected.startswith("SIGKILL after T")
    state = _journal(bench, "killed")
    assert state.completed_ids() == {p.id for p in bench.procedure.points}


def test_the_furnace_goes_to_its_safe_setpoint_when_its_connection_is_lost(project_root,
                                                                            tmp_path):
    """The type N procedure's furnace (Fluke 9150, 150 °C to 1200 °C): a lost connection at a
    random setpoint (400 °C to 1000 °C) leaves it at the procedure's safe setpoint, 150 °C, the
    bottom of its range, reached on a new connection."""
    with fault_bench(project_root / TYPE_N, tmp_path, seed=5, platform=False) as b, \
            b._lab() as lab:
        o = b._injected_run(lab, "heat-source-lost", "lost",
                            lambda: lab.inject_fault("furnace", "drop", on="SENS:DATA\\?", count=1),
                            "point")
        furnace = lab.heat_sources["furnace"]
        assert o.first_session.startswith("stopped cleanly: ConnectionLostError"), o.first_session
        _clean(o)
        assert furnace.setpoint == 150.0
        # programmed: the setpoints up to the faulted one, 150 as it stopped (the first try
        # lost with the connection, then on a new one), the faulted one again, ..., 150
        state = RunJournal(tmp_path / "heat-source-lost" / "runs" / "faults-heat-source-lost"
                           / "journal.jsonl").read()
        faulted = next(p for p in b.procedure.points if state.points[p.id].done_attempt == 2)
        t = float(faulted.setpoint.to("degC").m)
        i = furnace.history.index(t)
        assert furnace.history[i + 1:i + 4] == [150.0, 150.0, t], furnace.history
        assert furnace.history[-1] == 150.0 and furnace.history.count(1000.0) == (
            2 if t == 1000.0 else 1)


def test_cli_runs_a_temperature_procedure_through_its_scenarios(project_root, tmp_path, dcc_dir,
                                                               monkeypatch):
    monkeypatch.setenv("LABAUTO_DCC_DIR", str(dcc_dir))
    r = CliRunner().invoke(app, ["validate", str(project_root / DIGITAL), "--faults", "--scenario",
                                 "platform-down", "--json", "--workdir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [f["scenario"] for f in d["faults"]] == ["platform-down"]
    f = d["faults"][0]
    assert f["first_session"] == "completed; publication queued while the platform was down"
    assert f["published"] == 1 and f["ok"]
    assert (f["readings_lost"], f["points_measured_twice"]) == (0, 0)
    assert f["standby_at_end"]


def test_cli_names_the_scenarios_of_a_temperature_procedure(project_root):
    r = CliRunner().invoke(app, ["validate", str(project_root / DIGITAL), "--faults",
                                 "--scenario", "no-such", "--no-platform"])
    assert r.exit_code == 2
    assert "setpoint-not-reached" in r.output and "heat-source-lost" in r.output
    assert set(COMPARISON_SCENARIOS) >= {"timeout", "overload", "killed", "platform-down"}

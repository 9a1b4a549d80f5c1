"""The Prefect flow ``temperature-comparison`` on the zero-latency simulated thermometry lab: a
lost connection to the bath mid-ramp fails the measuring task, Prefect retries it, and the retry
resumes the run at that setpoint from its journal (the flow's certificate is tested through
the demo, tests/thermometry/test_thermometry_demo.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from labauto.engine.comparison import set_clock
from labauto.engine.observer import set_observer
from labauto.engine.operator import set_operator
from labauto.procedure.temperature import load_temperature_procedure
from labauto.sim.thermometry import lab_for_procedure

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]
CUT_AT = 8
DIGITAL = ROOT / "procedures" / "temperature" / "digital_thermometer.yaml"


class Technician:
    def __init__(self, lab):
        self.lab = lab

    def confirm(self, step, point):
        self.lab.place_probes(point.heat_source)

    def read_display(self, point, index):
        from labauto.units import Q_
        return Q_(self.lab.display(), "degC")


class CutTheBath:
    def __init__(self, lab):
        self.lab, self.count = lab, 0

    def point_started(self, point, attempt): pass
    def reading(self, point, index, value): pass
    def point_finished(self, point): pass
    def point_skipped(self, point, reason): pass

    def approach(self, point, reference, control, verdict):
        self.count += 1
        if self.count == CUT_AT:
            self.lab.drop_connections("bath")


def test_the_flow_retries_a_lost_bath_by_resuming_the_run(prefect_harness, tmp_path, monkeypatch):
    from flows.temperature_comparison import temperature_comparison

    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.setenv("LABAUTO_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)
    (tmp_path / "temperature").mkdir()
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / "sprt-5681-1234.yaml").write_text(
        (ROOT / "procedures" / "references" / "sprt-5681-1234.yaml").read_text())
    text = DIGITAL.read_text()
    for drop in ("  - {setpoint: 50 degC, heat_source: bath}\n", "  - {setpoint: 100 degC, heat_source: bath}\n"):
        text = text.replace(drop, "")
    path = tmp_path / "temperature" / "two.yaml"
    path.write_text(text)
    lab = lab_for_procedure(load_temperature_procedure(path), seed=9)
    previous = (set_operator(Technician(lab)), set_observer(CutTheBath(lab)), set_clock(lab.clock))
    try:
        with lab:
            state = temperature_comparison(
                str(path), lab.resources, runs_dir=str(tmp_path / "runs"),
                out_dir=str(tmp_path / "certs"), timeout_ms=500, publish=False, issue=False,
                return_state=True)
    finally:
        set_operator(previous[0])
        set_observer(previous[1])
        set_clock(previous[2])
    assert state.is_completed(), state
    out = state.result()
    journal = [json.loads(x) for x in Path(out["run_folder"], "journal.jsonl").read_text().splitlines()]
    failed = [r for r in journal if r["type"] == "point_failed"]
    assert [(r["point_id"], r["attempt"]) for r in failed] == [("T0C", 1)]
    assert "ConnectionLostError" in failed[0]["error"]
    steps = [r for r in journal if r["type"] == "operator_step"]
    assert [(r["point_id"], r["answered_in"]) for r in steps] == [("T0C", "terminal")]
    done = [(r["point_id"], r["attempt"]) for r in journal if r["type"] == "point_done"]
    assert done == [("T0C", 2), ("T25C", 1)]
    assert lab.heat_sources["bath"].setpoint == 20.0          # left at its safe setpoint
    assert out["completed"] == ["T0C", "T25C"] and not (tmp_path / "certs").exists()

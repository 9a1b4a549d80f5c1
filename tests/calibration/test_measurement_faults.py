"""A reading that cannot belong to its test point stops the point as a measurement fault: it is
journalled, never evaluated into a certificate, and `labauto resume` measures the point again.

The sim reproduces what a second session does to a run (issue 10: "a 10 V point read as 0.19 V,
a -10 V point read as +9.99997 V"): another connection puts the calibrator in standby while the
DMM is reading.
"""
from __future__ import annotations

import json
import re
import socket
import time

import pytest
from typer.testing import CliRunner

from labauto.cli import app
from labauto.engine.journal import RunJournal
from labauto.engine.plausibility import MeasurementFault, implausibility
from labauto.engine.run import RunSettings, execute_points, open_run, start_run
from labauto.evaluation import evaluate_run
from labauto.lab import load_lab
from labauto.procedure import load_procedure
from labauto.sim import SimulatedLab
from labauto.units import Q_


def _at_10v(reading, limit=10.0):
    # Keysight 34465A, 10 V range, 1 year: ± (0.0035 % of reading + 0.0005 % of range)
    # -> ± 400 µV at 10 V; the range indicates up to 12 V (model.yaml full_scale)
    return implausibility(Q_(reading, "V"), nominal=Q_(10, "V"), minimum=Q_(-12, "V"),
                          maximum=Q_(12, "V"), tolerance=Q_(400, "uV"), limit=limit)


def test_plausibility_limits():
    assert _at_10v(10.0001) is None
    assert _at_10v(10.0039) is None                       # 9.75 tolerances: a (failing) result
    assert "12.5 tolerances" in _at_10v(10.005)
    assert _at_10v(10.005, limit=20) is None              # the procedure's setting decides
    assert "tolerances" in _at_10v(0.19)                  # the 10 V point read as 0.19 V
    assert "range can indicate" in _at_10v(12.5)
    assert "overload" in _at_10v(9.9e37) and "overload" in _at_10v(float("nan"))
    # -10 V point read as +9.99997 V: inside the range, 50 000 tolerances away
    assert "5e+04 tolerances" in implausibility(Q_(9.99997, "V"), nominal=Q_(-10, "V"),
                                                minimum=Q_(-12, "V"), maximum=Q_(12, "V"),
                                                tolerance=Q_(400, "uV"))
    # a range from 0 (resistance): a meter's offset reads a little below zero at a 0 ohm point
    # (found by labauto validate on the 34401A verification: -3.8 mohm stopped the run);
    # far below zero it is still a fault.  34401A 100 ohm range: ± (0.010 % + 0.004 % of range)
    zero_ohm = dict(nominal=Q_(0, "ohm"), minimum=Q_(0, "ohm"), maximum=Q_(120, "ohm"),
                    tolerance=Q_(4, "mohm"))
    assert implausibility(Q_(-0.0038, "ohm"), **zero_ohm) is None
    assert "tolerances" in implausibility(Q_(-0.5, "ohm"), **zero_ohm)
    assert "range can indicate" in implausibility(Q_(121, "ohm"), **zero_ohm)
    # units of the reading need not be those of the point
    assert implausibility(Q_(10000.1, "mV"), nominal=Q_(10, "V"), minimum=Q_(-12, "V"),
                          maximum=Q_(12, "V"), tolerance=Q_(400, "uV")) is None


class StandbyFromAnotherSession:
    """An observer that, at the given reading of the given point, puts the calibrator in standby
    (or sends ``command``) through a connection of its own, as a second run would."""

    def __init__(self, lab: SimulatedLab, point_index: int, reading: int):
        self.lab, self.point_index, self.at = lab, point_index, reading
        self.port = _port(lab.resources["calibrator"])
        self.command = b"STBY\n"
        self.done = False

    def point_started(self, point, attempt):
        pass

    def reading(self, point, index, value):
        if not self.done and point.index == self.point_index and index == self.at:
            before = len(self.lab.calibrator_state()["history"])
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(self.command)
            deadline = time.monotonic() + 10      # until the calibrator has executed it
            while len(self.lab.calibrator_state()["history"]) == before:
                assert time.monotonic() < deadline, "the calibrator did not execute the command"
                time.sleep(0.001)
            self.done = True

    def point_finished(self, point):
        pass

    def point_skipped(self, point, reason):
        pass


def _port(resource: str) -> int:
    return int(resource.split("::")[2])


def test_an_implausible_reading_stops_the_run_and_never_reaches_a_certificate(quick_procedure,
                                                                             tmp_path):
    procedure = load_procedure(quick_procedure)
    ten_volts = procedure.points[1]                       # 10 V on the 10 V range
    assert ten_volts.nominal == Q_(10, "V")
    with SimulatedLab(seed=12, latency="zero") as lab:
        run = start_run(procedure, tmp_path / "runs",
                        RunSettings(lab.resources["dmm"], lab.resources["calibrator"], 5000, 0.0, "t"))
        spoiler = StandbyFromAnotherSession(lab, ten_volts.index, 1)
        with pytest.raises(MeasurementFault) as info:
            execute_points(run, sleep=lambda s: None, observer=spoiler)
        msg = str(info.value)
        assert f"point {ten_volts.id}" in msg and "34465A" in msg and lab.resources["dmm"] in msg
        assert "tolerances" in msg
        assert lab.calibrator_state()["operate"] is False         # sources in standby
        state = run.state()
        record = state.points[ten_volts.id]
        assert not record.completed and record.faults
        fault = record.faults[0]
        # the standby (sent on its own connection after reading 1) is in effect at reading 2;
        # the 0 V reading is journalled, and it is the last one taken
        assert fault["index"] == 2 and abs(fault["value"]) < 0.01
        taken = [r["value"] for r in record.attempts[1]]
        assert len(taken) == fault["index"] + 1 and taken[-1] == fault["value"]
        assert "MeasurementFault" in record.failures[0]["error"]
        later = [p.id for p in procedure.points[ten_volts.index + 1:]]
        assert not any(pid in state.points for pid in later), "the run stopped at the fault"
        with pytest.raises(ValueError, match="incomplete"):
            evaluate_run(run, load_lab())

        # `labauto resume` measures the point again (attempt 2) and certifies only that attempt
        result = CliRunner().invoke(app, ["resume", str(run.folder), "--no-prefect", "--no-publish"],
                                    env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
    state = run.state()
    record = state.points[ten_volts.id]
    assert record.done_attempt == 2
    cert = json.loads(next(tmp_path.glob("certificates/*/certificate.json")).read_bytes())
    point = next(p for p in cert["points"] if p["point_id"] == ten_volts.id)
    assert point["readings"] == [r["value"] for r in record.attempts[2]]
    assert fault["value"] not in point["readings"]
    assert all(abs(v - 10) < 1e-3 for v in point["readings"])


def test_a_faulted_attempt_is_never_completed_even_if_marked_done(tmp_path):
    # defence in depth: a point_done after a fault record (a bug, an edited journal) does not
    # make the faulted attempt's readings certifiable
    journal = RunJournal.create(tmp_path / "journal.jsonl", {"run_id": "R"})
    journal.point_start("P", 1)
    journal.reading("P", 1, 0, 10.0, "V")
    journal.reading("P", 1, 1, 0.19, "V")
    journal.append({"type": "fault", "point_id": "P", "attempt": 1, "index": 1, "value": 0.19,
                    "unit": "V", "reason": "test", "instrument": "dmm"})
    journal.point_done("P", 1)
    record = journal.read().points["P"]
    assert not record.completed and record.readings == [] and record.next_attempt == 2


def test_an_overload_is_a_measurement_fault_naming_the_point(quick_procedure, tmp_path):
    # another session sets 20 V while the DMM reads the 10 V point on its 10 V range (12 V full
    # scale): the DMM shows overload (+9.9E37); the point stops as a fault, journalled
    procedure = load_procedure(quick_procedure)
    ten_volts = procedure.points[1]
    with SimulatedLab(seed=13, latency="zero") as lab:
        run = start_run(procedure, tmp_path / "runs",
                        RunSettings(lab.resources["dmm"], lab.resources["calibrator"], 5000, 0.0, "t"))
        spoiler = StandbyFromAnotherSession(lab, ten_volts.index, 0)
        spoiler.command = b"OUT 20 V\n"
        with pytest.raises(MeasurementFault, match=re.escape(f"point {ten_volts.id} ") + ".*overload") as info:
            execute_points(run, sleep=lambda s: None, observer=spoiler)
        assert lab.resources["dmm"] in str(info.value)
        assert lab.calibrator_state()["operate"] is False
    record = run.state().points[ten_volts.id]
    assert not record.completed and "overload" in record.faults[0]["reason"]
    assert "OverloadError" in record.failures[0]["error"]


def test_the_plausibility_limit_is_a_procedure_setting(quick_procedure, tmp_path):
    from labauto.errors import SourceError

    text = quick_procedure.read_text()
    assert load_procedure(quick_procedure).plausibility_limit == 10.0       # the default
    tuned = tmp_path / "tuned.yaml"
    tuned.write_text(text.replace("  settle_time: 1 s\n", "  settle_time: 1 s\n  plausibility_limit: 25\n"))
    assert load_procedure(tuned).plausibility_limit == 25.0
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  settle_time: 1 s\n", "  settle_time: 1 s\n  plausibility_limit: 0\n"))
    line = bad.read_text().splitlines().index("  plausibility_limit: 0") + 1
    with pytest.raises(SourceError, match=f"bad.yaml:{line}: .*plausibility_limit must be a positive number"):
        load_procedure(bad)


def test_a_dut_far_out_of_tolerance_low_in_a_range_is_a_failing_result_not_a_fault(full_procedure,
                                                                                  tmp_path):
    # The sim's out-of-tolerance DUT has an offset of 2 x its specification at full scale on the
    # 10 V range (2 x 470 uV): at the 1 V point (tolerance 85 uV) that is 11.5 tolerances.  The
    # plausibility limit counts tolerances at full scale when larger (470 uV: 2.1 of them), so the
    # point is measured and reported as failing.
    procedure = load_procedure(full_procedure)
    points = [p for p in procedure.points if p.range == Q_(10, "V")]
    one_volt = next(p for p in points if p.nominal == Q_(1, "V"))
    with SimulatedLab(seed=14, latency="zero", out_of_tolerance="10 V") as lab:
        error = lab.truth.dut_error_at_setting("DCV", Q_(10, "V"), Q_(1, "V"))
        assert abs(error) > 10 * one_volt.tolerance
        run = start_run(procedure, tmp_path / "runs",
                        RunSettings(lab.resources["dmm"], lab.resources["calibrator"], 5000, 0.0, "t"))
        execute_points(run, points, sleep=lambda s: None)
    state = run.state()
    assert all(state.points[p.id].completed and not state.points[p.id].faults for p in points)

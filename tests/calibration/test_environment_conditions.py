"""Ambient conditions recorded by the environment logger during the run: journalled at the start,
after every point and at the end; the certificate (JSON, DCC, PDF) states the observed range
with the logger's uncertainty; an excursion beyond the lab's limits, narrowed by the procedure's,
is flagged; without a logger the certificate says the conditions were not recorded (no invented
values)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from lxml import etree

from labauto.calibration import run_calibration
from labauto.engine.journal import RunJournal
from labauto.engine.observer import NullObserver
from labauto.results import CalibrationResult
from labauto.sim import SimulatedLab
from labauto.units import Q_

DCC = "{https://ptb.de/dcc}"
SI = "{https://ptb.de/si}"


class Recorder(NullObserver):
    """Records what the technician is shown; warms the room after the first point."""

    def __init__(self, lab: SimulatedLab | None = None, warm_to: float | None = None):
        self.lab, self.warm_to, self.shown = lab, warm_to, []

    def point_finished(self, point):
        if self.lab is not None and self.warm_to is not None:
            self.lab.thermohygrometer.set_room(temperature=self.warm_to)

    def conditions(self, when, values, problems):
        self.shown.append((when, dict(values), list(problems)))


def _run(procedure: Path, tmp_path: Path, *, logger: bool = True, warm_to: float | None = None,
         **lab_kwargs):
    with SimulatedLab(seed=21, latency="zero", **lab_kwargs) as lab:
        observer = Recorder(lab, warm_to)
        outcome = run_calibration(procedure, dut_resource=lab.resources["dmm"],
                                  standard_resource=lab.resources["calibrator"],
                                  environment_resource=lab.resources["environment"] if logger else None,
                                  runs_dir=tmp_path / "runs", out_dir=tmp_path / "certificates",
                                  settle_scale=0.0, timeout_ms=5000, observer=observer)
    return outcome, observer


def _pdf_text(path: Path) -> str:
    pypdf = pytest.importorskip("pypdf")
    return " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages).split())


def test_conditions_are_journalled_and_the_certificate_reports_their_range(quick_procedure, tmp_path,
                                                                          dcc_schema_dir):
    outcome, observer = _run(quick_procedure, tmp_path)
    state = RunJournal(outcome.run_folder / "journal.jsonl").read()
    points = [p.point_id for p in outcome.result.points]
    # polled at the start, after every point and at the end; every reading journalled
    assert [c["when"] for c in state.conditions] == ["start", *(f"after {p}" for p in points), "end"]
    assert [w for w, _, _ in observer.shown] == [c["when"] for c in state.conditions]
    assert state.instruments["environment"]["serial"] == "S4420017"
    assert all(c["within_limits"] and c["excursions"] == [] for c in state.conditions)

    env = outcome.result.environment
    temps = [c["temperature"]["value"] for c in state.conditions]
    rhs = [c["relative_humidity"]["value"] for c in state.conditions]
    t, rh = env["quantities"]["temperature"], env["quantities"]["relative_humidity"]
    assert (t["min"], t["max"]) == (min(temps), max(temps)) and 22.8 < t["min"] <= t["max"] < 23.2
    assert (rh["min"], rh["max"]) == (min(rhs), max(rhs))
    # U (k = 2) of one reading from the datasheet limits ± 0.2 K and ± 1.0 %RH, rectangular
    # (JCGM 100:2008 4.3.7: u = a/√3): U = 2 × 0.2 K/√3 = 0.2309 K, 2 × 1.0 %RH/√3 = 1.1547 %RH
    assert t["uncertainty"] == pytest.approx(0.2309401, rel=1e-6) and t["uncertainty_unit"] == "K"
    assert rh["uncertainty"] == pytest.approx(2 / math.sqrt(3), rel=1e-12)
    assert t["limits"] == {"min": 22.0, "max": 24.0} and t["within_limits"] and env["within_limits"]
    assert env["logger"]["serial"] == "S4420017" and env["logger"]["certificate_id"] == "DKD-SIM-2026-4471"
    assert env["readings"] == len(points) + 2

    files = outcome.files
    # JSON round-trips the conditions
    again = CalibrationResult.from_dict(__import__("json").loads(files["json"].read_bytes()))
    assert again.environment == env
    # DCC: PTB's way (basic_temperatureMin/Max) with the logger's U, schema-valid
    xml = files["xml"].read_bytes()
    root = etree.fromstring(xml)
    schema = etree.XMLSchema(etree.parse(str(dcc_schema_dir / "v3.3.0" / "dcc.xsd")))
    assert schema.validate(root), "\n".join(str(e) for e in schema.error_log)
    q = {el.get("refType"): el for el in root.iter(f"{DCC}quantity")}
    tmin = q["basic_temperatureMin"].find(f"{SI}real")
    assert float(tmin.findtext(f"{SI}value")) == pytest.approx(Q_(t["min"], "degC").to("K").magnitude)
    assert tmin.findtext(f"{SI}unit") == r"\kelvin"
    assert float(tmin.findtext(f".//{SI}valueExpandedMU")) == pytest.approx(0.2309401, rel=1e-6)
    assert float(q["basic_humidityRelativeMax"].findtext(f"{SI}real/{SI}value")) == pytest.approx(rh["max"])
    # PDF: the range, the uncertainty and the logger
    text = _pdf_text(files["pdf"])
    assert f"temperature {t['min']:.2f} to {t['max']:.2f} °C (U = 0.23 K, k = 2)" in text
    assert "recorded with Vaisala HMT330 s/n S4420017" in text


def test_an_excursion_is_flagged_shown_and_stated_on_the_certificate(quick_procedure, tmp_path):
    outcome, observer = _run(quick_procedure, tmp_path, warm_to=24.6)
    state = RunJournal(outcome.run_folder / "journal.jsonl").read()
    assert state.conditions[0]["within_limits"] is True           # 23 °C at the start
    flagged = [c for c in state.conditions if not c["within_limits"]]
    assert flagged and all("temperature" in c["excursions"][0] and "outside 22 to 24 °C" in c["excursions"][0]
                           for c in flagged)
    assert [p for _, _, p in observer.shown if p], "the technician was shown the excursion"
    env = outcome.result.environment
    assert env["within_limits"] is False and env["quantities"]["temperature"]["within_limits"] is False
    assert env["quantities"]["relative_humidity"]["within_limits"] is True
    assert env["quantities"]["temperature"]["max"] > 24.0
    # the certificate is issued (an excursion does not block it) and says so, in every form
    assert any("OUTSIDE the laboratory's limits" in r for r in outcome.result.remarks)
    assert b"OUTSIDE the limits" in outcome.files["xml"].read_bytes()
    assert "OUTSIDE THE LIMITS" in _pdf_text(outcome.files["pdf"])


def test_without_a_logger_the_certificate_says_not_recorded(quick_procedure, tmp_path):
    outcome, observer = _run(quick_procedure, tmp_path, logger=False)
    state = RunJournal(outcome.run_folder / "journal.jsonl").read()
    assert state.conditions == [] and "environment" not in state.instruments and observer.shown == []
    env = outcome.result.environment
    assert env == {"recorded": False, "statement": env["statement"]}
    assert "not recorded by an instrument" in env["statement"]
    xml = outcome.files["xml"].read_bytes()
    assert b"not recorded by an instrument" in xml and b"basic_temperatureMin" not in xml
    text = _pdf_text(outcome.files["pdf"])
    assert "not recorded by an instrument" in text and "23.0" not in text.split("Environmental conditions")[1][:120]


def test_a_lost_logger_stops_the_run_naming_it_and_keeps_the_readings(quick_procedure, tmp_path):
    from labauto.engine.run import RunSettings, execute_points, start_run
    from labauto.lab import load_lab
    from labauto.procedure import load_procedure
    from labauto.visa.errors import VisaError

    lab_config = load_lab()
    with SimulatedLab(seed=5, latency="zero") as lab:
        logger = lab.resources["environment"]
        run = start_run(load_procedure(quick_procedure), tmp_path / "runs",
                        RunSettings(lab.resources["dmm"], lab.resources["calibrator"], 2000, 0.0, "t",
                                    environment_resource=lab.resources["environment"]))

        class CableOff(NullObserver):           # the logger's cable is pulled after the first point
            def point_finished(self, point):
                lab.inject_fault("environment", "drop", on="SEND", count=None)

        with pytest.raises(VisaError) as err:
            execute_points(run, check_identities=lab_config.check_identities,
                           environment=lab_config.environment, observer=CableOff())
        assert lab.calibrator_state()["operate"] is False          # left in standby
    assert "Vaisala HMT330" in str(err.value) and logger in str(err.value), str(err.value)
    state = run.state()
    assert state.instruments["environment"]["serial"] == "S4420017"
    first = run.procedure.points[0].id
    assert state.completed_ids() == {first} and len(state.points[first].readings) > 0
    assert [c["when"] for c in state.conditions] == ["start"]      # nothing was made up


def _with_environment(quick_procedure: Path, tmp_path: Path, limits: str) -> Path:
    """The quick procedure with an ``environment:`` section (a copy beside the original's
    instrument models: procedures name models, not paths)."""
    path = tmp_path / "quick_env.yaml"
    path.write_text(quick_procedure.read_text() + f"\nenvironment:\n  limits:\n{limits}")
    return path


def test_the_procedure_narrows_the_labs_limits_and_a_run_outside_them_is_flagged(quick_procedure,
                                                                                 tmp_path):
    """Issue 10 item 6: 'a run outside the procedure's limits is flagged'.  The simulated room is
    at 23 °C, inside the lab's 22 to 24 °C; this procedure's budget holds for 23.5 to 25 °C, so the
    limits are 23.5 to 24 °C and every reading is an excursion; humidity keeps the lab's limits."""
    proc = _with_environment(quick_procedure, tmp_path,
                             "    temperature: {min: 23.5 degC, max: 25 degC}\n")
    outcome, observer = _run(proc, tmp_path)
    state = RunJournal(outcome.run_folder / "journal.jsonl").read()
    assert state.conditions and not any(c["within_limits"] for c in state.conditions)
    assert all("outside 23.5 to 24 °C" in c["excursions"][0] for c in state.conditions)
    assert all(p for _, _, p in observer.shown), "the technician was shown each excursion"
    env = outcome.result.environment
    t, rh = env["quantities"]["temperature"], env["quantities"]["relative_humidity"]
    assert t["limits"] == {"min": 23.5, "max": 24.0} and t["within_limits"] is False and t["max"] < 23.5
    assert rh["limits"] == {"min": 20.0, "max": 60.0} and rh["within_limits"] is True
    assert any("OUTSIDE the limits of the laboratory and of the procedure" in r
               for r in outcome.result.remarks), outcome.result.remarks
    assert "limits 23.5 to 24 °C — OUTSIDE THE LIMITS" in _pdf_text(outcome.files["pdf"])


def test_procedure_limits_that_cannot_hold_in_the_lab_refuse_the_start(quick_procedure, tmp_path):
    from labauto.errors import LabautoError

    proc = _with_environment(quick_procedure, tmp_path,
                             "    temperature: {min: 18 degC, max: 21 degC}\n")
    with SimulatedLab(seed=21, latency="zero") as lab:
        with pytest.raises(LabautoError, match=r"needs the temperature within 18 to 21 °C, which does "
                                               r"not overlap the laboratory's limits 22 to 24 °C"):
            run_calibration(proc, dut_resource=lab.resources["dmm"],
                            standard_resource=lab.resources["calibrator"],
                            environment_resource=lab.resources["environment"],
                            runs_dir=tmp_path / "runs", out_dir=tmp_path / "certificates",
                            settle_scale=0.0, timeout_ms=5000)
        assert lab.calibrator_state()["history"] == []          # no instrument was touched
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("limits, message", [
    ("    pressure: {min: 95 kPa, max: 105 kPa}\n", "unknown quantity 'pressure' in environment limits"),
    ("    temperature: {min: 24 degC, max: 22 degC}\n", "temperature max must be above min (24 degC)"),
    ("    temperature: {min: 22 V, max: 24 degC}\n", "temperature min:"),
    ("    temperature: {min: 22 degC}\n", "is missing the required key 'max'"),
])
def test_bad_procedure_limits_are_refused_at_their_line(quick_procedure, tmp_path, limits, message):
    from labauto.procedure import load_procedure
    from labauto.procedure.schema import ProcedureError

    proc = _with_environment(quick_procedure, tmp_path, limits)
    at = len(proc.read_text().splitlines())                   # the limits' own line, the last
    with pytest.raises(ProcedureError) as err:
        load_procedure(proc)
    assert f"quick_env.yaml:{at}:" in str(err.value) and message in str(err.value), str(err.value)

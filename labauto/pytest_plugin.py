"""labauto's pytest plugin (entry point ``pytest11: labauto``): a laboratory tests its own
procedures in its own CI, each with ``pytest``, on the simulated lab.

Fixtures
    labauto_home        a private lab home, outbox and instrument-lock folder for the test
    sim_lab_factory     ``make(procedure=None, seed=1, out_of_tolerance=None, latency="zero")``:
                        a started simulated lab wired for the procedure's instruments: a
                        :class:`labauto.sim.SimulatedLab` (an electrical procedure), a
                        :class:`labauto.sim.thermometry.SimulatedThermometryLab` (a temperature
                        comparison procedure); stopped after the test
    sim_lab             a started simulated lab (Keysight 34465A meter, Fluke 5522A source)
    run_procedure       ``run(procedure, seed=1, flow=False, out_of_tolerance=None,
                        lab_file=None, publish=False)``: calibrate on the simulated lab with
                        the plain engine or the Prefect flow (``calibrate``, or
                        ``temperature-comparison`` for a temperature comparison procedure);
                        returns a :class:`SimulatedCalibration` (the certificate's data, its
                        files and the simulated DUT's true errors)
    validate_procedure  ``validate(procedure, runs=None, seed=1, report=None)``: what
                        ``labauto validate`` does (labauto.validation), as a
                        :class:`~labauto.validation.stats.ValidationResult`
    validate_faults     ``faults(procedure, scenarios=None, seed=1, platform=False)``: what
                        ``labauto validate --faults`` does (labauto.validation.faults), a list of
                        :class:`~labauto.validation.faults.FaultOutcome` (``.ok``,
                        ``.readings_lost``, ``.points_measured_twice``, ``.standby_at_end`` ...)
    prefect_harness     one Prefect test server for the session (a project's conftest may
                        provide its own under this name)

Option: ``--labauto-runs N`` (ini ``labauto_runs``): simulated calibrations per
``validate_procedure`` call without ``runs`` (default 50).  See docs/validation.md.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

DEFAULT_RUNS = 50


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("labauto", "labauto procedures on the simulated lab")
    group.addoption("--labauto-runs", type=int, default=None, dest="labauto_runs",
                    help=f"simulated calibrations per validate_procedure() (default {DEFAULT_RUNS})")
    parser.addini("labauto_runs", f"simulated calibrations per validate_procedure() "
                  f"(default {DEFAULT_RUNS})", default=str(DEFAULT_RUNS))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "labauto_flow: runs a procedure through the Prefect flow")


@dataclass
class SimulatedCalibration:
    """A procedure calibrated on the simulated lab."""

    result: Any          # labauto.results.CalibrationResult, or a temperature comparison's
                         # labauto.temperature.results.TemperatureCalibrationResult
    files: dict[str, Path]                   # the certificate's files (pdf, xml, json)
    run_folder: Path
    true_errors: dict[str, Any]              # point id -> the simulated DUT's true error
    sources_in_standby: bool                 # the source in standby; every heat source at
                                             # its procedure's safe setpoint
    publication: dict[str, Any] = field(default_factory=dict)

    def point(self, point_id: str) -> Any:
        return next(p for p in self.result.points if _point_id(p) == point_id)

    def stated(self, point_id: str) -> tuple[Any, Any]:
        """The point's error and its expanded uncertainty as the certificate states them
        (quantities; a temperature point's error of the DUT in K, U rounded as printed)."""
        p = self.point(point_id)
        if hasattr(p, "expanded_uncertainty"):
            return p.error, p.expanded_uncertainty
        from labauto.uncertainty.rounding import round_result
        from labauto.units import Q_
        return Q_(p.error, "K"), Q_(float(round_result(p.error, p.U_error)[1]), "K")

    @property
    def uncovered(self) -> list[str]:
        """The points whose stated U does not cover the DUT's true error (|E − true| > U)."""
        out = []
        for p in self.result.points:
            error, U = self.stated(_point_id(p))
            if abs(error - self.true_errors[_point_id(p)].to(error.units)) > U:
                out.append(_point_id(p))
        return out


def _point_id(point: Any) -> str:
    """An electrical result point's id, or a temperature point's (its setpoint's id)."""
    return point.point_id if hasattr(point, "point_id") else point.point.label


def _is_temperature(procedure: Any) -> bool:
    from labauto.procedure.temperature import TemperatureProcedure, is_temperature_procedure

    if isinstance(procedure, TemperatureProcedure):
        return True
    return isinstance(procedure, (str, Path)) and is_temperature_procedure(procedure)


@pytest.fixture()
def labauto_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lab home of the test's own: keys, outbox and instrument locks never touch a real lab's,
    and no certificate goes to a real platform."""
    home = tmp_path / "labauto-home"
    monkeypatch.setenv("LABAUTO_HOME", str(home))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(home / "outbox.sqlite3"))
    monkeypatch.setenv("LABAUTO_LOCK_DIR", str(home / "locks"))
    for var in ("LABAUTO_PLATFORM_URL", "LABAUTO_PLATFORM_TOKEN", "LABAUTO_SIGNING_KEY",
                "LABAUTO_SIGNING_CERT", "LABAUTO_TSA_URL", "LABAUTO_TSA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture()
def sim_lab_factory() -> Iterator[Callable[..., Any]]:
    from labauto.procedure import load_procedure
    from labauto.sim import SimulatedLab

    started: list[Any] = []

    def make(procedure: Any = None, *, seed: int = 1, out_of_tolerance: Any = None,
             latency: str = "zero") -> Any:
        if procedure is None:
            lab = SimulatedLab(seed=seed, latency=latency, out_of_tolerance=out_of_tolerance)
        elif _is_temperature(procedure):
            from labauto.procedure.temperature import load_temperature_procedure
            from labauto.sim.thermometry import lab_for_procedure as thermometry_lab

            if out_of_tolerance is not None:
                raise ValueError("out_of_tolerance: a temperature comparison states no "
                                 "tolerance (the simulated DUT's errors are drawn, not chosen)")
            proc = procedure if not isinstance(procedure, (str, Path)) \
                else load_temperature_procedure(procedure)
            lab = thermometry_lab(proc, seed=seed, latency=latency)
        else:
            from labauto.sim.lab import lab_for_procedure

            proc = procedure if not isinstance(procedure, (str, Path)) else load_procedure(procedure)
            lab = lab_for_procedure(proc, seed=seed, latency=latency,
                                    out_of_tolerance=out_of_tolerance)
        lab.start()
        started.append(lab)
        return lab

    yield make
    for lab in reversed(started):
        lab.stop()


@pytest.fixture()
def sim_lab(sim_lab_factory: Callable[..., Any]) -> Any:
    return sim_lab_factory()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One ephemeral Prefect server for the whole session (starting one costs seconds)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def run_procedure(request: pytest.FixtureRequest, tmp_path: Path, labauto_home: Path,
                  sim_lab_factory: Callable[..., Any]) -> Callable[..., SimulatedCalibration]:
    from labauto.procedure import load_procedure

    def run(procedure: str | Path, *, seed: int = 1, flow: bool = False,
            out_of_tolerance: Any = None, lab_file: str | Path | None = None,
            publish: bool = False) -> SimulatedCalibration:
        work = tmp_path / f"calibration-{len(list(tmp_path.glob('calibration-*')))}"
        if flow:
            request.getfixturevalue("prefect_harness")
        if _is_temperature(procedure):
            lab = sim_lab_factory(procedure, seed=seed, out_of_tolerance=out_of_tolerance)
            return _run_comparison(lab, procedure, work, flow=flow, lab_file=lab_file,
                                   publish=publish)
        proc = load_procedure(procedure)
        lab = sim_lab_factory(proc, seed=seed, out_of_tolerance=out_of_tolerance)
        dut, std = lab.dut_and_standard()
        if flow:
            from flows.calibrate import calibrate

            out = calibrate(str(procedure), dut, std, runs_dir=str(work / "runs"),
                            out_dir=str(work / "certificates"),
                            lab_file=None if lab_file is None else str(lab_file),
                            settle_scale=0.0, timeout_ms=5000, publish=publish)
            files = {k: Path(v) for k, v in out["files"].items()}
            from labauto.results import CalibrationResult
            result = CalibrationResult.from_dict(json.loads(files["json"].read_text("utf-8")))
            run_folder, publication = Path(out["run_folder"]), out["publication"]
        else:
            from labauto.calibration import run_calibration

            outcome = run_calibration(procedure, dut_resource=dut, standard_resource=std,
                                      runs_dir=work / "runs", out_dir=work / "certificates",
                                      lab_file=lab_file, settle_scale=0.0, timeout_ms=5000,
                                      publish=publish)
            result, files = outcome.result, dict(outcome.files)
            run_folder, publication = outcome.run_folder, outcome.publication
        true = {p.point_id: lab.truth.dut_error_at_setting(p.function, p.range, p.nominal,
                                                           p.frequency)
                for p in result.points}
        standby = lab.calibrator_state()["operate"] is False
        return SimulatedCalibration(result, files, run_folder, true, standby, publication)

    return run


def _run_comparison(lab: Any, procedure: str | Path, work: Path, *, flow: bool,
                    lab_file: str | Path | None, publish: bool) -> SimulatedCalibration:
    """A temperature comparison on the simulated thermometry lab, on its own clock, the
    simulated technician doing the operator steps: the plain engine
    (labauto.comparison_calibration) or the ``temperature-comparison`` flow."""
    from labauto.demo_temperature import SimulatedTechnician
    from labauto.engine.comparison import set_clock
    from labauto.engine.operator import set_operator
    from labauto.procedure.temperature import load_temperature_procedure
    from labauto.sim.thermometry import at_safe_setpoints
    from labauto.units import Q_

    plan = load_temperature_procedure(procedure)
    technician = SimulatedTechnician(lab)
    previous = set_operator(technician), set_clock(lab.clock)
    try:
        if flow:
            from flows.temperature_comparison import temperature_comparison

            out = temperature_comparison(str(procedure), lab.resources,
                                         runs_dir=str(work / "runs"),
                                         out_dir=str(work / "certificates"),
                                         lab_file=None if lab_file is None else str(lab_file),
                                         timeout_ms=5000, publish=publish)
            result, files = out["result"], {k: Path(v) for k, v in out["files"].items()}
            run_folder, publication = Path(out["run_folder"]), out["publication"]
        else:
            from labauto.comparison_calibration import run_comparison_calibration

            outcome = run_comparison_calibration(procedure, lab.resources,
                                                 runs_dir=work / "runs",
                                                 out_dir=work / "certificates",
                                                 lab_file=lab_file, timeout_ms=5000,
                                                 clock=lab.clock,
                                                 read_display=technician.read_display,
                                                 publish=publish)
            result, files = outcome.result, dict(outcome.files)
            run_folder, publication = outcome.run_folder, outcome.publication
    finally:
        set_operator(previous[0])
        set_clock(previous[1])
    true = {r.point.label: Q_(lab.true_dut_error(r.nominal), "K") for r in result.points}
    return SimulatedCalibration(result, files, run_folder, true, at_safe_setpoints(lab, plan),
                                publication)


@pytest.fixture()
def validate_procedure(request: pytest.FixtureRequest) -> Callable[..., Any]:
    from labauto.validation.validate import validate_procedure as validate

    runs_default = request.config.getoption("labauto_runs", None) or \
        int(request.config.getini("labauto_runs") or DEFAULT_RUNS)

    def run(procedure: str | Path, *, runs: int | None = None, seed: int = 1,
            dut_spread: float = 1.5, report: str | Path | None = None) -> Any:
        result = validate(procedure, runs=runs or runs_default, seed=seed, dut_spread=dut_spread)
        if report is not None:
            from labauto.validation.report import write_report
            from labauto.validation.validate import load_any
            write_report(result, report, load_any(procedure))
        return result

    return run


@pytest.fixture()
def validate_faults(tmp_path: Path) -> Callable[..., list[Any]]:
    from labauto.validation.faults import run_faults

    def faults(procedure: str | Path, *, scenarios: Any = None, seed: int = 1,
               platform: bool = False) -> list[Any]:
        work = tmp_path / f"faults-{len(list(tmp_path.glob('faults-*')))}"
        return run_faults(procedure, work, tuple(scenarios) if scenarios else None, seed=seed,
                          platform=platform)

    return faults

"""labauto's pytest plugin (entry point ``pytest11: labauto``): a laboratory tests its own
procedures in its own CI, each with ``pytest``, on the simulated lab.

Fixtures
    labauto_home        a private lab home, outbox and instrument-lock folder for the test
    sim_lab_factory     ``make(procedure=None, seed=1, out_of_tolerance=None, latency="zero")``:
                        a started :class:`labauto.sim.SimulatedLab` wired for the procedure's
                        instruments (stopped after the test)
    sim_lab             a started simulated lab (Keysight 34465A meter, Fluke 5522A source)
    run_procedure       ``run(procedure, seed=1, flow=False, out_of_tolerance=None,
                        lab_file=None, publish=False)``: calibrate on the simulated lab with
                        the plain engine or the Prefect ``calibrate`` flow; returns a
                        :class:`SimulatedCalibration` (the certificate's data, its files and
                        the simulated DUT's true errors)
    validate_procedure  ``validate(procedure, runs=None, seed=1, report=None)``: what
                        ``labauto validate`` does (labauto.validation), as a
                        :class:`~labauto.validation.stats.ValidationResult`
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

    result: Any                              # labauto.results.CalibrationResult
    files: dict[str, Path]                   # the certificate's files (pdf, xml, json)
    run_folder: Path
    true_errors: dict[str, Any]              # point id -> the simulated DUT's true error
    sources_in_standby: bool                 # the source was left in standby
    publication: dict[str, Any] = field(default_factory=dict)

    def point(self, point_id: str) -> Any:
        return next(p for p in self.result.points if p.point_id == point_id)

    @property
    def uncovered(self) -> list[str]:
        """The points whose stated U does not cover the DUT's true error (|E − true| > U)."""
        return [p.point_id for p in self.result.points
                if abs(p.error - self.true_errors[p.point_id].to(p.error.units))
                > p.expanded_uncertainty]


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
    from labauto.procedure import Procedure, load_procedure
    from labauto.sim import SimulatedLab

    started: list[Any] = []

    def make(procedure: str | Path | Procedure | None = None, *, seed: int = 1,
             out_of_tolerance: Any = None, latency: str = "zero") -> Any:
        kwargs: dict[str, Any] = {}
        if procedure is not None:
            proc = procedure if isinstance(procedure, Procedure) else load_procedure(procedure)
            kwargs = dict(dmm_model=proc.meter_model, calibrator_model=proc.source_model,
                          dut=proc.direction, load_resistance=proc.load, shunts=proc.shunts)
        lab = SimulatedLab(seed=seed, latency=latency, out_of_tolerance=out_of_tolerance, **kwargs)
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
        proc = load_procedure(procedure)
        lab = sim_lab_factory(proc, seed=seed, out_of_tolerance=out_of_tolerance)
        dut, std = (lab.resources["calibrator"], lab.resources["dmm"]) \
            if proc.direction == "source" else (lab.resources["dmm"], lab.resources["calibrator"])
        work = tmp_path / f"calibration-{len(list(tmp_path.glob('calibration-*')))}"
        if flow:
            request.getfixturevalue("prefect_harness")
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

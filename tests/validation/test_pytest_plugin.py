"""labauto's pytest plugin: a lab's repository of procedures tested with pytest (the worked
example of docs/validation.md, run by an inner pytest), and run_procedure through the flow."""
from __future__ import annotations

import shutil

import pytest

# the inner pytest runs in this process and pytester drops the modules it imported after each
# test; numpy, scipy and matplotlib cannot be imported twice, so they are imported here first
import labauto.calibration  # noqa: F401,E402
import labauto.validation.report  # noqa: F401,E402
import labauto.validation.validate  # noqa: F401,E402
import matplotlib.pyplot  # noqa: F401,E402
import scipy.stats  # noqa: F401,E402

EXAMPLE_TEST = '''
from pathlib import Path

import pytest

PROCEDURES = sorted((Path(__file__).parents[1] / "procedures").glob("*.yaml"))


@pytest.mark.parametrize("procedure", PROCEDURES, ids=lambda p: p.stem)
def test_calibrates_on_the_simulated_lab(run_procedure, procedure):
    cal = run_procedure(procedure, seed=3)
    assert cal.sources_in_standby
    assert cal.result.overall_decision == "pass"
    assert set(cal.files) >= {"pdf", "xml", "json"}
    assert len(cal.uncovered) <= 1


@pytest.mark.parametrize("procedure", PROCEDURES, ids=lambda p: p.stem)
def test_finds_an_out_of_tolerance_range(run_procedure, procedure):
    cal = run_procedure(procedure, seed=3, out_of_tolerance="DCV 10 V")
    assert cal.result.overall_decision == "fail"
    assert {p.point_id for p in cal.result.points if p.decision == "fail"} == {
        "DCV-10V-+10V", "DCV-10V--10V"}


@pytest.mark.parametrize("procedure", PROCEDURES, ids=lambda p: p.stem)
def test_uncertainty_statements_hold(validate_procedure, procedure, tmp_path):
    result = validate_procedure(procedure, report=tmp_path / "validation.html")
    assert result.ok, [(p.point_id, p.verdict) for p in result.points]
    assert result.runs == 8                      # labauto_runs in pyproject.toml
    assert (tmp_path / "validation.html").exists()
'''


EXAMPLE_TEMPERATURE_TEST = '''
from pathlib import Path

import pytest

PROCEDURES = sorted((Path(__file__).parents[1] / "procedures" / "temperature").glob("*.yaml"))


@pytest.mark.parametrize("procedure", PROCEDURES, ids=lambda p: p.stem)
def test_calibrates_on_the_simulated_thermometry_lab(run_procedure, procedure):
    cal = run_procedure(procedure, seed=3)
    assert cal.sources_in_standby                # every heat source at its safe setpoint
    assert set(cal.files) >= {"pdf", "xml", "json"}
    assert cal.uncovered == []


@pytest.mark.parametrize("procedure", PROCEDURES, ids=lambda p: p.stem)
def test_survives_a_lost_heat_source_and_an_open_sensor(validate_faults, procedure):
    for o in validate_faults(procedure, scenarios=["heat-source-lost", "overload"], seed=3):
        assert o.ok, o.to_dict()
        assert (o.readings_lost, o.points_measured_twice) == (0, 0)
        assert o.standby_when_stopped and o.standby_at_end
'''


def test_a_labs_procedure_repository_tests_with_the_plugin(pytester, project_root):
    """procedures/ (electrical, temperature/ with the reference's certificate in references/)
    + tests/ + pyproject.toml, as in docs/validation.md."""
    (pytester.path / "procedures" / "temperature").mkdir(parents=True)
    shutil.copy(project_root / "procedures" / "keysight_34465a_dcv_quick.yaml",
                pytester.path / "procedures" / "dmm_dcv_quick.yaml")
    shutil.copy(project_root / "procedures" / "temperature" / "digital_thermometer.yaml",
                pytester.path / "procedures" / "temperature" / "digital_thermometer.yaml")
    shutil.copytree(project_root / "procedures" / "references",
                    pytester.path / "procedures" / "references")
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nlabauto_runs = "8"\n')
    (pytester.path / "tests").mkdir()
    # (a name no test module of this suite has: the inner pytest runs in this process, and a
    # module 'test_procedures' imported before, tests/functions/test_procedures.py, would clash)
    (pytester.path / "tests" / "test_lab_procedures.py").write_text(EXAMPLE_TEST)
    (pytester.path / "tests" / "test_lab_thermometers.py").write_text(EXAMPLE_TEMPERATURE_TEST)
    # -p: the plugin by name; with the entry point installed it is already registered (not twice)
    result = pytester.runpytest("-p", "labauto.pytest_plugin", "-q")
    result.assert_outcomes(passed=5)


DIGITAL = "procedures/temperature/digital_thermometer.yaml"


def test_run_procedure_calibrates_a_temperature_procedure(run_procedure, project_root):
    """The plain engine on the simulated thermometry lab: the certificate's errors are the
    simulated DUT's (a display-only thermometer: one offset at every setpoint) within U."""
    cal = run_procedure(project_root / DIGITAL, seed=3)
    assert cal.sources_in_standby
    assert [p.point.label for p in cal.result.points] == ["T0C", "T25C", "T50C", "T100C"]
    assert set(cal.files) >= {"pdf", "xml", "json"} and cal.files["json"].exists()
    offsets = {round(t.to("K").m, 12) for t in cal.true_errors.values()}
    assert len(offsets) == 1 and abs(offsets.pop()) <= 0.15     # drawn within ±0.15 K
    assert cal.uncovered == []
    error, U = cal.stated("T25C")
    assert U.units == error.units == cal.true_errors["T25C"].units and 0 < U.to("K").m < 0.1
    assert abs(error - cal.true_errors["T25C"]) <= U


def test_sim_lab_factory_wires_a_temperature_procedure(sim_lab_factory, project_root):
    from labauto.sim.thermometry import SimulatedThermometryLab

    lab = sim_lab_factory(project_root / "procedures" / "temperature" / "pt100_comparison.yaml")
    assert isinstance(lab, SimulatedThermometryLab)
    assert set(lab.resources) == {"readout", "bath", "well", "dmm", "environment"}
    with pytest.raises(ValueError, match="states no tolerance"):
        sim_lab_factory(project_root / DIGITAL, out_of_tolerance="DCV 10 V")


@pytest.mark.prefect
def test_run_procedure_through_the_temperature_flow(prefect_harness, run_procedure,
                                                    project_root):
    cal = run_procedure(project_root / DIGITAL, seed=3, flow=True)
    assert cal.sources_in_standby and cal.files["json"].exists() and cal.run_folder.is_dir()
    assert [p.point.label for p in cal.result.points] == ["T0C", "T25C", "T50C", "T100C"]
    assert cal.uncovered == []


def test_runs_option_overrides_the_ini(pytester, project_root):
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nlabauto_runs = "8"\n')
    pytester.makepyfile(test_runs=f'''
def test_runs(validate_procedure):
    assert validate_procedure({str(project_root / "procedures" / "keysight_34465a_dcv_quick.yaml")!r}).runs == 3
''')
    pytester.runpytest("-p", "labauto.pytest_plugin", "-q", "--labauto-runs", "3").assert_outcomes(passed=1)


def test_the_plugin_is_registered_once(pytestconfig):
    import labauto.pytest_plugin as plugin

    pm = pytestconfig.pluginmanager
    assert pm.get_plugin("labauto.pytest_plugin") is plugin
    assert [p for p in pm.get_plugins() if p is plugin] == [plugin]


@pytest.mark.prefect
def test_run_procedure_through_the_flow(prefect_harness, run_procedure, project_root):
    cal = run_procedure(project_root / "procedures" / "keysight_34465a_dcv_quick.yaml", seed=4,
                        flow=True)
    assert cal.sources_in_standby
    assert [p.point_id for p in cal.result.points] == ["DCV-100mV-+100mV", "DCV-10V-+10V",
                                                      "DCV-10V--10V", "DCV-100V-+100V"]
    assert cal.files["json"].exists() and cal.run_folder.is_dir()
    for p in cal.result.points:      # the certificate's errors are the simulated DUT's, within 4 U
        assert abs(p.error - cal.true_errors[p.point_id]) < 4 * p.expanded_uncertainty

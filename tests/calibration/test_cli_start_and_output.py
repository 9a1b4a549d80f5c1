"""What a technician sees when a run cannot start, is interrupted, or is piped into a file:
pre-flight errors before Prefect starts (one message, exit 2, no run folder), the interrupt
message with the real run folder, whole lines in a pipe, and a progress display of the mean."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from labauto.cli import app
from labauto.sim import SimulatedLab

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_a_bad_procedure_is_refused_before_prefect_starts(quick_procedure, tmp_path):
    bad = tmp_path / "bad.yaml"
    text = quick_procedure.read_text().replace("readings: 5", "readings: 1")
    bad.write_text(text)
    line = text.splitlines().index("  readings: 1") + 1
    with SimulatedLab(seed=20, latency="zero") as lab:
        result = runner.invoke(app, ["run", str(bad), "--dut", lab.resources["dmm"], "--standard",
                                     lab.resources["calibrator"], "--workdir", str(tmp_path / "w")],
                               env={"COLUMNS": "250"})
    out = result.output
    assert result.exit_code == 2, out
    assert f"bad.yaml:{line}:" in out and "readings must be at least 2" in out
    assert "Traceback" not in out and "Prefect" not in out       # the flow never started
    assert "nothing was measured; no run was started" in out
    assert not (tmp_path / "w" / "runs").exists() or not list((tmp_path / "w" / "runs").iterdir())


def test_an_unreachable_instrument_is_refused_before_prefect_starts(quick_procedure, tmp_path):
    with SimulatedLab(seed=21, latency="zero") as lab:
        dead = "TCPIP0::127.0.0.1::1::SOCKET"           # nothing listens on port 1
        result = runner.invoke(app, ["run", str(quick_procedure), "--dut", lab.resources["dmm"],
                                     "--standard", dead, "--workdir", str(tmp_path / "w"),
                                     "--timeout-ms", "2000"], env={"COLUMNS": "250"})
        assert lab.calibrator_state()["history"] == []
    out = result.output
    assert result.exit_code == 2, out
    assert dead in out and "Traceback" not in out and "Prefect" not in out
    assert not list((tmp_path / "w").glob("runs/*")), "a failed start leaves no run folder"


def test_a_wrong_instrument_or_an_overdue_standard_is_refused_before_prefect_starts(quick_procedure,
                                                                                     tmp_path):
    """Issue 10 item 4 names the register and the instruments' identities among the checks made
    before the flow starts: DUT and standard swapped, then a lab file whose register has the
    calibrator overdue; each refused with one message, exit 2, no Prefect, no run folder, and
    the calibrator never put into operate."""
    from labauto.lab import DEFAULT_LAB_FILE

    lab_file = tmp_path / "lab.yaml"
    text = DEFAULT_LAB_FILE.read_text()
    assert 'serial: "3456789"' in text and 'calibration_due: "2027-09-30"' in text
    lab_file.write_text(text.replace('calibration_due: "2027-09-30"', 'calibration_due: "2026-01-31"', 1))
    with SimulatedLab(seed=24, latency="zero") as lab:
        swapped = runner.invoke(app, ["run", str(quick_procedure), "--dut", lab.resources["calibrator"],
                                      "--standard", lab.resources["dmm"], "--workdir", str(tmp_path / "w")],
                                env={"COLUMNS": "250"})
        overdue = runner.invoke(app, ["run", str(quick_procedure), "--dut", lab.resources["dmm"],
                                      "--standard", lab.resources["calibrator"], "--lab", str(lab_file),
                                      "--workdir", str(tmp_path / "w")], env={"COLUMNS": "250"})
        state = lab.calibrator_state()
    for result in (swapped, overdue):
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "Prefect" not in result.output, result.output
        assert "nothing was measured; no run was started" in result.output
    assert "answered its identity query with 'FLUKE,5522A,3456789" in swapped.output
    assert "which is not a Keysight Technologies 34465A" in swapped.output
    assert "3456789 was due for calibration on 2026-01-31" in overdue.output
    assert state["operate"] is False and not any(c.startswith("OPER") for c in state["history"])
    assert not list((tmp_path / "w").glob("runs/*")), "a refused start leaves no run folder"


def test_the_interrupt_message_names_the_real_run_folder(quick_procedure, tmp_path, monkeypatch):
    import labauto.calibration as calibration

    def interrupted(run, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(calibration, "measure_points", interrupted)
    with SimulatedLab(seed=22, latency="zero") as lab:
        result = runner.invoke(app, ["run", str(quick_procedure), "--dut", lab.resources["dmm"],
                                     "--standard", lab.resources["calibrator"], "--workdir",
                                     str(tmp_path / "w"), "--no-prefect", "--no-publish"],
                               env={"COLUMNS": "300"})
    assert result.exit_code == 130, result.output
    folder = next((tmp_path / "w" / "runs").iterdir())
    assert f"labauto resume {folder}`" in result.output
    assert "RUN_FOLDER" not in result.output


def test_piped_output_keeps_labels_and_paths_on_one_line(quick_procedure, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(LABAUTO_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    workdir = tmp_path / "a-rather-long-working-folder-name" / "for-this-technician"
    with SimulatedLab(seed=23, latency="zero") as lab:
        proc = subprocess.run([sys.executable, "-m", "labauto.cli", "run", str(quick_procedure),
                               "--dut", lab.resources["dmm"], "--standard", lab.resources["calibrator"],
                               "--workdir", str(workdir), "--no-prefect", "--no-publish",
                               "--settle-scale", "0"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    run_folder = next((workdir / "runs").iterdir())
    assert f"Run journal: {run_folder}" in lines, proc.stdout
    pdf = next(workdir.glob("certificates/*/certificate.pdf"))
    assert any(line.strip() == f"pdf      {pdf}" for line in lines), proc.stdout
    assert any(line.startswith("pre-flight checks passed:") and line.endswith(
        f"instruments locked for run {run_folder.name}") for line in lines), proc.stdout


class _Point:
    id, readings = "DCV-10V-+10V", 3

    def __init__(self):
        from labauto.units import Q_
        self.nominal = Q_(10, "V")


def test_the_progress_display_shows_the_running_mean():
    from labauto.progress import RichRunObserver
    from labauto.units import Q_

    console = Console(record=True, width=120, force_terminal=False)
    point = _Point()
    with RichRunObserver(console) as obs:
        obs.point_started(point, 1)
        for i, v in enumerate((10.00001, 10.00003, 10.00005)):
            obs.reading(point, i, Q_(v, "V"))
        obs.point_finished(point)
    text = console.export_text()
    assert "mean 10.00003 V" in text and "10.00005" not in text


def test_the_progress_mean_is_in_the_tables_plain_notation():
    """The results table writes 0.00008 mV; the progress wrote 8×10⁻⁵ mV for the same mean
    (the 5522A's 0 mV point against the 3458A)."""
    from labauto.progress import RichRunObserver
    from labauto.units import Q_

    console = Console(record=True, width=120, force_terminal=False)
    point = _Point()
    point.nominal = Q_(0, "mV")
    with RichRunObserver(console) as obs:
        obs.point_started(point, 1)
        for i, v in enumerate((0.00006, 0.00008, 0.00010)):
            obs.reading(point, i, Q_(v, "mV"))
        obs.point_finished(point)
    text = console.export_text()
    assert "mean 0.00008 mV" in text, text
    assert "×10" not in text and "e-05" not in text


def test_the_demo_title_is_whole_in_a_pipe(quick_procedure, tmp_path, monkeypatch, dcc_dir):
    """Not on a terminal rich assumes 80 columns and cut the demo's title rule to
    '─ labauto demo: DC voltage calibration of Keysight 34465A digital multimeters… ─'."""
    from labauto import cli

    monkeypatch.setenv("LABAUTO_DCC_DIR", str(dcc_dir))
    for var in ("LABAUTO_HOME", "LABAUTO_OUTBOX", "LABAUTO_PLATFORM_URL", "LABAUTO_PLATFORM_TOKEN",
                "MPLCONFIGDIR", "LABAUTO_LOCK_DIR"):
        monkeypatch.setenv(var, "placeholder")
        monkeypatch.delenv(var)                # the demo sets them for its process: restored after
    monkeypatch.setattr(cli.console, "width", 80)
    result = runner.invoke(app, ["demo", "--workdir", str(tmp_path / "demo"), "--latency", "zero",
                                 "--procedure", str(quick_procedure), "--no-prefect",
                                 "--no-platform"])
    assert result.exit_code == 0, result.output
    title = ("labauto demo: DC voltage calibration of Keysight 34465A digital multimeters "
             "(quick check) (simulated)")
    assert any(title in line for line in result.output.splitlines()), result.output
    assert "…" not in result.output.splitlines()[0]


def test_a_resumed_point_is_shown_whole_in_80_columns():
    """`labauto resume` in a pipe printed 'DCV-10V-0V   ━ …   resumed: already measured 0:…':
    the status was too long for rich's 80 columns and cut the bar, the mean and the time."""
    from labauto.progress import RichRunObserver
    from labauto.units import Q_

    console = Console(record=True, width=80, force_terminal=False)
    done, point = _Point(), _Point()
    done.id = "RES4W-100kOhm-+100kOhm"                 # the longest point ids are 22 characters
    with RichRunObserver(console) as obs:
        obs.point_skipped(done, "measured before the interruption")
        obs.point_started(point, 1)
        for i, v in enumerate((10.00001, 10.00003, 10.00005)):
            obs.reading(point, i, Q_(v, "V"))
        obs.point_finished(point)
    text = console.export_text()
    assert "…" not in text, text
    assert "RES4W-100kOhm-+100kOhm" in text and "from journal" in text
    assert "mean 10.00003 V" in text


def test_help_texts_are_not_broken_at_the_sources_line_ends():
    """The docstrings' line breaks reached the help: 'Resume an interrupted run: completed points
    are not measured again; the technician' / 'confirms the set-up ...' on two lines."""
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "250"}).output
    assert ("Resume an interrupted run: completed points are not measured again; the technician "
            "confirms the set-up of the first pending point again.") in listing, listing
    assert ("The main job: a simulated calibration end to end (by default DC voltage of a 34465A "
            "against a 5522A)") in listing, listing
    run_help = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "250"}).output
    assert ("Operator steps written in the procedure (move the leads, fit the short) put the "
            "sources in standby and ask the technician to confirm before going on.") in run_help, run_help

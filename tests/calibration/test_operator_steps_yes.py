"""`labauto run` with a procedure's operator steps and nobody at a terminal (a pipe, a
script): without --yes the run stops at the first step, sources in standby, saying how to go
on; `labauto resume RUN --yes` confirms the steps itself and completes the run."""
from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from labauto.cli import app
from labauto.engine.journal import RunJournal
from labauto.sim import SimulatedLab

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_without_yes_a_step_stops_the_run_and_resume_yes_confirms_it(tmp_path):
    head = (ROOT / "procedures" / "keysight_34465a_verification.yaml").read_text().split("\npoints:")[0]
    head = head.replace("readings: 6 ", "readings: 2 ")
    assert "readings: 2 " in head
    proc = tmp_path / "steps.yaml"
    proc.write_text(head + "\npoints:\n  - {range: 10 V, nominal: [10 V]}\n"
                    "  - step: Move the HI lead to the current input\n"
                    "  - {function: DCI, range: 10 mA, nominal: [10 mA]}\n")
    env = {"COLUMNS": "300", "LABAUTO_HOME": str(tmp_path / "home")}
    workdir = tmp_path / "w"
    with SimulatedLab(seed=43, latency="zero") as lab:
        first = runner.invoke(app, ["run", str(proc), "--dut", lab.resources["dmm"], "--standard",
                                    lab.resources["calibrator"], "--workdir", str(workdir),
                                    "--no-prefect", "--no-publish", "--settle-scale", "0",
                                    "--item-condition", "no visible damage"], env=env)
        assert lab.calibrator_state()["operate"] is False          # standby at the step
        folder = next((workdir / "runs").iterdir())
        assert RunJournal(folder / "journal.jsonl").read().completed_ids() == {"DCV-10V-+10V"}
        second = runner.invoke(app, ["resume", str(folder), "--no-prefect", "--no-publish",
                                     "--yes"], env=env)
        assert lab.calibrator_state()["operate"] is False
    out = " ".join(first.output.split())
    assert first.exit_code != 0, out
    assert "Move the HI lead to the current input" in out and "--yes" in out
    assert f"continue with `labauto resume {folder}`" in out
    assert second.exit_code == 0, second.output
    done = " ".join(second.output.split())
    assert "Move the HI lead to the current input" in done          # shown as confirmed
    assert RunJournal(folder / "journal.jsonl").read().completed_ids() == {"DCV-10V-+10V",
                                                                          "DCI-10mA-+10mA"}
    assert list((workdir / "certificates").glob("*/certificate.json"))

"""Ctrl-C at a lead-change question of `labauto run`: click turns it into Abort, and the run
ended with a bare "Aborted." (exit 1), no word of the run folder or how to resume.  It is an
interrupt: sources in standby, exit 130, the message names `labauto resume <run folder>`, and
the run resumes from the point after the last one measured."""
from __future__ import annotations

from pathlib import Path

import click
import typer
from typer.testing import CliRunner

from labauto import cli
from labauto.cli import app
from labauto.sim import SimulatedLab

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_ctrl_c_at_a_lead_change_prompt_names_the_run_to_resume(tmp_path, monkeypatch):
    head = (ROOT / "procedures" / "keysight_34465a_verification.yaml").read_text().split("\npoints:")[0]
    proc = tmp_path / "steps.yaml"
    proc.write_text(head + "\npoints:\n  - step: Connect the leads to the HI/LO input\n"
                    "  - {range: 10 V, nominal: [10 V]}\n"
                    "  - step: Move the HI lead to the current input\n"
                    "  - {function: DCI, range: 10 mA, nominal: [10 mA]}\n")
    asked: list[str] = []

    def confirm(prompt: str, default: bool = True) -> bool:
        asked.append(prompt)
        if len(asked) == 2:
            raise click.exceptions.Abort()      # what click.confirm raises on Ctrl-C
        return True

    monkeypatch.setattr(cli, "_at_terminal", lambda: True)
    monkeypatch.setattr(typer, "confirm", confirm)
    workdir = tmp_path / "w"
    with SimulatedLab(seed=41, latency="zero") as lab:
        result = runner.invoke(app, ["run", str(proc), "--dut", lab.resources["dmm"], "--standard",
                                     lab.resources["calibrator"], "--workdir", str(workdir),
                                     "--no-prefect", "--no-publish", "--settle-scale", "0",
                                     "--item-condition", "no visible damage"],
                               env={"COLUMNS": "300", "LABAUTO_HOME": str(tmp_path / "home")})
        state = lab.calibrator_state()
    assert len(asked) == 2 and "current input" in asked[1], asked
    assert state["operate"] is False                      # the source is in standby
    out = result.output
    assert result.exit_code == 130, out
    assert "Aborted" not in out
    folder = next((workdir / "runs").iterdir())
    assert f"labauto resume {folder}`" in out, out
    journal = (folder / "journal.jsonl").read_text()
    assert "DCV-10V-+10V" in journal

"""The lab home (keys, outbox, state) is chosen explicitly and printed; --no-publish queues
nothing; the demo writes nothing outside its working folder."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labauto import cli
from labauto.calibration import run_calibration
from labauto.cli import app
from labauto.config import outbox_path
from labauto.lab import DEFAULT_LAB_FILE
from labauto.labhome import resolve_lab_home
from labauto.platform.outbox import Outbox
from labauto.sim import SimulatedLab

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_lab_home_is_chosen_by_option_then_variable_then_lab_file_then_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("LABAUTO_HOME")
    monkeypatch.delenv("LABAUTO_LAB", raising=False)
    lab_file = tmp_path / "lab" / "lab.yaml"
    lab_file.parent.mkdir()
    lab_file.write_text(DEFAULT_LAB_FILE.read_text() + "home: state/labauto\n")

    default = resolve_lab_home(None, DEFAULT_LAB_FILE)
    assert default.path == tmp_path / "user" / ".labauto" and "default" in default.source
    from_file = resolve_lab_home(None, lab_file)
    assert from_file.path == tmp_path / "lab" / "state" / "labauto"      # relative to the lab file
    assert str(lab_file) in from_file.source
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "env"))
    assert resolve_lab_home(None, lab_file).path == tmp_path / "env"
    assert resolve_lab_home(tmp_path / "opt", lab_file).describe() == f"{tmp_path / 'opt'} (from --lab-home)"
    assert not (tmp_path / "user").exists(), "resolving creates nothing"


def test_lab_file_home_must_be_a_path(tmp_path):
    from labauto.errors import SourceError
    from labauto.lab import load_lab

    bad = tmp_path / "lab.yaml"
    bad.write_text(DEFAULT_LAB_FILE.read_text() + "home: [a, b]\n")
    with pytest.raises(SourceError, match=r"lab.yaml:\d+.*home must be a folder path"):
        load_lab(bad)


def test_no_publish_queues_nothing(quick_procedure, tmp_path):
    with SimulatedLab(seed=3, latency="zero") as lab:
        outcome = run_calibration(quick_procedure, dut_resource=lab.resources["dmm"],
                                  standard_resource=lab.resources["calibrator"],
                                  runs_dir=tmp_path / "runs", out_dir=tmp_path / "certificates",
                                  settle_scale=0.0, timeout_ms=5000, publish=False)
    assert outcome.files["xml"].is_file()
    assert outcome.publication["state"] == "not requested"
    assert outcome.issued.outbox_state == ""
    box = Outbox(outbox_path())
    try:
        assert box.get(outcome.result.certificate_id) is None      # was: queued, "pending"
        assert box.entries() == []
    finally:
        box.close()


def test_run_prints_its_lab_home_and_no_publish_leaves_its_outbox_empty(quick_procedure, tmp_path,
                                                                         monkeypatch):
    monkeypatch.delenv("LABAUTO_HOME")
    monkeypatch.delenv("LABAUTO_OUTBOX")
    monkeypatch.setattr(cli.console, "width", 250)
    home = tmp_path / "lab-home"
    with SimulatedLab(seed=4, latency="zero") as lab:
        args = ["run", str(quick_procedure), "--dut", lab.resources["dmm"], "--standard",
                lab.resources["calibrator"], "--no-prefect", "--settle-scale", "0",
                "--workdir", str(tmp_path / "work"), "--lab-home", str(home)]
        quiet = runner.invoke(app, [*args, "--no-publish"], terminal_width=250)
        published = runner.invoke(app, args, terminal_width=250)
    assert quiet.exit_code == 0, quiet.output
    assert f"Lab home: {home} (from --lab-home)" in quiet.output
    assert "Publication: not requested — not queued" in quiet.output
    # no --environment: the certificate's sentence, no invented conditions
    assert "Environmental conditions were not recorded by an instrument" in " ".join(quiet.output.split())
    quiet_id = re.search(r"Certificate (LA-\d{4}-[\w-]+)", quiet.output).group(1)
    assert published.exit_code == 0, published.output
    published_id = re.search(r"Certificate (LA-\d{4}-[\w-]+)", published.output).group(1)
    # the outbox of the chosen lab home holds the published run only
    box = Outbox(home / "outbox.sqlite3")
    try:
        assert [e.certificate_id for e in box.entries()] == [published_id] != [quiet_id]
    finally:
        box.close()
    # the demo keys were made in the chosen lab home, nowhere else
    assert (home / "pki" / "lab.key.pem").is_file()
    status = runner.invoke(app, ["publish", "status", "--lab-home", str(home)], terminal_width=250)
    flat = " ".join(status.output.split())
    assert f"Lab home: {home} (from --lab-home)" in flat and "1 pending" in flat


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")} if folder.exists() else set()


def test_demo_writes_nothing_outside_its_working_folder(tmp_path, dcc_dir):
    """`labauto demo` as a new user runs it: HOME and the current folder are fresh; nothing
    tells labauto, Prefect or matplotlib where to keep state.  Run once through the Prefect
    flow and once on the plain engine, in the same folder."""
    home, cwd = tmp_path / "user", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LABAUTO_", "PREFECT_", "XDG_")) and k != "MPLCONFIGDIR"}
    env.update(HOME=str(home), LABAUTO_DCC_DIR=str(dcc_dir), PYTHONUNBUFFERED="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    ids = []
    for extra in ([], ["--no-prefect"]):
        proc = subprocess.run([sys.executable, "-m", "labauto.cli", "demo", "--latency", "zero", *extra],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        out = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode == 0, out
        assert "Traceback" not in out and "Publication: published" in out, out
        assert f"Lab home: {cwd / 'out' / 'demo' / 'home'}" in out
        ids.append(re.search(r"Certificate (LA-\d{4}-[\w-]+)", out).group(1))
    assert ids[0] != ids[1]
    assert _files_under(home) == set(), sorted(map(str, _files_under(home)))   # no ~/.labauto, no caches
    outside = {p for p in _files_under(cwd) if cwd / "out" not in p.parents and p != cwd / "out"}
    assert outside == set(), sorted(map(str, outside))
    work = cwd / "out" / "demo"
    assert (work / "home" / "outbox.sqlite3").is_file() and (work / "home" / "pki").is_dir()
    assert (work / "prefect").is_dir(), "Prefect's embedded server kept its database in the folder"

"""The main job runs any number of times in a row in one working folder: every run issues a new
certificate, publishes it to the demo's platform (kept in the folder) and verifies it.  The
demo lab is registered once; its API token is kept in the folder and reused."""
from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from labauto import cli
from labauto.cli import app

runner = CliRunner()
DEMO_VARIABLES = ("LABAUTO_HOME", "LABAUTO_OUTBOX", "LABAUTO_PLATFORM_URL", "LABAUTO_PLATFORM_TOKEN",
                  "MPLCONFIGDIR")


@pytest.fixture()
def demo_env(monkeypatch, dcc_dir):
    """The demo sets these variables for its own process; restore them after the test."""
    monkeypatch.setenv("LABAUTO_DCC_DIR", str(dcc_dir))
    for var in DEMO_VARIABLES:
        monkeypatch.setenv(var, "placeholder")
        monkeypatch.delenv(var)
    monkeypatch.setattr(cli.console, "width", 250)


def _demo(workdir, *extra: str) -> tuple[str, str]:
    result = runner.invoke(app, ["demo", "--workdir", str(workdir), "--latency", "zero", *extra],
                           terminal_width=250)
    out = result.output
    assert result.exit_code == 0 and result.exception is None, out
    assert "Traceback" not in out
    cert_id = re.search(r"Certificate (LA-\d{4}-[\w-]+)", out).group(1)
    assert "Publication: published" in out, out
    m = re.search(r"platform verification: valid, stored sha256 ([0-9a-f]{64})", out)
    assert m, out
    assert (workdir / "certificates" / cert_id / "certificate.xml").is_file()
    # the demo's thermo-hygrometer recorded the room, within the lab's limits
    assert re.search(r"Environmental conditions: temperature 2\d\.\d\d to 2\d\.\d\d °C \(U = 0\.23 K, k = 2\), "
                     r"limits 22 to 24 °C; relative humidity", out), out
    return cert_id, m.group(1)


def test_demo_runs_again_and_again_in_one_folder(tmp_path, demo_env):
    workdir = tmp_path / "demo"
    first, sha1 = _demo(workdir, "--no-prefect")
    token_file = workdir / "platform-lab.json"
    kept = token_file.read_text() if token_file.exists() else ""
    second, sha2 = _demo(workdir, "--no-prefect")       # was: HTTP 409, lab already registered
    assert second != first and sha2 != sha1
    assert token_file.stat().st_mode & 0o777 == 0o600      # a secret: owner only
    assert token_file.read_text() == kept, "the kept token is reused, not replaced"
    kept = json.loads(kept)
    # the token file lost (or damaged): the registered lab is found and a new token issued
    token_file.write_text("{not json")
    third, _ = _demo(workdir, "--no-prefect")
    assert third not in (first, second)
    renewed = json.loads(token_file.read_text())
    assert renewed["lab_id"] == kept["lab_id"] and renewed["token_id"] != kept["token_id"]
    # the demo's keys deleted and made anew: the new signing certificate is registered too
    import shutil
    shutil.rmtree(workdir / "home" / "pki")
    fourth, _ = _demo(workdir, "--no-prefect")
    assert fourth not in (first, second, third)
    assert len({first, second, third, fourth}) == 4


def test_demo_runs_twice_through_the_prefect_flow(tmp_path, demo_env, prefect_harness):
    workdir = tmp_path / "demo"
    first, _ = _demo(workdir)
    second, _ = _demo(workdir)
    assert first != second

"""The technician's commands: the demo end to end (simulated lab + reference platform, zero
latency, plain engine) and `labauto procedure validate` on good and broken files."""
from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from labauto import cli
from labauto.cli import app

runner = CliRunner()


def test_demo_calibrates_issues_publishes_and_verifies(tmp_path, dcc_dir, monkeypatch):
    monkeypatch.setenv("LABAUTO_DCC_DIR", str(dcc_dir))
    monkeypatch.setattr(cli.console, "width", 250)
    result = runner.invoke(app, ["demo", "--workdir", str(tmp_path / "demo"), "--latency", "zero",
                                 "--no-prefect", "--seed", "2026"], terminal_width=200)
    out = result.output
    assert result.exit_code == 0, out
    cert_id = re.search(r"Certificate (LA-\d{4}-[\w-]+)", out).group(1)
    folder = tmp_path / "demo" / "certificates" / cert_id
    for name in ("certificate.pdf", "certificate.xml", "certificate.json", "journal.jsonl"):
        assert (folder / name).is_file(), name
    # published through the outbox and verified by the platform with the same hash
    assert "Publication: published" in out
    assert re.search(r"platform verification: valid, stored sha256 [0-9a-f]{64}", out)
    m = re.search(r"true error lies within ± U at (\d+) of (\d+) points", out)
    inside, total = int(m.group(1)), int(m.group(2))
    assert total >= 10 and inside >= total - 1
    assert "Overall: pass" in out


def test_validate_accepts_the_shipped_procedures(project_root):
    for path in sorted((project_root / "procedures").glob("*.yaml")):
        result = runner.invoke(app, ["procedure", "validate", str(path)], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)


@pytest.mark.parametrize("mutation, line_text, reason", [
    (("nplc: ", "nplcc: "), "nplcc", "unknown key"),
    (("10 V", "10 A"), "10 A", "unit"),
])
def test_validate_names_file_line_and_reason(project_root, tmp_path, mutation, line_text, reason):
    src = (project_root / "procedures" / "keysight_34465a_dcv_quick.yaml").read_text()
    old, new = mutation
    assert old in src, f"the quick procedure no longer contains {old!r}; update this test"
    bad = src.replace(old, new, 1)
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    expected_line = next(i for i, l in enumerate(bad.splitlines(), 1) if line_text in l)
    result = runner.invoke(app, ["procedure", "validate", str(path)], terminal_width=300)
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert f"{path.name}:{expected_line}" in flat or f"line {expected_line}" in flat, flat
    assert reason in flat.lower()

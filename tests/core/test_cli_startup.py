"""`labauto --help` imports none of the heavy libraries; each group loads on first use."""
import json
import subprocess
import sys

from typer.testing import CliRunner

from labauto.cli import app
from labauto.cli_groups import GROUPS

HEAVY = ("pint", "scipy", "numpy", "prefect", "sqlalchemy", "lxml", "pyvisa", "fastapi",
         "matplotlib", "reportlab", "cryptography", "labauto.units")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_top_level_help_imports_no_heavy_library():
    loaded = _modules_after(
        "import contextlib, io\nfrom labauto.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    app(['--help'])")
    assert "labauto.cli" in loaded
    assert not [m for m in HEAVY if m in loaded], sorted(m for m in HEAVY if m in loaded)


def test_help_lists_every_group_with_its_help_text():
    r = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    for name, (_target, help_text) in GROUPS.items():
        # the line that lists the group (its name in the command column, not in another's help)
        line = next(l for l in r.output.splitlines() if l.strip("│ ").startswith(f"{name} "))
        assert help_text.split(":")[0][:30] in line


def test_a_group_loads_when_used_and_unknown_commands_are_refused():
    r = CliRunner().invoke(app, ["risk", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "guardband" in r.output
    r = CliRunner().invoke(app, ["risk", "global", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "--prior" in r.output
    r = CliRunner().invoke(app, ["nosuch"])
    assert r.exit_code == 2 and "No such command" in r.output

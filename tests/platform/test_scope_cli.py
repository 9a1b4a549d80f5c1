"""``labauto platform`` accreditation commands: register a body, import a scope (a bad file is
refused whole, naming file:line), show it, suspend, search."""
from __future__ import annotations

from typer.testing import CliRunner

from labauto.platform.cli import app

runner = CliRunner()

SCOPE = """quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k
DC voltage,100 mV,10 V,,,,2 µV/V + 1 µV,2
DC voltage,10 V,1000 V,,,,3 µV/V + 10 µV,2
"""


def test_body_scope_and_search_commands(tmp_path, lab_keys):
    db = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    (tmp_path / "lab.pem").write_bytes(lab_keys.cert_pem)
    assert runner.invoke(app, ["register-lab", "--db", db, "--name", "Lab A", "--accreditation-id", "D-K-1",
                               "--cert", str(tmp_path / "lab.pem")]).exit_code == 0
    r = runner.invoke(app, ["register-body", "--db", db, "--name", "DAkkS", "--country", "DE"])
    assert r.exit_code == 0 and r.stdout.startswith("token: abt_")
    bad = tmp_path / "bad.csv"
    bad.write_text(SCOPE + "DC voltage,5 V,20 V,,,,1 µV,2\nDC current,1 mA,1 V,,,,1 µA,2\n", encoding="utf-8")
    r = runner.invoke(app, ["import-scope", str(bad), "--db", db, "--lab-id", "1", "--body-id", "1",
                            "--valid-from", "2026-01-01"])
    assert r.exit_code == 2
    assert f"{bad}:4: DC voltage 5 V to 20 V overlaps the row of line 2 (100 mV to 10 V)" in r.stderr
    assert f"{bad}:5: range_max '1 V' is not a DC current (expected a unit like A)" in r.stderr
    r = runner.invoke(app, ["show-scope", "--db", db, "--lab-id", "1"])
    assert r.exit_code == 0 and "lab 1 has no accredited scope" in r.stdout
    good = tmp_path / "scope.csv"
    good.write_text(SCOPE, encoding="utf-8")
    r = runner.invoke(app, ["import-scope", str(good), "--db", db, "--lab-id", "1", "--body-id", "1",
                            "--valid-from", "2026-01-01"])
    assert r.exit_code == 0 and "lab 1: scope version 1 with 2 rows, valid from 2026-01-01" in r.stdout
    r = runner.invoke(app, ["import-scope", str(good), "--db", db, "--lab-id", "1", "--body-id", "1"])
    assert r.exit_code == 2 and "a scope needs valid_from" in r.stdout
    r = runner.invoke(app, ["show-scope", "--db", db, "--lab-id", "1"])
    assert r.exit_code == 0 and "scope version 1 of DAkkS" in r.stdout and "2 µV/V + 1 µV" in r.stdout
    r = runner.invoke(app, ["search", "--db", db, "--quantity", "DC voltage", "--value", "10 V", "--max-cmc", "5 µV/V"])
    assert r.exit_code == 0 and "1 lab(s) accredited for DC voltage" in r.stdout and "21 µV" in r.stdout
    r = runner.invoke(app, ["search", "--db", db, "--quantity", "DC voltage", "--value", "10 A"])
    assert r.exit_code == 2 and "is not a DC voltage" in r.stdout
    r = runner.invoke(app, ["suspend", "--db", db, "--lab-id", "1", "--body-id", "1", "--reason", "findings",
                            "--from", "2026-02-01"])
    assert r.exit_code == 0 and "suspended from 2026-02-01" in r.stdout
    r = runner.invoke(app, ["search", "--db", db, "--quantity", "DC voltage", "--value", "10 V"])
    assert "0 lab(s)" in r.stdout
    r = runner.invoke(app, ["withdraw", "--db", db, "--lab-id", "1", "--body-id", "2", "--reason", "x"])
    assert r.exit_code == 2 and "no accreditation body with id 2" in r.stdout


def test_search_and_scope_tables_cut_nothing_in_a_pipe(tmp_path, lab_keys):
    """Out of a terminal rich squeezed the tables to 80 columns: the search printed a long lab
    name and left range, CMC and conditions empty; show-scope cut the band to 'f…'."""
    db = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    (tmp_path / "lab.pem").write_bytes(lab_keys.cert_pem)
    name = "Physikalisch Kalibrierlabor Nord GmbH"
    assert runner.invoke(app, ["register-lab", "--db", db, "--name", name, "--accreditation-id",
                               "D-K-15001-01-00", "--cert", str(tmp_path / "lab.pem")]).exit_code == 0
    assert runner.invoke(app, ["register-body", "--db", db, "--name", "DAkkS"]).exit_code == 0
    scope = tmp_path / "scope.csv"
    scope.write_text(SCOPE + "AC voltage,10 mV,10 V,40 Hz,1 kHz,4-wire at 23 °C,100 µV/V + 5 µV,2\n",
                     encoding="utf-8")
    assert runner.invoke(app, ["import-scope", str(scope), "--db", db, "--lab-id", "1", "--body-id",
                               "1", "--valid-from", "2026-01-01"]).exit_code == 0
    r = runner.invoke(app, ["search", "--db", db, "--quantity", "DC voltage", "--value", "10 V",
                            "--max-cmc", "5 µV/V"])
    assert r.exit_code == 0, r.output
    row = [ln for ln in r.stdout.splitlines() if name in ln]
    assert len(row) == 1 and "100 mV to 10 V" in row[0] and "2 µV/V + 1 µV (k = 2)" in row[0] \
        and "21 µV" in row[0], r.stdout
    r = runner.invoke(app, ["show-scope", "--db", db, "--lab-id", "1"])
    row = [ln for ln in r.stdout.splitlines() if "AC voltage" in ln]
    assert len(row) == 1 and "40 Hz to 1 kHz" in row[0] and "4-wire at 23 °C" in row[0], r.stdout
    assert "…" not in r.stdout

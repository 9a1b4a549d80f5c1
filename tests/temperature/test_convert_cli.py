"""``labauto temperature convert``: direction from the unit, --json, coefficients files, exit 2.

Published digits: IEC 60751 Pt100 at 100 °C 138.5055 ohm; IEC 60584-1 type N at 1000 °C
36.256 mV and type K at 100 °C 4.096 mV; ITS-90 Table 1 W_r(Sn) = 1.89279768.
"""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labauto.cli import app

runner = CliRunner()


def _json(*args: str) -> dict:
    result = runner.invoke(app, ["temperature", "convert", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_convert_each_sensor_both_directions():
    assert _json("pt100", "138.5055 ohm") == {"value": pytest.approx(100.0, abs=2e-4), "unit": "degC"}
    assert _json("pt100", "100 degC") == {"value": pytest.approx(138.5055, abs=5e-5), "unit": "ohm"}
    assert _json("pt100", "-200", "degC")["value"] == pytest.approx(18.5201, abs=5e-5)
    assert _json("pt100", "373.15 K")["value"] == pytest.approx(138.5055, abs=5e-5)
    assert _json("N", "1000 degC") == {"value": pytest.approx(36.256, abs=5e-4), "unit": "mV"}
    assert _json("N", "36.256 mV")["value"] == pytest.approx(1000.0, abs=0.02)
    assert _json("k", "4096 uV")["value"] == pytest.approx(100.0, abs=0.02)
    assert _json("its90", "1.89279768 W_r") == {"value": pytest.approx(231.928, abs=2e-5), "unit": "degC"}
    assert _json("its90", "231.928 degC") == {"value": pytest.approx(1.89279768, abs=6e-9), "unit": "W_r"}


def test_convert_human_output():
    result = runner.invoke(app, ["temperature", "convert", "pt100", "100 degC"])
    assert result.exit_code == 0
    assert "138.5055 Ω" in result.stdout and "IEC 60751" in result.stdout


def test_coefficients_files(tmp_path):
    prt = tmp_path / "prt.yaml"
    prt.write_text("R0: 100.05 ohm\nA: 3.9083e-3\nB: -5.775e-7\nC: -4.183e-12\n")
    assert _json("pt100", "100 degC", "--coefficients", str(prt))["value"] == pytest.approx(
        100.05 * 1.385055, abs=1e-9)
    sprt = tmp_path / "sprt.yaml"
    sprt.write_text("subrange: 8\nR_tpw: 25.4 ohm\na: -1.0e-4\nb: 0.0\n")
    r = _json("its90", "419.527 degC", "--coefficients", str(sprt))["value"]
    assert _json("its90", f"{r} ohm", "--coefficients", str(sprt))["value"] == pytest.approx(419.527, abs=1e-7)
    tc = tmp_path / "tc.yaml"
    tc.write_text("type: N\ndeviation: [5.0, 0.01]\ndeviation_unit: uV\n")
    assert _json("N", "1000 degC", "--coefficients", str(tc))["value"] == pytest.approx(
        36.256 + 0.015, abs=5e-4)


@pytest.mark.parametrize("args,message", [
    (["X", "1 mV"], "B, E, J, K, N, R, S, T"),
    (["pt100", "138"], "has no unit"),
    (["pt100", "1 V"], "must be a resistance"),
    (["K", "100 mV"], "outside"),
    (["pt100", "12 furlongs"], "must be a resistance"),
    (["pt100", "12 foo"], "cannot parse"),
    (["its90", "25 ohm"], "coefficients"),
])
def test_bad_input_exits_2_with_a_message(args, message):
    result = runner.invoke(app, ["temperature", "convert", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_bad_coefficients_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("subrange: 8\nR_tpw: 25.4 ohm\na: -1.0e-4\nc: 1.0\n")
    result = runner.invoke(app, ["temperature", "convert", "its90", "1 W", "--coefficients", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:4" in result.output.replace("\n", "")


def test_unknown_key_in_a_prt_file_names_its_line(tmp_path):
    bad = tmp_path / "prt.yaml"
    bad.write_text("R0: 100.0 ohm\nA: 3.9083e-3\nD: 1.0\n")
    result = runner.invoke(app, ["temperature", "convert", "pt100", "100 degC", "--coefficients", str(bad)])
    assert result.exit_code == 2
    out = result.output.replace("\n", "")
    assert f"{bad}:3" in out and "unknown key 'D'" in out

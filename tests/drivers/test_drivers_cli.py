"""``labauto instruments list|identify`` through typer's CliRunner."""
from __future__ import annotations

from typer.testing import CliRunner

from labauto.drivers.cli import app
from labauto.instruments import load_instrument_model

SIM = f"{load_instrument_model('keysight_34465a').simulation}@sim"


def test_list_shows_visa_resources_and_models():
    result = CliRunner().invoke(app, ["list", "--backend", SIM])
    assert result.exit_code == 0, result.output
    assert "USB0::0x2A8D::0x0101::MY59004321::0::INSTR" in result.output
    assert "keysight_34465a" in result.output and "fluke_5522a" in result.output


def test_identify_finds_the_model(lab):
    result = CliRunner().invoke(app, ["identify", lab.resources["calibrator"]])
    assert result.exit_code == 0, result.output
    assert "FLUKE,5522A,3456789" in result.output
    assert "matches model fluke_5522a" in result.output
    assert "keysight_34465a" not in result.output


def test_identify_with_the_wrong_model_fails(lab):
    result = CliRunner().invoke(app, ["identify", lab.resources["dmm"], "--model", "fluke_5522a"])
    assert result.exit_code == 1
    assert "mismatch" in result.output


def test_identify_unreachable_resource():
    result = CliRunner().invoke(app, ["identify", "TCPIP0::127.0.0.1::1::SOCKET",
                                      "--timeout-ms", "300"])
    assert result.exit_code == 2
    assert "error" in result.output

"""``labauto sim serve`` for a source under test: the 3458A reading an E36312A through a load."""
from __future__ import annotations

import re

from typer.testing import CliRunner

from labauto.sim.cli import app


def test_serve_a_power_supply_under_test_with_the_3458a():
    result = CliRunner().invoke(app, ["serve", "--latency", "zero", "--dmm-model", "keysight_3458a",
                                      "--calibrator-model", "keysight_e36312a", "--dut", "source",
                                      "--load", "2 ohm", "--run-for", "0.1"])
    assert result.exit_code == 0, result.output
    assert re.search(r"dmm\s+TCPIP0::127\.0\.0\.1::\d+::SOCKET  \(Keysight Technologies 3458A\)",
                     result.output)
    assert re.search(r"calibrator\s+TCPIP0::127\.0\.0\.1::\d+::SOCKET  \(Keysight Technologies "
                     r"E36312A\)", result.output)
    runner = CliRunner()
    bad_load = runner.invoke(app, ["serve", "--calibrator-model", "keysight_e36312a", "--dut",
                                   "source", "--load", "2 V", "--run-for", "0.1"])
    assert bad_load.exit_code == 2 and "2 V" in bad_load.output
    no_load = runner.invoke(app, ["serve", "--load", "2 ohm", "--run-for", "0.1"])   # a 5522A
    assert no_load.exit_code == 2 and "takes no load resistor" in no_load.output

"""``labauto sim serve`` through typer's CliRunner."""
from __future__ import annotations

import re

from typer.testing import CliRunner

from labauto.sim.cli import app


def test_serve_prints_resources_and_stops():
    result = CliRunner().invoke(app, ["serve", "--seed", "7", "--latency", "zero",
                                      "--out-of-tolerance", "10 V", "--run-for", "0.2"])
    assert result.exit_code == 0, result.output
    assert re.search(r"dmm\s+TCPIP0::127\.0\.0\.1::\d+::SOCKET", result.output)
    assert re.search(r"calibrator\s+TCPIP0::127\.0\.0\.1::\d+::SOCKET", result.output)
    assert re.search(r"environment\s+TCPIP0::127\.0\.0\.1::\d+::SOCKET", result.output)
    assert "seed 7" in result.output and "out of tolerance on 10 V" in result.output


def test_serve_simulates_the_meter_model_it_is_given():
    result = CliRunner().invoke(app, ["serve", "--latency", "zero", "--dmm-model",
                                      "keithley_dmm6500", "--run-for", "0.1"])
    assert result.exit_code == 0, result.output
    assert re.search(r"dmm\s+TCPIP0::127\.0\.0\.1::\d+::SOCKET  \(Keithley Instruments DMM6500\)",
                     result.output)
    unknown = CliRunner().invoke(app, ["serve", "--dmm-model", "acme_none", "--run-for", "0.1"])
    assert unknown.exit_code == 2 and "unknown instrument model 'acme_none'" in unknown.output


def test_serve_rejects_bad_options():
    runner = CliRunner()
    bad_latency = runner.invoke(app, ["serve", "--latency", "fast", "--run-for", "0.1"])
    assert bad_latency.exit_code == 2 and "realistic" in bad_latency.output
    bad_range = runner.invoke(app, ["serve", "--out-of-tolerance", "3 V", "--run-for", "0.1"])
    assert bad_range.exit_code == 2 and "no DCV range 3 V" in bad_range.output


def test_standalone_process_serves_and_stops_on_ctrl_c():
    import signal
    import subprocess
    import sys

    import pyvisa

    proc = subprocess.Popen([sys.executable, "-m", "labauto.sim", "serve", "--latency", "zero",
                             "--seed", "3"], stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any("calibrator" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"serve exited early: {lines}"
            lines.append(line)
        dmm = next(line.split()[1] for line in lines if line.strip().startswith("dmm"))
        rm = pyvisa.ResourceManager("@py")
        res = rm.open_resource(dmm, read_termination="\n", write_termination="\n", timeout=2000)
        assert res.query("*IDN?").startswith("Keysight Technologies,34465A,")
        res.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "stopping" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_puts_a_check_standard_on_the_meter():
    """`--check-standard zener-10v` for trying `labauto register check` on the simulated lab."""
    result = CliRunner().invoke(app, ["serve", "--latency", "zero", "--check-standard",
                                      "zener-10v", "--day", "30", "--run-for", "0.1"])
    assert result.exit_code == 0, result.output
    assert "the meter's input: check standard zener-10v (day 30)" in result.output
    bad = CliRunner().invoke(app, ["serve", "--check-standard", "zener-1v", "--run-for", "0.1"])
    assert bad.exit_code == 2 and "zener-10v, resistor-10k" in bad.output

"""The environment-logger role: the Vaisala HMT330 model file, its pyvisa-sim dialogue, and
the simulated thermo-hygrometer in the sim lab's drifting room."""
from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from labauto.drivers.cli import app as instruments_app
from labauto.drivers.environment import (EnvironmentLoggerError, load_environment_logger_model,
                                         open_environment_logger)
from labauto.errors import SourceError
from labauto.sim import SimulatedLab
from labauto.units import Q_
from labauto.visa import fresh_sim_resource_manager

MODEL = load_environment_logger_model("vaisala_hmt330")


def test_model_file_states_ranges_and_the_datasheet_accuracy():
    assert (MODEL.manufacturer, MODEL.model) == ("Vaisala", "HMT330")
    assert "B210951EN" in MODEL.datasheet
    t, rh = MODEL.quantities["temperature"], MODEL.quantities["relative_humidity"]
    assert t.minimum == Q_(-40, "degC") and t.maximum == Q_(60, "degC")
    assert t.accuracy_at(Q_(23, "degC")).limit == Q_(0.2, "K")
    assert rh.accuracy_at(Q_(45, "percent")).limit == Q_(1.0, "percent")
    assert rh.accuracy_at(Q_(95, "percent")).limit == Q_(1.7, "percent")
    # JCGM 100:2008 4.3.7: limits ± a with no other knowledge -> rectangular, u = a/√3
    assert t.standard_uncertainty(Q_(23, "degC")).to("K").magnitude == pytest.approx(0.2 / math.sqrt(3))
    assert t.standard_uncertainty(Q_(23, "degC")).to("K").magnitude == pytest.approx(0.11547, abs=5e-6)
    # no datasheet limit outside the stated band: none is made up
    assert t.standard_uncertainty(Q_(30, "degC")) is None


def test_a_broken_model_file_names_file_and_line(tmp_path):
    text = (MODEL.folder / "model.yaml").read_text()
    bad = text.replace("(?P<temperature>", "(?P<temp>", 1)
    (tmp_path / "model.yaml").write_text(bad)
    with pytest.raises(SourceError) as err:
        load_environment_logger_model(tmp_path / "model.yaml")
    line = next(i for i, l in enumerate(bad.splitlines(), 1) if l.startswith("reading:"))
    assert err.value.line == line and "no group for 'temperature'" in str(err.value)


def test_driver_against_the_pyvisa_sim_dialogue():
    rm = fresh_sim_resource_manager(MODEL.simulation)
    try:
        with open_environment_logger("TCPIP0::10.0.0.31::4001::SOCKET", MODEL, resource_manager=rm) as logger:
            ident = logger.identity
            assert (ident.manufacturer, ident.model, ident.serial, ident.firmware) == (
                "Vaisala", "HMT330", "K0950042", "5.16")
            first, second = logger.read(), logger.read()   # the rest of "?" was drained
    finally:
        rm.close()
    assert first.values == {"temperature": Q_(23.04, "degC"), "relative_humidity": Q_(45.21, "percent")}
    assert second.values == first.values


def test_simulated_room_drifts_slowly_and_is_seeded():
    with SimulatedLab(seed=7, latency="zero") as lab, SimulatedLab(seed=7, latency="zero") as twin:
        with open_environment_logger(lab.resources["environment"], MODEL) as logger:
            assert logger.identity.serial == "S4420017"
            temps = []
            for _ in range(13):                      # an hour, every five minutes
                lab.advance(300)
                temps.append(logger.read().values["temperature"].to("degC").magnitude)
        assert twin.thermohygrometer.air(1234.0) == lab.thermohygrometer.air(1234.0)
    assert max(temps) - min(temps) > 0.05          # it drifts ...
    assert all(abs(t - 23.0) < 0.25 for t in temps)  # ... slowly, around the set 23 °C
    assert max(abs(a - b) for a, b in zip(temps, temps[1:])) < 0.2


def test_a_reading_outside_the_measuring_range_is_a_sensor_fault():
    with SimulatedLab(seed=1, latency="zero", room_temperature=80.0) as lab:
        with open_environment_logger(lab.resources["environment"], MODEL) as logger:
            with pytest.raises(EnvironmentLoggerError, match="outside the logger's measuring range"):
                logger.read()


def test_instruments_list_shows_the_environment_logger(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(instruments_app, ["list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "vaisala_hmt330" in result.output and "environment_logger" in result.output

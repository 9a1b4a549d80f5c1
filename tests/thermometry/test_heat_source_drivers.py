"""Heat sources (dry-well, bath) and the reference readout as model files + the generic roles,
against their pyvisa-sim dialogues (instruments/<model>/sim.yaml)."""
from __future__ import annotations

from pathlib import Path

import pytest

from labauto.drivers import open_instrument
from labauto.drivers.heat_source import HeatSource, heat_source_performance
from labauto.errors import SourceError
from labauto.instruments import load_instrument_model, parse_model
from labauto.units import Q_
from labauto.visa import RefusedRequestError, UnsafeRequestError, fresh_sim_resource_manager

WELL, BATH, READOUT = "fluke_9144", "fluke_7060", "fluke_1594a"
FURNACE, SCANNER = "fluke_9150", "fluke_1586a"
RESOURCES = {WELL: "TCPIP0::10.0.0.41::10001::SOCKET", BATH: "TCPIP0::10.0.0.42::10001::SOCKET",
             READOUT: "TCPIP0::10.0.0.40::5025::SOCKET", FURNACE: "TCPIP0::10.0.0.43::10001::SOCKET",
             SCANNER: "TCPIP0::10.0.0.44::5025::SOCKET"}


def _open(name, **options):
    rm = fresh_sim_resource_manager(load_instrument_model(name).simulation)
    return rm, open_instrument(RESOURCES[name], name, resource_manager=rm, **options)


def test_the_heat_source_role_drives_the_well_from_its_model_file():
    rm, ctx = _open(WELL, safe_setpoint=Q_(60, "degC"))
    with ctx as well:
        assert isinstance(well, HeatSource)
        assert (well.identity.model, well.identity.serial) == ("9144", "B52344")
        assert well.setpoint() == Q_(60.0, "degC")        # the safe setpoint, set on connect
        assert well.temperature() == Q_(199.874, "degC")  # the dialogue's control reading
        assert well.stable() is False
        well.set_temperature(Q_(473.15, "K"))             # written in °C, the model's unit
        assert well.setpoint() == Q_(200.0, "degC")
        lo, hi = well.setpoint_range
        assert (lo, hi) == (Q_(50, "degC"), Q_(660, "degC"))
        with pytest.raises(UnsafeRequestError, match="outside its setpoint range 50 °C to 660 °C"):
            well.set_temperature(Q_(700, "degC"))
        with pytest.raises(RefusedRequestError, match="must be a temperature"):
            well.set_temperature(Q_(1, "V"))
        assert well.setpoint() == Q_(200.0, "degC")       # nothing was sent
    # on leaving, the well went back to its safe setpoint
    with open_instrument(RESOURCES[WELL], WELL, resource_manager=rm) as again:
        assert again.setpoint() == Q_(60.0, "degC")
    rm.close()


def test_a_safe_setpoint_outside_the_range_is_refused_before_anything_is_sent():
    rm, ctx = _open(BATH, safe_setpoint=Q_(150, "degC"))
    with pytest.raises(UnsafeRequestError, match="safe setpoint 150 °C: outside its setpoint "
                                                 "range -60 °C to 110 °C"):
        with ctx:
            pass
    rm.close()


def test_performance_figures_by_temperature():
    well = heat_source_performance(load_instrument_model(WELL))
    assert well.at("stability", Q_(100, "degC")) == Q_(0.004, "K")
    assert well.at("stability", Q_(200, "degC")) == Q_(0.008, "K")     # the 420 °C row
    assert well.at("axial_uniformity", Q_(660, "degC")) == Q_(0.2, "K")
    assert well.at("hysteresis", Q_(300, "degC")) == Q_(0.07, "K")
    assert well.at("time_constant", Q_(0, "degC")) == Q_(240, "s")
    assert well.at("self_heating", Q_(0, "degC")) is None
    bath = heat_source_performance(load_instrument_model(BATH))
    assert bath.at("radial_uniformity", Q_(-40, "degC")) == Q_(0.007, "K")


def test_a_heat_source_model_is_checked_against_its_role(tmp_path: Path):
    text = (Path(load_instrument_model(WELL).folder) / "model.yaml").read_text()
    bad = tmp_path / "model.yaml"
    bad.write_text(text.replace('  setpoint_query: "SOUR:SPO?"\n', ""))
    with pytest.raises(SourceError, match="the heat_source operation 'setpoint_query' has no "
                                          "command template"):
        parse_model(bad)
    bad.write_text(text.replace('setpoint: "SOUR:SPO {value}"', 'setpoint: "SOUR:SPO {valeu}"'))
    with pytest.raises(SourceError, match=r"model.yaml:\d+: .*uses \{valeu\}"):
        parse_model(bad)
    bad.write_text(text.replace("stability: [{at: 100 degC", "stabilty: [{at: 100 degC"))
    with pytest.raises(SourceError, match=r"model.yaml:\d+: unknown performance figure 'stabilty'"):
        heat_source_performance(parse_model(bad))


def test_the_readout_is_a_meter_with_channels_current_and_reversal():
    rm, ctx = _open(READOUT)
    with ctx as readout:
        conf = readout.configure("RES4W", Q_(400, "ohm"), channel=2, reversal=False)
        assert conf.settings == {"channel": 2.0, "current": Q_(1, "mA"), "reversal": False,
                                 "aperture": Q_(2, "s"), "reference": Q_(100, "ohm")}
        assert readout.read(1)[0] == Q_(25.5497312, "ohm")
        assert readout.seconds_per_reading() == 2.0          # the sample period sets the timeout
        with pytest.raises(RefusedRequestError, match="channel 3 is not offered"):
            readout.configure("RES4W", Q_(400, "ohm"), channel=3)
        model = load_instrument_model(READOUT)
        assert model.function("RATIO").ranges[0].accuracy["reading"] == Q_(0.3, "ppm")
    rm.close()


def test_the_furnace_and_the_scanner():
    rm, ctx = _open(FURNACE, safe_setpoint=Q_(150, "degC"))
    with ctx as furnace:
        assert furnace.identity.serial == "C90015"
        assert furnace.temperature() == Q_(999.42, "degC")
        assert furnace.setpoint_range == (Q_(150, "degC"), Q_(1200, "degC"))
        with pytest.raises(UnsafeRequestError, match="outside its setpoint range 150 °C to 1200 °C"):
            furnace.set_temperature(Q_(100, "degC"))
    perf = heat_source_performance(load_instrument_model(FURNACE))
    assert perf.at("axial_uniformity", Q_(1000, "degC")) == Q_(1, "K")      # EA-4/02 S5's ±1 K
    rm.close()
    rm, ctx = _open(SCANNER)
    with ctx as scanner:
        scanner.configure("DCV", Q_(100, "mV"), channel=2)
        assert scanner.read(1)[0] == Q_(0.0109941, "V")
        dcv = scanner.model.function("DCV").ranges[0]
        # at type R's 10.506 mV (1000 °C): 0.0037 % + 2 µV = 2.39 µV (95 %)
        assert dcv.accuracy_halfwidth(Q_(10.506, "mV")).to("uV").m == pytest.approx(2.3887, abs=1e-4)
    rm.close()

"""The simulated thermometry lab: first-order heat sources with gradients on simulated time, the
reference readout's channels, reversal and ratio, and a lost connection to a heat source."""
from __future__ import annotations

import math

import pytest

from labauto.drivers import open_instrument
from labauto.sim.thermometry import ResistanceSensor, SimulatedThermometryLab, Thermocouple
from labauto.units import Q_
from labauto.visa import InstrumentError, TransientVisaError


from labauto.temperature import PT100

pt100 = PT100.resistance


def sprt(t: float) -> float:        # a stand-in probe curve (not a scale): 25 ohm, ~0.1 ohm/K
    return 25.0 * (1 + 3.985e-3 * t - 5.85e-7 * t * t)


@pytest.fixture(scope="module")
def lab():
    with SimulatedThermometryLab(heat_sources={"bath": "fluke_7060", "drywell": "fluke_9144"},
                                 reference=ResistanceSensor(sprt, self_heating_k=0.002),
                                 dut=ResistanceSensor(pt100), seed=3) as running:
        running.place_probes("drywell")
        yield running


def test_first_order_approach_on_simulated_time(lab):
    well = lab.heat_sources["drywell"]
    with open_instrument(lab.resources["drywell"], "fluke_9144") as hs:
        hs.set_temperature(Q_(300, "degC"))
        t0, start = lab.clock.now(), well.medium(lab.clock.now())
        lab.advance(240.0)                                  # one time constant of the 9144
        expected = 300 + (start - 300) * math.exp(-1)
        assert abs(well.medium(lab.clock.now()) - expected) <= 0.008    # stability at 420 °C row
        assert hs.stable() is False
        lab.advance(240.0 * 12 + 300)                       # settled and the test window passed
        assert abs(hs.temperature().m - 300) <= 0.35 / 2 + 0.008   # display error within spec/2
        assert hs.stable() is True
        assert lab.clock.now() - t0 == pytest.approx(240.0 * 13 + 300)
        # the DUT's well differs from the reference's by the gradients, within the datasheet's
        gap = lab.temperature_at(lab.clock.now(), "dut") - lab.temperature_at(lab.clock.now(), "reference")
        assert 0.0 < abs(gap) <= 0.15 + 0.025              # axial + radial at 420 °C
        with pytest.raises(InstrumentError, match="-222"):
            hs.session.write("SOUR:SPO 700")                # the well itself refuses it too


def test_readout_channels_reversal_and_ratio(lab):
    with open_instrument(lab.resources["readout"], "fluke_1594a") as ro:
        ro.configure("RES4W", Q_(400, "ohm"), channel=1, current=Q_(1, "mA"))
        t_before = lab.clock.now()
        r_ref = ro.read(1)[0].m
        assert lab.clock.now() - t_before == pytest.approx(2.0)   # the 2 s sample period
        true = sprt(lab.true_temperature("reference") + 0.002)    # self-heating at 1 mA
        assert abs(r_ref - true) <= 1.5e-6 * true + 1e-4         # spec (1.5 ppm) + noise/drift
        ro.configure("RES4W", Q_(400, "ohm"), channel=1, current=Q_(2, "mA"))
        heated = ro.read(1)[0].m
        # 4x the self-heating at 2 mA: (0.008 - 0.002) K x dR/dt (~0.094 ohm/K at 300 °C)
        assert heated - r_ref == pytest.approx(0.006 * 25 * (3.985e-3 - 2 * 5.85e-7 * 300), abs=2e-4)
        ro.configure("RATIO", None, channel=1, current=Q_(1, "mA"))
        ratio = ro.read(1)[0].m
        assert ratio * 100 == pytest.approx(r_ref, abs=2e-4)
        ro.configure("RES4W", Q_(400, "ohm"), channel=1, reversal=True)
        with_rev = ro.read(1)[0].m
        ro.configure("RES4W", Q_(400, "ohm"), channel=1, reversal=False)
        without = ro.read(1)[0].m
        emf = lab.readout.emf
        assert without - with_rev == pytest.approx(emf / 1e-3, abs=1e-4)
        ro.configure("RES4W", Q_(400, "ohm"), channel=2)
        assert ro.read(1)[0].m == pytest.approx(pt100(lab.true_temperature("dut") + 0.001), abs=2e-3)


def test_the_dmm_reads_the_dut_at_its_place(lab):
    with open_instrument(lab.resources["dmm"], "keysight_34465a") as dmm:
        dmm.configure("RES4W", Q_(1, "kohm"))
        value = dmm.read(1)[0].m
        assert value == pytest.approx(pt100(lab.true_temperature("dut") + 0.001), abs=0.01)


def test_a_thermocouple_in_an_ice_point_reference_junction():
    def emf(t):                          # a linear stand-in for the reference function (mV)
        return 0.039 * t
    with SimulatedThermometryLab(heat_sources={"drywell": "fluke_9144"}, reference=ResistanceSensor(sprt),
                                 dut=Thermocouple(emf, "ice"), start_temperature=400.0) as lab:
        with open_instrument(lab.resources["dmm"], "keysight_34465a") as dmm:
            dmm.configure("DCV", Q_(100, "mV"))
            value = dmm.read(1)[0].to("mV").m
        assert value == pytest.approx(emf(lab.true_temperature("dut")), abs=0.002)


def test_a_lost_connection_leaves_the_source_at_its_safe_setpoint(lab):
    well = lab.heat_sources["drywell"]
    with pytest.raises(TransientVisaError):
        with open_instrument(lab.resources["drywell"], "fluke_9144",
                             safe_setpoint=Q_(50, "degC"), timeout_ms=500) as hs:
            hs.set_temperature(Q_(420, "degC"))
            lab.inject_fault("drywell", "drop", on="SENS:DATA")
            hs.temperature()
    # the safe state was reached on a new connection: the well is no longer heating to 420 °C
    assert well.setpoint == 50.0
    assert well.history[-2:] == [420.0, 50.0]


def test_the_bracketing_cancels_the_sources_wander_to_its_curvature():
    """The engine reads the reference, the DUT, the reference, 2 s apart (the aperture), and
    takes the mean of the two reference readings.  For the simulated furnace's wander (peak A =
    its stability figure, 0.5 K at 1000 °C: the model's 1200 °C row; sinusoids of 300 s and
    77 s, weights 1 and 0.4, over 1.4) what is left at the DUT's time is
    (T(t-2) + T(t+2))/2 - T(t), at most A [(1 - cos(2 pi 2/300)) + 0.4 (1 - cos(2 pi 2/77))]/1.4
    = 0.0044 A (2.2 mK); a reference read only before the DUT would leave T(t) - T(t-2), up to
    0.0765 A (38 mK).  Neither is the +-A (0.5 K) the budget had allowed (docs/validation.md)."""
    import numpy as np

    from labauto.instruments import load_instrument_model
    from labauto.sim.clock import VirtualClock
    from labauto.sim.heat_source import SimulatedHeatSource

    furnace = SimulatedHeatSource(load_instrument_model("fluke_9150"), VirtualClock(), seed=5,
                                  start=1000.0)
    furnace.program(1000.0)
    a = furnace._figure("stability", 1000.0)
    assert a == 0.5                       # the 1200 °C row holds above 500 °C
    t = np.arange(5000.0, 8000.0, 0.25)
    temp = np.array([furnace.medium(x) for x in np.concatenate([t - 2, t, t + 2])]).reshape(3, -1)
    bracketed = np.abs((temp[0] + temp[2]) / 2 - temp[1]).max()
    before_only = np.abs(temp[1] - temp[0]).max()
    assert np.abs(temp[1] - 1000.0).max() == pytest.approx(a, rel=0.1)   # the wander's peak
    bound = a * ((1 - math.cos(2 * math.pi * 2 / 300)) + 0.4 * (1 - math.cos(2 * math.pi * 2 / 77))) / 1.4
    assert bound == pytest.approx(0.0044228 * a, rel=1e-4)
    assert 0.5 * bound < bracketed <= bound
    assert 0.5 * 0.0765 * a < before_only <= 0.0765 * a


def test_the_dut_probes_stem_conduction():
    """A procedure that states the DUT's immersion gives the simulated probe stem conduction:
    its element reads toward the room by (t_room - t_medium)·exp(-x/l), l drawn per seed within
    the published range (labauto.temperature.immersion); the reference is untouched."""
    import datetime as dt
    from dataclasses import replace
    from pathlib import Path

    from labauto.procedure.temperature import load_temperature_procedure
    from labauto.sim.thermometry import lab_for_procedure
    from labauto.temperature.immersion import ProbeImmersion

    root = Path(__file__).resolve().parents[2]
    proc = load_temperature_procedure(root / "procedures" / "temperature" / "digital_thermometer.yaml",
                                      today=dt.date(2026, 12, 6))
    drawn = set()
    for seed in (1, 2, 3):
        lab = lab_for_procedure(proc, seed=seed)
        imm, ell = lab.dut_stem
        assert imm is proc.dut.immersion
        lo, hi = imm.decay_range_m
        assert lo <= ell <= hi and (lo, hi) == pytest.approx((0.003257, 0.008686), abs=1e-6)
        drawn.add(ell)
    assert len(drawn) == 3
    # at 80 mm (the NPL rule's depth for this probe) the error is visible: with l at the top of
    # the range it is 0.1 % of t_room - t_medium
    shallow = ProbeImmersion(depth_m=0.080, sensing_length_m=0.020, diameter_m=0.003)
    lab.dut_stem = (shallow, shallow.decay_range_m[1])
    bath = lab.heat_sources["bath"]
    bath.program(100.0)
    lab.advance(300.0 * 15)
    now = lab.clock.now()
    medium, room = bath.at(now, "dut"), lab.room(now)
    assert medium == pytest.approx(100.0, abs=0.05) and room == pytest.approx(23.0, abs=0.2)
    assert lab.temperature_at(now, "dut") - medium == pytest.approx(0.001 * (room - medium), rel=1e-9)
    assert lab.temperature_at(now, "reference") == bath.at(now, "reference")
    assert lab.display() == pytest.approx(round(lab.temperature_at(now, "dut") + lab.dut.error_k, 2))
    # without a stated immersion, none
    plain = lab_for_procedure(replace(proc, dut=replace(proc.dut, immersion=None)), seed=3)
    assert plain.dut_stem is None


def test_the_pt100s_stem_conducts_in_the_bath_only():
    """pt100_comparison.yaml states its Pt100's immersion for the bath: the simulated probe
    conducts there, not in the metrology well (the model is for liquids)."""
    import datetime as dt
    from pathlib import Path

    from labauto.procedure.temperature import load_temperature_procedure
    from labauto.sim.thermometry import lab_for_procedure

    root = Path(__file__).resolve().parents[2]
    proc = load_temperature_procedure(root / "procedures" / "temperature" / "pt100_comparison.yaml",
                                      today=dt.date(2026, 12, 6))
    lab = lab_for_procedure(proc, seed=2)
    imm, ell = lab.dut_stem
    assert lab.dut_stem_sources == ("bath",)
    for name, setpoint in (("bath", 100.0), ("well", 200.0)):
        source = lab.heat_sources[name]
        source.program(setpoint)
        lab.advance(300.0 * 15)
        lab.place_probes(name)
        now = lab.clock.now()
        medium = source.at(now, "dut")
        assert medium == pytest.approx(setpoint, abs=0.2)
        if name == "bath":
            assert lab.temperature_at(now, "dut") - medium == pytest.approx(
                (lab.room(now) - medium) * imm.fraction(ell), rel=1e-9)
            assert lab.temperature_at(now, "dut") < medium
        else:
            assert lab.temperature_at(now, "dut") == medium

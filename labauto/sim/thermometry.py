"""The simulated thermometry lab: heat sources, a reference readout with its probe, a DMM and
the thermometer under test, all on one clock (virtual for ``latency="zero"``: hours of thermal
settling pass in the time the readings take to exchange).

    with SimulatedThermometryLab(heat_sources={"bath": "fluke_7060", "drywell": "fluke_9144"},
                                 reference=ResistanceSensor(sprt.resistance),
                                 dut=ResistanceSensor(pt100.resistance)) as lab:
        lab.resources          # {"readout": ..., "bath": ..., "drywell": ..., "dmm": ...,
                               #  "environment": ...}: raw SCPI sockets for pyvisa-py
        lab.place_probes("drywell")   # the technician moves both probes (an operator step)
        lab.true_temperature("dut")   # what the DUT's sensing element is at, now

Where the probes are decides what they see: the reference at the centre of the heat source's
measurement zone, the DUT offset by its axial and radial gradients (labauto.sim.heat_source);
out of every heat source they sit in the room's air.  A DUT probe whose immersion the
procedure states conducts heat along its sheath (in the heat sources it is stated for): its element reads toward the room by
(t_room − t_medium)·exp(−x/ℓ), x the length immersed beyond the element, ℓ drawn per lab
within the published range (labauto.temperature.immersion).  The readout's channel 1 reads the
reference, channel 2 a resistance DUT; the DMM reads a resistance DUT (RES4W) or a
thermocouple's emf (DCV, reference junction in an ice point or at the room's temperature); a
display-only thermometer shows its reading to whoever asks (:meth:`display`: the simulated
technician types it).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

from labauto.errors import LabautoError
from labauto.instruments import load_instrument_model
from labauto.sim.clock import RealClock, VirtualClock
from labauto.sim.dmm import SimulatedDmm
from labauto.sim.heat_source import SimulatedHeatSource
from labauto.sim.lab import LATENCIES
from labauto.sim.physics import Signal, Truth, quantise
from labauto.sim.readout import SimulatedReadout
from labauto.sim.served import ServedInstruments
from labauto.sim.server import ScpiSocketServer
from labauto.sim.thermohygrometer import SimulatedThermoHygrometer


@dataclass(frozen=True)
class ResistanceSensor:
    """A PRT or SPRT: its true R(t) (ohm at °C) and its self-heating at 1 mA (grows as I²)."""

    resistance_at: Callable[[float], float]
    self_heating_k: float = 0.001

    def resistance(self, t_c: float, current_a: float) -> float:
        return self.resistance_at(t_c + self.self_heating_k * (current_a / 1e-3) ** 2)


@dataclass(frozen=True)
class Thermocouple:
    """A thermocouple: its true emf E(t) in mV with the reference junction at 0 °C, and where
    its reference junction is ("ice": an ice point at 0 °C; "room": at the room's air)."""

    emf_mv_at: Callable[[float], float]
    reference_junction: str = "ice"

    def emf_v(self, t_hot: float, t_junction: float) -> float:
        return (self.emf_mv_at(t_hot) - self.emf_mv_at(t_junction)) * 1e-3


@dataclass(frozen=True)
class DigitalThermometer:
    """A display-only thermometer: reads t + error, rounded to its resolution."""

    error_k: float = 0.0
    resolution_k: float = 0.01

    def display(self, t_c: float) -> float:
        return quantise(t_c + self.error_k, self.resolution_k)


Sensor = ResistanceSensor | Thermocouple | DigitalThermometer
#: serial numbers of the simulated readouts (the embedded lab file registers them)
READOUT_SERIALS = {"1594A": "B21044", "1586A": "D15860"}


class _DutTerminals:
    """The DUT's terminals as the DMM sees them (the ``Wire`` of the electrical lab)."""

    def __init__(self, lab: "SimulatedThermometryLab"):
        self.lab = lab

    def signal(self, t: float) -> Signal:
        dut = self.lab.dut
        if isinstance(dut, ResistanceSensor):
            return Signal("RES", dut.resistance(self.lab.temperature_at(t, "dut"), 1e-3))
        if isinstance(dut, Thermocouple):
            junction = 0.0 if dut.reference_junction == "ice" else self.lab.room(t)
            return Signal("DCV", dut.emf_v(self.lab.temperature_at(t, "dut"), junction))
        return Signal()

    def voltage(self, t: float) -> float:
        return self.signal(t).value


class SimulatedThermometryLab(ServedInstruments):
    """A thermometry lab on loopback sockets (start/stop or ``with``)."""

    def __init__(self, *, heat_sources: dict[str, str], reference: "ResistanceSensor | Thermocouple",
                 dut: Sensor, seed: int = 1, latency: str = "zero",
                 readout_model: str = "fluke_1594a", dmm_model: str = "keysight_34465a",
                 dut_channel: int | None = 2, room_temperature: float = 23.0,
                 host: str = "127.0.0.1", start_temperature: float | None = None,
                 reference_channel: int = 1, clock: Any = None):
        if latency not in LATENCIES:
            raise LabautoError(f"latency must be one of {LATENCIES}, not {latency!r}")
        if not heat_sources:
            raise LabautoError("a thermometry lab needs at least one heat source")
        self.seed, self.latency = seed, latency
        # ``clock``: a virtual clock of the caller's (labauto.sim.clock.SharedClock: shared
        # with a calibration process of its own)
        self.clock = clock or (RealClock() if latency == "realistic" else VirtualClock())
        self.room_temperature = room_temperature
        self.reference, self.dut = reference, dut
        self.heat_sources = {
            name: SimulatedHeatSource(load_instrument_model(model), self.clock, seed=seed,
                                      ambient=room_temperature, start=start_temperature,
                                      serial=f"{model.rsplit('_', 1)[-1].upper()}{seed:04d}{i}")
            for i, (name, model) in enumerate(heat_sources.items())}
        self.location: str | None = next(iter(self.heat_sources))
        channels: dict[int, Any] = {}
        volts: dict[int, Any] = {}
        if isinstance(reference, ResistanceSensor):
            channels[reference_channel] = lambda t, i: reference.resistance(
                self.temperature_at(t, "reference"), i)
        else:
            volts[reference_channel] = lambda t, i: reference.emf_v(
                self.temperature_at(t, "reference"), 0.0 if reference.reference_junction == "ice"
                else self.room(t))
        if isinstance(dut, ResistanceSensor) and dut_channel is not None:
            channels[dut_channel] = lambda t, i: dut.resistance(self.temperature_at(t, "dut"), i)
        if isinstance(dut, Thermocouple) and dut_channel is not None:
            volts[dut_channel] = lambda t, i: dut.emf_v(
                self.temperature_at(t, "dut"), 0.0 if dut.reference_junction == "ice" else self.room(t))
        readout_m = load_instrument_model(readout_model)
        self.readout = SimulatedReadout(readout_m, self.clock, channels, seed=seed,
                                        serial=READOUT_SERIALS.get(readout_m.model, "B21044"),
                                        voltage_channels=volts)
        dmm_m = load_instrument_model(dmm_model)
        # the DMM reads the DUT: it is a measuring instrument of the set-up with its own small
        # (seeded) errors; Truth needs a source model for its tables, the electrical lab's
        self.truth = Truth(dmm_m, load_instrument_model("fluke_5522a"), seed, fraction=0.1,
                           dut="source")
        self.dmm = SimulatedDmm(dmm_m, self.truth, _DutTerminals(self), self.clock,
                                serial="MY60054321", seed=seed)
        self.thermohygrometer = SimulatedThermoHygrometer(self.clock, seed=seed,
                                                          temperature=room_temperature)
        self._rng = random.Random(f"thermometry-{seed}")
        self._host = host
        self.dut_truth: Any = None          # the DUT's true curve (lab_for_procedure)
        # the DUT probe's stem conduction: (ProbeImmersion, its true decay length ℓ in m), set by
        # lab_for_procedure when the procedure states the immersion (None: none modelled)
        self.dut_stem: tuple[Any, float] | None = None
        # the heat sources where it conducts (the procedure's dut.immersion.heat_sources; None:
        # every one)
        self.dut_stem_sources: tuple[str, ...] | None = None
        self._servers: dict[str, ScpiSocketServer] = {}

    # -- physics ---------------------------------------------------------------------------
    def room(self, t: float) -> float:
        return self.thermohygrometer.air(t)[0]

    def temperature_at(self, t: float, place: str) -> float:
        """Temperature (°C) of the probe at ``place`` ("reference" | "dut") at time ``t``."""
        if self.location is None:
            return self.room(t)
        medium = self.heat_sources[self.location].at(t, place)
        if place == "dut" and self.dut_stem is not None and (
                self.dut_stem_sources is None or self.location in self.dut_stem_sources):
            # heat along the sheath between the medium and the room (labauto.temperature.immersion)
            immersion, decay_m = self.dut_stem
            return medium + immersion.error(medium, self.room(t), decay_m)
        return medium

    def true_temperature(self, place: str = "dut") -> float:
        return self.temperature_at(self.clock.now(), place)

    def place_probes(self, heat_source: str | None) -> None:
        """Both probes move into ``heat_source`` (None: out, in the room's air)."""
        if heat_source is not None and heat_source not in self.heat_sources:
            raise LabautoError(f"no heat source {heat_source!r} in the simulated lab; it has "
                               f"{', '.join(self.heat_sources)}")
        self.location = heat_source

    def display(self) -> float:
        """What a display-only DUT shows now (°C)."""
        if not isinstance(self.dut, DigitalThermometer):
            raise LabautoError("the simulated DUT has no display of its own")
        return self.dut.display(self.true_temperature("dut"))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def true_dut_error(self, t_c: float) -> float:
        """The DUT's true error (K) at ``t_c``: the temperature its nominal curve (IEC 60751
        Pt100, IEC 60584-1) gives for its true value at ``t_c``, minus ``t_c``; a display-only
        thermometer's offset.  Needs ``dut_truth`` (set by :func:`lab_for_procedure`)."""
        truth = self.dut_truth
        if isinstance(self.dut, DigitalThermometer):
            return self.dut.error_k
        if isinstance(self.dut, ResistanceSensor):
            from labauto.temperature import PT100
            return PT100.temperature(truth.resistance(t_c)) - t_c
        from labauto.temperature import thermocouples
        # the emf it gives with its reference junction at 0 °C (a deviation polynomial's d0 is
        # no emf: both junctions at one temperature give none, see Thermocouple.emf_v)
        return thermocouples.temperature(truth.letter, truth.emf(t_c) - truth.emf(0.0)) - t_c

    def clear_faults(self) -> None:
        """Communication faults cleared (labauto.sim.served), heat sources working again."""
        super().clear_faults()
        for source in self.heat_sources.values():
            source.clear_faults()

    # -- lifecycle -------------------------------------------------------------------------
    _what = "the simulated thermometry lab"

    def _instruments(self) -> dict[str, tuple[Any, int]]:
        return {name: (inst, 0) for name, inst in
                {"readout": self.readout, **self.heat_sources, "dmm": self.dmm,
                 "environment": self.thermohygrometer}.items()}


def at_safe_setpoints(lab: SimulatedThermometryLab, procedure: Any) -> bool:
    """Whether every heat source of ``procedure`` was last programmed to its procedure's
    ``safe_setpoint`` (the heat-source driver's safe state: a heat source's standby)."""
    return all(abs(lab.heat_sources[name].setpoint - float(hs.safe_setpoint.to("degC").m)) < 1e-6
               for name, hs in procedure.heat_sources.items())


def _fading(emf_mv_at: Callable[[float], float],
            offset: Callable[[float], float]) -> Callable[[float], float]:
    """A reference thermocouple's true emf E(t) (mV): from 100 °C up what its certificate's
    curve ``emf_mv_at`` gives at t + δ(t), fading below to E(0) = 0 (both junctions at 0 °C
    give no emf, whatever a certificate's fitted deviation d0 says there;
    :meth:`Thermocouple.emf_v` subtracts the junction's E)."""
    def emf(t: float) -> float:
        w = min(1.0, abs(t) / 100.0)
        return emf_mv_at(t + offset(t) * w) - (1.0 - w) * emf_mv_at(0.0)
    return emf


def lab_for_procedure(procedure: Any, *, seed: int = 1, latency: str = "zero",
                      room_temperature: float = 23.0, dut_spread: float = 1.0,
                      reference_offset: Callable[[float], float] | None = None,
                      clock: Any = None) -> SimulatedThermometryLab:
    """A simulated lab for a temperature comparison procedure (labauto.procedure.temperature):
    its heat sources and readout; a reference probe that follows its certificate's
    characteristic (shifted by a seeded part of the certificate's drift allowance); a DUT of
    the procedure's kind with seeded errors: a Pt100 whose Callendar–Van Dusen coefficients
    differ from IEC 60751's (class A-like), a thermocouple with a deviation from its reference
    function, a digital thermometer with an offset.

    ``dut_spread`` scales the DUT's drawn deviations from its nominal curve.
    ``reference_offset`` (validation, labauto.validation.truth.certificate_offset): the
    reference's true error δ(t) in K at each temperature instead of the drift draw: the probe
    reads what its certificate's curve gives at t + δ(t) (a thermocouple's δ fades to 0 below
    100 °C: its emf is 0 where both junctions are at 0 °C)."""
    from labauto.temperature import CallendarVanDusen
    from labauto.temperature.cvd import IEC_A, IEC_B, IEC_C
    from labauto.temperature.curves import ThermocoupleCurve

    rng = random.Random(f"thermometry-dut-{seed}")
    ref = procedure.reference
    drift_k = float(ref.drift.to("K").m) * rng.uniform(-0.5, 0.5)
    self_heating = float(ref.self_heating.to("K").m) if ref.self_heating is not None else 0.001
    reference: Sensor
    if ref.is_thermocouple:          # reference junction in an ice point
        # the certificate's curve over the type's whole range, shifted by the drift
        true_ref = ThermocoupleCurve(ref.curves[0].letter, ref.curves[0].deviation)
        if reference_offset is None:
            reference = Thermocouple(lambda t: true_ref.emf(t + drift_k) - true_ref.emf(drift_k), "ice")
        else:
            reference = Thermocouple(_fading(true_ref.emf, reference_offset), "ice")
    elif reference_offset is None:
        reference = ResistanceSensor(lambda t: ref.resistance(t + drift_k), self_heating)
    else:
        reference = ResistanceSensor(lambda t: ref.resistance(t + reference_offset(t)), self_heating)
    spread = float(dut_spread)
    dut_spec = procedure.dut
    dut: Sensor
    if dut_spec.sensor == "pt100":
        cvd = CallendarVanDusen(r0=100.0 * (1 + rng.uniform(-1, 1) * 4e-4 * spread),
                                a=IEC_A * (1 + rng.uniform(-1, 1) * 3e-4 * spread),
                                b=IEC_B * (1 + rng.uniform(-1, 1) * 2e-3 * spread),
                                c=IEC_C * (1 + rng.uniform(-1, 1) * 5e-2 * spread))
        dut = ResistanceSensor(cvd.resistance, self_heating_k=0.004)
    elif dut_spec.sensor == "thermocouple":
        curve = ThermocoupleCurve(dut_spec.type, (rng.uniform(-0.01, 0.01) * spread,
                                                  rng.uniform(-1, 1) * 3e-5 * spread))
        junction = "ice" if dut_spec.reference_junction == "ice point" else "room"
        dut = Thermocouple(curve.emf, junction)
    else:
        resolution = float(dut_spec.resolution.to("K").m) if dut_spec.resolution is not None else 0.01
        dut = DigitalThermometer(error_k=rng.uniform(-0.15, 0.15) * spread, resolution_k=resolution)
    models = {name: str(hs.model.folder) for name, hs in procedure.heat_sources.items()}
    truth = cvd if dut_spec.sensor == "pt100" else curve if dut_spec.sensor == "thermocouple" \
        else dut
    dmm = str(procedure.dmm_model.folder) if procedure.dmm_model is not None else "keysight_34465a"
    lab = SimulatedThermometryLab(
        heat_sources=models, reference=reference, dut=dut, seed=seed, latency=latency,
        readout_model=str(procedure.readout_model.folder), dmm_model=dmm,
        dut_channel=dut_spec.channel if dut_spec.read_by == "readout" else None,
        room_temperature=room_temperature, reference_channel=procedure.reference_channel,
        clock=clock)
    lab.dut_truth = truth
    if dut_spec.immersion is not None:
        # the probe's true decay length, drawn within the published range (its own stream: the
        # other seeded draws stay as they were)
        lo, hi = dut_spec.immersion.decay_range_m
        lab.dut_stem = (dut_spec.immersion, random.Random(f"thermometry-stem-{seed}").uniform(lo, hi))
        lab.dut_stem_sources = dut_spec.immersion_heat_sources
    return lab

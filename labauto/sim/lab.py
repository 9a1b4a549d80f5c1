"""The simulated lab: a meter ("dmm") wired to a source ("calibrator"), each reachable over its
own raw SCPI socket, both driven by one hidden ``Truth`` and one clock.  Either one is the DUT
(``dut="meter"``: a DMM calibrated against a calibrator; ``dut="source"``: a calibrator or
supply verified with a reference meter); every function of their model files is simulated.

    with SimulatedLab(seed=1, latency="zero") as lab:
        resources = lab.resources     # {"dmm": "TCPIP0::127.0.0.1::P::SOCKET", "calibrator": ...,
                                      #  "environment": the room's thermo-hygrometer}
        ...
        lab.truth.dut_error("DCV", Q_(10, "V"), Q_(10, "V"))
        lab.truth.dut_error("ACV", Q_(1, "V"), Q_(1, "V"), frequency=Q_(1, "kHz"))

``latency="realistic"`` makes readings take their real time (NPLC × 20 ms, doubled with
autozero, + 1 ms) and the output settle in real time (τ = 0.05 s); ``"zero"`` runs on a
virtual clock (nothing waits; settling is instant unless ``settling_time_constant`` is set,
then ``lab.advance(seconds)`` lets simulated time pass).
"""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pint

from labauto.engine.operator import attach_bench, detach_bench
from labauto.errors import LabautoError
from labauto.instruments import InstrumentModel, load_instrument_model
from labauto.sim.calibrator import SimulatedCalibrator
from labauto.sim.clock import RealClock, VirtualClock
from labauto.sim.dmm import SimulatedDmm
from labauto.sim.physics import Truth, Wire
from labauto.sim.shunt import ShuntedWire, SimulatedShunt
from labauto.sim.served import ServedInstruments
from labauto.sim.server import ScpiSocketServer
from labauto.sim.thermohygrometer import SimulatedThermoHygrometer
from labauto.units import Q_, parse_quantity

REALISTIC_SETTLING_S = 0.05      # 1e-6 of a step within 0.7 s (14 τ)
LATENCIES = ("zero", "realistic")


#: serial numbers of the simulated instruments unless their model file's ``sim:`` names one
DEFAULT_SERIALS = {"dmm": "MY60012345", "calibrator": "3456789"}


def simulator_class(model: Any, default: type) -> type:
    """The class simulating ``model``: its model file's ``sim: {simulator: package.module:
    Class}`` (an instrument with its own command language), else ``default``."""
    name = (model.extra.get("sim") or {}).get("simulator") if isinstance(
        model.extra.get("sim"), dict) else None
    if not name:
        return default
    module, _, cls = str(name).partition(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise LabautoError(f"{model.folder / 'model.yaml'}: sim.simulator {name!r} cannot be "
                           f"loaded ({exc}); give 'package.module:Class'") from None


def _model(model: Any) -> Any:
    """A model key, a folder, or the model itself (a procedure's, e.g. a reference meter with
    its 24-hour figures: the simulated meter's true errors are then drawn from those)."""
    return model if isinstance(model, InstrumentModel) else load_instrument_model(model)


def simulated_serial(model: Any, default: str) -> str:
    """The serial number the simulated ``model`` reports (model file ``sim: {serial: ...}``)."""
    sim = model.extra.get("sim")
    return str(sim["serial"]) if isinstance(sim, dict) and "serial" in sim else default


def parse_out_of_tolerance(value: Any) -> tuple[str, pint.Quantity] | None:
    """``None`` | ``("ACV", Q_(1, "V"))`` | ``Q_(10, "V")`` | ``"10 V"`` | ``"DCI 1 A"``
    -> (function, range); without a function, DCV."""
    if value is None:
        return None
    if isinstance(value, tuple):
        function, rng = value
        return str(function), parse_quantity(rng, None) if isinstance(rng, str) else rng
    if isinstance(value, str):
        head, _, rest = value.strip().partition(" ")
        if head.isalpha() and head.isupper() and len(head) >= 3 and rest:
            return head, parse_quantity(rest, None)
        return "DCV", parse_quantity(value, "V")
    return "DCV", value


class SimulatedLab(ServedInstruments):
    """A coupled, physical simulated lab on loopback sockets (start/stop or ``with``)."""

    def __init__(self, seed: int = 1, latency: str = "zero",
                 out_of_tolerance: Any = None, *, dmm_model: Any = "keysight_34465a",
                 calibrator_model: Any = "fluke_5522a", host: str = "127.0.0.1",
                 dmm_port: int = 0, calibrator_port: int = 0,
                 settling_time_constant: pint.Quantity | None = None,
                 error_fraction: float = 0.3, dmm_serial: str | None = None,
                 calibrator_serial: str | None = None, room_temperature: float = 23.0,
                 room_humidity: float = 45.0, environment_port: int = 0, dut: str = "meter",
                 load_resistance: pint.Quantity | None = None, shunts: Any = ()):
        if latency not in LATENCIES:
            raise LabautoError(f"latency must be one of {LATENCIES}, not {latency!r}")
        self.seed, self.latency = seed, latency
        self.clock = RealClock() if latency == "realistic" else VirtualClock()
        dmm_m, cal_m = _model(dmm_model), _model(calibrator_model)
        oot = parse_out_of_tolerance(out_of_tolerance)
        try:
            self.truth = Truth(dmm_m, cal_m, seed, fraction=error_fraction, out_of_tolerance=oot,
                               dut=dut)
        except (KeyError, ValueError) as exc:
            raise LabautoError(f"out_of_tolerance {out_of_tolerance!r}: {exc.args[0]}") from None
        if settling_time_constant is None:
            tau = REALISTIC_SETTLING_S if latency == "realistic" else 0.0
        else:
            tau = float(settling_time_constant.to("s").magnitude)
        self.wire = Wire(tau)
        # external current shunts (a procedure's ``shunts:``): the one in circuit, if any, turns
        # the source's current into the voltage the meter reads (labauto.sim.shunt)
        shunt_rng = np.random.default_rng([seed, 13])
        self.shunts = {use.name: SimulatedShunt(use, shunt_rng, room=self._room_temperature)
                       for use in shunts}
        self.shunt_in_circuit: SimulatedShunt | None = None
        self._set_ups: tuple[tuple[str, float, float, Any, str], ...] = ()   # infer_wiring's
        meter_wire = ShuntedWire(self.wire, self._shunt_now) if self.shunts else self.wire
        self.dmm = simulator_class(dmm_m, SimulatedDmm)(
            dmm_m, self.truth, meter_wire, self.clock,
            serial=dmm_serial or simulated_serial(dmm_m, DEFAULT_SERIALS["dmm"]), seed=seed)
        self.calibrator = simulator_class(cal_m, SimulatedCalibrator)(
            cal_m, self.truth, self.wire, self.clock,
            serial=calibrator_serial or simulated_serial(cal_m, DEFAULT_SERIALS["calibrator"]))
        self.calibrator.load = self._burden             # compliance: the meter's shunt
        self._load_ohm = 0.0
        if load_resistance is not None:     # a source's current points drive a load resistor
            if not hasattr(self.calibrator, "load_ohm"):
                raise LabautoError(f"the simulated {cal_m.name} takes no load resistor")
            self._load_ohm = self.calibrator.load_ohm = float(load_resistance.to("ohm").magnitude)
        # the room, recorded by a thermo-hygrometer (after a Vaisala HMT330) on its own socket
        self.thermohygrometer = SimulatedThermoHygrometer(self.clock, seed=seed,
                                                          temperature=room_temperature,
                                                          humidity=room_humidity)
        self._host, self._ports = host, {"dmm": dmm_port, "calibrator": calibrator_port,
                                         "environment": environment_port}
        self._servers: dict[str, ScpiSocketServer] = {}

    # -- lifecycle (start, stop, faults: labauto.sim.served) ---------------------------------
    _start_hint = "; choose other ports (0 = any free port)"

    def start(self) -> dict[str, str]:
        if self.shunts and not self._set_ups:   # follow the points measured in-process
            attach_bench(self.wire_for)
        return super().start()

    def infer_wiring(self, procedure: Any) -> None:
        """A standalone lab (``labauto sim serve --procedure``) cannot see the technician's
        steps: it takes a shunt point's shunt to be in circuit while the instruments are set
        up as that point sets them (the meter's function and range, the source's current and
        channel), and no shunt otherwise."""
        self._set_ups = tuple(
            (p.meter_function, float(p.range.to("V").magnitude), float(p.nominal.to("A").magnitude),
             p.source_settings.get("channel"), p.shunt.name)
            for p in procedure.points if p.shunt is not None)

    def _shunt_now(self) -> SimulatedShunt | None:
        if self._set_ups:
            fn = self.dmm.function
            rng = self.dmm.state[fn].range
            current, channel = self._programmed_current()
            name = next((n for f, r, i, c, n in self._set_ups
                         if f == fn and rng is not None and abs(rng - r) <= 1e-9 * r
                         and current is not None and abs(current - i) <= 1e-9 * abs(i)
                         and (c is None or channel is None or int(c) == channel)), None)
            shunt = None if name is None else self.shunts[name]
            if shunt is not self.shunt_in_circuit:
                self._connect(shunt)
        return self.shunt_in_circuit

    def _programmed_current(self) -> tuple[float | None, int | None]:
        """The current the source is set to (and its channel), None when it sources none."""
        cal = self.calibrator
        channels = getattr(cal, "channels", None)
        if channels is not None:         # a power supply: the active channel's current setting
            return channels[cal.active].current, cal.active
        return (cal.set_value if cal.function in ("DCI", "ACI") else None), None

    def stop(self) -> None:
        detach_bench(self.wire_for)
        super().stop()

    # -- the connections a point needs (the technician's steps) ----------------------------
    def wire_for(self, point: Any) -> None:
        """Connect what ``point`` needs, as the technician did at its step (sources in
        standby): its external shunt in place of the load resistor, or no shunt."""
        use = getattr(point, "shunt", None)
        shunt = None if use is None else self.shunts.get(use.name)
        if use is not None and shunt is None:
            raise LabautoError(f"point {point.id} needs shunt {use.name!r}, which this "
                               "simulated lab was not given (SimulatedLab(shunts=...))")
        self._connect(shunt)

    def _connect(self, shunt: SimulatedShunt | None) -> None:
        with self.calibrator.lock:
            if self.shunt_in_circuit is not None and shunt is not self.shunt_in_circuit:
                self.shunt_in_circuit.cool(self.clock.now())
            if (shunt is None) != (self.shunt_in_circuit is None):
                self.dmm.wire.switched(self.clock.now(), shunt is not None)
            self.shunt_in_circuit = shunt
            if hasattr(self.calibrator, "load_ohm"):     # the shunt is the load
                self.calibrator.load_ohm = 0.0 if shunt is not None else self._load_ohm

    def _burden(self) -> float | None:
        """What a current source drives: the shunt in circuit, else the meter's own shunt."""
        shunt = self._shunt_now() if self.shunts else None
        if shunt is not None:
            return shunt.value_ohm
        return self.dmm.burden_ohm()

    def _room_temperature(self, t: float) -> float:
        return self.thermohygrometer.air(t)[0]

    def _instruments(self) -> dict[str, tuple[Any, int]]:
        return {"dmm": (self.dmm, self._ports["dmm"]),
                "calibrator": (self.calibrator, self._ports["calibrator"]),
                "environment": (self.thermohygrometer, self._ports["environment"])}

    # -- inspection --------------------------------------------------------------------------
    def dut_and_standard(self) -> tuple[str, str]:
        """The VISA resources of the instrument under test and of the standard (started lab):
        the calibrator's and the meter's for a source under test, else the other way round."""
        r = self.resources
        return (r["calibrator"], r["dmm"]) if self.truth.dut == "source" \
            else (r["dmm"], r["calibrator"])

    def calibrator_state(self) -> dict[str, Any]:
        """``{"operate": bool, "function": ..., "output": set value, "terminals": value now,
        "frequency": ..., "history": [...]}``."""
        with self.calibrator.lock:
            cal = self.calibrator
            unit = cal.model.functions[cal.function].unit if cal.function in cal.model.functions \
                else Q_(1, "V").units
            return {"operate": cal.operate, "function": cal.function,
                    "output": Q_(cal.set_value, unit),
                    "terminals": Q_(self.wire.voltage(self.clock.now()), unit),
                    "frequency": None if cal.frequency is None else Q_(cal.frequency, "Hz"),
                    "history": list(cal.history)}

    def true_error(self, point: Any) -> pint.Quantity:
        """The DUT's true error at a procedure's test point, as its measurement model defines
        it (what a simulated calibration's result is checked against): of indication, of the
        output setting (on the point's channel), or of a source's readback."""
        channel = point.source_settings.get("channel") if self.truth.dut == "source" else None
        channel = None if channel is None else int(channel)
        setting = self.truth.dut_error_at_setting(point.function, point.range, point.nominal,
                                                  point.frequency, channel=channel)
        if not getattr(point, "readback", False):
            return setting
        output = point.nominal - setting                      # E = setting − true output
        unit = output.units
        x = float(output.to_base_units().magnitude)
        err = self.calibrator.readback_error(point.function, channel or 1, x)
        return Q_(err, output.to_base_units().units).to(unit)

    def dmm_state(self) -> dict[str, Any]:
        with self.dmm.lock:
            return self.dmm.state_dict()

    def advance(self, seconds: float) -> None:
        """Let simulated time pass (zero-latency lab only)."""
        self.clock.advance(seconds)

    def connect_artifact(self, artifact: Any, day: float = 0.0) -> None:
        """Connect a check standard (``labauto.sim.artifacts.CheckArtifact``) to the meter's
        input in place of the calibrator (put in standby): the meter reads the artifact's
        value on ``day`` until the calibrator drives its terminals again."""
        with self.calibrator.lock:
            self.calibrator.operate = False
            self.wire.drive(self.clock.now(), artifact.signal(day))


def lab_for_procedure(procedure: Any, *, seed: int = 1, latency: str = "zero",
                      **options: Any) -> SimulatedLab:
    """A simulated lab (not started) wired as an electrical procedure
    (:class:`labauto.procedure.Procedure`) names it: its meter and source models (a
    reference's own model, with the figures its true errors are drawn from), which one is
    under test, the load resistor of a source's current points, its external current shunts.
    ``options`` go to
    :class:`SimulatedLab` (``out_of_tolerance``, ``error_fraction`` ...).  The one mapping
    from a procedure to the lab: the demo, the pytest plugin, the validation and the benches
    call it (:func:`labauto.sim.thermometry.lab_for_procedure` is a temperature comparison's)."""
    return SimulatedLab(seed=seed, latency=latency, dmm_model=procedure.meter_model,
                        calibrator_model=procedure.source_model, dut=procedure.direction,
                        load_resistance=procedure.load,
                        shunts=getattr(procedure, "shunts", ()), **options)

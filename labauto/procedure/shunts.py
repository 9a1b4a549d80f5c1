"""External current shunts in a procedure: currents above the reference meter's own current
ranges are measured as the voltage across a shunt (I = V / R_s, labauto.models.shunt).

    shunts:                                   # top level: the shunts the procedure uses
      S15A:
        file: references/shunt-9230A-15-70412.yaml    # register item + certificate (labauto.models.shunt_file)
        thermal_emf: 1 uV                     # |EMF| of the potential connections (rectangular)
        temperature_deviation: 1 K            # the room's largest departure from the
                                              # certificate's reference temperature
    points:
      - step: Connect the shunt ...          # sources in standby while it is confirmed
      - {function: DCI, range: 100 mV, nominal: 5 A, shunt: S15A}   # range: the meter's DCV range

Checked when the file is loaded, each problem at its line, before any instrument is touched:
an unknown shunt, a shunt on a point that is not a current of a source under test, a current
beyond the shunt's maximum current or its power rating, I × R_s beyond the meter range's full
scale or the source's compliance voltage, a current above the meter's own current ranges
without a shunt (labauto.procedure.loader says to name one).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pint

from labauto.errors import SourceError
from labauto.instruments import InstrumentModel, RangeSpec
from labauto.models.shunt_file import Shunt, load_shunt
from labauto.procedure.schema import Invalid, Problems, check_keys, quantity, text
from labauto.yamlsource import PathKey

#: the current function a shunt serves -> the meter function that reads the shunt's voltage
METER_FUNCTION = {"DCI": "DCV", "ACI": "ACV"}
ENTRY_KEYS = ("file", "thermal_emf", "temperature_deviation")


@dataclass(frozen=True)
class ShuntUse:
    """A shunt as a procedure uses it (one entry of ``shunts:``), and at a point the meter
    function that reads its voltage."""

    name: str
    shunt: Shunt
    thermal_emf: pint.Quantity
    temperature_deviation: pint.Quantity
    line: int | None = None
    meter_function: str = "DCV"
    # at a point: the procedure's contributions of the meter function (in V: the thermal EMF
    # of the meter's input connections), added to the voltage read across the shunt
    contributions: tuple[Any, ...] = ()

    @property
    def resistance(self) -> pint.Quantity:
        return self.shunt.resistance

    def indicated(self, reading: pint.Quantity, unit: Any) -> pint.Quantity:
        """The current a voltage reading across the shunt indicates: V / R_s (certified);
        a current (already indicated) is returned as it is."""
        if reading.check("[current]"):
            return reading.to(unit)
        return (reading / self.resistance).to(unit)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "meter_function": self.meter_function,
                "thermal_emf": f"{self.thermal_emf:~P}",
                "temperature_deviation": f"{self.temperature_deviation:~P}",
                **self.shunt.to_dict()}


def parse_shunts(problems: Problems, data: Any, path: Path, direction: str | None
                 ) -> dict[str, ShuntUse]:
    """The ``shunts:`` section: name -> :class:`ShuntUse` (files relative to the procedure)."""
    if direction == "meter":
        raise problems.fail(("shunts",), "shunts measure a source under test's current with the "
                                         "reference meter's voltage function; a meter under "
                                         "test reads its calibrator's current directly")
    if not isinstance(data, dict) or not data:
        raise problems.fail(("shunts",), "shunts must map names to {file, thermal_emf, "
                                         "temperature_deviation}")
    out: dict[str, ShuntUse] = {}
    for name, entry in data.items():
        at: PathKey = ("shunts", name)
        try:
            check_keys(problems, at, entry, f"shunt {name!r}", required=ENTRY_KEYS)
            file = path.parent / text(problems, at + ("file",), entry["file"], "the shunt's file")
            try:
                shunt = load_shunt(file)
            except (SourceError, OSError) as exc:
                raise problems.fail(at + ("file",), f"shunt {name!r}: {exc}") from None
            emf = quantity(problems, at + ("thermal_emf",), entry["thermal_emf"], "V", "thermal_emf")
            dev = quantity(problems, at + ("temperature_deviation",),
                           entry["temperature_deviation"], "K", "temperature_deviation")
            for key, q in (("thermal_emf", emf), ("temperature_deviation", dev)):
                if q.magnitude < 0:
                    raise problems.fail(at + (key,), f"{key} is a bound: give it without sign")
            out[str(name)] = ShuntUse(str(name), shunt, emf, dev, problems.source.line(at))
        except Invalid:
            continue          # reported; go on with the others
    return out


def point_shunt(problems: Problems, at: PathKey, value: Any, shunts: dict[str, ShuntUse],
                function: str, direction: str) -> ShuntUse:
    """The shunt a point names (``shunt: NAME``), for its meter function."""
    name = text(problems, at, value, "shunt (a name from the procedure's shunts:)")
    if direction != "source":
        raise problems.fail(at, "a shunt point measures a source under test's current; this "
                                "DUT is a meter")
    if function not in METER_FUNCTION:
        raise problems.fail(at, f"a shunt carries a current: {function} points take none "
                                f"(shunts serve {', '.join(METER_FUNCTION)})")
    if name not in shunts:
        known = ", ".join(sorted(shunts)) or "none: add a top-level shunts: section"
        raise problems.fail(at, f"unknown shunt {name!r}; the procedure's shunts: {known}")
    return replace(shunts[name], meter_function=METER_FUNCTION[function])


def at_point(use: ShuntUse, nominal: pint.Quantity, meter_range: RangeSpec,
             contributions: tuple[Any, ...]) -> ShuntUse:
    """``use`` at a point of ``nominal`` on the meter's ``meter_range``: with the procedure's
    contributions of the meter function that apply there (at the voltage I × R_s)."""
    volts = (nominal * use.resistance).to("V")
    return replace(use, contributions=tuple(
        c for c in contributions if c.applies_to(use.meter_function, meter_range.range, volts)))


def check_point(problems: Problems, at: PathKey, nominal: pint.Quantity, use: ShuntUse,
                meter_range: RangeSpec, meter: InstrumentModel, source_range: RangeSpec,
                source: InstrumentModel, frequency: pint.Quantity | None = None) -> None:
    """The shunt can carry the point's current and the meter and the source can work with
    it: the shunt's maximum current and power rating, I × R_s within the meter range's full
    scale, within the source's compliance voltage (the shunt is the load)."""
    shunt, current = use.shunt, abs(nominal).to("A")
    r = shunt.ratings
    if current > r.max_current:
        raise problems.fail(at, f"{nominal:~P} exceeds the maximum current {r.max_current:~P} "
                                f"of shunt {use.name!r} ({shunt.name}, {shunt.path}); use a "
                                "shunt rated for it")
    power = (current ** 2 * r.nominal).to("W")        # ratings hold at the nominal value
    if power > r.power * (1 + 1e-9):
        raise problems.fail(at, f"{nominal:~P} dissipates {power:.3g~P} in shunt {use.name!r} "
                                f"({shunt.name}), beyond its power rating {r.power:~P}; use a "
                                "lower-value shunt")
    volts = (current * shunt.resistance).to("V")
    if not meter_range.covers(volts):
        raise problems.fail(at, f"{nominal:~P} through shunt {use.name!r} "
                                f"({shunt.resistance:~P}) gives {volts.to('mV'):.4g~P}, beyond "
                                f"the {meter_range.range:~P} {use.meter_function} range of the "
                                f"{meter.manufacturer} {meter.model} (full scale "
                                f"{meter_range.maximum:~P}); use a larger range")
    if frequency is not None:       # an AC current: the shunt's certified AC-DC difference there
        try:
            shunt.certificate.ac_dc_at(frequency)
        except KeyError as exc:
            raise problems.fail(at, f"shunt {use.name!r} ({shunt.name}): {exc.args[0]}; an AC "
                                    "current needs the shunt's AC-DC difference at its "
                                    "frequency") from None
    compliance = source_range.property("compliance")
    if compliance is not None and compliance.check("[length] ** 2 * [mass] / [current] / [time] ** 3") \
            and volts > compliance:
        raise problems.fail(at, f"{nominal:~P} through shunt {use.name!r} needs {volts:.4g~P}, "
                                f"beyond the {source.manufacturer} {source.model}'s compliance "
                                f"voltage {compliance:~P} on this range")

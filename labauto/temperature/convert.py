"""Conversions between a sensor's reading and temperature, with units: the edge of the scales.

    convert("pt100", "138.5055 ohm")        -> 100.0 °C      (IEC 60751 unless coefficients)
    convert("N", "36.256 mV")               -> 1000.0 °C     (IEC 60584-1)
    convert("its90", "1.89279768 W_r")      -> 231.928 °C    (ITS-90 reference function)
    convert("pt100", "100 degC")            -> 138.5055 ohm

The direction follows the unit of the value.  A coefficients file (YAML) replaces the standard
curve by a sensor's own (see :func:`load_coefficients` and docs/temperature.md).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import pint

from labauto.errors import SourceError
from labauto.temperature import its90, thermocouples
from labauto.temperature.curves import ThermocoupleCurve
from labauto.temperature.cvd import CallendarVanDusen
from labauto.temperature.errors import TemperatureError, UnknownSensorError
from labauto.units import Q_, UnitError, parse_quantity
from labauto.yamlsource import SourceDocument, load as load_yaml

Curve = Union[CallendarVanDusen, its90.SprtCalibration, ThermocoupleCurve]

_W_UNITS = {"w_r": "W_r", "wr": "W_r", "w": "W"}
_PRT = {"pt100": 100.0, "pt25": 25.0, "pt500": 500.0, "pt1000": 1000.0}


@dataclass(frozen=True)
class Converted:
    """A conversion's result: the value, its unit as text, and what converted it."""

    value: float
    unit: str                 # "degC", "ohm", "mV", "W_r", "W"
    method: str

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}

    def text(self) -> str:
        digits = {"degC": 4, "ohm": 4, "mV": 4, "W_r": 8, "W": 8}.get(self.unit, 6)
        unit = "°C" if self.unit == "degC" else "Ω" if self.unit == "ohm" else self.unit
        return f"{self.value:.{digits}f} {unit}"


def sensor_kind(sensor: str) -> tuple[str, Any]:
    """("prt", R0) | ("thermocouple", letter) | ("its90", None) for a sensor name."""
    s = str(sensor).strip().lower()
    if s in _PRT:
        return "prt", _PRT[s]
    if s in ("its90", "its-90", "sprt"):
        return "its90", None
    letter = s[5:].strip() if s.startswith("type ") else s
    if len(letter) == 1 and letter.isalpha():
        thermocouples.temperature_range(str(sensor).strip())   # refuses an unknown letter clearly
        return "thermocouple", letter.upper()
    raise UnknownSensorError(
        f"sensor {sensor!r} is unknown: give pt100 (or pt25, pt500, pt1000), its90, or a "
        f"thermocouple type letter ({', '.join(thermocouples.TYPES)})")


def parse_value(text: str) -> tuple[pint.Quantity, str]:
    """``"138.5 ohm"``, ``"-40 degC"``, ``"41.2 mV"``, ``"1.89 W_r"`` -> (quantity, W unit).

    The W unit is ``"W_r"`` or ``"W"`` for a resistance ratio (then the quantity is
    dimensionless), else ``""``.
    """
    raw = str(text).strip()
    m = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(W_r|Wr|W)", raw, re.IGNORECASE)
    if m:
        return Q_(float(m.group(1)), "dimensionless"), _W_UNITS[m.group(2).lower()]
    raw = raw.replace("°C", "degC").replace("℃", "degC").replace("Ω", "ohm").replace("µ", "u")
    try:
        q = parse_quantity(raw)
    except UnitError as exc:
        raise TemperatureError(f"VALUE {text!r}: {exc}") from None
    if q.dimensionless:
        raise TemperatureError(
            f"VALUE {text!r} has no unit: give one, e.g. '138.5 ohm', '100 degC', '41.2 mV' or "
            "'1.89 W_r'")
    if not isinstance(q.magnitude, (int, float)) or not math.isfinite(float(q.magnitude)):
        raise TemperatureError(f"VALUE {text!r} is not one finite number with a unit")
    return q, ""


def _kind_of(q: pint.Quantity) -> str:
    for kind, ref in (("temperature", "degC"), ("resistance", "ohm"), ("voltage", "mV")):
        if q.dimensionality == Q_(1, ref).dimensionality:
            return kind
    return "other"


def _celsius(q: pint.Quantity) -> float:
    return float(q.to("degC").magnitude)


def convert(sensor: str, value: str, curve: Curve | None = None) -> Converted:
    """Convert ``value`` (text with unit) for ``sensor``; ``curve`` overrides the standard one."""
    kind, arg = sensor_kind(sensor)
    q, wunit = parse_value(value)
    what = "W" if wunit else _kind_of(q)
    if kind == "prt":
        prt = curve if curve is not None else CallendarVanDusen.iec60751(arg)
        if not isinstance(prt, CallendarVanDusen):
            raise TemperatureError(f"the coefficients file describes {_describe(prt)}, not a PRT")
        method = "IEC 60751" if curve is None else "Callendar–Van Dusen (coefficients file)"
        if what == "resistance":
            return Converted(prt.temperature(float(q.to("ohm").magnitude)), "degC", method)
        if what == "temperature":
            return Converted(prt.resistance(_celsius(q)), "ohm", method)
        raise TemperatureError(
            f"{sensor}: VALUE {value!r} must be a resistance (e.g. '138.5 ohm') or a temperature "
            "(e.g. '100 degC')")
    if kind == "thermocouple":
        tc = curve if curve is not None else ThermocoupleCurve(arg)
        if not isinstance(tc, ThermocoupleCurve):
            raise TemperatureError(
                f"the coefficients file describes {_describe(tc)}, not a thermocouple")
        if tc.letter != arg:
            raise TemperatureError(
                f"the coefficients file is for a type {tc.letter} thermocouple, not type {arg}")
        method = "IEC 60584-1" + (" + deviation polynomial" if tc.deviation else "")
        if what == "voltage":
            return Converted(tc.temperature(float(q.to("mV").magnitude)), "degC", method)
        if what == "temperature":
            return Converted(tc.emf(_celsius(q)), "mV", method)
        raise TemperatureError(
            f"type {arg} thermocouple: VALUE {value!r} must be an emf (e.g. '41.2 mV') or a "
            "temperature (e.g. '1000 degC')")
    # ITS-90
    if curve is not None and not isinstance(curve, its90.SprtCalibration):
        raise TemperatureError(f"the coefficients file describes {_describe(curve)}, not an SPRT")
    if what == "W":
        w = float(q.magnitude)
        if curve is not None and wunit == "W":
            return Converted(curve.temperature(w), "degC", "ITS-90 deviation function")
        method = "ITS-90 reference function" + (" (W taken as W_r: no deviation coefficients)"
                                                if wunit == "W" else "")
        return Converted(its90.reference_temperature(w), "degC", method)
    if what == "temperature":
        t = _celsius(q)
        if curve is not None:
            return Converted(curve.resistance(t), "ohm", "ITS-90 deviation function")
        return Converted(its90.reference_w(t), "W_r", "ITS-90 reference function")
    if what == "resistance":
        if curve is None:
            raise TemperatureError(
                "its90: a resistance needs the SPRT's calibration (--coefficients FILE with "
                "R_tpw and the deviation coefficients); give W_r instead, e.g. '1.89 W_r'")
        return Converted(curve.temperature_from_resistance(float(q.to("ohm").magnitude)),
                         "degC", "ITS-90 deviation function")
    raise TemperatureError(
        f"its90: VALUE {value!r} must be W_r (e.g. '1.89 W_r'), W with a coefficients file, a "
        "resistance with a coefficients file, or a temperature (e.g. '231.928 degC')")


def _describe(curve: Any) -> str:
    if isinstance(curve, CallendarVanDusen):
        return "a PRT (Callendar–Van Dusen)"
    if isinstance(curve, its90.SprtCalibration):
        return "an SPRT (ITS-90)"
    return f"a type {curve.letter} thermocouple"


# --------------------------------------------------------------------------- coefficients files

def _number(doc: SourceDocument, key: str, unit: str | None = None) -> float:
    value = doc.data[key]
    try:
        if isinstance(value, bool):
            raise UnitError("a number is expected")
        if isinstance(value, (int, float)):
            return float(value)
        q = parse_quantity(str(value).replace("Ω", "ohm").replace("°C", "degC"))
        if unit is not None and not q.dimensionless:
            return float(q.to(unit).magnitude)
        if q.dimensionless:
            return float(q.magnitude)
        return float(q.to_base_units().magnitude)
    except (UnitError, pint.DimensionalityError, ValueError, TypeError) as exc:
        raise doc.source.error((key,), f"{key}: {value!r} is not a number{' in ' + unit if unit else ''}"
                                       f" ({exc})") from None


#: keys any coefficients file may carry to say what it describes
_INFO_KEYS = {"sensor", "serial", "certificate"}


def curve_from_document(doc: SourceDocument) -> Curve:
    """A sensor curve from a parsed coefficients document (errors name file and line)."""
    data = doc.data
    if not isinstance(data, dict):
        raise SourceError(doc.source.path, 1, "a coefficients file is a mapping of names to values")
    keys = {str(k) for k in data}
    kind = ("thermocouple" if keys & {"type", "thermocouple"} else "sprt" if "subrange" in keys
            else "prt" if keys & {"R0", "r0"} else None)
    if kind in ("thermocouple", "prt"):
        allowed = _INFO_KEYS | ({"type", "thermocouple", "deviation", "deviation_unit", "t_min", "t_max"}
                                if kind == "thermocouple" else
                                {"R0", "r0", "A", "a", "B", "b", "C", "c", "t_min", "t_max"})
        for k in data:
            if str(k) not in allowed:
                raise doc.source.error((k,), f"unknown key {k!r} in a {'thermocouple' if kind == 'thermocouple' else 'PRT'} "
                                             f"coefficients file; known: {', '.join(sorted(allowed - _INFO_KEYS))}")
    try:
        if "type" in keys or "thermocouple" in keys:
            key = "type" if "type" in keys else "thermocouple"
            dev = data.get("deviation", [])
            unit = str(data.get("deviation_unit", "mV"))
            if not isinstance(dev, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                    for v in dev):
                raise doc.source.error(("deviation",),
                                       "deviation: a list of numbers d0, d1, ... (Delta E = sum d_k t^k)")
            try:
                scale = float(Q_(1.0, unit).to("mV").magnitude)
            except Exception:
                raise doc.source.error(("deviation_unit",),
                                       f"deviation_unit {unit!r} is not a voltage unit") from None
            return ThermocoupleCurve(
                str(data[key]), tuple(float(v) * scale for v in dev),
                _number(doc, "t_min", "degC") if "t_min" in keys else None,
                _number(doc, "t_max", "degC") if "t_max" in keys else None)
        if "subrange" in keys:
            sub = its90.subrange(data["subrange"])
            coef = {}
            for k in data:
                if k in {"subrange", "R_tpw", "r_tpw"} | _INFO_KEYS:
                    continue
                if k not in sub.coefficients:
                    raise doc.source.error((k,), f"{k!r} is not a coefficient of ITS-90 sub-range "
                                                 f"{sub.number} ({', '.join(sub.coefficients)})")
                coef[k] = _number(doc, k)
            r_key = "R_tpw" if "R_tpw" in keys else "r_tpw" if "r_tpw" in keys else None
            if r_key is None:
                raise doc.source.error((), "an SPRT coefficients file needs R_tpw (ohm)")
            return its90.SprtCalibration(sub.number, coef, _number(doc, r_key, "ohm"))
        if "R0" in keys or "r0" in keys:
            r0key = "R0" if "R0" in keys else "r0"
            kwargs = {"r0": _number(doc, r0key, "ohm")}
            for name in ("A", "B", "C"):
                for k in (name, name.lower()):
                    if k in keys:
                        kwargs[name.lower()] = _number(doc, k)
            for k in ("t_min", "t_max"):
                if k in keys:
                    kwargs[k] = _number(doc, k, "degC")
            return CallendarVanDusen(**kwargs)
    except TemperatureError as exc:
        raise SourceError(doc.source.path, doc.source.line(()), str(exc)) from None
    raise SourceError(doc.source.path, 1,
                      "a coefficients file gives R0, A, B, C (a PRT), subrange, R_tpw, a, b ... "
                      "(an SPRT) or type and deviation (a thermocouple)")


def load_coefficients(path: str | Path) -> Curve:
    """A sensor curve from a YAML coefficients file (see docs/temperature.md)."""
    return curve_from_document(load_yaml(path))


__all__ = ["Converted", "Curve", "convert", "curve_from_document", "load_coefficients",
           "parse_value", "sensor_kind"]

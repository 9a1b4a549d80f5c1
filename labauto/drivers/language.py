"""Command languages: how values are written into command templates and how answers are read.

A model file names its language (``language: scpi``, the default, or ``package.module:Class``
for another one).  SCPI and Fluke's calibrator dialect share this one; an instrument with its
own language (the HP 3458A's ``ID?``, ``NRDGS``, ``ERRSTR?``) is a small subclass that
overrides what differs: the identity and error queries, how a burst of readings is fetched.
The role classes (:mod:`labauto.drivers.roles`) never spell a command themselves.
"""
from __future__ import annotations

import importlib
from typing import Any

import pint

from labauto.units import Q_

# the coherent SI unit numbers are written in, by dimensionality
_BASE_UNITS = ("V", "A", "ohm", "Hz", "s", "W", "K")
_UNIT_WORDS = {"V": "V", "A": "A", "OHM": "ohm", "OHMS": "ohm", "HZ": "Hz", "S": "s", "W": "W"}


def number(x: float) -> str:
    """A plain SCPI number: 10, 0.1, -1.5, 1e-05 (what the pyvisa-sim dialogues expect)."""
    return f"{x:.10g}"


class ScpiLanguage:
    """SCPI (IEEE 488.2) conventions: ``*IDN?``, ``*CLS``, ``SYST:ERR?``, ON/OFF, numbers in
    the coherent SI unit, readings as one comma-separated answer."""

    name = "scpi"
    identity_query = "*IDN?"
    clear_command = "*CLS"
    error_query = "SYST:ERR?"
    autorange = "AUTO"
    configure_presets_count = True     # CONFigure sets the sample count back to 1

    def identify(self, session: Any) -> str:
        """The instrument's answer to the identity query (matched against the model's
        ``identity`` pattern)."""
        return session.raw_query(self.identity_query)

    def identity_fields(self, text: str, groups: dict[str, str],
                        model: Any) -> tuple[str, str, str, str]:
        """(manufacturer, model, serial, firmware) of an identity answer: IEEE 488.2 fields
        ``maker,model,serial,firmware``; named groups of the model's pattern win (e.g.
        ``MODEL (?P<model>DMM6500)`` where the model field carries a prefix)."""
        fields = [f.strip() for f in text.strip().split(",")]
        fields += [""] * (4 - len(fields))
        return (groups.get("manufacturer", fields[0]), groups.get("model", fields[1]),
                groups.get("serial", fields[2]),
                groups.get("firmware", ",".join(fields[3:]).strip(",")))

    def clear(self, session: Any) -> str:
        """Clear stale status and errors after the identity check; return what was sent (the
        session then drains the error queue)."""
        session.raw_write(self.clear_command)
        return self.clear_command

    def format_value(self, value: Any) -> str:
        """A placeholder's value as command text."""
        if isinstance(value, bool):
            return "ON" if value else "OFF"
        if isinstance(value, pint.Quantity):
            return number(float(_to_base(value).magnitude))
        if isinstance(value, (int, float)):
            return number(float(value))
        return str(value)

    def read_values(self, session: Any, command: str, n: int, timeout_ms: int) -> list[float]:
        """Send the read command and return the numbers of its answer (ValueError if it is
        not a list of numbers)."""
        text = session.query(command, timeout_ms=timeout_ms)
        return [float(x) for x in text.split(",")]

    def parse_output(self, text: str) -> pint.Quantity:
        """An output query's answer (``1.0E+01,V,...``) as a quantity (ValueError if not)."""
        fields = [f.strip() for f in text.split(",")]
        unit = _UNIT_WORDS.get(fields[1].upper(), fields[1]) if len(fields) > 1 and fields[1] else "V"
        try:
            return Q_(float(fields[0]), unit)
        except pint.errors.UndefinedUnitError:
            raise ValueError(f"unknown unit {fields[1]!r}") from None

    @staticmethod
    def is_live(text: str) -> bool:
        return text.strip().upper() in ("1", "ON")


def _to_base(q: pint.Quantity) -> pint.Quantity:
    for unit in _BASE_UNITS:
        if q.dimensionality == Q_(1, unit).dimensionality:
            return q.to(unit)
    return q.to_base_units()


_LANGUAGES: dict[str, Any] = {}


def language_for(name: str) -> ScpiLanguage:
    """The command language a model file names (``scpi`` or ``package.module:Class``)."""
    if name not in _LANGUAGES:
        if name == "scpi":
            _LANGUAGES[name] = ScpiLanguage()
        else:
            module, _, cls = name.partition(":")
            _LANGUAGES[name] = getattr(importlib.import_module(module), cls)()
    return _LANGUAGES[name]

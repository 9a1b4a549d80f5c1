"""Errors of the temperature scales, fits and budgets: what is wrong and what to do."""
from __future__ import annotations

from labauto.errors import LabautoError


class TemperatureError(LabautoError, ValueError):
    """A value outside a scale's range, an unknown sensor type, or a fit that cannot be made."""


class OutOfRangeError(TemperatureError):
    """A temperature, resistance, emf or W outside the range where a function is defined."""


class UnknownSensorError(TemperatureError):
    """A thermocouple type or sensor name the tables lack."""

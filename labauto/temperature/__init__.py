"""Temperature: the scales (ITS-90, IEC 60751, IEC 60584-1), sensor fits and budgets.

    from labauto.temperature import its90, cvd, thermocouples
    its90.reference_w(231.928)              # W_r at the Sn point: 1.89279768
    cvd.PT100.resistance(100.0)             # 138.5055 ohm
    thermocouples.emf("N", 1000.0)          # 36.256 mV
    thermocouples.temperature("K", 4.096)   # 100.0 °C

Pure functions of floats in °C, ohm, mV and W; units are parsed at the edges
(:mod:`labauto.temperature.convert`, the CLI).  See docs/temperature.md.
"""
from labauto.temperature import cvd, its90, thermocouples
from labauto.temperature.cvd import PT100, CallendarVanDusen
from labauto.temperature.errors import OutOfRangeError, TemperatureError, UnknownSensorError
from labauto.temperature.its90 import SprtCalibration

__all__ = ["CallendarVanDusen", "OutOfRangeError", "PT100", "SprtCalibration", "TemperatureError",
           "UnknownSensorError", "cvd", "its90", "thermocouples"]

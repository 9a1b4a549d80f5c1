"""Instrument drivers: role classes (DigitalMultimeter, Calibrator), per-model command sets,
and ``open_instrument`` (identity-checked, always left safe)."""
from labauto.drivers.base import Instrument
from labauto.drivers.identity import Identity, parse_identity
from labauto.drivers.open import open_instrument
from labauto.drivers.roles import Calibrator, DcvSettings, DigitalMultimeter

__all__ = ["Calibrator", "DcvSettings", "DigitalMultimeter", "Identity", "Instrument",
           "open_instrument", "parse_identity"]

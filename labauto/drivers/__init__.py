"""Instrument drivers: role classes (Meter, Source) driven by the model files' command
templates, command languages, and ``open_instrument`` (identity-checked, always left safe)."""
from labauto.drivers.base import Instrument
from labauto.drivers.identity import Identity, parse_identity
from labauto.drivers.open import open_instrument
from labauto.drivers.roles import Meter, MeterConfiguration, Source

__all__ = ["Identity", "Instrument", "Meter", "MeterConfiguration", "Source", "open_instrument",
           "parse_identity"]

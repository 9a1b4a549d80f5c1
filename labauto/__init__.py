"""labauto: calibration-laboratory automation.

procedure file -> flow -> pyvisa -> instruments -> readings -> GUM/MC uncertainty
-> ILAC-G8 conformity decision -> certificate (PDF + DCC XML + JSON, signed) -> NQI platform.
"""
from labauto.units import Q_, ureg

__version__ = "0.1.0"
__all__ = ["Q_", "ureg", "__version__"]

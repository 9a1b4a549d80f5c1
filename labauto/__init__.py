"""labauto: calibration-laboratory automation.

procedure file -> flow -> pyvisa -> instruments -> readings -> GUM/MC uncertainty
-> ILAC-G8 conformity decision -> certificate (PDF + DCC XML + JSON, signed) -> NQI platform.
"""
from typing import Any

__version__ = "0.1.0"
__all__ = ["Q_", "ureg", "__version__"]


def __getattr__(name: str) -> Any:
    # the unit registry takes most of a second to build: `labauto --help` and the CLI groups
    # that need no units do not pay for it (PEP 562 lazy attribute)
    if name in ("Q_", "ureg"):
        from labauto import units
        return getattr(units, name)
    raise AttributeError(f"module 'labauto' has no attribute {name!r}")

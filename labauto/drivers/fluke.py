"""Fluke 5522A command set for DC volts (Fluke style: ``OUT 10 V``, ``OPER``, ``STBY``, ``ERR?``)."""
from __future__ import annotations

import pint

from labauto.drivers.roles import Calibrator, number
from labauto.units import Q_
from labauto.visa.errors import CommunicationError


class Fluke5522A(Calibrator):
    """Multi-product calibrator, DC voltage function."""

    error_query = "ERR?"

    def _send_output(self, volts: float) -> None:
        self.session.write(f"OUT {number(volts)} V")

    def _send_operate(self) -> None:
        self.session.write("OPER")

    def _send_standby(self) -> None:
        self.session.write("STBY")

    def _query_output(self) -> tuple[pint.Quantity, bool]:
        out = self.session.query("OUT?")
        oper = self.session.query("OPER?")
        try:
            value, unit = out.split(",")[:2]
            return Q_(float(value), unit.strip() or "V"), oper.strip() in ("1", "ON")
        except (ValueError, pint.errors.UndefinedUnitError):
            raise CommunicationError(f"{self.session.describe()} answered OUT? with {out!r}",
                                     instrument=self.name, resource=self.resource,
                                     command="OUT?") from None

"""Keysight 34465A (Truevolt) command set for DC volts."""
from __future__ import annotations

from labauto.drivers.roles import DcvSettings, DigitalMultimeter, number
from labauto.visa.errors import CommunicationError


class Keysight34465A(DigitalMultimeter):
    """``CONF:VOLT:DC <range>``, ``VOLT:DC:NPLC``, ``VOLT:DC:ZERO:AUTO``, ``SAMP:COUN``, ``READ?``."""

    error_query = "SYST:ERR?"

    def __init__(self, session, model, **options):
        super().__init__(session, model, **options)
        self._sample_count: int | None = None

    def _send_configure(self, settings: DcvSettings) -> None:
        rng = "AUTO" if settings.range is None else number(settings.range.to("V").magnitude)
        self.session.write(f"CONF:VOLT:DC {rng}")     # also presets sample/trigger count to 1
        self._sample_count = 1
        self.session.write(f"VOLT:DC:NPLC {number(settings.nplc)}")
        self.session.write(f"VOLT:DC:ZERO:AUTO {'ON' if settings.autozero else 'OFF'}")

    def _send_read(self, n: int, timeout_ms: int) -> list[float]:
        if self._sample_count != n:
            self.session.write(f"SAMP:COUN {n}")
            self._sample_count = n
        text = self.session.query("READ?", timeout_ms=timeout_ms)
        try:
            return [float(x) for x in text.split(",")]
        except ValueError:
            raise CommunicationError(f"{self.session.describe()} answered READ? with {text!r}, "
                                     "which is not a list of numbers", instrument=self.name,
                                     resource=self.resource, command="READ?") from None

"""Role classes: what the calibration engine asks of a DMM and of a calibrator.

Requests are validated against the instrument model *before* anything is sent: a range the
model does not have, an integration time it does not offer, a voltage beyond its ranges or
the configured output limit is refused with a clear error.  Per-model subclasses supply the
command strings only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pint

from labauto.drivers.base import Instrument
from labauto.units import Q_, UnitError
from labauto.visa.errors import (CommunicationError, OverloadError, RefusedRequestError,
                                 UnsafeRequestError)

LINE_PERIOD_S = 0.020        # worst case (50 Hz) for timeouts
OVERLOAD_THRESHOLD = 9.0e37  # SCPI overload indication is ±9.9E37


def _volts(value: Any, what: str) -> pint.Quantity:
    if not isinstance(value, pint.Quantity):
        raise RefusedRequestError(f"{what} must be a quantity with a unit (e.g. Q_(10, 'V')), "
                                  f"not {value!r}")
    try:
        return value.to("V")
    except pint.DimensionalityError:
        raise UnitError(f"{what} {value:~P} is not a voltage") from None


@dataclass(frozen=True)
class DcvSettings:
    range: pint.Quantity | None      # None: autorange
    nplc: float
    autozero: bool


class DigitalMultimeter(Instrument):
    """A DMM measuring DC voltage: configure, trigger N readings, fetch them in volts."""

    def __init__(self, session, model, **options: Any):
        super().__init__(session, model, **options)
        self.settings: DcvSettings | None = None

    def configure_dcv(self, range_: pint.Quantity | None = None, nplc: float = 10,
                      autozero: bool = True) -> DcvSettings:
        """Select DC volts on ``range_`` (a nominal range of the model; None = autorange)."""
        function = self.model.function("DCV")
        rng = None
        if range_ is not None:
            rng = _volts(range_, "range")
            try:
                rng = function.range_named(rng).range.to("V")
            except KeyError as exc:
                raise RefusedRequestError(f"{self.name}: {exc.args[0]}") from None
        nplc = float(nplc)
        if function.nplc and not any(abs(nplc - v) <= 1e-9 * v for v in function.nplc):
            raise RefusedRequestError(f"{self.name}: NPLC {nplc:g} is not offered; use one of "
                                      f"{', '.join(f'{v:g}' for v in function.nplc)}")
        if nplc <= 0:
            raise RefusedRequestError(f"{self.name}: NPLC must be positive, not {nplc:g}")
        settings = DcvSettings(rng, nplc, bool(autozero))
        self._send_configure(settings)
        self.settings = settings
        return settings

    def read_dcv(self, n: int = 1) -> pint.Quantity:
        """Trigger ``n`` readings and fetch them: a Quantity array (numpy) in volts."""
        if self.settings is None:
            raise RefusedRequestError(f"{self.name}: call configure_dcv() before read_dcv()")
        if int(n) != n or n < 1:
            raise RefusedRequestError(f"{self.name}: number of readings must be a positive "
                                      f"integer, not {n!r}")
        n = int(n)
        per_reading = self.settings.nplc * LINE_PERIOD_S * (2 if self.settings.autozero else 1)
        timeout = self.session.timeout_ms + int(1500 * n * (per_reading + 0.005))
        values = np.asarray(self._send_read(n, timeout), dtype=float)
        if values.size != n:
            raise CommunicationError(f"{self.session.describe()} returned {values.size} "
                                     f"readings, expected {n}", instrument=self.name,
                                     resource=self.resource, command="READ?")
        if np.any(np.abs(values) >= OVERLOAD_THRESHOLD):
            rng = self.settings.range
            raise OverloadError(
                f"{self.session.describe()} overloaded on the "
                f"{'auto' if rng is None else f'{rng:~P}'} range; check the applied signal "
                "and the range of the test point", instrument=self.name, resource=self.resource)
        return Q_(values, "V")

    # -- per-model command sets ---------------------------------------------------------------
    def _send_configure(self, settings: DcvSettings) -> None:
        raise NotImplementedError

    def _send_read(self, n: int, timeout_ms: int) -> list[float]:
        raise NotImplementedError


class Calibrator(Instrument):
    """A DC voltage source: set, operate, standby; left in standby at 0 V on every exit.

    ``voltage_limit`` (optional) lowers the model's maximum output for this session."""

    def __init__(self, session, model, voltage_limit: pint.Quantity | None = None,
                 **options: Any):
        super().__init__(session, model, **options)
        self.voltage_limit = _volts(voltage_limit, "voltage_limit") if voltage_limit is not None \
            else None

    def set_dc_voltage(self, value: pint.Quantity) -> None:
        """Program the DC output (refused before sending if beyond the ranges or the limit)."""
        v = _volts(value, "DC voltage")
        try:
            self.model.function("DCV").range_for(v)
        except KeyError as exc:
            raise UnsafeRequestError(f"{self.name} at {self.resource}: refusing to source "
                                     f"{value:~P}: {exc.args[0]}") from None
        if self.voltage_limit is not None and abs(v) > abs(self.voltage_limit):
            raise UnsafeRequestError(f"{self.name} at {self.resource}: refusing to source "
                                     f"{value:~P}: beyond the session's voltage limit "
                                     f"{self.voltage_limit:~P}")
        self._send_output(float(v.magnitude))

    def operate(self) -> None:
        """Connect the output to the terminals."""
        self._send_operate()

    def standby(self) -> None:
        """Disconnect the output (terminals at 0 V)."""
        self._send_standby()

    def safe_state(self) -> None:
        """Standby first (most important), then program 0 V."""
        self._send_standby()
        self._send_output(0.0)

    def output(self) -> tuple[pint.Quantity, bool]:
        """(programmed output, operating?) as the instrument reports them."""
        return self._query_output()

    # -- per-model command sets ---------------------------------------------------------------
    def _send_output(self, volts: float) -> None:
        raise NotImplementedError

    def _send_operate(self) -> None:
        raise NotImplementedError

    def _send_standby(self) -> None:
        raise NotImplementedError

    def _query_output(self) -> tuple[pint.Quantity, bool]:
        raise NotImplementedError


def number(x: float) -> str:
    """A plain SCPI number: 10, 0.1, -1.5, 1e-05 (what the pyvisa-sim dialogues expect)."""
    return f"{x:.10g}"

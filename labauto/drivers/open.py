"""``open_instrument``: the one way the engine gets a driver — identity-checked, and always
left safe (sources in standby at zero) and closed, whichever way the ``with`` block ends."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pyvisa

from labauto.drivers.base import Instrument
from labauto.drivers.identity import Identity
from labauto.instruments import InstrumentModel, load_instrument_model
from labauto.visa.session import VisaSession


@contextmanager
def open_instrument(resource: str, model: str | InstrumentModel, timeout_ms: int = 10000,
                    resource_manager: pyvisa.ResourceManager | str | None = None,
                    on_identity: Callable[[Identity], None] | None = None,
                    **options: Any) -> Iterator[Any]:
    """Open ``resource`` as an instance of ``model``'s driver (``model.yaml: driver``).

    ``resource_manager``: a pyvisa ResourceManager, a backend string (``"@py"``,
    ``"instruments/x/sim.yaml@sim"``) or None (``LABAUTO_VISA_BACKEND`` or ``@py``).
    ``options`` go to the driver (e.g. ``voltage_limit=Q_(100, "V")`` or ``limits={"DCI":
    Q_(1, "A")}`` for sources).
    ``on_identity`` is called with the checked identity before any command but ``*IDN?`` (the
    engine's instrument lock); if it raises, the session is closed with nothing else sent.
    Raises IdentityMismatch when the instrument is not that model."""
    m = model if isinstance(model, InstrumentModel) else load_instrument_model(model)
    cls = m.load_driver_class()
    session = VisaSession.open(resource, instrument=f"{m.manufacturer} {m.model}",
                               timeout_ms=timeout_ms, resource_manager=resource_manager,
                               error_query=cls.error_query_for(m))
    try:
        driver: Instrument = cls(session, m, **options)
    except BaseException:
        session.close()
        raise
    try:
        driver.connect(on_identity)
    except BaseException as exc:
        if driver._identity is None:      # not (known to be) this instrument: send nothing
            session.close()
            raise
        driver.shutdown(exc)
        raise
    try:
        yield driver
    except BaseException as exc:
        driver.shutdown(exc)
        raise
    driver.shutdown(None)

"""The simulated instruments in-process: a pyvisa-like resource that hands each command line
straight to a simulated instrument's ``handle`` (the line its SCPI socket server would pass
on), so the real drivers and roles (labauto.drivers) run on them without sockets or threads.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from labauto.instruments import InstrumentModel
from labauto.visa.session import VisaSession


class LoopbackResource:
    """What :class:`VisaSession` needs of a pyvisa message-based resource."""

    def __init__(self, instrument: Any, name: str):
        self.instrument = instrument
        self.name = name
        self.timeout = 10000
        self.read_termination = self.write_termination = "\n"
        self._answers: list[str] = []

    def write(self, command: str) -> None:
        answer = self.instrument.handle(command.strip())
        if answer is not None:
            self._answers.append(answer)

    def read(self) -> str:
        if not self._answers:
            raise TimeoutError(f"{self.name}: no answer waiting (a query got no reply)")
        return self._answers.pop(0)

    def query(self, command: str) -> str:
        self.write(command)
        return self.read()

    def close(self) -> None:
        self._answers.clear()


@contextmanager
def loopback_instrument(instrument: Any, model: InstrumentModel, name: str,
                        **options: Any) -> Iterator[Any]:
    """The model's driver on ``instrument`` in-process: identity-checked, left safe on exit
    (like :func:`labauto.drivers.open.open_instrument`); ``options`` go to the driver (a heat
    source's ``safe_setpoint``)."""
    cls = model.load_driver_class()
    resource = f"LOOPBACK::{name}"
    session = VisaSession(LoopbackResource(instrument, resource), resource_name=resource,
                          instrument=f"{model.manufacturer} {model.model}",
                          error_query=cls.error_query_for(model))
    driver = cls(session, model, **options)
    driver.connect()
    try:
        yield driver
    except BaseException as exc:
        driver.shutdown(exc)
        raise
    driver.shutdown(None)

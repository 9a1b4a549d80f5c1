"""Record the ambient conditions through a run: the environment logger is read when a measuring
session starts, after every test point and when the session ends; each reading is journalled
(``conditions`` records) before the run goes on, and a reading outside the lab's limits (narrowed
by the procedure's, ``labauto.conditions.combined_limits``) is journalled as an excursion and
shown to the technician at once.

Without an environment logger (``RunSettings.environment_resource`` empty) nothing is read and
the certificate says that the conditions were not recorded: no value is invented.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from labauto.conditions import EnvironmentSettings, excursions, procedure_limits
from labauto.engine.observer import RunObserver
from labauto.errors import LabautoError


class ConditionsMonitor:
    """Reads ``logger`` on request and journals every reading into ``run``'s journal."""

    def __init__(self, run: Any, logger: Any, settings: EnvironmentSettings, observer: RunObserver):
        self.run, self.logger, self.settings, self.observer = run, logger, settings, observer
        self.limits = procedure_limits(settings.limits if settings is not None else {},
                                       getattr(run, "procedure", None))

    def poll(self, when: str) -> list[str]:
        """Read the conditions now (``when``: "start", "after <point>", "end"); the
        excursions beyond the limits, in words (empty: within limits, or no logger)."""
        if self.logger is None:
            return []
        reading = self.logger.read()
        problems = excursions(reading.values, self.limits)
        self.run.journal.append({"type": "conditions", "when": when,
                                 "logger": self.logger.identity.serial,
                                 "model": self.logger.model.key,
                                 "model_sha256": self.logger.model.sha256,
                                 **reading.to_record(), "within_limits": not problems,
                                 "excursions": problems})
        show = getattr(self.observer, "conditions", None)
        if show is not None:
            show(when, reading.values, problems)
        return problems


@contextlib.contextmanager
def environment_logger(run: Any, settings: EnvironmentSettings | None,
                       resource_manager: Any = None) -> Iterator[Any]:
    """The run's environment logger, opened and identified (None when the run has none)."""
    resource = getattr(run.settings, "environment_resource", "")
    if not resource:
        yield None
        return
    if settings is None or not settings.logger_model:
        raise LabautoError(f"an environment logger is given ({resource}) but the lab file names no "
                           "environment: logger_model (the instrument model of the thermo-hygrometer)")
    from labauto.drivers.environment import open_environment_logger

    with open_environment_logger(resource, settings.logger_model, timeout_ms=run.settings.timeout_ms,
                                 resource_manager=resource_manager) as logger:
        yield logger

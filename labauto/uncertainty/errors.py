"""Errors of the uncertainty package, each telling a technician what is wrong and what to do."""
from __future__ import annotations

from labauto.errors import LabautoError


class UncertaintyError(LabautoError, ValueError):
    """Base class of the errors raised by :mod:`labauto.uncertainty`."""


class ModelError(UncertaintyError):
    """A measurement model (equation, input, correlation) is invalid."""


class UnitConsistencyError(ModelError):
    """An equation combines quantities of incompatible units (checked before any arithmetic)."""


class WelchSatterthwaiteError(UncertaintyError):
    """The Welch-Satterthwaite formula does not apply to this output (see docs/uncertainty.md)."""


class MonteCarloError(UncertaintyError):
    """A Monte Carlo evaluation cannot be carried out or did not produce valid values."""

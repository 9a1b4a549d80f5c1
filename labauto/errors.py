"""Exceptions a technician can act on: each names where the problem is and what it is."""
from __future__ import annotations


class LabautoError(Exception):
    """Base class of every labauto error."""


class SourceError(LabautoError, ValueError):
    """A data file (procedure, instrument description, model file) is invalid.

    The message reads ``path:line: reason`` so editors and CI logs can jump to it.
    """

    def __init__(self, path: str, line: int | None, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")

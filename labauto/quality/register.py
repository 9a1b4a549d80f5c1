"""Open the equipment register, and the gate a run passes before it uses an item.

A register lives either in a folder of YAML files (one per item, ``<asset id>.yaml``; a lab
versions the folder in git) or in PostgreSQL (``postgresql+psycopg://...``).  Both stores have
the same interface (:class:`RegisterStore`); the lab file names one with ``register:``.

The gate (:func:`usable`) refuses an item that is not in the register, that is quarantined or
out of service, that has no calibration, or whose calibration is overdue.
"""
from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Protocol

from labauto.errors import LabautoError
from labauto.quality.records import (IN_SERVICE, Calibration, CheckResult, Item, RegisterError,
                                     StatusChange)

DATABASE_SCHEMES = ("postgresql", "postgresql+psycopg", "postgresql+psycopg2", "sqlite")


class ItemNotUsable(LabautoError):
    """An item of equipment must not be used now (unknown, quarantined, out of service,
    uncalibrated or overdue)."""


class RegisterStore(Protocol):
    location: str

    def items(self) -> list[Item]: ...
    def get(self, asset_id: str) -> Item: ...
    def add(self, item: Item) -> Item: ...
    def set_status(self, asset_id: str, change: StatusChange) -> Item: ...
    def add_calibration(self, asset_id: str, calibration: Calibration) -> Item: ...
    def add_check(self, asset_id: str, check: CheckResult) -> Item: ...


class ChangingStore(ABC):
    """The changes a register allows, in one place: a store only reads an item, applies the
    change (``Item.with_status`` / ``with_calibration`` / ``with_check``: the rules) and writes
    it back under its own lock (:meth:`_change`)."""

    @abstractmethod
    def _change(self, asset_id: str, change: Callable[[Item], Item]) -> Item:
        """Apply ``change`` to the item ``asset_id`` atomically and return the new item."""

    def set_status(self, asset_id: str, change: StatusChange) -> Item:
        return self._change(asset_id, lambda i: i.with_status(change))

    def add_calibration(self, asset_id: str, calibration: Calibration) -> Item:
        return self._change(asset_id, lambda i: i.with_calibration(calibration))

    def add_check(self, asset_id: str, check: CheckResult) -> Item:
        return self._change(asset_id, lambda i: i.with_check(check))


def is_database_url(location: str) -> bool:
    scheme = location.split("://", 1)[0] if "://" in location else ""
    return scheme in DATABASE_SCHEMES


_databases: dict[str, RegisterStore] = {}     # one engine (connection pool) per URL


def open_register(location: str | Path, *, create: bool = False) -> RegisterStore:
    """The register at ``location``: a database URL or a folder (``create``: make it).  A
    database register is opened once per process (the gate asks it before every run)."""
    text = str(location)
    if is_database_url(text):
        from labauto.quality.register_db import DatabaseRegister
        if create or text not in _databases:
            _databases[text] = DatabaseRegister(text, create=create)
        return _databases[text]
    from labauto.quality.register_files import FileRegister
    return FileRegister(Path(text), create=create)


def find(store_items: list[Item], manufacturer: str, model: str, serial: str) -> Item | None:
    return next((i for i in store_items if i.matches(manufacturer, model, serial)), None)


def usable(items: list[Item], location: str, manufacturer: str, model: str, serial: str,
           resource: str = "", today: dt.date | None = None) -> tuple[Item, Calibration]:
    """The register entry of a connected instrument and its current calibration, or
    :class:`ItemNotUsable` saying why it must not be used."""
    today = today or dt.date.today()
    name = f"{manufacturer} {model} serial {serial}"
    item = find(items, manufacturer, model, serial)
    if item is None:
        at = f" (at {resource})" if resource else ""
        raise ItemNotUsable(
            f"reference standard {name}{at} is not in the register of reference standards in "
            f"{location}; add it with its calibration certificate and due date before using it")
    if item.status != IN_SERVICE:
        last = item.status_history[-1] if item.status_history else None
        since = f" since {last.date.isoformat()} ({last.reason})" if last else ""
        raise ItemNotUsable(
            f"{name} (asset {item.asset_id}) is {item.status.replace('_', ' ')}{since}; it must "
            f"not be used until it is returned to service (`labauto register set-status "
            f"{item.asset_id} in_service --reason ...`; register: {location})")
    cal = item.latest_calibration()
    if cal is None:
        raise ItemNotUsable(
            f"{name} (asset {item.asset_id}) has no calibration in the register {location}; "
            f"record its certificate with `labauto register add-calibration {item.asset_id} ...`")
    due = item.due_date()
    assert due is not None
    if due < today:
        raise ItemNotUsable(
            f"reference standard {name} was due for calibration on {due.isoformat()} "
            f"(certificate {cal.certificate_id}); it must not be used until recalibrated "
            f"(register: {location})")
    return item, cal


def get_or_fail(items: list[Item], asset_id: str, location: str) -> Item:
    for i in items:
        if i.asset_id == asset_id:
            return i
    raise RegisterError(f"no item {asset_id!r} in the register {location}")


__all__ = ["ChangingStore", "ItemNotUsable", "RegisterStore", "find", "get_or_fail", "is_database_url",
           "open_register", "usable"]

"""The register in a database (PostgreSQL; SQLite works too), same interface as the files.

One row per item: the identity as columns (unique: manufacturer case-insensitively, model,
serial) and the whole record as a JSON document (``Item.to_dict()``, the same shape as an
item's YAML file).  A change locks the item's row (``SELECT ... FOR UPDATE``), so a check flow
quarantining an item and a technician recording a calibration never lose each other's change.

The schema is kept by Alembic migrations (``labauto/quality/migrations``, version table
``register_alembic_version``): ``labauto register init`` and the first open of the register in
a process bring an older database to the newest revision, its items kept.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import (JSON, Column, Date, DateTime, Index, Integer, MetaData, String, Table,
                        UniqueConstraint, create_engine, inspect, insert, select, text, update)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from labauto.quality.records import Item, RegisterError, item_from_dict
from labauto.quality.register import ChangingStore

metadata = MetaData()
items_table = Table(
    "register_items", metadata,
    Column("asset_id", String(64), primary_key=True),
    Column("manufacturer_key", String(200), nullable=False),   # casefolded, for uniqueness
    Column("manufacturer", String(200), nullable=False),
    Column("model", String(200), nullable=False),
    Column("serial", String(200), nullable=False),
    Column("status", String(32), nullable=False),
    Column("document", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("due", Date, nullable=True),          # due date of the latest calibration (0002)
    UniqueConstraint("manufacturer_key", "model", "serial", name="register_items_identity"),
    Index("ix_register_items_due", "due"),
)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "register_alembic_version"
HEAD = "0002"                                    # the newest revision in migrations/versions


def schema_revision(conn: Any) -> str | None:
    """The register schema's Alembic revision in the database (None: none recorded)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def migrate(engine: Any) -> None:
    """Bring the register's schema to the newest revision (idempotent; one migrator at a time
    on PostgreSQL)."""
    with engine.connect() as conn:
        if schema_revision(conn) == HEAD:
            return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('labauto register'))"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _redact(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


class DatabaseRegister(ChangingStore):
    def __init__(self, url: str, *, create: bool = False):
        self.url, self.location = url, _redact(url)
        self.engine = create_engine(url, future=True, pool_pre_ping=True)
        try:
            if not create:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT asset_id FROM register_items LIMIT 1"))
            migrate(self.engine)
        except (OperationalError, ProgrammingError) as exc:
            msg = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            hint = ("" if create else f"; create it with `labauto register init {self.location}`")
            raise RegisterError(f"register database {self.location}: {msg}{hint}") from None

    def _item(self, row: Any) -> Item:
        return item_from_dict(row.document, f"{self.location} item {row.asset_id}")

    def items(self) -> list[Item]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(items_table).order_by(items_table.c.asset_id)).all()
        return [self._item(r) for r in rows]

    def get(self, asset_id: str) -> Item:
        with self.engine.connect() as conn:
            row = conn.execute(select(items_table).where(
                items_table.c.asset_id == asset_id)).first()
        if row is None:
            raise RegisterError(f"no item {asset_id!r} in the register {self.location}")
        return self._item(row)

    def add(self, item: Item) -> Item:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(items_table).values(
                    asset_id=item.asset_id, manufacturer_key=item.manufacturer.casefold(),
                    manufacturer=item.manufacturer, model=item.model, serial=item.serial,
                    status=item.status, document=item.to_dict(), revision=1,
                    updated_at=dt.datetime.now(dt.timezone.utc), due=item.due_date()))
        except IntegrityError:
            raise RegisterError(f"item {item.asset_id!r} or {item.manufacturer} {item.model} "
                                f"serial {item.serial} is already in the register "
                                f"{self.location}") from None
        return item

    def _change(self, asset_id: str, change: Callable[[Item], Item]) -> Item:
        with self.engine.begin() as conn:
            row = conn.execute(select(items_table).where(items_table.c.asset_id == asset_id)
                               .with_for_update()).first()
            if row is None:
                raise RegisterError(f"no item {asset_id!r} in the register {self.location}")
            new = change(self._item(row))
            conn.execute(update(items_table).where(items_table.c.asset_id == asset_id).values(
                status=new.status, document=new.to_dict(), revision=row.revision + 1,
                updated_at=dt.datetime.now(dt.timezone.utc), due=new.due_date()))
        return new

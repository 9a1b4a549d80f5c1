"""The register database's schema is kept by Alembic migrations: a database made before the
register had migrations (by `labauto register init` of that time), with items in it, is brought
to the newest revision with every item kept; a new database gets exactly the schema the code
describes."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import (JSON, Column, DateTime, Integer, MetaData, String, Table,
                        UniqueConstraint, create_engine, insert, inspect, text)
from sqlalchemy.dialects.postgresql import JSONB
from typer.testing import CliRunner

from labauto.cli import app
from labauto.quality.records import Calibration, Item, StatusChange
from labauto.quality.register import open_register
from labauto.quality.register_db import HEAD, MIGRATIONS, VERSION_TABLE, metadata, schema_revision

pytestmark = pytest.mark.postgres


def _old_schema(url: str) -> None:
    """The table exactly as `labauto register init` created it before the migrations (commit
    5d51620: ``metadata.create_all`` of this definition), with two items in it."""
    old = MetaData()
    table = Table(
        "register_items", old,
        Column("asset_id", String(64), primary_key=True),
        Column("manufacturer_key", String(200), nullable=False),
        Column("manufacturer", String(200), nullable=False),
        Column("model", String(200), nullable=False),
        Column("serial", String(200), nullable=False),
        Column("status", String(32), nullable=False),
        Column("document", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        Column("revision", Integer, nullable=False, default=1),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("manufacturer_key", "model", "serial", name="register_items_identity"),
    )
    engine = create_engine(url)
    old.create_all(engine)
    cal = Item("CAL-01", "Fluke", "5522A", "3456789", "reference", 365.0).with_calibration(
        Calibration("PTB-2026-7", dt.date(2026, 1, 20), "PTB", as_found="in_tolerance"))
    dmm = Item("DMM-01", "Keysight Technologies", "34465A", "MY1", "working_standard", 182.0)
    with engine.begin() as conn:
        for item, revision in ((cal, 2), (dmm, 1)):
            conn.execute(insert(table).values(
                asset_id=item.asset_id, manufacturer_key=item.manufacturer.casefold(),
                manufacturer=item.manufacturer, model=item.model, serial=item.serial,
                status=item.status, document=item.to_dict(), revision=revision,
                updated_at=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)))
    engine.dispose()


def test_an_old_register_database_with_items_is_upgraded_and_keeps_them(postgres_url):
    _old_schema(postgres_url)
    store = open_register(postgres_url)                 # the first open migrates
    try:
        with store.engine.connect() as conn:
            assert schema_revision(conn) == HEAD == "0002"
            rows = conn.execute(text("SELECT asset_id, due, revision FROM register_items "
                                     "ORDER BY asset_id")).all()
        # 0002 filled the due date of the latest calibration from each record
        assert [tuple(r) for r in rows] == [("CAL-01", dt.date(2027, 1, 20), 2),
                                            ("DMM-01", None, 1)]
        items = store.items()
        assert [i.asset_id for i in items] == ["CAL-01", "DMM-01"]
        assert items[0].latest_calibration().certificate_id == "PTB-2026-7"
        # the upgraded register works as a new one: a change keeps the due column current
        store.add_calibration("DMM-01", Calibration("C-9", dt.date(2026, 3, 1), "us"))
        store.set_status("CAL-01", StatusChange(dt.date(2026, 3, 2), "quarantined", "check"))
        with store.engine.connect() as conn:
            due = dict(conn.execute(text("SELECT asset_id, due FROM register_items")).all())
        assert due == {"CAL-01": dt.date(2027, 1, 20), "DMM-01": dt.date(2026, 8, 30)}
        # init on an up-to-date database changes nothing
        r = CliRunner().invoke(app, ["register", "init", postgres_url])
        assert r.exit_code == 0 and "(2 items)" in r.output
    finally:
        store.engine.dispose()


def test_a_new_register_database_has_exactly_the_schema_of_the_code(postgres_url):
    store = open_register(postgres_url, create=True)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "version_table": VERSION_TABLE})
            assert ctx.get_current_revision() == HEAD
            assert compare_metadata(ctx, metadata) == []
        assert "ix_register_items_due" in {
            i["name"] for i in inspect(store.engine).get_indexes("register_items")}
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD
    finally:
        store.engine.dispose()

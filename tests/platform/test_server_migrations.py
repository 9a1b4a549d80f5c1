"""The Alembic migrations build exactly the schema the models describe (SQLite and PostgreSQL),
and migrating twice is harmless."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from labauto.platform.server.db import Database, migrate
from labauto.platform.server.models import Base


def test_migrations_match_the_models(platform_db_url):
    migrate(platform_db_url)
    migrate(platform_db_url)                                    # idempotent
    db = Database(platform_db_url)
    try:
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
            assert ctx.get_current_revision() == "0005"
        assert diff == [], diff
        columns = {c["name"] for c in inspect(db.engine).get_columns("certificates")}
        assert {"signing_time", "sha256", "certificate_id", "revoked_at"} <= columns
        signer_columns = {c["name"] for c in inspect(db.engine).get_columns("lab_certificates")}
        assert {"revoked_at", "revocation_reason", "invalid_since"} <= signer_columns
        if db.engine.dialect.name == "postgresql":
            # the capability search ranks scope rows from this index alone (migration 0005)
            with db.engine.connect() as conn:
                indexdef = conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = "
                                                "'ix_scope_rows_capability'").scalar_one()
            assert indexdef.endswith("(quantity, range_min, range_max) INCLUDE (frequency_min, frequency_max, "
                                     "cmc_relative, cmc_absolute, scope_id, id)"), indexdef
    finally:
        db.dispose()

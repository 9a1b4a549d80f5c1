"""Alembic migrations of the equipment register's database (run by
``labauto.quality.register_db.migrate``; version table ``register_alembic_version``, so the
register may share a database with the platform store)."""

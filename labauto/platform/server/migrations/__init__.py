"""Alembic migrations of the platform store (run by ``labauto.platform.server.db.migrate``)."""

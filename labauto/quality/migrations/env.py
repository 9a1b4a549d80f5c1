"""Alembic environment of the register: runs on the connection handed over by
``register_db.migrate``."""
from alembic import context

from labauto.quality.register_db import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

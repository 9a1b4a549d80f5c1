"""The capability search's index covers what the search filters and ranks by.

``scope_rows (quantity, range_min, range_max)`` now INCLUDEs (PostgreSQL) the frequency band, the
CMC parts (relative, absolute), the scope and the row id, so the search ranks the rows that hold a
value from the index alone (an index-only scan: no heap page per lab) and reads the text of the
best rows only.  SQLite has no INCLUDE: the index is unchanged there.

Revision ID: 0005
Revises: 0004 (accreditation scopes)
Create Date: 2026-12-05
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ["quantity", "range_min", "range_max"]
INCLUDE = ["frequency_min", "frequency_max", "cmc_relative", "cmc_absolute", "scope_id", "id"]


def upgrade() -> None:
    op.drop_index("ix_scope_rows_capability", table_name="scope_rows")
    op.create_index("ix_scope_rows_capability", "scope_rows", COLUMNS, postgresql_include=INCLUDE)


def downgrade() -> None:
    op.drop_index("ix_scope_rows_capability", table_name="scope_rows")
    op.create_index("ix_scope_rows_capability", "scope_rows", COLUMNS)

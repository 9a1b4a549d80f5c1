"""The due date of each item's latest calibration as a column (indexed), for queries such as
``SELECT asset_id FROM register_items WHERE due < CURRENT_DATE``; filled from each item's
record.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from labauto.quality.records import item_from_dict

    with op.batch_alter_table("register_items") as batch:
        batch.add_column(sa.Column("due", sa.Date(), nullable=True))
        batch.create_index("ix_register_items_due", ["due"])
    items = sa.table("register_items", sa.column("asset_id", sa.String),
                     sa.column("document", sa.JSON), sa.column("due", sa.Date))
    bind = op.get_bind()
    for asset_id, document in bind.execute(sa.select(items.c.asset_id, items.c.document)).all():
        due = item_from_dict(document, f"register_items row {asset_id}").due_date()
        bind.execute(sa.update(items).where(items.c.asset_id == asset_id).values(due=due))


def downgrade() -> None:
    with op.batch_alter_table("register_items") as batch:
        batch.drop_index("ix_register_items_due")
        batch.drop_column("due")

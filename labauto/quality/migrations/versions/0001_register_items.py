"""The register's table as `labauto register init` made it before the register had migrations.

A database made then has the table but no version: this revision adopts it as it is.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("register_items"):
        return
    op.create_table(
        "register_items",
        sa.Column("asset_id", sa.String(64), primary_key=True),
        sa.Column("manufacturer_key", sa.String(200), nullable=False),
        sa.Column("manufacturer", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("serial", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("document", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("manufacturer_key", "model", "serial", name="register_items_identity"),
    )


def downgrade() -> None:
    op.drop_table("register_items")

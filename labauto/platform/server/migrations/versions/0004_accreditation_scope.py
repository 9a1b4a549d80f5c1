"""Accreditation bodies and their tokens, labs' scope versions and CMC rows, and the
accreditation status of each published result.

Revision ID: 0004
Revises: 0003 (the signer revocation table)
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accreditation_bodies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("country", sa.String(64)),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "body_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body_id", sa.Integer, sa.ForeignKey("accreditation_bodies.id"), nullable=False, index=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
    )
    op.create_table(
        "scopes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lab_id", sa.Integer, sa.ForeignKey("labs.id"), nullable=False),
        sa.Column("body_id", sa.Integer, sa.ForeignKey("accreditation_bodies.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("superseded_at", TZ),
        sa.Column("suspended_from", sa.Date),
        sa.Column("suspended_until", sa.Date),
        sa.Column("withdrawn_from", sa.Date),
        sa.Column("status_reason", sa.Text),
        sa.UniqueConstraint("lab_id", "version", name="uq_scope_version"),
    )
    op.create_index("ix_scopes_lab_valid", "scopes", ["lab_id", "valid_from"])
    op.create_table(
        "scope_rows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope_id", sa.Integer, sa.ForeignKey("scopes.id"), nullable=False, index=True),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("range_min", sa.Float, nullable=False),
        sa.Column("range_max", sa.Float, nullable=False),
        sa.Column("frequency_min", sa.Float),
        sa.Column("frequency_max", sa.Float),
        sa.Column("conditions", sa.Text, nullable=False),
        sa.Column("cmc_text", sa.Text, nullable=False),
        sa.Column("range_text", sa.Text, nullable=False),
        sa.Column("frequency_text", sa.Text, nullable=False),
        sa.Column("cmc_relative", sa.Float, nullable=False),
        sa.Column("cmc_absolute", sa.Float, nullable=False),
        sa.Column("cmc_table", sa.JSON),
        sa.Column("k", sa.Float, nullable=False),
    )
    op.create_index("ix_scope_rows_capability", "scope_rows", ["quantity", "range_min", "range_max"])
    op.create_table(
        "result_coverage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("certificate_row_id", sa.Integer, sa.ForeignKey("certificates.id"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("quantity", sa.String(64)),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("uncertainty", sa.Float, nullable=False),
        sa.Column("k", sa.Float, nullable=False),
        sa.Column("frequency", sa.Float),
        sa.Column("covered", sa.Boolean, nullable=False),
        sa.Column("scope_id", sa.Integer, sa.ForeignKey("scopes.id")),
        sa.Column("scope_row_id", sa.Integer, sa.ForeignKey("scope_rows.id")),
        sa.Column("cmc", sa.Float),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_result_coverage_search", "result_coverage", ["quantity", "value"])


def downgrade() -> None:
    for table in ("result_coverage", "scope_rows", "scopes", "body_tokens", "accreditation_bodies"):
        op.drop_table(table)

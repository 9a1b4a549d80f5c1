"""Revocation of a lab's X.509 signing certificate (listed in the platform CA's CRL); not the
revocation of a calibration certificate, which is the ``certificates`` row's ``revoked_at``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lab_certificates") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revocation_reason", sa.String(32), nullable=True))
        batch.add_column(sa.Column("invalid_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("pdf_sha256", sa.String(64), nullable=True))
        batch.create_index("ix_certificates_pdf_sha256", ["pdf_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_index("ix_certificates_pdf_sha256")
        batch.drop_column("pdf_sha256")
    with op.batch_alter_table("lab_certificates") as batch:
        batch.drop_column("invalid_since")
        batch.drop_column("revocation_reason")
        batch.drop_column("revoked_at")

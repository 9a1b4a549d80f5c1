"""Initial platform store: labs, tokens, certificates, documents, search tables, trace links,
and the append-only audit log (enforced by triggers on SQLite and PostgreSQL).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "labs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("accreditation_id", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "lab_certificates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lab_id", sa.Integer, sa.ForeignKey("labs.id"), nullable=False, index=True),
        sa.Column("fingerprint_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("cert_pem", sa.Text, nullable=False),
        sa.Column("not_after", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lab_id", sa.Integer, sa.ForeignKey("labs.id"), nullable=False, index=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("certificate_id", sa.String(255), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("lab_id", sa.Integer, sa.ForeignKey("labs.id"), nullable=False, index=True),
        sa.Column("schema_version", sa.String(16), nullable=False),
        sa.Column("signer_fingerprint", sa.String(64), nullable=False),
        sa.Column("signer_subject", sa.Text, nullable=False),
        sa.Column("item_name", sa.Text),
        sa.Column("item_manufacturer", sa.String(255), index=True),
        sa.Column("item_model", sa.String(255), index=True),
        sa.Column("item_serial", sa.String(255)),
        sa.Column("receipt_date", sa.Date),
        sa.Column("begin_date", sa.Date),
        sa.Column("end_date", sa.Date, index=True),
        sa.Column("issue_date", sa.Date),
        sa.Column("amends_certificate_id", sa.String(255), index=True),
        sa.Column("type_of_change", sa.String(32)),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("superseded_by_id", sa.Integer, sa.ForeignKey("certificates.id"), index=True),
        sa.Column("superseded_at", TZ),
        sa.Column("revoked_at", TZ),
        sa.Column("revocation_reason", sa.Text),
        sa.Column("has_pdf", sa.Boolean, nullable=False),
        sa.Column("has_json", sa.Boolean, nullable=False),
        sa.UniqueConstraint("certificate_id", "version", name="uq_certificate_version"),
    )
    op.create_table(
        "documents",
        sa.Column("certificate_row_id", sa.Integer, sa.ForeignKey("certificates.id"), primary_key=True),
        sa.Column("dcc", sa.LargeBinary, nullable=False),
        sa.Column("pdf", sa.LargeBinary),
        sa.Column("json", sa.LargeBinary),
    )
    op.create_table(
        "item_identifiers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("certificate_row_id", sa.Integer, sa.ForeignKey("certificates.id"), nullable=False, index=True),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False, index=True),
    )
    op.create_table(
        "measurands",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("certificate_row_id", sa.Integer, sa.ForeignKey("certificates.id"), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
    )
    op.create_table(
        "trace_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("certificate_row_id", sa.Integer, sa.ForeignKey("certificates.id"), nullable=False, index=True),
        sa.Column("referral_id", sa.String(255), nullable=False, index=True),
        sa.Column("procedure", sa.String(64), nullable=False),
        sa.Column("declared_hash", sa.String(128), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("lab_id", sa.Integer),
        sa.Column("certificate_id", sa.String(255)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_certificate", "audit_log", ["certificate_id"])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                       "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    elif dialect == "postgresql":
        op.execute("CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP; END $$")
        op.execute("CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
        op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")


def downgrade() -> None:
    raise RuntimeError("the platform store is not downgraded: the audit log is append-only")

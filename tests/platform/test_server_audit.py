"""The audit log records every change and is append-only, in the ORM and in SQL itself."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from labauto.platform.server.db import Database
from labauto.platform.server.models import AuditEvent, AuditLogIsAppendOnly


def test_every_change_is_audited_and_the_log_cannot_be_changed(platform, lab, make_dcc, sign):
    assert lab.publish(sign(make_dcc("AUD-1"), lab.keys)).status_code == 201
    assert lab.publish(sign(make_dcc("AUD-1", amends="AUD-1", serial="x"), lab.keys)).status_code == 201
    with lab.client() as c:
        assert c.post("/api/v1/certificates/AUD-1/revoke", json={"reason": "typo"}).status_code == 200
    with platform.admin() as c:
        events = c.get("/api/v1/audit").json()
    assert [e["action"] for e in events] == ["lab.register", "lab.certificate.add", "token.issue",
                                             "certificate.publish", "certificate.publish",
                                             "certificate.supersede", "certificate.revoke"]
    assert events[-1]["detail"] == {"reason": "typo"} and events[-1]["actor"].startswith("lab:")

    db = Database(platform.database_url)
    try:
        for sql in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                with db.engine.begin() as conn:
                    conn.execute(text(sql))
        if not db.is_sqlite:
            with pytest.raises(DBAPIError, match="append-only"):
                with db.engine.begin() as conn:
                    conn.execute(text("TRUNCATE audit_log"))
        with db.sessions() as session:
            ev = session.scalars(select(AuditEvent)).first()
            ev.action = "forged"
            with pytest.raises(AuditLogIsAppendOnly):
                session.commit()
            session.rollback()
            session.delete(session.scalars(select(AuditEvent)).first())
            with pytest.raises(AuditLogIsAppendOnly):
                session.flush()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == 7
            assert conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'forged'")).scalar() == 0
    finally:
        db.dispose()


def test_tokens_are_stored_only_as_hashes(platform, lab):
    import hashlib
    db = Database(platform.database_url)
    try:
        with db.engine.connect() as conn:
            stored = [r[0] for r in conn.execute(text("SELECT token_sha256 FROM api_tokens"))]
    finally:
        db.dispose()
    assert stored == [hashlib.sha256(lab.token.encode()).hexdigest()]
    assert lab.token.startswith("lat_") and len(lab.token) > 40

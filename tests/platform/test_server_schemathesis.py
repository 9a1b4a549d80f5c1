"""Property-based API testing with schemathesis against the published OpenAPI spec.

Every operation gets a few generated requests (bounded so the file runs in seconds), sent over
real HTTP to a server on loopback with a lab token (the admin token for admin operations); no request may produce a server error.
"""
from __future__ import annotations

import secrets

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from labauto.platform.server.testing import register_lab, running_server


@pytest.fixture(scope="module")
def api_server(tmp_path_factory, dcc_schema_dir, platform_ca, lab_keys, make_dcc):
    from labauto.certificate.signing import sign_dcc
    import httpx
    db = f"sqlite:///{tmp_path_factory.mktemp('st') / 'p.sqlite3'}"
    admin = secrets.token_urlsafe(16)
    with running_server(db, dcc_schema_dir, admin_token=admin) as url:
        token = register_lab(url, admin, "Lab A", "D-K-1", lab_keys.cert_pem)
        # something to find: a stored certificate, so generated ids sometimes hit real rows
        httpx.post(f"{url}/api/v1/certificates", headers={"Authorization": f"Bearer {token}"},
                   files={"dcc": ("d.xml", sign_dcc(make_dcc("1"), lab_keys.key_pem, lab_keys.cert_pem))})
        yield url, token, admin


def test_no_server_errors(api_server):
    url, token, admin = api_server
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 12
    seen: dict[str, set[int]] = {}

    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def exercise(case):
            bearer = admin if "admin" in (op.definition.raw.get("tags") or []) else token
            response = case.call(base_url=url, headers={"Authorization": f"Bearer {bearer}"}, timeout=30)
            seen.setdefault(op.label, set()).add(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)

        exercise()
    assert set(seen) == {op.label for op in operations}
    # the generated requests reached the handlers, not only input validation
    assert 422 in seen["POST /api/v1/labs"] and 200 in seen["GET /api/v1/audit"]
    assert 422 in seen["POST /api/v1/certificates"]
    assert 200 in seen["GET /api/v1/certificates"]

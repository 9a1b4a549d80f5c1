"""Shared test fixtures.

- ``dcc_dir``: PTB's DCC schemas and examples in ../shared/dcc (never copied into the repo).
- ``postgres_url``: a fresh database on the PostgreSQL server at 127.0.0.1:5432; skipped when
  no server answers, except with LABAUTO_REQUIRE_POSTGRES=1 (CI), where it fails instead.
- ``prefect_harness``: one session-scoped Prefect test harness (ephemeral server, temp home).
- ``LABAUTO_LOCK_DIR``: the instrument locks of this session live in a temporary folder.
- ``LABAUTO_HOME``: so does the lab home (keys, outbox); ``LABAUTO_OUTBOX`` is unset.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Prefect: no network, a throw-away home; set before anything imports prefect.
_PREFECT_HOME = tempfile.mkdtemp(prefix="labauto-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)

# The lab home (labauto.labhome: the demo signing identity, the outbox): a throw-away one for
# this session, whatever the environment says.  Tests that issue certificates without a home of
# their own created a demo CA and lab key in the user's ~/.labauto (or a real lab's LABAUTO_HOME).
os.environ["LABAUTO_HOME"] = tempfile.mkdtemp(prefix="labauto-home-")
os.environ.pop("LABAUTO_OUTBOX", None)

# Instrument locks (labauto.engine.locks): a lock folder of this test session's own.  The
# simulated instruments of every test have the same serial numbers, so sessions sharing the
# machine-wide default folder would refuse each other's runs.
os.environ.setdefault("LABAUTO_LOCK_DIR", tempfile.mkdtemp(prefix="labauto-locks-"))

# pytester: tests of labauto's pytest plugin run an inner pytest.  labauto.pytest_plugin is
# registered by its pytest11 entry point once labauto is (re)installed; in an install from
# before the plugin existed, this registers it: pytest skips a plugin already registered under
# that name, so it is never registered twice.
pytest_plugins = ["pytester", "labauto.pytest_plugin"]

POSTGRES_ADMIN_URL = os.environ.get(
    "LABAUTO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def dcc_dir() -> Path:
    from labauto.config import dcc_dir as find_dcc_dir

    d = find_dcc_dir() or ROOT.parent / "shared" / "dcc"
    if not (d / "schema" / "v3.3.0" / "dcc.xsd").exists():
        pytest.fail(f"PTB DCC schemas not found in {d} (set LABAUTO_DCC_DIR)")
    return d


@pytest.fixture(scope="session")
def dcc_schema_dir(dcc_dir: Path) -> Path:
    return dcc_dir / "schema"


def _postgres_unavailable(reason: str):
    if os.environ.get("LABAUTO_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (LABAUTO_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture()
def postgres_url():
    """URL of a new, empty database; dropped after the test."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    try:
        admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("select 1")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        _postgres_unavailable(f"cannot connect to {POSTGRES_ADMIN_URL}: {exc}")
    name = f"labauto_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield

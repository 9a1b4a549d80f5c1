"""Reference server of the NQI sharing platform (FastAPI + SQLAlchemy 2 + Alembic).

``create_app(PlatformSettings(...))`` builds the app; ``python -m labauto.platform.server`` or
``labauto platform serve`` runs it; ``labauto.platform.server.testing`` runs it on loopback for
tests and demos.  The HTTP contract is documented in docs/platform.md and at /docs (OpenAPI).
"""
from labauto.platform.server.settings import PlatformSettings

__all__ = ["PlatformSettings", "create_app"]


def create_app(settings: PlatformSettings):
    from labauto.platform.server.app import create_app as _create
    return _create(settings)

"""``python -m labauto.platform.server --db URL --schema-dir DIR --port N``: run the platform."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labauto.platform.server",
                                description="Run the labauto reference NQI platform server.")
    p.add_argument("--db", help="database URL (sqlite:///file or postgresql://...); "
                   "default LABAUTO_PLATFORM_DB or sqlite:///labauto-platform.sqlite3")
    p.add_argument("--schema-dir", help="DCC schema directory (vX.Y.Z/dcc.xsd inside)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--log-level", default="info")
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    a = p.parse_args(argv)
    from labauto.platform.server.runner import serve
    from labauto.platform.server.settings import PlatformSettings
    try:
        settings = PlatformSettings.from_env(database_url=a.db, schema_dir=a.schema_dir)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    serve(settings, host=a.host, port=a.port, log_level=a.log_level, workers=a.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
